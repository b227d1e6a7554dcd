// SPDX-License-Identifier: Apache-2.0
// Decoding of the protobuf request bodies kubectl's typed clients send (client-go defaults to
// `application/vnd.kubernetes.protobuf` for built-in kinds): the `k8s\0` envelope
// (runtime.Unknown) and the messages of `kubectl create namespace|configmap|secret|
// serviceaccount`, `kubectl auth can-i|whoami` and `kubectl drain` (an Eviction, or with
// --disable-eviction a delete's DeleteOptions), with field numbers from k8s.io/api's
// generated.proto. Other kinds answer 415, naming the kind.
import { ApiError } from './errors.mjs';

function reader(buf) {
    let pos = 0;
    const varint = () => {
        let v = 0n;
        let shift = 0n;
        for (;;) {
            if (pos >= buf.length) throw new Error('truncated varint');
            const b = buf[pos++];
            v |= BigInt(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
            shift += 7n;
        }
    };
    return {
        done: () => pos >= buf.length,
        // [field number, wire type, value]: value is a Buffer for length-delimited fields.
        next() {
            const key = Number(varint());
            const wt = key & 7;
            if (wt === 0) return [key >> 3, wt, varint()];
            if (wt === 2) {
                const len = Number(varint());
                const v = buf.subarray(pos, pos + len);
                pos += len;
                return [key >> 3, wt, v];
            }
            if (wt === 1) {
                pos += 8;
                return [key >> 3, wt, null];
            }
            if (wt === 5) {
                pos += 4;
                return [key >> 3, wt, null];
            }
            throw new Error(`unsupported wire type ${wt}`);
        },
    };
}

// Field specs: number -> [name, type]; type is 'string', 'bytes' (base64 in JSON), 'int',
// 'bool', 'strings' (repeated string), a message spec, ['map', valueType], ['rep', spec].
const TIME = { 1: ['seconds', 'int'], 2: ['nanos', 'int'] };
const OWNER = { 1: ['kind', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'],
    5: ['apiVersion', 'string'], 6: ['controller', 'bool'], 7: ['blockOwnerDeletion', 'bool'] };
const META = { 1: ['name', 'string'], 2: ['generateName', 'string'], 3: ['namespace', 'string'],
    5: ['uid', 'string'], 6: ['resourceVersion', 'string'], 7: ['generation', 'int'],
    8: ['creationTimestamp', TIME], 11: ['labels', ['map', 'string']],
    12: ['annotations', ['map', 'string']], 13: ['ownerReferences', ['rep', OWNER]],
    14: ['finalizers', 'strings'] };
// meta/v1 DeleteOptions: the body of `kubectl drain --disable-eviction`'s pod deletes, and inside
// kubectl drain's pods/eviction body.
const DELETE_OPTIONS = { 1: ['gracePeriodSeconds', 'int'],
    2: ['preconditions', { 1: ['uid', 'string'], 2: ['resourceVersion', 'string'] }],
    3: ['orphanDependents', 'bool'], 4: ['propagationPolicy', 'string'], 5: ['dryRun', 'strings'] };
const EVICTION = { 1: ['metadata', META], 2: ['deleteOptions', DELETE_OPTIONS] };
const MESSAGES = {
    'v1/Namespace': { 1: ['metadata', META], 2: ['spec', { 1: ['finalizers', 'strings'] }] },
    'v1/ConfigMap': { 1: ['metadata', META], 2: ['data', ['map', 'string']],
        3: ['binaryData', ['map', 'bytes']], 4: ['immutable', 'bool'] },
    'v1/Secret': { 1: ['metadata', META], 2: ['data', ['map', 'bytes']], 3: ['type', 'string'],
        4: ['stringData', ['map', 'string']], 5: ['immutable', 'bool'] },
    'v1/ServiceAccount': { 1: ['metadata', META], 3: ['automountServiceAccountToken', 'bool'] },
    'authorization.k8s.io/v1/SelfSubjectAccessReview': { 1: ['metadata', META], 2: ['spec', {
        1: ['resourceAttributes', { 1: ['namespace', 'string'], 2: ['verb', 'string'],
            3: ['group', 'string'], 4: ['version', 'string'], 5: ['resource', 'string'],
            6: ['subresource', 'string'], 7: ['name', 'string'] }],
        2: ['nonResourceAttributes', { 1: ['path', 'string'], 2: ['verb', 'string'] }] }] },
    'authorization.k8s.io/v1/SelfSubjectRulesReview': { 1: ['metadata', META],
        2: ['spec', { 1: ['namespace', 'string'] }] },
    'authentication.k8s.io/v1/SelfSubjectReview': { 1: ['metadata', META] },
    'policy/v1/Eviction': EVICTION,
    'policy/v1beta1/Eviction': EVICTION,
};

function scalar(type, wt, v) {
    if (type === 'string') return v.toString('utf8');
    if (type === 'bytes') return v.toString('base64');
    if (type === 'int') return Number(BigInt.asIntN(64, v));
    if (type === 'bool') return v !== 0n;
    throw new Error(`bad type ${type}`);
}

function decodeMessage(buf, spec) {
    const out = {};
    const r = reader(buf);
    while (!r.done()) {
        const [num, wt, v] = r.next();
        const f = spec[num];
        if (!f) continue;
        const [name, type] = f;
        if (type === 'strings') {
            (out[name] ??= []).push(v.toString('utf8'));
        } else if (Array.isArray(type) && type[0] === 'map') {
            const e = decodeMessage(v, { 1: ['key', 'string'], 2: ['value', type[1]] });
            (out[name] ??= {})[e.key ?? ''] = e.value ?? (type[1] === 'string' ? '' : '');
        } else if (Array.isArray(type) && type[0] === 'rep') {
            (out[name] ??= []).push(decodeMessage(v, type[1]));
        } else if (typeof type === 'object') {
            out[name] = type === TIME ? new Date(Number(decodeMessage(v, TIME).seconds || 0) * 1000)
                .toISOString().replace(/\.\d+Z$/, 'Z') : decodeMessage(v, type);
        } else {
            out[name] = scalar(type, wt, v);
        }
    }
    return out;
}

// A k8s protobuf body as the JSON object it stands for.
export function decodeProtobuf(buf) {
    if (buf.length < 4 || buf.subarray(0, 4).toString('latin1') !== 'k8s\0') {
        throw new ApiError(400, 'BadRequest', 'the protobuf body lacks the k8s envelope');
    }
    const unknown = decodeMessage(buf.subarray(4), { 1: ['typeMeta', { 1: ['apiVersion', 'string'],
        2: ['kind', 'string'] }], 2: ['raw', 'bytes'] });
    const tm = unknown.typeMeta || {};
    // DeleteOptions comes as any group's version (a typed client's own: "v1" from the core
    // client), which kube-apiserver's DELETE handler takes too, for backwards compatibility.
    const spec = tm.kind === 'DeleteOptions' ? DELETE_OPTIONS : MESSAGES[`${tm.apiVersion}/${tm.kind}`];
    if (!spec) {
        throw new ApiError(415, 'UnsupportedMediaType',
            `the fake API server decodes protobuf only for ${Object.keys(MESSAGES).join(', ')}; ` +
            `send ${tm.apiVersion} ${tm.kind} as application/json`);
    }
    const obj = decodeMessage(Buffer.from(unknown.raw || '', 'base64'), spec);
    return { apiVersion: tm.apiVersion, kind: tm.kind, ...obj };
}
