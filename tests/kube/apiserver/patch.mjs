// SPDX-License-Identifier: Apache-2.0
// The three patch formats of the API: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
// strategic merge patch for built-in kinds (lists merged by their patchMergeKey, the `$patch`,
// `$retainKeys`, `$setElementOrder` and `$deleteFromPrimitiveList` directives kubectl sends).
import { ApiError } from './errors.mjs';
import { fieldType } from './typemap.mjs';
import { clone, deepEqual, isObject } from './util.mjs';

export function mergePatch(target, patch) {
    if (!isObject(patch)) return clone(patch);
    const out = isObject(target) ? clone(target) : {};
    for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete out[k];
        else out[k] = mergePatch(out[k], v);
    }
    return out;
}

function patchError(message) {
    return new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`);
}

function parsePointer(p) {
    if (p === '') return [];
    if (!p.startsWith('/')) throw patchError(`invalid JSON pointer ${JSON.stringify(p)}`);
    return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function locate(doc, parts, op) {
    let parent = doc;
    for (const k of parts.slice(0, -1)) {
        parent = Array.isArray(parent) ? parent[Number(k)] : parent?.[k];
        if (parent === undefined || parent === null || typeof parent !== 'object') {
            throw patchError(`${op} operation does not apply: doc is missing path: "/${parts.join('/')}": missing value`);
        }
    }
    return parent;
}

export function jsonPatch(doc, ops) {
    if (!Array.isArray(ops)) throw patchError('json patch must be an array of operations');
    let out = clone(doc);
    for (const op of ops) {
        const parts = parsePointer(op.path ?? '');
        const get = (ps) => {
            let v = out;
            for (const k of ps) {
                v = Array.isArray(v) ? v[k === '-' ? v.length : Number(k)] : v?.[k];
            }
            return v;
        };
        const remove = (ps) => {
            const parent = locate(out, ps, op.op);
            const k = ps[ps.length - 1];
            if (Array.isArray(parent)) {
                if (Number(k) >= parent.length) throw patchError(`remove operation does not apply: doc is missing path: "${op.path}": missing value`);
                return parent.splice(Number(k), 1)[0];
            }
            if (!(k in parent)) throw patchError(`${op.op} operation does not apply: doc is missing path: "${op.path}": missing value`);
            const v = parent[k];
            delete parent[k];
            return v;
        };
        const add = (ps, value) => {
            if (ps.length === 0) {
                out = value;
                return;
            }
            const parent = locate(out, ps, op.op);
            const k = ps[ps.length - 1];
            if (Array.isArray(parent)) {
                const i = k === '-' ? parent.length : Number(k);
                if (!(i >= 0 && i <= parent.length)) throw patchError(`add operation does not apply: index out of bounds`);
                parent.splice(i, 0, value);
            } else parent[k] = value;
        };
        switch (op.op) {
        case 'add': add(parts, clone(op.value)); break;
        case 'remove': remove(parts); break;
        case 'replace': remove(parts); add(parts, clone(op.value)); break;
        case 'move': add(parts, remove(parsePointer(op.from))); break;
        case 'copy': add(parts, clone(get(parsePointer(op.from)))); break;
        case 'test':
            if (!deepEqual(get(parts), op.value)) throw patchError(`testing value ${op.path} failed: test failed`);
            break;
        default: throw patchError(`Unexpected kind: ${op.op}`);
        }
    }
    return out;
}

// patchMergeKey / patchStrategy of list fields in the built-in types (from their Go tags).
const META = {
    'V1ObjectMeta.finalizers': { strategy: 'merge' },
    'V1ObjectMeta.ownerReferences': { strategy: 'merge', key: 'uid' },
    'V1PodSpec.volumes': { strategy: 'merge,retainKeys', key: 'name' },
    'V1PodSpec.initContainers': { strategy: 'merge', key: 'name' },
    'V1PodSpec.containers': { strategy: 'merge', key: 'name' },
    'V1PodSpec.ephemeralContainers': { strategy: 'merge', key: 'name' },
    'V1PodSpec.imagePullSecrets': { strategy: 'merge', key: 'name' },
    'V1PodSpec.hostAliases': { strategy: 'merge', key: 'ip' },
    'V1PodSpec.topologySpreadConstraints': { strategy: 'merge', key: 'topologyKey' },
    'V1PodSpec.resourceClaims': { strategy: 'merge,retainKeys', key: 'name' },
    'V1PodSpec.schedulingGates': { strategy: 'merge', key: 'name' },
    'V1Container.ports': { strategy: 'merge', key: 'containerPort' },
    'V1Container.env': { strategy: 'merge', key: 'name' },
    'V1Container.volumeMounts': { strategy: 'merge', key: 'mountPath' },
    'V1Container.volumeDevices': { strategy: 'merge', key: 'devicePath' },
    'V1PodStatus.conditions': { strategy: 'merge', key: 'type' },
    'V1PodStatus.podIPs': { strategy: 'merge', key: 'ip' },
    'V1PodStatus.hostIPs': { strategy: 'merge', key: 'ip' },
    'V1ServiceSpec.ports': { strategy: 'merge', key: 'port' },
    'V1ServiceAccount.secrets': { strategy: 'merge', key: 'name' },
    'V1DeploymentSpec.strategy': { strategy: 'retainKeys' },
    'V1DeploymentStatus.conditions': { strategy: 'merge', key: 'type' },
    'V1ReplicaSetStatus.conditions': { strategy: 'merge', key: 'type' },
    'V1JobStatus.conditions': { strategy: 'merge', key: 'type' },
    'V1NodeStatus.conditions': { strategy: 'merge', key: 'type' },
    'V1NodeStatus.addresses': { strategy: 'merge', key: 'type' },
    'V1NodeSpec.podCIDRs': { strategy: 'merge' },
    'V1NamespaceStatus.conditions': { strategy: 'merge', key: 'type' },
    'V1ServiceStatus.conditions': { strategy: 'merge', key: 'type' },
};

export function patchMeta(model, field) {
    return META[`${model}.${field}`];
}

const PRIMITIVE_DELETE = '$deleteFromPrimitiveList/';
const ELEMENT_ORDER = '$setElementOrder/';

// Applies a strategic merge patch to `orig`, an object of client-node model `model`.
export function strategicMerge(orig, patch, model) {
    if (!isObject(patch)) return clone(patch);
    if (patch.$patch === 'replace') {
        const p = clone(patch);
        delete p.$patch;
        return p;
    }
    if (patch.$patch === 'delete') return undefined;
    const out = isObject(orig) ? clone(orig) : {};
    const orders = {};
    for (const [k, v] of Object.entries(patch)) {
        if (k === '$patch' || k === '$retainKeys') continue;
        if (k.startsWith(ELEMENT_ORDER)) {
            orders[k.slice(ELEMENT_ORDER.length)] = v;
            continue;
        }
        if (k.startsWith(PRIMITIVE_DELETE)) {
            const f = k.slice(PRIMITIVE_DELETE.length);
            if (Array.isArray(out[f])) out[f] = out[f].filter((x) => !v.some((d) => deepEqual(d, x)));
            continue;
        }
        if (v === null) {
            delete out[k];
            continue;
        }
        out[k] = mergeField(out[k], v, model, k);
        if (out[k] === undefined) delete out[k];
    }
    for (const [f, order] of Object.entries(orders)) {
        if (Array.isArray(out[f])) out[f] = reorder(out[f], order, patchMeta(model, f)?.key);
    }
    if (Array.isArray(patch.$retainKeys)) {
        for (const k of Object.keys(out)) if (!patch.$retainKeys.includes(k)) delete out[k];
    }
    return out;
}

function mergeField(cur, v, model, k) {
    const t = model ? fieldType(model, k) : undefined;
    if (!t) return isObject(v) ? mergePatch(cur, v) : clone(v);
    if (t.scalar) {
        const s = t.scalar;
        if (isObject(v) && !['any', 'object', 'string', 'number', 'boolean', 'Date',
            'IntOrString'].includes(s)) return strategicMerge(cur, v, s);
        return isObject(v) ? mergePatch(cur, v) : clone(v);
    }
    if (t.map) {
        if (!isObject(v)) return clone(v);
        const out = isObject(cur) ? clone(cur) : {};
        for (const [mk, mv] of Object.entries(v)) {
            if (mv === null) delete out[mk];
            else if (t.map.scalar && isObject(mv) && !['any', 'object'].includes(t.map.scalar)) {
                out[mk] = strategicMerge(out[mk], mv, t.map.scalar);
            } else out[mk] = clone(mv);
        }
        return out;
    }
    const meta = patchMeta(model, k);
    if (!Array.isArray(v) || !meta || !meta.strategy.includes('merge')) return clone(v);
    const item = t.array.scalar;
    if (!meta.key) {
        const out = Array.isArray(cur) ? clone(cur) : [];
        for (const x of v) if (!out.some((y) => deepEqual(x, y))) out.push(clone(x));
        return out;
    }
    if (v.some((x) => isObject(x) && x.$patch === 'replace')) {
        return v.filter((x) => !(isObject(x) && x.$patch === 'replace')).map(clone);
    }
    const out = Array.isArray(cur) ? clone(cur) : [];
    for (const pe of v) {
        const i = out.findIndex((x) => isObject(x) && isObject(pe) && x[meta.key] === pe[meta.key]);
        if (isObject(pe) && pe.$patch === 'delete') {
            if (i >= 0) out.splice(i, 1);
        } else if (i >= 0) {
            out[i] = strategicMerge(out[i], pe, item);
        } else {
            const fresh = strategicMerge(undefined, pe, item);
            if (fresh !== undefined) out.push(fresh);
        }
    }
    return out;
}

function reorder(list, order, key) {
    const same = (a, b) => (key ? isObject(a) && isObject(b) && a[key] === b[key] : deepEqual(a, b));
    const out = [];
    for (const o of order) {
        const x = list.find((y) => same(y, o));
        if (x !== undefined && !out.includes(x)) out.push(x);
    }
    for (const x of list) if (!out.includes(x)) out.push(x);
    return out;
}
