// SPDX-License-Identifier: Apache-2.0
// Decoding and schema validation of built-in objects: fields of the wrong JSON type and unknown
// fields (client-node's type maps), then the official OpenAPI schema (kubernetes-models'
// validators: required fields, formats such as quantities, enums), mapped onto the answers
// kube-apiserver gives: 400 BadRequest for what its decoder refuses, 422 Invalid naming fields.
import { badRequest, cause } from './errors.mjs';
import { checkDecode, loadModels, mismatchText } from './typemap.mjs';
import { QUANTITY_MESSAGE } from './util.mjs';

const validators = new Map();

export async function loadValidators(rdefs) {
    await loadModels(rdefs.map((r) => r.model).filter(Boolean));
    for (const r of rdefs) {
        if (!r.schema || validators.has(r.schema)) continue;
        const mod = await import(`kubernetes-models/_schemas/${r.schema}`);
        validators.set(r.schema, mod.validate);
    }
}

function pointerToField(p) {
    const parts = p.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let out = '';
    for (const part of parts) {
        if (/^\d+$/.test(part)) out += `[${part}]`;
        else out += out ? `.${part}` : part;
    }
    return out;
}

function valueAt(obj, pointer) {
    let v = obj;
    for (const part of pointer.split('/').slice(1)) {
        v = v?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    return v;
}

function decodeFailure(rdef, message) {
    return badRequest(`${rdef.kind} in version "${rdef.version}" cannot be handled as a ` +
        `${rdef.kind}: ${message}`);
}

// Checks apiVersion/kind against the endpoint, then the decoder's type rules. Returns the
// unknown fields (already removed from obj). Throws 400 as kube-apiserver's decoder does.
export function decode(rdef, obj, fieldValidation) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
        throw badRequest(`the object provided is unrecognized (must be of type ${rdef.kind})`);
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== rdef.apiVersion) {
        throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the ` +
            `expected API version (${rdef.apiVersion})`);
    }
    if (obj.kind !== undefined && obj.kind !== rdef.kind) {
        throw badRequest(`the object provided is unrecognized (must be of type ${rdef.kind}): ` +
            `${obj.kind} is not a ${rdef.kind}`);
    }
    obj.apiVersion = rdef.apiVersion;
    obj.kind = rdef.kind;
    if (!rdef.model) return [];
    const r = checkDecode(rdef.model, obj);
    if (r.mismatch.length) throw decodeFailure(rdef, mismatchText(r.mismatch[0]));
    if (r.unknown.length && fieldValidation === 'Strict') {
        throw decodeFailure(rdef, 'strict decoding error: ' +
            r.unknown.map((u) => `unknown field "${u}"`).join(', '));
    }
    return r.unknown;
}

// Validates against the OpenAPI schema; returns causes (422) or throws 400 for values the Go
// decoder cannot hold (bad quantities, out-of-range integers, unparsable times).
export function schemaCauses(rdef, obj) {
    const validate = rdef.schema && validators.get(rdef.schema);
    if (!validate || validate(obj)) return [];
    const byPath = new Map();
    for (const e of validate.errors || []) {
        if (!byPath.has(e.instancePath)) byPath.set(e.instancePath, []);
        byPath.get(e.instancePath).push(e);
    }
    const out = [];
    for (const [p, errs] of byPath) {
        const field = pointerToField(p);
        for (const e of errs) {
            if (e.keyword === 'required') {
                const f = field ? `${field}.${e.params.missingProperty}` : e.params.missingProperty;
                out.push(cause(f, 'required'));
            } else if (e.keyword === 'format' && e.params.format === 'quantity') {
                throw decodeFailure(rdef, `${field}: ${QUANTITY_MESSAGE}`);
            } else if (e.keyword === 'format' || e.keyword === 'type') {
                if (errs.some((x) => x.keyword === 'format' && x.params.format === 'quantity')) continue;
                throw decodeFailure(rdef, `${field}: ${e.message}`);
            } else if (e.keyword === 'enum') {
                out.push(cause(field, 'notSupported', 'supported values: ' +
                    e.params.allowedValues.map((v) => JSON.stringify(v)).join(', '), valueAt(obj, p)));
            } else if (e.keyword !== 'oneOf' && e.keyword !== 'anyOf') {
                out.push(cause(field, 'invalid', e.message));
            }
        }
    }
    return out;
}

