// SPDX-License-Identifier: Apache-2.0
// The field types of the built-in kinds, from @kubernetes/client-node's models (generated from
// the official OpenAPI document): used to find unknown fields and values of the wrong JSON type
// the way kube-apiserver's decoder does, to navigate objects for strategic merge patches, and
// to describe the kinds in /openapi/v3 and /openapi/v2.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const modelsDir = path.join(path.dirname(require.resolve('@kubernetes/client-node/package.json')),
    'dist', 'gen', 'models');

const types = new Map(); // model name -> [{name, type, format}]

function parseType(t) {
    if (t.startsWith('Array<') && t.endsWith('>')) return { array: parseType(t.slice(6, -1)) };
    const m = /^\{ \[key: string\]: (.*); \}$/.exec(t);
    if (m) return { map: parseType(m[1]) };
    return { scalar: t };
}

const SCALARS = new Set(['string', 'number', 'boolean', 'Date', 'V1MicroTime', 'any', 'object',
    'IntOrString']);

async function loadModel(name) {
    if (types.has(name) || SCALARS.has(name)) return;
    types.set(name, null);
    const mod = await import(pathToFileURL(path.join(modelsDir, `${name}.js`)).href);
    const attrs = mod[name].getAttributeTypeMap().map((a) => ({
        name: a.baseName, type: parseType(a.type), format: a.format,
    }));
    types.set(name, attrs);
    const deps = new Set();
    const collect = (t) => {
        if (t.array) collect(t.array);
        else if (t.map) collect(t.map);
        else deps.add(t.scalar);
    };
    for (const a of attrs) collect(a.type);
    for (const d of deps) await loadModel(d);
}

export async function loadModels(names) {
    for (const n of names) if (n) await loadModel(n);
}

export function fields(model) {
    return types.get(model);
}

// The attribute of `model` named `field`, or undefined.
export function fieldType(model, field) {
    const attrs = types.get(model);
    if (!attrs) return undefined;
    const a = attrs.find((x) => x.name === field);
    return a && a.type;
}

function goType(t, format) {
    if (t.array) return '[]' + goType(t.array, '');
    if (t.map) return 'map[string]' + goType(t.map, '');
    switch (t.scalar) {
    case 'number': return format === 'int64' ? 'int64' : format === 'double' ? 'float64' : 'int32';
    case 'boolean': return 'bool';
    case 'string': return 'string';
    case 'Date': return 'Time';
    default: return t.scalar.replace(/^(V1|V1beta1|CoreV1|EventsV1|DiscoveryV1|AuthenticationV1)/, '');
    }
}

function jsonKind(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    if (typeof v === 'object') return 'object';
    return typeof v;
}

function fieldName(parent, name) {
    return parent ? `${parent}.${name}` : name;
}

// The fields of type resource.Quantity (maps of them, or one), which the models type as strings:
// the Go decoder takes a JSON number for a quantity too (`cpu: 1` in YAML), and stores it as
// text.
const QUANTITIES = {
    V1ResourceRequirements: ['limits', 'requests'],
    V1VolumeResourceRequirements: ['limits', 'requests'],
    V1PodSpec: ['overhead'],
    V1EmptyDirVolumeSource: ['sizeLimit'],
    V1ResourceQuotaSpec: ['hard'],
    V1LimitRangeItem: ['default', 'defaultRequest', 'max', 'maxLimitRequestRatio', 'min'],
};

function quantitiesAsText(value, model, field) {
    if (!QUANTITIES[model]?.includes(field)) return;
    const v = value[field];
    if (typeof v === 'number') value[field] = String(v);
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
        for (const [k, q] of Object.entries(v)) if (typeof q === 'number') v[k] = String(q);
    }
}

// Walks `value` against `t` (a parsed type); records unknown fields and type mismatches.
function walk(value, t, format, at, parentModel, out) {
    if (value === null || value === undefined) return;
    const kind = jsonKind(value);
    if (t.array) {
        if (kind !== 'array') return out.mismatch.push({ at, kind, want: goType(t, ''), parentModel });
        value.forEach((v, i) => walk(v, t.array, '', `${at}[${i}]`, parentModel, out));
        return;
    }
    if (t.map) {
        if (kind !== 'object') return out.mismatch.push({ at, kind, want: goType(t, ''), parentModel });
        for (const [k, v] of Object.entries(value)) walk(v, t.map, '', `${at}[${k}]`, parentModel, out);
        return;
    }
    const s = t.scalar;
    if (s === 'any' || s === 'object') return;
    if (s === 'IntOrString') {
        if (kind !== 'string' && !(kind === 'number' && Number.isInteger(value))) {
            out.mismatch.push({ at, kind, want: 'IntOrString', parentModel });
        }
        return;
    }
    if (s === 'string' || s === 'Date' || s === 'V1MicroTime') {
        if (kind !== 'string') out.mismatch.push({ at, kind, want: goType(t, format), parentModel });
        return;
    }
    if (s === 'number') {
        const intLike = format !== 'double';
        if (kind !== 'number' || (intLike && !Number.isInteger(value))) {
            out.mismatch.push({ at, kind, want: goType(t, format), parentModel });
        }
        return;
    }
    if (s === 'boolean') {
        if (kind !== 'boolean') out.mismatch.push({ at, kind, want: 'bool', parentModel });
        return;
    }
    const attrs = types.get(s);
    if (!attrs) return;
    if (kind !== 'object') return out.mismatch.push({ at, kind, want: goType(t, ''), parentModel: s });
    const byName = new Map(attrs.map((a) => [a.name, a]));
    for (const [k, v] of Object.entries(value)) {
        const a = byName.get(k);
        const child = fieldName(at, k);
        if (!a) {
            out.unknown.push(child);
            if (out.prune) delete value[k];
            continue;
        }
        quantitiesAsText(value, s, k);
        walk(value[k], a.type, a.format, child, s, out);
    }
}

// {unknown: [field path], mismatch: [{at, kind, want, parentModel}]} of an object of `model`;
// unknown fields are removed from `obj` (as the decoder drops them).
export function checkDecode(model, obj) {
    const out = { unknown: [], mismatch: [], prune: true };
    if (types.get(model)) walk(obj, { scalar: model }, '', '', model, out);
    return out;
}

// The Go decoder's message for a value of the wrong JSON type.
export function mismatchText(m) {
    const kinds = { string: 'string', number: 'number', boolean: 'bool', array: 'array',
        object: 'object' };
    const struct = goType({ scalar: m.parentModel }, '');
    return `json: cannot unmarshal ${kinds[m.kind] || m.kind} into Go struct field ` +
        `${struct}.${m.at} of type ${m.want}`;
}
