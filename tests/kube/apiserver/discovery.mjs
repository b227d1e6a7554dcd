// SPDX-License-Identifier: Apache-2.0
// /version and the OpenAPI v3 documents kubectl reads: per group/version the resources' paths,
// with the `fieldValidation` parameter and x-kubernetes-group-version-kind on each operation
// (so kubectl delegates validation to this server), and component schemas built from the
// client-node type maps (built-ins) or the CRD's schema.
import crypto from 'node:crypto';
import { fields } from './typemap.mjs';
import { patchMeta } from './patch.mjs';

export const VERSION = {
    major: '1', minor: '32', gitVersion: 'v1.32.0', gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean', buildDate: '2024-12-11T00:00:00Z', goVersion: 'go1.23.3',
    compiler: 'gc', platform: 'linux/amd64',
};

function gvPath(group, version) {
    return group ? `apis/${group}/${version}` : `api/${version}`;
}

function schemaOfType(t, refs) {
    if (t.array) return { type: 'array', items: schemaOfType(t.array, refs) };
    if (t.map) return { type: 'object', additionalProperties: schemaOfType(t.map, refs) };
    switch (t.scalar) {
    case 'string': return { type: 'string' };
    case 'number': return { type: 'number' };
    case 'boolean': return { type: 'boolean' };
    case 'Date':
    case 'V1MicroTime': return { type: 'string', format: 'date-time' };
    case 'IntOrString': return { 'x-kubernetes-int-or-string': true };
    case 'any':
    case 'object': return { type: 'object' };
    default:
        refs.add(t.scalar);
        return { allOf: [{ $ref: `#/components/schemas/${t.scalar}` }] };
    }
}

// The schemas of rootModels and every model they reference, each property's from
// schemaOf(attribute, refs) (which adds the models it references to refs); a model without a
// type map gets `opaque` (undefined: none).
export function modelSchemas(rootModels, schemaOf, opaque) {
    const out = {};
    const refs = new Set(rootModels);
    const done = new Set();
    while (refs.size) {
        const [name] = refs;
        refs.delete(name);
        if (done.has(name)) continue;
        done.add(name);
        const attrs = fields(name);
        if (!attrs) {
            if (opaque) out[name] = { ...opaque };
            continue;
        }
        const properties = {};
        for (const a of attrs) {
            const s = schemaOf(a, refs);
            const meta = patchMeta(name, a.name);
            if (meta) {
                s['x-kubernetes-patch-strategy'] = meta.strategy;
                if (meta.key) s['x-kubernetes-patch-merge-key'] = meta.key;
            }
            properties[a.name] = s;
        }
        out[name] = { type: 'object', properties };
    }
    return out;
}

const PARAMS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'].map((name) =>
    ({ name, in: 'query', schema: { type: name === 'force' ? 'boolean' : 'string' }, uniqueItems: true }));

function operations(r) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const op = (id, params) => ({ operationId: id, parameters: params,
        'x-kubernetes-group-version-kind': gvk, responses: { 200: { description: 'OK' } } });
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const coll = r.namespaced ? `${base}/namespaces/{namespace}/${r.plural}` : `${base}/${r.plural}`;
    const ref = { $ref: `#/components/schemas/${r.model || r.kind}` };
    const body = { content: { 'application/json': { schema: ref } } };
    const paths = {};
    if (r.verbs.includes('create')) {
        paths[coll] = { post: { ...op(`create${r.kind}`, PARAMS), requestBody: body },
            get: r.verbs.includes('list') ? op(`list${r.kind}`, []) : undefined };
    }
    if (r.verbs.includes('get')) {
        paths[`${coll}/{name}`] = {
            get: op(`read${r.kind}`, []),
            put: { ...op(`replace${r.kind}`, PARAMS), requestBody: body },
            patch: { ...op(`patch${r.kind}`, PARAMS), requestBody: { content: {
                'application/json-patch+json': { schema: {} },
                'application/merge-patch+json': { schema: {} },
                'application/apply-patch+yaml': { schema: {} } } } },
            delete: op(`delete${r.kind}`, PARAMS.filter((p) => p.name === 'dryRun')),
        };
    }
    return paths;
}

// The OpenAPI v3 document of one group/version.
export function openapiV3(registry, group, version) {
    const rdefs = [...registry.byPath.values()].filter((r) => r.group === group &&
        r.version === version && !r.virtual);
    if (!rdefs.length) return undefined;
    const paths = {};
    for (const r of rdefs) Object.assign(paths, operations(r));
    const schemas = modelSchemas(rdefs.filter((r) => r.model).map((r) => r.model),
        (a, refs) => schemaOfType(a.type, refs));
    for (const r of rdefs) {
        if (r.model) {
            schemas[r.model]['x-kubernetes-group-version-kind'] = [{ group, version, kind: r.kind }];
        } else if (r.openAPIV3Schema) {
            schemas[r.kind] = { ...r.openAPIV3Schema,
                'x-kubernetes-group-version-kind': [{ group, version, kind: r.kind }] };
        }
    }
    return { openapi: '3.0.0', info: { title: 'Kubernetes', version: VERSION.gitVersion },
        paths, components: { schemas } };
}

export function openapiV3Root(registry) {
    const paths = {};
    for (const [group, versions] of registry.groups()) {
        for (const v of versions.keys()) {
            const p = gvPath(group, v);
            const doc = openapiV3(registry, group, v);
            if (!doc) continue;
            const hash = crypto.createHash('sha512').update(JSON.stringify(doc.paths) +
                Object.keys(doc.components.schemas).join()).digest('hex').toUpperCase();
            paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
        }
    }
    return { paths };
}
