// SPDX-License-Identifier: Apache-2.0
// Field ownership: metadata.managedFields (FieldsV1) kept on every write, and server-side apply
// (PATCH application/apply-patch+yaml): merging the applied configuration, removing fields the
// manager applied before and no longer does, and 409 conflicts with other managers unless
// `force`. Lists are keyed by their patch merge key (built-ins) or x-kubernetes-list-map-keys.
import { ApiError } from './errors.mjs';
import { patchMeta } from './patch.mjs';
import { fieldType } from './typemap.mjs';
import { clone, deepEqual, isObject, now } from './util.mjs';

// --- navigation of an object's type: list kinds and atomic maps ------------------------------

const builtinNavs = new Map();

function builtinNav(model) {
    let nav = builtinNavs.get(model);
    if (!nav) {
        nav = makeBuiltinNav(model);
        builtinNavs.set(model, nav);
    }
    return nav;
}

function makeBuiltinNav(model) {
    return {
        child(key) {
            const t = model && fieldType(model, key);
            if (!t) return builtinNav(null);
            if (t.scalar) return builtinNav(t.scalar);
            if (t.map) return { ...builtinNav(t.map.scalar || null), mapOf: true };
            return builtinNav(t.array.scalar || null);
        },
        list(key) {
            const meta = model && patchMeta(model, key);
            if (meta?.key) return { type: 'map', keys: [meta.key] };
            if (meta?.strategy?.includes('merge')) return { type: 'set' };
            return { type: 'atomic' };
        },
        item(key) {
            return this.child(key);
        },
        value() {
            return builtinNav(model);
        },
    };
}

function schemaNav(schema) {
    const s = schema || {};
    return {
        child(key) {
            if (s.properties?.[key]) return schemaNav(s.properties[key]);
            if (isObject(s.additionalProperties)) return schemaNav(s.additionalProperties);
            if (key === 'metadata' && !s.properties?.metadata) return builtinNav('V1ObjectMeta');
            return schemaNav(null);
        },
        list(key) {
            const f = this.child(key).schema || {};
            const lt = f['x-kubernetes-list-type'];
            if (lt === 'map') return { type: 'map', keys: f['x-kubernetes-list-map-keys'] || [] };
            if (lt === 'set') return { type: 'set' };
            return { type: 'atomic' };
        },
        item(key) {
            const f = this.child(key).schema || {};
            return schemaNav(f.items);
        },
        schema: s,
    };
}

export function navFor(rdef) {
    if (rdef.builtin) return builtinNav(rdef.model);
    const top = rdef.openAPIV3Schema || {};
    return schemaNav({ ...top, properties: { ...top.properties, metadata: undefined } });
}

function metaAware(nav, key) {
    return key === 'metadata' ? builtinNav('V1ObjectMeta') : nav.child(key);
}

// --- field sets ----------------------------------------------------------------------------

const IGNORED_TOP = new Set(['apiVersion', 'kind', 'status']);
const IGNORED_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation',
    'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields',
    'selfLink', 'generateName']);

function itemKey(item, keys) {
    const k = {};
    for (const name of keys) if (isObject(item) && item[name] !== undefined) k[name] = item[name];
    return `k:${JSON.stringify(k)}`;
}

// A field path is its FieldsV1 keys ("f:spec", "k:{...}", "v:...", ".") joined by SEP.
const SEP = '\u0001';
const split = (p) => p.split(SEP);

// Leaves of `obj` as Map(path -> value). `status` decides whether status is included.
function leaves(obj, nav, { status = false } = {}) {
    const out = new Map();
    const walk = (v, n, prefix, top) => {
        const inMeta = prefix === 'f:metadata';
        for (const k of Object.keys(v)) {
            const x = v[k];
            if (x === undefined) continue;
            if (top && (IGNORED_TOP.has(k) && !(k === 'status' && status))) continue;
            if (inMeta && IGNORED_META.has(k)) continue;
            const p = prefix ? `${prefix}${SEP}f:${k}` : `f:${k}`;
            if (Array.isArray(x)) {
                const lt = top && k === 'metadata' ? { type: 'atomic' } : n.list(k);
                if (lt.type === 'atomic') {
                    out.set(p, x);
                } else if (lt.type === 'set') {
                    for (const e of x) out.set(`${p}${SEP}v:${JSON.stringify(e)}`, e);
                } else {
                    const item = n.item(k);
                    for (const e of x) {
                        const ip = `${p}${SEP}${itemKey(e, lt.keys)}`;
                        out.set(`${ip}${SEP}.`, null);
                        if (isObject(e)) walk(e, item, ip, false);
                    }
                }
            } else if (isObject(x) && Object.keys(x).length) {
                walk(x, top ? metaAware(n, k) : n.child(k), p, false);
            } else {
                out.set(p, x);
            }
        }
    };
    if (isObject(obj)) walk(obj, nav, '', true);
    return out;
}

function toFieldsV1(paths) {
    const root = {};
    for (const p of paths) {
        let node = root;
        for (const part of split(p)) {
            node[part] ??= {};
            node = node[part];
        }
    }
    return root;
}

function fromFieldsV1(f) {
    const out = new Set();
    const walk = (node, prefix) => {
        const keys = Object.keys(node || {});
        if (!keys.length && prefix) out.add(prefix);
        for (const k of keys) walk(node[k], prefix ? `${prefix}${SEP}${k}` : k);
    };
    walk(f, '');
    return out;
}

function ownerEntry(entries, manager, operation, sub) {
    return entries.findIndex((e) => e.manager === manager && e.operation === operation &&
        (e.subresource || '') === (sub || ''));
}

function setEntry(entries, e, paths) {
    const i = ownerEntry(entries, e.manager, e.operation, e.subresource);
    if (i >= 0) entries.splice(i, 1);
    if (paths.size) entries.push({ ...e, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(paths) });
}

function managerOf(opts) {
    if (opts.fieldManager) return opts.fieldManager;
    const ua = opts.userAgent || '';
    return ua.split('/')[0] || 'unknown';
}

// Records the manager of an Update (create, PUT, PATCH other than apply) on `obj`: it owns the
// fields it changed, which other managers lose; fields the object no longer has are owned by
// nobody.
export function recordManager(obj, old, opts) {
    if (opts.applied || (opts.internal && !opts.fieldManager)) {
        if (old && obj.metadata.managedFields === undefined) {
            obj.metadata.managedFields = old.metadata.managedFields;
        }
        return;
    }
    const status = opts.sub === 'status';
    const entries = old?.metadata.managedFields || [];
    const given = obj.metadata.managedFields;
    const base = given !== undefined && !deepEqual(given, old?.metadata.managedFields) ?
        clone(given) : entries;
    const after = leaves(obj, opts.nav, { status });
    const before = old ? leaves(old, opts.nav, { status }) : new Map();
    const changed = new Set();
    for (const [p, v] of after) if (!before.has(p) || !deepEqual(before.get(p), v)) changed.add(p);
    const removed = [...before.keys()].filter((p) => !after.has(p));
    if (!changed.size && !removed.length && base === entries) {
        if (old?.metadata.managedFields) obj.metadata.managedFields = old.metadata.managedFields;
        else delete obj.metadata.managedFields;
        return;
    }
    const manager = managerOf(opts);
    const sub = status ? 'status' : '';
    const out = [];
    let mine = new Set();
    for (const e of base) {
        const paths = fromFieldsV1(e.fieldsV1);
        for (const p of removed) paths.delete(p);
        if (e.manager === manager && e.operation === 'Update' && (e.subresource || '') === sub) {
            mine = paths;
            continue;
        }
        for (const p of changed) paths.delete(p);
        if (paths.size) out.push({ ...e, fieldsV1: toFieldsV1(paths) });
    }
    for (const p of changed) mine.add(p);
    const entry = { manager, operation: 'Update', apiVersion: obj.apiVersion, time: now() };
    if (status) entry.subresource = 'status';
    setEntry(out, entry, mine);
    if (out.length) obj.metadata.managedFields = out;
    else delete obj.metadata.managedFields;
}

// --- server-side apply ---------------------------------------------------------------------

function mergeApplied(live, applied, nav, top) {
    const out = isObject(live) ? clone(live) : {};
    for (const [k, v] of Object.entries(applied)) {
        if (top && k === 'status') continue;
        const child = top ? metaAware(nav, k) : nav.child(k);
        if (v === null) {
            delete out[k];
        } else if (Array.isArray(v)) {
            const lt = top && k === 'metadata' ? { type: 'atomic' } : nav.list(k);
            if (lt.type === 'map') {
                const list = Array.isArray(out[k]) ? out[k] : [];
                const merged = [];
                for (const item of v) {
                    const key = itemKey(item, lt.keys);
                    const cur = list.find((x) => itemKey(x, lt.keys) === key);
                    merged.push(isObject(item) ? mergeApplied(cur, item, nav.item(k), false) : item);
                }
                for (const x of list) {
                    if (!merged.some((m) => itemKey(m, lt.keys) === itemKey(x, lt.keys))) merged.push(x);
                }
                out[k] = merged;
            } else if (lt.type === 'set') {
                const list = Array.isArray(out[k]) ? [...out[k]] : [];
                for (const x of v) if (!list.some((y) => deepEqual(x, y))) list.push(x);
                out[k] = list;
            } else {
                out[k] = clone(v);
            }
        } else if (isObject(v) && Object.keys(v).length) {
            out[k] = mergeApplied(out[k], v, child, false);
        } else {
            out[k] = clone(v);
        }
    }
    return out;
}

function removePath(obj, pathArr) {
    let node = obj;
    for (let i = 0; i < pathArr.length; i++) {
        const part = pathArr[i];
        const last = i === pathArr.length - 1 || (i === pathArr.length - 2 && pathArr[i + 1] === '.');
        if (!node || typeof node !== 'object') return;
        if (part.startsWith('f:')) {
            const k = part.slice(2);
            if (last) {
                delete node[k];
                return;
            }
            node = node[k];
        } else if (part.startsWith('k:') || part.startsWith('v:')) {
            if (!Array.isArray(node)) return;
            const want = JSON.parse(part.slice(2));
            const idx = node.findIndex((x) => (part.startsWith('v:') ? deepEqual(x, want) :
                isObject(x) && Object.entries(want).every(([kk, vv]) => deepEqual(x[kk], vv))));
            if (idx < 0) return;
            if (last) {
                node.splice(idx, 1);
                return;
            }
            node = node[idx];
        }
    }
}

function valueAt(obj, pathArr) {
    let node = obj;
    for (const part of pathArr) {
        if (part === '.') return node;
        if (node === undefined || node === null) return undefined;
        if (part.startsWith('f:')) node = node[part.slice(2)];
        else {
            if (!Array.isArray(node)) return undefined;
            const want = JSON.parse(part.slice(2));
            node = node.find((x) => (part.startsWith('v:') ? deepEqual(x, want) :
                isObject(x) && Object.entries(want).every(([kk, vv]) => deepEqual(x[kk], vv))));
        }
    }
    return node;
}

function pathText(pathArr) {
    return pathArr.filter((p) => p !== '.').map((p) => {
        if (p.startsWith('f:')) return `.${p.slice(2)}`;
        if (p.startsWith('k:')) return `[${Object.entries(JSON.parse(p.slice(2))).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
        return `[=${p.slice(2)}]`;
    }).join('');
}

// The object after `manager` applies `applied` to `live` (undefined for a create). Throws 409
// on conflicts unless `force`. Returns the new object with its managedFields.
export function serverSideApply(rdef, live, applied, { manager, force, status }) {
    const nav = navFor(rdef);
    const appliedLeaves = leaves(applied, nav, { status });
    const newSet = new Set(appliedLeaves.keys());
    const entries = clone(live?.metadata.managedFields || []);
    const sub = status ? 'status' : '';
    const mine = entries.find((e) => e.manager === manager && e.operation === 'Apply' &&
        (e.subresource || '') === sub);
    const prevSet = mine ? fromFieldsV1(mine.fieldsV1) : new Set();
    const conflicts = [];
    const others = entries.filter((e) => e !== mine);
    for (const e of others) {
        const owned = fromFieldsV1(e.fieldsV1);
        for (const p of newSet) {
            if (!owned.has(p)) continue;
            const liveValue = live ? valueAt(live, split(p)) : undefined;
            if (!deepEqual(liveValue, appliedLeaves.get(p)) && !p.endsWith(`${SEP}.`)) {
                conflicts.push({ manager: e.manager, apiVersion: e.apiVersion, path: p });
            }
        }
    }
    if (conflicts.length && !force) {
        const n = conflicts.length;
        const lines = conflicts.map((c) => `conflict with "${c.manager}"${c.apiVersion ? ` using ${c.apiVersion}` : ''}: ${pathText(split(c.path))}`);
        throw new ApiError(409, 'Conflict', `Apply failed with ${n} conflict${n > 1 ? 's' : ''}: ${lines.join('\n')}`, {
            causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict',
                message: `conflict with "${c.manager}"${c.apiVersion ? ` using ${c.apiVersion}` : ''}`,
                field: pathText(split(c.path)) })),
        });
    }
    let result = live ? clone(live) : { apiVersion: applied.apiVersion, kind: applied.kind, metadata: {} };
    if (status) {
        result.status = mergeApplied({ status: result.status }, { status: applied.status }, nav, false).status;
    } else {
        result = mergeApplied(result, applied, nav, true);
    }
    const ownedByOthers = new Set();
    const out = [];
    for (const e of others) {
        const owned = fromFieldsV1(e.fieldsV1);
        if (force) for (const c of conflicts) if (c.manager === e.manager) owned.delete(c.path);
        for (const p of owned) ownedByOthers.add(p);
        if (owned.size) out.push({ ...e, fieldsV1: toFieldsV1(owned) });
    }
    for (const p of prevSet) {
        if (!newSet.has(p) && !ownedByOthers.has(p)) removePath(result, split(p));
    }
    const entry = { manager, operation: 'Apply', apiVersion: applied.apiVersion, time: now() };
    if (status) entry.subresource = 'status';
    setEntry(out, entry, newSet);
    result.metadata.managedFields = out;
    return result;
}
