// SPDX-License-Identifier: Apache-2.0
// /openapi/v2: the Swagger 2.0 document kube-apiserver serves, which kubectl before 1.27 (e.g.
// Debian's 1.20) downloads for client-side validation, `kubectl explain` and the patch
// metadata of `kubectl apply`. Its definitions come from the same client-node type maps as
// /openapi/v3 (built-ins, `x-kubernetes-group-version-kind`, patch strategies) and from the
// CRDs' schemas turned into v2 as kube-apiextensions-server does (no anyOf/oneOf/allOf/not;
// nullable, x-kubernetes-preserve-unknown-fields, x-kubernetes-embedded-resource and
// x-kubernetes-int-or-string fields untyped). Paths are left out: no client reads them from v2.
// kubectl asks for the protobuf form (`application/com.github.proto-openapi.spec.v2@v1.0+
// protobuf`: gnostic's openapi.v2.Document, field numbers from its OpenAPIv2.proto); other
// clients get JSON.
import { VERSION, modelSchemas } from './discovery.mjs';

const REF = '#/definitions/';

function schemaOfType(t, format, refs) {
    if (t.array) return { type: 'array', items: schemaOfType(t.array, undefined, refs) };
    if (t.map) return { type: 'object', additionalProperties: schemaOfType(t.map, undefined, refs) };
    switch (t.scalar) {
    case 'string': return { type: 'string' };
    case 'number': return format === 'double' ? { type: 'number', format: 'double' }
        : { type: 'integer', format: format || 'int32' };
    case 'boolean': return { type: 'boolean' };
    case 'Date':
    case 'V1MicroTime': return { type: 'string', format: 'date-time' };
    case 'IntOrString': return { type: 'string', format: 'int-or-string' };
    case 'any': return {};
    case 'object': return { type: 'object' };
    default:
        refs.add(t.scalar);
        return { $ref: REF + t.scalar };
    }
}

const DROPPED = ['anyOf', 'oneOf', 'allOf', 'not', 'nullable', 'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string'];

// A CRD's structural schema as kube-apiextensions-server publishes it in v2.
export function crdSchemaV2(s) {
    if (!s || typeof s !== 'object') return {};
    const out = {};
    for (const [k, v] of Object.entries(s)) {
        if (DROPPED.includes(k)) continue;
        if (k === 'properties') {
            out.properties = Object.fromEntries(Object.entries(v).map(([n, p]) => [n, crdSchemaV2(p)]));
        } else if (k === 'items' || (k === 'additionalProperties' && typeof v === 'object')) {
            out[k] = crdSchemaV2(v);
        } else out[k] = v;
    }
    if (s.nullable || s['x-kubernetes-preserve-unknown-fields'] || s['x-kubernetes-embedded-resource']) {
        delete out.type;
        delete out.items;
        delete out.properties;
    }
    if (s['x-kubernetes-int-or-string']) delete out.type;
    if (out.properties && Array.isArray(out.required)) {
        out.required = out.required.filter((f) => !s.properties[f]?.nullable);
        if (!out.required.length) delete out.required;
    }
    return out;
}

function crdDefinitionName(r) {
    return `${r.group.split('.').reverse().join('.')}.${r.version}.${r.kind}`;
}

export function openapiV2(registry) {
    const rdefs = [...registry.byPath.values()].filter((r) => !r.virtual && (r.model || r.openAPIV3Schema));
    // A model without a type map is an arbitrary object, so that no reference dangles: kubectl
    // refuses the whole document then.
    const definitions = modelSchemas([...rdefs.filter((r) => r.model).map((r) => r.model),
        'V1ObjectMeta'], (a, refs) => schemaOfType(a.type, a.format, refs), { type: 'object' });
    const gvks = new Map();
    for (const r of rdefs) {
        let name = r.model;
        if (!name) {
            name = crdDefinitionName(r);
            const s = crdSchemaV2(r.openAPIV3Schema);
            if (s.properties) {
                s.properties = { apiVersion: { type: 'string' }, kind: { type: 'string' },
                    ...s.properties, metadata: { $ref: `${REF}V1ObjectMeta` } };
            }
            definitions[name] = s;
        }
        if (!gvks.has(name)) gvks.set(name, []);
        const list = gvks.get(name);
        if (!list.some((g) => g.group === r.group && g.version === r.version && g.kind === r.kind)) {
            list.push({ group: r.group, kind: r.kind, version: r.version });
        }
    }
    for (const [name, list] of gvks) definitions[name]['x-kubernetes-group-version-kind'] = list;
    return { swagger: '2.0', info: { title: 'Kubernetes', version: VERSION.gitVersion }, paths: {},
        definitions };
}

// ---- protobuf ----

function varint(n) {
    const out = [];
    let v = BigInt.asUintN(64, BigInt(n));
    while (v >= 0x80n) {
        out.push(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
    }
    out.push(Number(v));
    return Buffer.from(out);
}

// A message under construction: a list of encoded fields.
class Msg {
    constructor() {
        this.parts = [];
    }

    bytes(field, buf) {
        this.parts.push(varint((field << 3) | 2), varint(buf.length), buf);
        return this;
    }

    string(field, s) {
        return s === undefined || s === '' ? this : this.bytes(field, Buffer.from(String(s), 'utf8'));
    }

    msg(field, m) {
        return this.bytes(field, m.encode());
    }

    uint(field, n) {
        if (n === undefined) return this;
        this.parts.push(varint(field << 3), varint(n));
        return this;
    }

    bool(field, b) {
        return b === undefined ? this : this.uint(field, b ? 1 : 0);
    }

    double(field, d) {
        if (d === undefined) return this;
        const b = Buffer.alloc(8);
        b.writeDoubleLE(d);
        this.parts.push(varint((field << 3) | 1), b);
        return this;
    }

    encode() {
        return Buffer.concat(this.parts);
    }
}

// openapi.v2.Any: the value as YAML (JSON is YAML).
const any = (v) => new Msg().string(2, JSON.stringify(v));
const namedAny = (name, v) => new Msg().string(1, name).msg(2, any(v));

function schemaMsg(s) {
    const m = new Msg();
    if (s.$ref !== undefined) m.string(1, s.$ref);
    m.string(2, s.format).string(3, s.title).string(4, s.description);
    if (s.default !== undefined) m.msg(5, any(s.default));
    m.double(6, s.multipleOf).double(7, s.maximum).bool(8, s.exclusiveMaximum)
        .double(9, s.minimum).bool(10, s.exclusiveMinimum).uint(11, s.maxLength)
        .uint(12, s.minLength).string(13, s.pattern).uint(14, s.maxItems).uint(15, s.minItems)
        .bool(16, s.uniqueItems).uint(17, s.maxProperties).uint(18, s.minProperties);
    for (const r of s.required || []) m.string(19, r);
    for (const e of s.enum || []) m.msg(20, any(e));
    if (typeof s.additionalProperties === 'boolean') {
        m.msg(21, new Msg().bool(2, s.additionalProperties));
    } else if (s.additionalProperties) {
        m.msg(21, new Msg().msg(1, schemaMsg(s.additionalProperties)));
    }
    if (s.type) m.msg(22, new Msg().string(1, s.type));
    if (s.items) {
        const items = new Msg();
        for (const i of Array.isArray(s.items) ? s.items : [s.items]) items.msg(1, schemaMsg(i));
        m.msg(23, items);
    }
    if (s.properties) {
        const props = new Msg();
        for (const [n, p] of Object.entries(s.properties)) {
            props.msg(1, new Msg().string(1, n).msg(2, schemaMsg(p)));
        }
        m.msg(25, props);
    }
    for (const [k, v] of Object.entries(s)) {
        if (k.startsWith('x-')) m.msg(31, namedAny(k, v));
    }
    return m;
}

// The protobuf form of an openapiV2 document.
export function openapiV2Protobuf(doc) {
    const defs = new Msg();
    for (const [n, s] of Object.entries(doc.definitions)) {
        defs.msg(1, new Msg().string(1, n).msg(2, schemaMsg(s)));
    }
    return new Msg().string(1, doc.swagger)
        .msg(2, new Msg().string(1, doc.info.title).string(2, doc.info.version))
        .msg(8, new Msg()).msg(9, defs).encode();
}

export const PROTOBUF_TYPES = ['application/com.github.proto-openapi.spec.v2@v1.0+protobuf',
    'application/com.github.proto-openapi.spec.v2.v1.0+protobuf'];
