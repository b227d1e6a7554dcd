// SPDX-License-Identifier: Apache-2.0
// The object store: one global resourceVersion counter (as etcd), tables indexed by namespace,
// label and owner uid, a bounded history of change events for watches (older versions answer
// 410), and persistence to a snapshot plus an append-only journal in the server's directory so
// that a restart keeps every object.
import fs from 'node:fs';
import path from 'node:path';
import { matchLabels, matchFields } from './selectors.mjs';

const JOURNAL_LIMIT = 20000;

function objectKey(ns, name) {
    return ns ? `${ns}/${name}` : name;
}

class Table {
    constructor() {
        this.objs = new Map(); // key -> object
        this.byNs = new Map(); // namespace -> Set(key)
        this.labels = new Map(); // label key -> Map(value -> Set(key))
    }

    index(key, obj, add) {
        const ns = obj.metadata.namespace || '';
        if (add) {
            if (!this.byNs.has(ns)) this.byNs.set(ns, new Set());
            this.byNs.get(ns).add(key);
        } else {
            this.byNs.get(ns)?.delete(key);
        }
        for (const [k, v] of Object.entries(obj.metadata.labels || {})) {
            if (!this.labels.has(k)) this.labels.set(k, new Map());
            const values = this.labels.get(k);
            if (add) {
                if (!values.has(v)) values.set(v, new Set());
                values.get(v).add(key);
            } else {
                values.get(v)?.delete(key);
                if (values.get(v)?.size === 0) values.delete(v);
            }
        }
    }

    // The keys an equality/`in` label requirement narrows a list to, else the namespace's keys.
    candidates(ns, labelReqs) {
        let best = null;
        for (const r of labelReqs || []) {
            if (r.op !== '=' && r.op !== 'in') continue;
            const values = this.labels.get(r.key);
            const set = new Set();
            for (const v of r.values) for (const k of values?.get(v) || []) set.add(k);
            if (!best || set.size < best.size) best = set;
        }
        if (best) return best;
        if (ns !== undefined) return this.byNs.get(ns) || new Set();
        return this.objs.keys();
    }
}

export class Store {
    constructor({ dir, historySize = 10000 }) {
        this.dir = dir;
        this.historySize = historySize;
        this.rv = 0;
        this.compacted = 0; // the newest resourceVersion no longer in the history
        this.tables = new Map();
        this.byUid = new Map(); // uid -> [storage, key]
        this.dependents = new Map(); // owner uid -> Set("storage\nkey")
        this.history = [];
        this.watchers = new Map(); // storage -> Set(watcher)
        this.listeners = []; // fn(storage, type, obj, old) after each commit
        this.journalFd = null;
    }

    table(storage) {
        let t = this.tables.get(storage);
        if (!t) {
            t = new Table();
            this.tables.set(storage, t);
        }
        return t;
    }

    get(storage, ns, name) {
        return this.tables.get(storage)?.objs.get(objectKey(ns, name));
    }

    getByUid(uid) {
        const loc = this.byUid.get(uid);
        if (!loc) return undefined;
        return { storage: loc[0], obj: this.tables.get(loc[0])?.objs.get(loc[1]) };
    }

    // Objects whose ownerReferences name `uid`: [{storage, obj}].
    dependentsOf(uid) {
        const out = [];
        for (const ref of this.dependents.get(uid) || []) {
            const [storage, key] = ref.split('\n');
            const obj = this.tables.get(storage)?.objs.get(key);
            if (obj) out.push({ storage, obj });
        }
        return out;
    }

    // Objects of one table, sorted by key (as etcd returns them); `ns` undefined = all.
    list(storage, ns, labelReqs, fieldReqs) {
        const t = this.tables.get(storage);
        if (!t) return [];
        const keys = [...t.candidates(ns, labelReqs)].sort();
        const out = [];
        for (const k of keys) {
            const o = t.objs.get(k);
            if (!o) continue;
            if (ns !== undefined && (o.metadata.namespace || '') !== ns) continue;
            if (labelReqs && !matchLabels(labelReqs, o.metadata.labels)) continue;
            if (fieldReqs && !matchFields(fieldReqs, o)) continue;
            out.push(o);
        }
        return out;
    }

    // Stores `obj` (ADDED / MODIFIED) or removes it (DELETED) at a new resourceVersion; the
    // object must not be mutated afterwards (watch events and lists share it).
    commit(storage, type, obj) {
        this.rv += 1;
        obj.metadata.resourceVersion = String(this.rv);
        const old = this.apply(storage, type, obj);
        this.journal({ rv: this.rv, t: type, s: storage, o: obj });
        this.record({ rv: this.rv, type, storage, obj, old });
        for (const fn of this.listeners) fn(storage, type, obj, old);
        return obj;
    }

    apply(storage, type, obj) {
        const t = this.table(storage);
        const key = objectKey(obj.metadata.namespace, obj.metadata.name);
        const old = t.objs.get(key);
        if (old) {
            t.index(key, old, false);
            this.indexOwners(storage, key, old, false);
            this.byUid.delete(old.metadata.uid);
            t.objs.delete(key);
        }
        if (type !== 'DELETED') {
            t.objs.set(key, obj);
            t.index(key, obj, true);
            this.indexOwners(storage, key, obj, true);
            this.byUid.set(obj.metadata.uid, [storage, key]);
        }
        return old;
    }

    indexOwners(storage, key, obj, add) {
        for (const ref of obj.metadata.ownerReferences || []) {
            const id = `${storage}\n${key}`;
            if (add) {
                if (!this.dependents.has(ref.uid)) this.dependents.set(ref.uid, new Set());
                this.dependents.get(ref.uid).add(id);
            } else {
                const set = this.dependents.get(ref.uid);
                set?.delete(id);
                if (set?.size === 0) this.dependents.delete(ref.uid);
            }
        }
    }

    record(ev) {
        this.history.push(ev);
        if (this.history.length > this.historySize) {
            const drop = this.history.length - this.historySize;
            this.compacted = this.history[drop - 1].rv;
            this.history.splice(0, drop);
        }
        for (const w of this.watchers.get(ev.storage) || []) w.notify(ev);
    }

    // Forgets the whole history: a watch from any older resourceVersion then gets 410.
    compact() {
        this.compacted = this.rv;
        this.history = [];
    }

    // Events of `storage` after resourceVersion `rv`, or null when some are compacted away.
    eventsSince(storage, rv) {
        if (rv < this.compacted) return null;
        let lo = 0;
        let hi = this.history.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (this.history[mid].rv <= rv) lo = mid + 1;
            else hi = mid;
        }
        return this.history.slice(lo).filter((e) => e.storage === storage);
    }

    addWatcher(storage, w) {
        if (!this.watchers.has(storage)) this.watchers.set(storage, new Set());
        this.watchers.get(storage).add(w);
    }

    removeWatcher(storage, w) {
        this.watchers.get(storage)?.delete(w);
    }

    allWatchers() {
        const out = [];
        for (const set of this.watchers.values()) out.push(...set);
        return out;
    }

    // --- persistence -------------------------------------------------------------------------

    snapshotPath() {
        return path.join(this.dir, 'state.json');
    }

    journalPath() {
        return path.join(this.dir, 'journal.jsonl');
    }

    // Loads the snapshot and replays the journal, keeping the replayed changes as watch history
    // (as etcd keeps its history across an API server restart); then writes a fresh snapshot.
    load() {
        fs.mkdirSync(this.dir, { recursive: true });
        let snap = { rv: 0, compacted: 0, objects: [], history: [] };
        if (fs.existsSync(this.snapshotPath())) {
            snap = JSON.parse(fs.readFileSync(this.snapshotPath(), 'utf8'));
        }
        this.rv = snap.rv;
        this.compacted = snap.compacted;
        for (const { s, o } of snap.objects) this.apply(s, 'ADDED', o);
        this.history = snap.history.map((e) => ({ rv: e.rv, type: e.t, storage: e.s, obj: e.o }));
        if (fs.existsSync(this.journalPath())) {
            const lines = fs.readFileSync(this.journalPath(), 'utf8').split('\n');
            for (const line of lines) {
                if (!line) continue;
                let e;
                try {
                    e = JSON.parse(line);
                } catch {
                    break; // a torn last line: the write was never acknowledged
                }
                if (e.rv <= this.rv) continue;
                this.rv = e.rv;
                const old = this.apply(e.s, e.t, e.o);
                this.history.push({ rv: e.rv, type: e.t, storage: e.s, obj: e.o, old });
            }
        }
        if (this.history.length > this.historySize) {
            const drop = this.history.length - this.historySize;
            this.compacted = this.history[drop - 1].rv;
            this.history.splice(0, drop);
        }
        this.writeSnapshot();
    }

    writeSnapshot() {
        const objects = [];
        for (const [s, t] of this.tables) for (const o of t.objs.values()) objects.push({ s, o });
        const history = this.history.map((e) => ({ rv: e.rv, t: e.type, s: e.storage, o: e.obj }));
        const tmp = this.snapshotPath() + '.tmp';
        fs.writeFileSync(tmp, JSON.stringify({ rv: this.rv, compacted: this.compacted, objects,
            history }));
        fs.renameSync(tmp, this.snapshotPath());
        if (this.journalFd !== null) fs.closeSync(this.journalFd);
        this.journalFd = fs.openSync(this.journalPath(), 'w');
        this.journalLines = 0;
    }

    // Appends one change; every JOURNAL_LIMIT changes the state becomes a new snapshot, so the
    // journal of a long benchmark does not grow without bound.
    journal(entry) {
        if (this.journalFd === null) return;
        fs.writeSync(this.journalFd, JSON.stringify(entry) + '\n');
        if (++this.journalLines >= JOURNAL_LIMIT) this.writeSnapshot();
    }
}
