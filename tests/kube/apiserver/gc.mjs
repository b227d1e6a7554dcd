// SPDX-License-Identifier: Apache-2.0
// The controllers kube-controller-manager would run that belong with the store here: the
// garbage collector (ownerReferences with Background / Foreground / Orphan propagation, dangling
// owners), the namespace lifecycle (Terminating namespaces emptied, then removed), CRD cleanup,
// and each namespace's `default` ServiceAccount and `kube-root-ca.crt` ConfigMap. Work is queued
// from store changes and done on later turns of the event loop, as a controller would.

const CRD_STORAGE = 'apiextensions.k8s.io/customresourcedefinitions';
const CRD_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

export class Controllers {
    constructor({ rest, store, registry, caPem }) {
        this.rest = rest;
        this.store = store;
        this.registry = registry;
        this.caPem = caPem;
        this.queue = new Map(); // uid -> storage
        this.scheduled = false;
        store.listeners.push((storage, type, obj, old) => this.observe(storage, type, obj, old));
    }

    enqueue(storage, uid) {
        this.queue.set(uid, storage);
        if (!this.scheduled) {
            this.scheduled = true;
            setImmediate(() => this.drain());
        }
    }

    // Everything already stored gets looked at once (after a restart).
    resync() {
        for (const [storage, t] of this.store.tables) {
            for (const o of t.objs.values()) this.enqueue(storage, o.metadata.uid);
        }
    }

    observe(storage, type, obj, old) {
        const uid = obj.metadata.uid;
        if (type === 'DELETED') {
            for (const d of this.store.dependentsOf(uid)) this.enqueue(d.storage, d.obj.metadata.uid);
            for (const ref of obj.metadata.ownerReferences || []) {
                const owner = this.store.getByUid(ref.uid);
                if (owner) this.enqueue(owner.storage, ref.uid);
            }
            if (obj.metadata.namespace) {
                // A Terminating namespace may now be empty; a live one gets its default
                // ServiceAccount and root CA ConfigMap back.
                const ns = this.store.get('/namespaces', undefined, obj.metadata.namespace);
                const setup = (storage === '/serviceaccounts' && obj.metadata.name === 'default') ||
                    (storage === '/configmaps' && obj.metadata.name === 'kube-root-ca.crt');
                if (ns && (ns.metadata.deletionTimestamp || setup)) this.enqueue('/namespaces', ns.metadata.uid);
            }
            if (storage === CRD_STORAGE) this.registry.removeCRD(obj.metadata.name);
            else this.crdContentGone(storage);
            return;
        }
        if (obj.metadata.deletionTimestamp || (obj.metadata.ownerReferences || []).length ||
            (type === 'ADDED' && storage === '/namespaces')) {
            this.enqueue(storage, uid);
        }
        if (old && old.metadata.deletionTimestamp === undefined && obj.metadata.deletionTimestamp) {
            for (const ref of obj.metadata.ownerReferences || []) {
                const owner = this.store.getByUid(ref.uid);
                if (owner?.obj.metadata.deletionTimestamp) this.enqueue(owner.storage, ref.uid);
            }
        }
    }

    crdContentGone(storage) {
        for (const crd of this.store.list(CRD_STORAGE)) {
            if (crd.metadata.deletionTimestamp &&
                `${crd.spec.group}/${crd.spec.names.plural}` === storage) {
                this.enqueue(CRD_STORAGE, crd.metadata.uid);
            }
        }
    }

    drain() {
        this.scheduled = false;
        const batch = [...this.queue.entries()];
        this.queue.clear();
        for (const [uid, storage] of batch) {
            const found = this.store.getByUid(uid);
            if (!found) continue;
            try {
                this.process(found.storage || storage, found.obj);
            } catch (e) {
                process.stderr.write(`controllers: ${e.stack || e}\n`);
            }
        }
    }

    process(storage, obj) {
        const m = obj.metadata;
        if (storage === '/namespaces') {
            if (m.deletionTimestamp) this.finalizeNamespace(obj);
            else this.setupNamespace(obj);
        }
        if (storage === CRD_STORAGE && m.deletionTimestamp) this.cleanupCRD(obj);
        if (m.deletionTimestamp && (m.finalizers || []).includes('orphan')) this.orphan(storage, obj);
        if (m.deletionTimestamp && (m.finalizers || []).includes('foregroundDeletion')) {
            this.foreground(storage, obj);
        }
        if ((m.ownerReferences || []).length) this.checkOwners(storage, obj);
    }

    // Owners that are gone (or another object by now) make a dependent garbage.
    checkOwners(storage, obj) {
        const refs = obj.metadata.ownerReferences;
        const alive = [];
        let waitingForeground = false;
        for (const ref of refs) {
            const owner = this.store.getByUid(ref.uid);
            const ok = owner && owner.obj.kind === ref.kind &&
                (owner.obj.metadata.namespace || '') === (this.ownerNamespace(owner, obj));
            if (ok) {
                alive.push(ref);
                if ((owner.obj.metadata.finalizers || []).includes('foregroundDeletion') &&
                    owner.obj.metadata.deletionTimestamp) waitingForeground = true;
            }
        }
        if (alive.length === refs.length) {
            if (waitingForeground && !obj.metadata.deletionTimestamp) {
                this.rest.internalDelete(storage, obj, 'Foreground');
            }
            return;
        }
        if (alive.length === 0) {
            if (!obj.metadata.deletionTimestamp) this.rest.internalDelete(storage, obj, 'Background');
            return;
        }
        const keep = new Set(alive.map((r) => r.uid));
        this.rest.internalUpdate(storage, obj, (o) => {
            o.metadata.ownerReferences = o.metadata.ownerReferences.filter((r) => keep.has(r.uid));
        });
    }

    ownerNamespace(owner, dependent) {
        const rdef = this.registry.byStorage(owner.storage)[0];
        return rdef?.namespaced ? dependent.metadata.namespace || '' : '';
    }

    removeFinalizer(storage, obj, name) {
        this.rest.internalUpdate(storage, obj, (o) => {
            o.metadata.finalizers = (o.metadata.finalizers || []).filter((f) => f !== name);
            if (!o.metadata.finalizers.length) delete o.metadata.finalizers;
        });
    }

    orphan(storage, obj) {
        const uid = obj.metadata.uid;
        for (const d of this.store.dependentsOf(uid)) {
            this.rest.internalUpdate(d.storage, d.obj, (o) => {
                o.metadata.ownerReferences = o.metadata.ownerReferences.filter((r) => r.uid !== uid);
                if (!o.metadata.ownerReferences.length) delete o.metadata.ownerReferences;
            });
        }
        this.removeFinalizer(storage, this.store.getByUid(uid).obj, 'orphan');
    }

    // Foreground: delete every dependent (in foreground too), keep the owner until those that
    // block its deletion are gone.
    foreground(storage, obj) {
        const uid = obj.metadata.uid;
        let blocking = 0;
        for (const d of this.store.dependentsOf(uid)) {
            const ref = d.obj.metadata.ownerReferences.find((r) => r.uid === uid);
            if (ref?.blockOwnerDeletion) blocking++;
            if (!d.obj.metadata.deletionTimestamp) this.rest.internalDelete(d.storage, d.obj, 'Foreground');
        }
        if (blocking === 0) this.removeFinalizer(storage, obj, 'foregroundDeletion');
    }

    setupNamespace(ns) {
        const name = ns.metadata.name;
        const sa = this.registry.lookup('', 'v1', 'serviceaccounts');
        const cm = this.registry.lookup('', 'v1', 'configmaps');
        if (!this.store.get('/serviceaccounts', name, 'default')) {
            this.rest.create(sa, name, { metadata: { name: 'default' } },
                { fieldManager: 'kube-controller-manager' });
        }
        if (!this.store.get('/configmaps', name, 'kube-root-ca.crt')) {
            this.rest.create(cm, name, { metadata: { name: 'kube-root-ca.crt', annotations: {
                'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } },
            data: { 'ca.crt': this.caPem } }, { fieldManager: 'kube-controller-manager' });
        }
    }

    // A Terminating namespace: delete its content, then drop the `kubernetes` finalizer.
    finalizeNamespace(ns) {
        const name = ns.metadata.name;
        let left = 0;
        for (const [storage, t] of this.store.tables) {
            for (const key of [...(t.byNs.get(name) || [])]) {
                const o = t.objs.get(key);
                if (!o) continue;
                left++;
                if (!o.metadata.deletionTimestamp) this.rest.internalDelete(storage, o, 'Background');
            }
        }
        if (left > 0 || !(ns.spec?.finalizers || []).length) return;
        const rdef = this.registry.lookup('', 'v1', 'namespaces');
        this.rest.update(rdef, undefined, name, (o) => {
            o.spec = { ...o.spec, finalizers: [] };
            return o;
        }, { sub: 'finalize', internal: true, patch: true });
    }

    cleanupCRD(crd) {
        const storage = `${crd.spec.group}/${crd.spec.names.plural}`;
        const objs = this.store.list(storage);
        for (const o of objs) if (!o.metadata.deletionTimestamp) this.rest.internalDelete(storage, o, 'Background');
        if (objs.length === 0) this.removeFinalizer(CRD_STORAGE, crd, CRD_FINALIZER);
    }
}
