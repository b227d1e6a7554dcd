// SPDX-License-Identifier: Apache-2.0
// CustomResourceDefinitions: checking a CRD, turning it into served resources, and treating
// custom objects as kube-apiextensions-server does: structural-schema validation with its
// messages, defaulting, pruning of unknown fields (unless x-kubernetes-preserve-unknown-fields),
// embedded resources and printer columns.
import { cause } from './errors.mjs';
import { dns1123Label } from './names.mjs';
import { clone, deepEqual, isObject, now } from './util.mjs';

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

// The served resources of a CRD, one per served version.
export function crdResources(crd) {
    const s = crd.spec;
    const names = s.names;
    return s.versions.filter((v) => v.served).map((v) => ({
        group: s.group,
        version: v.name,
        apiVersion: `${s.group}/${v.name}`,
        kind: names.kind,
        listKind: names.listKind || `${names.kind}List`,
        plural: names.plural,
        singular: names.singular || names.kind.toLowerCase(),
        namespaced: s.scope === 'Namespaced',
        shortNames: names.shortNames || [],
        categories: names.categories || [],
        verbs: ALL_VERBS,
        subresources: { ...(v.subresources?.status ? { status: true } : {}),
            ...(v.subresources?.scale ? { scale: true } : {}) },
        scale: v.subresources?.scale,
        storage: `${s.group}/${names.plural}`,
        model: null,
        schema: null,
        generation: true,
        builtin: false,
        crdName: crd.metadata.name,
        openAPIV3Schema: v.schema?.openAPIV3Schema || { type: 'object',
            'x-kubernetes-preserve-unknown-fields': true },
        printerColumns: v.additionalPrinterColumns,
        selectableFields: (v.selectableFields || []).map((f) => f.jsonPath.replace(/^\./, '')),
    }));
}

function walkSchemaTypes(schema, field, out) {
    if (!isObject(schema)) return;
    const special = schema['x-kubernetes-int-or-string'] ||
        schema['x-kubernetes-preserve-unknown-fields'] || schema['x-kubernetes-embedded-resource'];
    if (!schema.type && !special && field) {
        out.push(cause(`${field}.type`, 'required', 'must not be empty for specified object fields'));
    }
    for (const [k, v] of Object.entries(schema.properties || {})) {
        walkSchemaTypes(v, `${field}.properties[${k}]`, out);
    }
    if (isObject(schema.items)) walkSchemaTypes(schema.items, `${field}.items`, out);
    if (isObject(schema.additionalProperties)) {
        walkSchemaTypes(schema.additionalProperties, `${field}.additionalProperties`, out);
    }
}

// Causes for an invalid CRD (the checks clients hit in practice).
export function validateCRD(crd, old) {
    const out = [];
    const s = crd.spec || {};
    const n = s.names || {};
    if (!s.group) out.push(cause('spec.group', 'required'));
    else if (!s.group.includes('.')) {
        out.push(cause('spec.group', 'invalid', 'should be a domain with at least one dot', s.group));
    }
    if (!n.plural) out.push(cause('spec.names.plural', 'required'));
    else for (const e of dns1123Label(n.plural)) out.push(cause('spec.names.plural', 'invalid', e, n.plural));
    if (!n.kind) out.push(cause('spec.names.kind', 'required'));
    for (const sn of n.shortNames || []) {
        for (const e of dns1123Label(sn)) out.push(cause('spec.names.shortNames', 'invalid', e, sn));
    }
    if (n.plural && s.group && crd.metadata.name !== `${n.plural}.${s.group}`) {
        out.push(cause('metadata.name', 'invalid', 'must be spec.names.plural+"."+spec.group',
            crd.metadata.name));
    }
    if (!['Namespaced', 'Cluster'].includes(s.scope)) {
        out.push(cause('spec.scope', 'notSupported', 'supported values: "Cluster", "Namespaced"', s.scope));
    }
    const versions = s.versions || [];
    if (!versions.length) out.push(cause('spec.versions', 'invalid', 'must have exactly one version marked as storage version', versions));
    else if (versions.filter((v) => v.storage).length !== 1) {
        out.push(cause('spec.versions', 'invalid', 'must have exactly one version marked as storage version', versions.map((v) => v.name)));
    }
    versions.forEach((v, i) => {
        const f = `spec.versions[${i}]`;
        const schema = v.schema?.openAPIV3Schema;
        if (!schema) out.push(cause(`${f}.schema.openAPIV3Schema`, 'required', 'schemas are required'));
        else {
            if (schema.type !== 'object') {
                out.push(cause(`${f}.schema.openAPIV3Schema.type`, 'invalid', 'must be object at the root', schema.type));
            }
            walkSchemaTypes(schema, `${f}.schema.openAPIV3Schema`, out);
        }
        (v.additionalPrinterColumns || []).forEach((c, j) => {
            const cf = `${f}.additionalPrinterColumns[${j}]`;
            if (!c.name) out.push(cause(`${cf}.name`, 'required'));
            if (!c.jsonPath) out.push(cause(`${cf}.JSONPath`, 'required'));
            if (!['integer', 'number', 'string', 'boolean', 'date'].includes(c.type)) {
                out.push(cause(`${cf}.type`, 'notSupported', 'supported values: "integer", "number", "string", "boolean", "date"', c.type));
            }
        });
    });
    if (old && old.spec.scope !== s.scope) out.push(cause('spec.scope', 'invalid', 'field is immutable', s.scope));
    return out;
}

export function crdDefaults(crd) {
    const s = crd.spec;
    if (!isObject(s)) return;
    s.conversion ??= { strategy: 'None' };
    if (isObject(s.names)) {
        s.names.singular ??= String(s.names.kind || '').toLowerCase();
        s.names.listKind ??= `${s.names.kind}List`;
    }
    for (const v of s.versions || []) {
        for (const c of v.additionalPrinterColumns || []) c.priority ??= undefined;
    }
}

// The status a CRD gets once its names are accepted and it is served.
export function crdStatus(crd, previous) {
    const t = now();
    const cond = (type, reason, message) => {
        const old = previous?.conditions?.find((c) => c.type === type && c.status === 'True');
        return { type, status: 'True', lastTransitionTime: old?.lastTransitionTime || t, reason, message };
    };
    return {
        conditions: [
            cond('NamesAccepted', 'NoConflicts', 'no conflicts found'),
            cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
        ],
        acceptedNames: { ...crd.spec.names },
        storedVersions: [...new Set([...(previous?.storedVersions || []),
            crd.spec.versions.find((v) => v.storage)?.name].filter(Boolean))],
    };
}

// --- custom objects -----------------------------------------------------------------------

function typeName(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
    return typeof v;
}

function typeOk(schema, v) {
    const t = schema.type;
    if (schema['x-kubernetes-int-or-string']) {
        return typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v));
    }
    if (!t) return true;
    const actual = typeName(v);
    if (t === 'number') return actual === 'number' || actual === 'integer';
    return actual === t;
}

function show(v) {
    return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
}

// Structural validation of `v` at `field`; prunes unknown fields into `unknown`.
function validateValue(v, schema, field, out, unknown, opts) {
    if (!isObject(schema)) return;
    if (v === null) {
        if (!schema.nullable) {
            out.push(cause(field, 'invalid', `${field} in body must be of type ${schema.type || 'object'}: "null"`, 'null'));
        }
        return;
    }
    if (!typeOk(schema, v)) {
        const want = schema['x-kubernetes-int-or-string'] ? 'integer,string' : schema.type;
        out.push(cause(field, 'invalid', `${field} in body must be of type ${want}: "${typeName(v)}"`, typeName(v)));
        return;
    }
    if (schema.enum && !schema.enum.some((e) => deepEqual(e, v))) {
        out.push(cause(field, 'notSupported', `supported values: ${schema.enum.map(show).join(', ')}`, v));
    }
    if (typeof v === 'number') validateNumber(v, schema, field, out);
    if (typeof v === 'string') validateString(v, schema, field, out);
    for (const sub of schema.allOf || []) validateValue(v, sub, field, out, [], { noPrune: true });
    if (schema.anyOf && !schema.anyOf.some((s) => validCopy(v, s, field))) {
        out.push(cause(field, 'invalid', 'must validate at least one schema (anyOf)', v));
    }
    if (schema.oneOf && schema.oneOf.filter((s) => validCopy(v, s, field)).length !== 1) {
        out.push(cause(field, 'invalid', 'must validate one and only one schema (oneOf)', v));
    }
    if (schema.not && validCopy(v, schema.not, field)) {
        out.push(cause(field, 'invalid', 'must not validate the schema (not)', v));
    }
    if (Array.isArray(v)) validateArray(v, schema, field, out, unknown, opts);
    else if (isObject(v)) validateObject(v, schema, field, out, unknown, opts);
}

function validCopy(v, schema, field) {
    const out = [];
    validateValue(clone(v), schema, field, out, [], { noPrune: true });
    return out.length === 0;
}

function validateNumber(v, s, field, out) {
    const say = (m) => out.push(cause(field, 'invalid', `${field} in body ${m}`, v));
    if (s.minimum !== undefined) {
        if (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum) {
            say(`should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`);
        }
    }
    if (s.maximum !== undefined) {
        if (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum) {
            say(`should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`);
        }
    }
    if (s.multipleOf && Math.abs(v / s.multipleOf - Math.round(v / s.multipleOf)) > 1e-9) {
        say(`should be a multiple of ${s.multipleOf}`);
    }
    if (s.format === 'int32' && (v < -(2 ** 31) || v >= 2 ** 31)) say('must be of type int32');
}

function validateString(v, s, field, out) {
    if (s.minLength !== undefined && [...v].length < s.minLength) {
        out.push(cause(field, 'invalid', `${field} in body should be at least ${s.minLength} chars long`, v));
    }
    if (s.maxLength !== undefined && [...v].length > s.maxLength) {
        out.push(cause(field, 'tooLong', `may not be more than ${s.maxLength} bytes`, v));
    }
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) {
        out.push(cause(field, 'invalid', `${field} in body should match '${s.pattern}'`, v));
    }
    if (s.format === 'date-time' && Number.isNaN(Date.parse(v))) {
        out.push(cause(field, 'invalid', `${field} in body must be of type date-time: "${v}"`, v));
    }
}

function validateArray(v, s, field, out, unknown, opts) {
    if (s.minItems !== undefined && v.length < s.minItems) {
        out.push(cause(field, 'invalid', `${field} in body should have at least ${s.minItems} items`, v.length));
    }
    if (s.maxItems !== undefined && v.length > s.maxItems) {
        out.push(cause(field, 'tooMany', `must have at most ${s.maxItems} items`, v.length));
    }
    const lt = s['x-kubernetes-list-type'];
    if (s.uniqueItems || lt === 'set') {
        v.forEach((x, i) => {
            if (v.findIndex((y) => deepEqual(x, y)) !== i) out.push(cause(`${field}[${i}]`, 'duplicate', '', x));
        });
    }
    if (lt === 'map') {
        const keys = s['x-kubernetes-list-map-keys'] || [];
        const seen = new Set();
        v.forEach((x, i) => {
            const k = JSON.stringify(keys.map((kk) => x?.[kk]));
            if (seen.has(k)) out.push(cause(`${field}[${i}]`, 'duplicate', '', Object.fromEntries(keys.map((kk) => [kk, x?.[kk]]))));
            seen.add(k);
        });
    }
    if (isObject(s.items)) v.forEach((x, i) => validateValue(x, s.items, `${field}[${i}]`, out, unknown, opts));
}

function validateObject(v, s, field, out, unknown, opts) {
    const props = s.properties || {};
    for (const r of s.required || []) {
        if (v[r] === undefined) out.push(cause(field ? `${field}.${r}` : r, 'required'));
    }
    if (s.minProperties !== undefined && Object.keys(v).length < s.minProperties) {
        out.push(cause(field, 'invalid', `${field} in body should have at least ${s.minProperties} properties`, v));
    }
    if (s.maxProperties !== undefined && Object.keys(v).length > s.maxProperties) {
        out.push(cause(field, 'tooMany', `must have at most ${s.maxProperties} items`, Object.keys(v).length));
    }
    const embedded = s['x-kubernetes-embedded-resource'];
    const preserve = s['x-kubernetes-preserve-unknown-fields'];
    for (const [k, x] of Object.entries(v)) {
        const f = field ? `${field}.${k}` : k;
        if (props[k]) {
            validateValue(x, props[k], f, out, unknown, opts);
        } else if (isObject(s.additionalProperties)) {
            validateValue(x, s.additionalProperties, `${field}[${k}]`, out, unknown, opts);
        } else if (embedded && ['apiVersion', 'kind', 'metadata'].includes(k)) {
            if (k === 'metadata') pruneEmbeddedMeta(x, f, unknown, opts);
        } else if (!preserve && s.additionalProperties !== true && !(field === '' &&
            ['apiVersion', 'kind', 'metadata'].includes(k))) {
            unknown.push(f);
            if (!opts.noPrune) delete v[k];
        }
    }
    if (embedded) {
        if (!v.kind) out.push(cause(`${field}.kind`, 'required', 'must not be empty'));
        if (!v.apiVersion) out.push(cause(`${field}.apiVersion`, 'required', 'must not be empty'));
    }
}

const META_FIELDS = new Set(['name', 'generateName', 'namespace', 'labels', 'annotations',
    'finalizers', 'ownerReferences', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
    'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']);

function pruneEmbeddedMeta(meta, field, unknown, opts) {
    if (!isObject(meta)) return;
    for (const k of Object.keys(meta)) {
        if (!META_FIELDS.has(k)) {
            unknown.push(`${field}.${k}`);
            if (!opts.noPrune) delete meta[k];
        }
    }
}

// Fills in `default`s, parents before children, as the apiextensions defaulting does.
function applyDefaults(v, schema) {
    if (!isObject(schema)) return;
    if (isObject(v)) {
        for (const [k, s] of Object.entries(schema.properties || {})) {
            if (v[k] === undefined && s.default !== undefined) v[k] = clone(s.default);
            if (v[k] !== undefined) applyDefaults(v[k], s);
        }
        if (isObject(schema.additionalProperties)) {
            for (const k of Object.keys(v)) applyDefaults(v[k], schema.additionalProperties);
        }
    } else if (Array.isArray(v) && isObject(schema.items)) {
        for (const x of v) applyDefaults(x, schema.items);
    }
}

// Validates a custom object in place: prunes unknown fields (returned), fills defaults and
// returns the causes of an Invalid answer.
export function validateCustom(rdef, obj) {
    const schema = rdef.openAPIV3Schema;
    const unknown = [];
    const out = [];
    applyDefaults(obj, schema);
    const top = { ...schema, properties: { ...schema.properties } };
    delete top.properties.metadata;
    delete top.properties.apiVersion;
    delete top.properties.kind;
    validateValue(obj, top, '', out, unknown, {});
    return { causes: out, unknown };
}

