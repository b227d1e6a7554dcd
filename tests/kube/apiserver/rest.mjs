// SPDX-License-Identifier: Apache-2.0
// The object semantics behind every REST verb: create, read, update (including the status and
// scale subresources), delete with preconditions, grace periods, finalizers and propagation
// policies; version conversion (custom resources, core/events.k8s.io Events); resourceVersion
// preconditions, generation, no-op detection and managedFields. The GC and the HTTP layer both
// write through here, so every change gets a resourceVersion, a journal line and watch events.
import { ApiError, alreadyExists, badRequest, cause, conflict, forbidden, invalid, notFound }
    from './errors.mjs';
import { crdDefaults, crdStatus, validateCRD, validateCustom } from './crd.mjs';
import { kindOf, validateMeta } from './kinds.mjs';
import { navFor, recordManager } from './apply.mjs';
import { dns1123Subdomain } from './names.mjs';
import { clone, deepEqual, isObject, now, randomSuffix, uid } from './util.mjs';
import { decode, schemaCauses } from './validation.mjs';

const CRD_STORAGE = 'apiextensions.k8s.io/customresourcedefinitions';
const CRD_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

// Conversions between the two Event APIs (one storage, core/v1 form).
function eventToV1(e) {
    return {
        apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: e.metadata,
        eventTime: e.eventTime ?? null,
        series: e.series ? { count: e.series.count, lastObservedTime: e.series.lastObservedTime } : undefined,
        reportingController: e.reportingComponent || e.source?.component || undefined,
        reportingInstance: e.reportingInstance || e.source?.host || undefined,
        action: e.action, reason: e.reason, regarding: e.involvedObject, related: e.related,
        note: e.message, type: e.type, deprecatedSource: e.source,
        deprecatedFirstTimestamp: e.firstTimestamp, deprecatedLastTimestamp: e.lastTimestamp,
        deprecatedCount: e.count,
    };
}

function eventToCore(e) {
    return {
        apiVersion: 'v1', kind: 'Event', metadata: e.metadata,
        involvedObject: e.regarding || {}, reason: e.reason, message: e.note,
        source: e.deprecatedSource || {}, firstTimestamp: e.deprecatedFirstTimestamp ?? null,
        lastTimestamp: e.deprecatedLastTimestamp ?? null, count: e.deprecatedCount,
        type: e.type, eventTime: e.eventTime, series: e.series, action: e.action,
        related: e.related, reportingComponent: e.reportingController || '',
        reportingInstance: e.reportingInstance || '',
    };
}

function dropUndefined(o) {
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
    return o;
}

// Everything of an object except metadata and status: what a generation counts.
function specPart(obj) {
    const rest = { ...obj };
    delete rest.metadata;
    delete rest.status;
    delete rest.apiVersion;
    delete rest.kind;
    return rest;
}

// Whether an update changes nothing but what the server sets anyway (resourceVersion,
// managedFields timestamps): such an update is a no-op, as in kube-apiserver.
function sameIgnoringVersion(a, b) {
    const { metadata: ma, ...ra } = a;
    const { metadata: mb, ...rb } = b;
    if (!deepEqual(ra, rb)) return false;
    const { resourceVersion: va, managedFields: fa, ...xa } = ma;
    const { resourceVersion: vb, managedFields: fb, ...xb } = mb;
    if (!deepEqual(xa, xb)) return false;
    const times = (f) => (f || []).map((e) => ({ ...e, time: undefined }));
    return deepEqual(times(fa), times(fb));
}

// Kubernetes stores no empty list of owners or finalizers (omitempty): `ownerReferences: []` or
// `finalizers: []`, written so or left by a patch that removed the last one, is dropped.
function dropEmptyLists(m) {
    for (const k of ['ownerReferences', 'finalizers']) {
        if (Array.isArray(m?.[k]) && !m[k].length) delete m[k];
    }
}

export class Rest {
    constructor({ store, registry, options = {} }) {
        this.store = store;
        this.registry = registry;
        this.options = options;
        this.hooks = { allocateService: () => {} };
    }

    kind(rdef) {
        if (rdef.storage === CRD_STORAGE) {
            return { name: dns1123Subdomain, defaults: crdDefaults, validate: validateCRD };
        }
        return rdef.builtin ? kindOf(rdef.storage) : { name: dns1123Subdomain };
    }

    // Storage form -> the form of `rdef`'s version.
    toVersion(rdef, obj) {
        if (!obj) return obj;
        if (rdef.storage === '/events') {
            const isV1 = obj.apiVersion === 'events.k8s.io/v1';
            if (rdef.group === 'events.k8s.io' && !isV1) return dropUndefined(eventToV1(obj));
            if (!rdef.group && isV1) return dropUndefined(eventToCore(obj));
            return obj;
        }
        if (obj.apiVersion !== rdef.apiVersion) return { ...obj, apiVersion: rdef.apiVersion };
        return obj;
    }

    fromVersion(rdef, obj) {
        if (rdef.storage === '/events' && rdef.group === 'events.k8s.io') {
            return dropUndefined(eventToCore(obj));
        }
        return obj;
    }

    get(rdef, ns, name) {
        const obj = this.store.get(rdef.storage, rdef.namespaced ? ns : undefined, name);
        if (!obj) throw notFound(rdef, name);
        return this.toVersion(rdef, obj);
    }

    // Decodes a request body into `rdef`'s kind: apiVersion/kind, JSON types, unknown fields.
    decode(rdef, obj, opts) {
        let unknown = [];
        if (rdef.builtin) {
            unknown = decode(rdef, obj, opts.fieldValidation);
        } else {
            if (!isObject(obj)) throw badRequest(`the object provided is unrecognized (must be of type ${rdef.kind})`);
            if (obj.apiVersion !== undefined && obj.apiVersion !== rdef.apiVersion) {
                throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${rdef.apiVersion})`);
            }
            if (obj.kind !== undefined && obj.kind !== rdef.kind) {
                throw badRequest(`the object provided is unrecognized (must be of type ${rdef.kind}): ${obj.kind} is not a ${rdef.kind}`);
            }
            obj.apiVersion = rdef.apiVersion;
            obj.kind = rdef.kind;
        }
        if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
        if (!isObject(obj.metadata)) throw badRequest(`${rdef.kind} in version "${rdef.version}" cannot be handled as a ${rdef.kind}: metadata must be an object`);
        return unknown;
    }

    unknownFields(rdef, unknown, opts) {
        if (!unknown.length) return;
        if (opts.fieldValidation === 'Strict') {
            throw badRequest(`${rdef.kind} in version "${rdef.version}" cannot be handled as a ` +
                `${rdef.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`);
        }
        if (opts.fieldValidation !== 'Ignore') {
            for (const u of unknown) opts.warnings?.push(`unknown field "${u}"`);
        }
    }

    // Validation of an object about to be stored; throws 422 with every cause.
    validate(rdef, obj, old, opts, unknown) {
        const kind = this.kind(rdef);
        let causes = validateMeta(obj, rdef, kind.name);
        if (rdef.builtin) {
            causes.push(...schemaCauses(rdef, obj));
        } else {
            const r = validateCustom(rdef, obj);
            causes.push(...r.causes);
            unknown.push(...r.unknown);
        }
        if (kind.validate) causes.push(...kind.validate(obj, old, opts));
        this.unknownFields(rdef, unknown, opts);
        const seen = new Set();
        causes = causes.filter((c) => {
            const k = `${c.field}|${c.type}|${c.detail}`;
            if (seen.has(k)) return false;
            seen.add(k);
            return true;
        });
        if (causes.length) throw invalid(rdef, obj.metadata.name || obj.metadata.generateName || '', causes);
    }

    checkNamespace(rdef, ns) {
        if (!rdef.namespaced) return;
        const nsObj = this.store.get('/namespaces', undefined, ns);
        const nsDef = this.registry.lookup('', 'v1', 'namespaces');
        if (!nsObj) throw notFound(nsDef, ns);
        if (nsObj.metadata.deletionTimestamp) {
            const e = forbidden(`${this.describe(rdef)} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`, rdef);
            e.details.causes = [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }];
            throw e;
        }
    }

    describe(rdef) {
        return rdef.group ? `${rdef.plural}.${rdef.group}` : rdef.plural;
    }

    create(rdef, ns, body, opts = {}) {
        const obj = body;
        const unknown = this.decode(rdef, obj, opts);
        const m = obj.metadata;
        dropEmptyLists(m);
        if (rdef.namespaced) {
            if (m.namespace && m.namespace !== ns) {
                throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
            }
            m.namespace = ns;
        } else {
            delete m.namespace;
        }
        if (!m.name && m.generateName) {
            do {
                m.name = `${m.generateName}${randomSuffix()}`;
            } while (this.store.get(rdef.storage, m.namespace, m.name));
        }
        m.uid = uid();
        m.creationTimestamp = now();
        for (const k of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'resourceVersion',
            'selfLink']) delete m[k];
        if (rdef.generation) m.generation = 1;
        else delete m.generation;
        const kind = this.kind(rdef);
        const ctx = { isCreate: true, allocateService: (s) => this.hooks.allocateService(s, opts.dryRun) };
        kind.defaults?.(obj, ctx);
        kind.create?.(obj, ctx);
        if (!rdef.builtin && rdef.subresources.status) delete obj.status;
        if (rdef.storage === CRD_STORAGE) {
            m.finalizers = [...new Set([...(m.finalizers || []), CRD_FINALIZER])];
        }
        this.checkNamespace(rdef, ns);
        this.validate(rdef, obj, undefined, opts, unknown);
        if (rdef.storage === CRD_STORAGE) obj.status = crdStatus(obj);
        if (this.store.get(rdef.storage, m.namespace, m.name)) throw alreadyExists(rdef, m.name);
        recordManager(obj, undefined, { ...opts, nav: navFor(rdef) });
        if (opts.dryRun) return obj;
        const stored = this.fromVersion(rdef, obj);
        this.store.commit(rdef.storage, 'ADDED', stored);
        return this.toVersion(rdef, stored);
    }

    // Replaces an object with `next(old)` (the served form). `sub` is 'status' for the status
    // subresource. Returns the stored object (the old one for a no-op).
    update(rdef, ns, name, next, opts = {}) {
        const key = rdef.namespaced ? ns : undefined;
        const current = this.store.get(rdef.storage, key, name);
        const kind = this.kind(rdef);
        if (!current) {
            if (kind.allowCreateOnUpdate && !opts.sub && opts.allowCreate !== false) {
                const obj = next(undefined);
                return { obj: this.create(rdef, ns, obj, opts), created: true };
            }
            throw notFound(rdef, name);
        }
        const old = this.toVersion(rdef, current);
        let obj = next(clone(old));
        const unknown = this.decode(rdef, obj, opts);
        const m = obj.metadata;
        dropEmptyLists(m);
        if (m.name !== undefined && m.name !== name) {
            throw badRequest(`the name of the object (${m.name}) does not match the name on the URL (${name})`);
        }
        if (rdef.namespaced && m.namespace !== undefined && m.namespace !== ns) {
            throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
        }
        if (m.uid && m.uid !== old.metadata.uid) {
            throw conflict(rdef, name, `Precondition failed: UID in precondition: ${m.uid}, UID in object meta: ${old.metadata.uid}`);
        }
        if (m.resourceVersion) {
            if (m.resourceVersion !== old.metadata.resourceVersion) throw conflict(rdef, name);
        } else if (!rdef.builtin && !opts.patch) {
            throw invalid(rdef, name, [cause('metadata.resourceVersion', 'invalid', 'must be specified for an update', '0x0')]);
        }
        if (opts.sub === 'status') {
            const status = obj.status;
            obj = clone(old);
            if (status === undefined) delete obj.status;
            else obj.status = status;
            obj.metadata.managedFields = m.managedFields ?? obj.metadata.managedFields;
        } else if (rdef.subresources.status) {
            if (old.status === undefined) delete obj.status;
            else obj.status = clone(old.status);
        }
        const om = old.metadata;
        for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds',
            'generation']) {
            if (om[k] === undefined) delete obj.metadata[k];
            else obj.metadata[k] = om[k];
        }
        obj.metadata.name = name;
        if (rdef.namespaced) obj.metadata.namespace = ns;
        else delete obj.metadata.namespace;
        delete obj.metadata.selfLink;
        if (rdef.storage === '/namespaces' && opts.sub !== 'finalize') obj.spec = clone(old.spec);
        kind.defaults?.(obj, { isCreate: false });
        kind.update?.(obj, old, this);
        if (om.deletionTimestamp) {
            const added = (obj.metadata.finalizers || []).filter((f) => !(om.finalizers || []).includes(f));
            if (added.length) {
                throw invalid(rdef, name, [cause('metadata.finalizers', 'forbidden',
                    `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => `"${f}"`).join(', ')}}`)]);
            }
        }
        this.validate(rdef, obj, old, opts, unknown);
        if (rdef.storage === CRD_STORAGE) obj.status = opts.sub === 'status' ? obj.status : crdStatus(obj, old.status);
        if (rdef.generation && !deepEqual(specPart(obj), specPart(old))) {
            obj.metadata.generation = (om.generation || 0) + 1;
        }
        recordManager(obj, old, { ...opts, nav: navFor(rdef) });
        if (sameIgnoringVersion(obj, old)) return { obj: old, created: false };
        obj.metadata.resourceVersion = om.resourceVersion;
        if (opts.dryRun) return { obj, created: false };
        const stored = this.fromVersion(rdef, obj);
        if (obj.metadata.deletionTimestamp && !(obj.metadata.finalizers || []).length &&
            !(obj.metadata.deletionGracePeriodSeconds > 0) &&
            !(rdef.storage === '/namespaces' && (obj.spec?.finalizers || []).length)) {
            this.store.commit(rdef.storage, 'DELETED', stored);
            return { obj: this.toVersion(rdef, stored), created: false, deleted: true };
        }
        this.store.commit(rdef.storage, 'MODIFIED', stored);
        return { obj: this.toVersion(rdef, stored), created: false };
    }

    // Server-side changes of the GC and controllers inside this process: `mutate` edits a copy.
    internalUpdate(storage, obj, mutate) {
        const rdef = this.registry.byStorage(storage)[0];
        if (!rdef) return null;
        try {
            return this.update(rdef, obj.metadata.namespace, obj.metadata.name, (o) => {
                mutate(o);
                return o;
            }, { fieldManager: 'kube-controller-manager', patch: true, internal: true }).obj;
        } catch (e) {
            if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return null;
            throw e;
        }
    }

    // DELETE: preconditions, then graceful / finalizer-pending deletion or immediate removal.
    // Returns {obj, pending}.
    delete(rdef, ns, name, opts = {}) {
        const key = rdef.namespaced ? ns : undefined;
        const current = this.store.get(rdef.storage, key, name);
        if (!current) throw notFound(rdef, name);
        const pre = opts.preconditions || {};
        if (pre.uid && pre.uid !== current.metadata.uid) {
            throw conflict(rdef, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
        }
        if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
            throw conflict(rdef, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
        }
        let policy = opts.propagationPolicy;
        if (!policy && opts.orphanDependents !== undefined) policy = opts.orphanDependents ? 'Orphan' : 'Background';
        policy ||= this.kind(rdef).defaultGC || 'Background';
        if (!['Foreground', 'Background', 'Orphan'].includes(policy)) {
            throw invalid(rdef, name, [cause('propagationPolicy', 'notSupported',
                'supported values: "Foreground", "Background", "Orphan"', policy)]);
        }
        const obj = clone(current);
        const m = obj.metadata;
        let finalizers = [...(m.finalizers || [])];
        if (policy === 'Foreground') {
            finalizers = finalizers.filter((f) => f !== 'orphan');
            if (!finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
        } else if (policy === 'Orphan') {
            finalizers = finalizers.filter((f) => f !== 'foregroundDeletion');
            if (!finalizers.includes('orphan')) finalizers.push('orphan');
        } else if (m.deletionTimestamp) {
            // A Background delete of an object already waiting in foreground stays foreground.
        }
        let grace = this.gracePeriod(rdef, current, opts);
        if (rdef.storage === '/namespaces') {
            if (!m.deletionTimestamp) {
                m.deletionTimestamp = now();
                m.deletionGracePeriodSeconds = 0;
                obj.status = { ...obj.status, phase: 'Terminating' };
            }
            m.finalizers = finalizers.length ? finalizers : undefined;
            if (!m.finalizers) delete m.finalizers;
            return this.commitPending(rdef, current, obj, opts);
        }
        if (m.deletionTimestamp) {
            const before = m.deletionGracePeriodSeconds ?? 0;
            grace = Math.min(grace, before);
            m.deletionGracePeriodSeconds = grace;
            if (grace < before) m.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
        } else {
            m.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
            m.deletionGracePeriodSeconds = grace;
            if (rdef.generation) m.generation = (m.generation || 0) + 1;
        }
        if (finalizers.length) m.finalizers = finalizers;
        else delete m.finalizers;
        if (!finalizers.length && grace === 0) {
            if (opts.dryRun) return { obj: this.toVersion(rdef, obj), pending: false };
            this.store.commit(rdef.storage, 'DELETED', obj);
            return { obj: this.toVersion(rdef, obj), pending: false };
        }
        return this.commitPending(rdef, current, obj, opts);
    }

    commitPending(rdef, current, obj, opts) {
        if (opts.dryRun || sameIgnoringVersion(obj, current)) {
            return { obj: this.toVersion(rdef, opts.dryRun ? obj : current), pending: true };
        }
        this.store.commit(rdef.storage, 'MODIFIED', obj);
        return { obj: this.toVersion(rdef, obj), pending: true };
    }

    // Pods get a grace period (their own, or the request's) while a node runs them.
    gracePeriod(rdef, obj, opts) {
        if (rdef.storage !== '/pods') return 0;
        const phase = obj.status?.phase;
        if (!obj.spec?.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
        const g = opts.gracePeriodSeconds ?? obj.spec?.terminationGracePeriodSeconds ?? 30;
        return Math.max(0, g);
    }

    internalDelete(storage, obj, policy) {
        const rdef = this.registry.byStorage(storage)[0];
        if (!rdef) return null;
        try {
            return this.delete(rdef, obj.metadata.namespace, obj.metadata.name, {
                propagationPolicy: policy, preconditions: { uid: obj.metadata.uid } });
        } catch (e) {
            if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return null;
            throw e;
        }
    }
}
