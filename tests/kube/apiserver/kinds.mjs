// SPDX-License-Identifier: Apache-2.0
// What kube-apiserver's registry strategies do per built-in kind: name rules, defaults, status
// handling on create, validation (including immutable fields) and the default propagation
// policy of a delete. Keyed by storage table ("/pods", "apps/deployments", ...).
import { cause } from './errors.mjs';
import { dns1035Label, dns1123Label, dns1123Subdomain, pathSegmentName, qualifiedName,
    validateAnnotations, validateLabels } from './names.mjs';
import { podDefaults, podSpecDefaults, qosClass, validatePodSpec } from './podspec.mjs';
import { labelSelectorRequirements, matchLabels } from './selectors.mjs';
import { deepEqual, isObject, randomSuffix } from './util.mjs';

const immutable = (field, value) => cause(field, 'invalid', 'field is immutable', value);

function nonNegative(out, obj, path) {
    const parts = path.split('.');
    let v = obj;
    for (const p of parts) v = v?.[p];
    if (typeof v === 'number' && v < 0) {
        out.push(cause(path, 'invalid', 'must be greater than or equal to 0', v));
    }
}

function goLabels(labels) {
    const inner = Object.entries(labels || {}).map(([k, v]) => `"${k}":"${v}"`).join(', ');
    return `map[string]string{${inner}}`;
}

// Selector + template checks shared by Deployments, ReplicaSets and Jobs.
function validateSelectorTemplate(out, spec, kind, restartPolicies) {
    const sel = spec.selector;
    if (!sel) {
        out.push(cause('spec.selector', 'required'));
    } else if (!Object.keys(sel.matchLabels || {}).length && !(sel.matchExpressions || []).length) {
        out.push(cause('spec.selector', 'invalid', `empty selector is invalid for ${kind}`, sel));
    } else {
        out.push(...validateLabels(sel.matchLabels, 'spec.selector.matchLabels'));
        const reqs = labelSelectorRequirements(sel);
        const labels = spec.template?.metadata?.labels;
        if (!matchLabels(reqs, labels)) {
            out.push(cause('spec.template.metadata.labels', 'invalid',
                '`selector` does not match template `labels`', goLabels(labels)));
        }
    }
    if (!spec.template) {
        out.push(cause('spec.template', 'required'));
        return;
    }
    out.push(...validateLabels(spec.template.metadata?.labels, 'spec.template.metadata.labels'));
    out.push(...validatePodSpec(spec.template.spec, 'spec.template.spec', restartPolicies));
}

function deploymentDefaults(d) {
    const s = d.spec;
    if (!isObject(s)) return;
    s.replicas ??= 1;
    s.strategy ??= {};
    s.strategy.type ??= 'RollingUpdate';
    if (s.strategy.type === 'RollingUpdate') {
        s.strategy.rollingUpdate ??= {};
        s.strategy.rollingUpdate.maxUnavailable ??= '25%';
        s.strategy.rollingUpdate.maxSurge ??= '25%';
    }
    s.revisionHistoryLimit ??= 10;
    s.progressDeadlineSeconds ??= 600;
    podSpecDefaults(s.template?.spec);
}

function validateDeployment(d, old) {
    const out = [];
    const s = d.spec || {};
    nonNegative(out, d, 'spec.replicas');
    nonNegative(out, d, 'spec.minReadySeconds');
    nonNegative(out, d, 'spec.revisionHistoryLimit');
    validateSelectorTemplate(out, s, 'deployment', ['Always']);
    const type = s.strategy?.type;
    if (type && !['Recreate', 'RollingUpdate'].includes(type)) {
        out.push(cause('spec.strategy.type', 'notSupported',
            'supported values: "Recreate", "RollingUpdate"', type));
    }
    if (type === 'Recreate' && s.strategy.rollingUpdate) {
        out.push(cause('spec.strategy.rollingUpdate', 'forbidden',
            'may not be specified when strategy `type` is \'Recreate\''));
    }
    if (typeof s.progressDeadlineSeconds === 'number' &&
        s.progressDeadlineSeconds <= (s.minReadySeconds || 0)) {
        out.push(cause('spec.progressDeadlineSeconds', 'invalid',
            'must be greater than minReadySeconds', s.progressDeadlineSeconds));
    }
    if (old && !deepEqual(s.selector, old.spec?.selector)) {
        out.push(immutable('spec.selector', s.selector));
    }
    return out;
}

function jobDefaults(j, isCreate) {
    const s = j.spec;
    if (!isObject(s)) return;
    if (s.completions === undefined && s.parallelism === undefined) {
        s.completions = 1;
        s.parallelism = 1;
    }
    s.parallelism ??= 1;
    s.backoffLimit ??= 6;
    s.completionMode ??= 'NonIndexed';
    s.suspend ??= false;
    s.podReplacementPolicy ??= 'TerminatingOrFailed';
    s.manualSelector ??= undefined;
    if (isCreate && !s.manualSelector) {
        // The Job strategy's generated selector: the job's uid labels its pods.
        const id = j.metadata.uid;
        s.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': id } };
        s.template ??= {};
        s.template.metadata ??= {};
        s.template.metadata.labels = { ...s.template.metadata.labels,
            'batch.kubernetes.io/controller-uid': id,
            'batch.kubernetes.io/job-name': j.metadata.name,
            'controller-uid': id, 'job-name': j.metadata.name };
    }
    if (s.manualSelector === undefined) delete s.manualSelector;
    podSpecDefaults(s.template?.spec);
}

function validateJob(j, old) {
    const out = [];
    const s = j.spec || {};
    for (const f of ['parallelism', 'completions', 'backoffLimit', 'activeDeadlineSeconds',
        'ttlSecondsAfterFinished']) nonNegative(out, j, `spec.${f}`);
    if (typeof s.activeDeadlineSeconds === 'number' && s.activeDeadlineSeconds === 0) {
        out.push(cause('spec.activeDeadlineSeconds', 'invalid', 'must be greater than 0', 0));
    }
    validateSelectorTemplate(out, s, 'job', ['OnFailure', 'Never']);
    if (s.completionMode && !['NonIndexed', 'Indexed'].includes(s.completionMode)) {
        out.push(cause('spec.completionMode', 'notSupported',
            'supported values: "NonIndexed", "Indexed"', s.completionMode));
    }
    if (j.metadata.name && j.metadata.name.length > 63) {
        out.push(cause('metadata.name', 'invalid', 'must be no more than 63 characters', j.metadata.name));
    }
    if (old) {
        if (!deepEqual(s.selector, old.spec?.selector)) out.push(immutable('spec.selector', s.selector));
        const strip = (t) => ({ ...t, spec: { ...t?.spec, nodeSelector: undefined,
            tolerations: undefined, affinity: undefined, schedulingGates: undefined } });
        if (!deepEqual(strip(s.template), strip(old.spec?.template))) {
            out.push(immutable('spec.template', 'core.PodTemplateSpec{...}'));
        }
        if (s.completions !== old.spec?.completions) out.push(immutable('spec.completions', s.completions));
        if (s.completionMode !== old.spec?.completionMode) {
            out.push(immutable('spec.completionMode', s.completionMode));
        }
    }
    return out;
}

const POD_MUTABLE_HINT = 'pod updates may not change fields other than `spec.containers[*].image`,' +
    '`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only ' +
    'additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set ' +
    'to 1 if it was previously negative)';

function validatePodUpdate(pod, old) {
    const strip = (spec) => {
        const s = structuredClone(spec || {});
        for (const c of [...(s.containers || []), ...(s.initContainers || [])]) delete c.image;
        delete s.activeDeadlineSeconds;
        delete s.tolerations;
        delete s.terminationGracePeriodSeconds;
        return s;
    };
    const out = [];
    if (!deepEqual(strip(pod.spec), strip(old.spec))) {
        out.push(cause('spec', 'forbidden', POD_MUTABLE_HINT));
    }
    const oldTol = old.spec?.tolerations || [];
    const newTol = pod.spec?.tolerations || [];
    if (!oldTol.every((t) => newTol.some((n) => deepEqual(n, t)))) {
        out.push(cause('spec.tolerations', 'forbidden', 'existing toleration can not be modified except its tolerationSeconds'));
    }
    return out;
}

function serviceDefaults(svc) {
    const s = svc.spec;
    if (!isObject(s)) return;
    s.type ??= 'ClusterIP';
    s.sessionAffinity ??= 'None';
    if (s.type !== 'ExternalName') {
        s.internalTrafficPolicy ??= 'Cluster';
        for (const p of s.ports || []) {
            p.protocol ??= 'TCP';
            p.targetPort ??= p.port;
        }
    }
    if (s.type === 'NodePort' || s.type === 'LoadBalancer') s.externalTrafficPolicy ??= 'Cluster';
}

function validateService(svc, old) {
    const out = [];
    const s = svc.spec || {};
    const types = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
    if (!types.includes(s.type)) {
        out.push(cause('spec.type', 'notSupported', `supported values: ${types.map((t) => `"${t}"`).join(', ')}`, s.type));
    }
    if (s.type === 'ExternalName') {
        if (!s.externalName) out.push(cause('spec.externalName', 'required'));
    } else if (!(s.ports || []).length && s.clusterIP !== 'None') {
        out.push(cause('spec.ports', 'required'));
    }
    const names = new Set();
    const ports = s.ports || [];
    ports.forEach((p, i) => {
        const f = `spec.ports[${i}]`;
        if (ports.length > 1 && !p.name) out.push(cause(`${f}.name`, 'required'));
        if (p.name) {
            for (const e of dns1123Label(p.name)) out.push(cause(`${f}.name`, 'invalid', e, p.name));
            if (names.has(p.name)) out.push(cause(`${f}.name`, 'duplicate', '', p.name));
            names.add(p.name);
        }
        if (p.port === undefined) out.push(cause(`${f}.port`, 'required'));
        else if (p.port < 1 || p.port > 65535) {
            out.push(cause(`${f}.port`, 'invalid', 'must be between 1 and 65535, inclusive', p.port));
        }
        if (typeof p.targetPort === 'number' && (p.targetPort < 1 || p.targetPort > 65535)) {
            out.push(cause(`${f}.targetPort`, 'invalid', 'must be between 1 and 65535, inclusive', p.targetPort));
        }
        if (!['TCP', 'UDP', 'SCTP'].includes(p.protocol)) {
            out.push(cause(`${f}.protocol`, 'notSupported', 'supported values: "SCTP", "TCP", "UDP"', p.protocol));
        }
    });
    out.push(...validateLabels(s.selector, 'spec.selector'));
    if (old && old.spec?.clusterIP && s.clusterIP !== old.spec.clusterIP) {
        out.push(cause('spec.clusterIPs[0]', 'invalid',
            'may not change once set', s.clusterIP));
    }
    return out;
}

function namespaceDefaults(ns) {
    ns.metadata.labels = { ...ns.metadata.labels, 'kubernetes.io/metadata.name': ns.metadata.name };
}

function leaseValidate(l) {
    const out = [];
    const s = l.spec || {};
    if (typeof s.leaseDurationSeconds === 'number' && s.leaseDurationSeconds <= 0) {
        out.push(cause('spec.leaseDurationSeconds', 'invalid', 'must be greater than 0', s.leaseDurationSeconds));
    }
    nonNegative(out, l, 'spec.leaseTransitions');
    return out;
}

function eventValidate(ev) {
    const out = [];
    if (ev.type && !['Normal', 'Warning'].includes(ev.type)) {
        out.push(cause('type', 'notSupported', 'supported values: "Normal", "Warning"', ev.type));
    }
    const ns = ev.involvedObject?.namespace;
    if (ns && ns !== ev.metadata.namespace) {
        out.push(cause('involvedObject.namespace', 'invalid', 'does not match event.namespace', ns));
    }
    return out;
}

function configMapValidate(cm, old) {
    const out = [];
    for (const field of ['data', 'binaryData']) {
        for (const k of Object.keys(cm[field] || {})) {
            if (!/^[-._a-zA-Z0-9]+$/.test(k) || k.length > 253) {
                out.push(cause(`${field}[${k}]`, 'invalid', "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')", k));
            }
        }
    }
    if (old?.immutable) {
        if (!deepEqual(cm.data, old.data)) out.push(cause('data', 'forbidden', 'field is immutable when `immutable` is set'));
        if (!deepEqual(cm.binaryData, old.binaryData)) out.push(cause('binaryData', 'forbidden', 'field is immutable when `immutable` is set'));
        if (cm.immutable !== true) out.push(cause('immutable', 'forbidden', 'field is immutable when `immutable` is set'));
    }
    return out;
}

function secretDefaults(sec) {
    sec.type ??= 'Opaque';
    if (isObject(sec.stringData)) {
        sec.data ??= {};
        for (const [k, v] of Object.entries(sec.stringData)) {
            sec.data[k] = Buffer.from(String(v)).toString('base64');
        }
    }
    delete sec.stringData;
}

function rbacDefaults(obj) {
    for (const s of obj.subjects || []) {
        if ((s.kind === 'User' || s.kind === 'Group') && s.apiGroup === undefined) {
            s.apiGroup = 'rbac.authorization.k8s.io';
        }
    }
}

function bindingValidate(b, old) {
    const out = [];
    if (!b.roleRef) out.push(cause('roleRef', 'required'));
    else if (old && !deepEqual(b.roleRef, old.roleRef)) {
        out.push(cause('roleRef', 'invalid', 'cannot change roleRef', b.roleRef));
    }
    (b.subjects || []).forEach((s, i) => {
        if (!['User', 'Group', 'ServiceAccount'].includes(s.kind)) {
            out.push(cause(`subjects[${i}].kind`, 'notSupported',
                'supported values: "ServiceAccount", "User", "Group"', s.kind));
        }
    });
    return out;
}

const subdomain = dns1123Subdomain;

// Per storage: name rule, defaults, validation and create hooks. `defaultGC` is the
// propagation policy of a DELETE that names none (batch/v1 Jobs orphan their pods).
const KINDS = {
    '/namespaces': { name: dns1123Label, defaults: namespaceDefaults,
        create(ns) {
            ns.spec = { finalizers: ['kubernetes'] };
            ns.status = { phase: 'Active' };
        } },
    '/pods': { name: subdomain,
        defaults(pod, ctx) {
            podDefaults(pod, ctx.isCreate ? `kube-api-access-${randomSuffix()}` : null);
        },
        validate(pod, old, opts) {
            const out = validatePodSpec(pod.spec, 'spec');
            if (old && opts.binding && !old.spec?.nodeName) {
                old = { ...old, spec: { ...old.spec, nodeName: pod.spec?.nodeName } };
            }
            if (old) out.push(...validatePodUpdate(pod, old));
            return out;
        },
        create(pod) {
            pod.status = { phase: 'Pending', qosClass: qosClass(pod.spec || {}) };
        } },
    '/services': { name: dns1035Label, defaults: serviceDefaults, validate: validateService,
        create(svc, ctx) {
            svc.status = { loadBalancer: {} };
            ctx.allocateService(svc);
        },
        update(svc, old) {
            if (svc.spec && old.spec) {
                svc.spec.clusterIP ??= old.spec.clusterIP;
                svc.spec.clusterIPs ??= old.spec.clusterIPs;
                svc.spec.ipFamilies ??= old.spec.ipFamilies;
                svc.spec.ipFamilyPolicy ??= old.spec.ipFamilyPolicy;
                (svc.spec.ports || []).forEach((p) => {
                    const o = (old.spec.ports || []).find((x) => x.port === p.port);
                    if (o?.nodePort && p.nodePort === undefined) p.nodePort = o.nodePort;
                });
            }
        } },
    '/endpoints': { name: subdomain, allowCreateOnUpdate: true },
    '/events': { name: pathSegmentName, validate: eventValidate, allowCreateOnUpdate: true },
    '/configmaps': { name: subdomain, validate: configMapValidate },
    '/secrets': { name: subdomain, defaults: secretDefaults,
        validate(sec, old) {
            if (old?.immutable && !deepEqual(sec.data, old.data)) {
                return [cause('data', 'forbidden', 'field is immutable when `immutable` is set')];
            }
            if (old && sec.type !== old.type) return [immutable('type', sec.type)];
            return [];
        } },
    '/serviceaccounts': { name: subdomain },
    '/nodes': { name: subdomain },
    '/podtemplates': { name: subdomain,
        defaults(pt) { podSpecDefaults(pt.template?.spec); },
        validate(pt) { return validatePodSpec(pt.template?.spec, 'template.spec'); } },
    'apps/deployments': { name: subdomain, defaults: deploymentDefaults,
        validate: validateDeployment, create(d) { d.status = {}; } },
    'apps/replicasets': { name: subdomain,
        defaults(rs) {
            if (isObject(rs.spec)) rs.spec.replicas ??= 1;
            podSpecDefaults(rs.spec?.template?.spec);
        },
        validate(rs, old) {
            const out = [];
            nonNegative(out, rs, 'spec.replicas');
            validateSelectorTemplate(out, rs.spec || {}, 'replicaset', ['Always']);
            if (old && !deepEqual(rs.spec?.selector, old.spec?.selector)) {
                out.push(immutable('spec.selector', rs.spec?.selector));
            }
            return out;
        },
        create(rs) { rs.status = { replicas: 0 }; } },
    'batch/jobs': { name: subdomain, defaultGC: 'Orphan',
        defaults(j, ctx) { jobDefaults(j, ctx.isCreate); },
        validate: validateJob, create(j) { j.status = {}; } },
    'coordination.k8s.io/leases': { name: subdomain, validate: leaseValidate },
    'discovery.k8s.io/endpointslices': { name: subdomain,
        validate(s) {
            return ['IPv4', 'IPv6', 'FQDN'].includes(s.addressType) ? [] :
                [cause('addressType', 'notSupported', 'supported values: "FQDN", "IPv4", "IPv6"', s.addressType)];
        } },
    'rbac.authorization.k8s.io/roles': { name: pathSegmentName },
    'rbac.authorization.k8s.io/clusterroles': { name: pathSegmentName },
    'rbac.authorization.k8s.io/rolebindings': { name: pathSegmentName, defaults: rbacDefaults,
        validate: bindingValidate },
    'rbac.authorization.k8s.io/clusterrolebindings': { name: pathSegmentName,
        defaults: rbacDefaults, validate: bindingValidate },
};

export function kindOf(storage) {
    return KINDS[storage] || { name: subdomain };
}

// Common metadata checks of every object.
export function validateMeta(obj, rdef, nameRule) {
    const out = [];
    const m = obj.metadata;
    if (!m.name) {
        out.push(cause('metadata.name', 'required', 'name or generateName is required'));
    } else {
        for (const e of nameRule(m.name)) out.push(cause('metadata.name', 'invalid', e, m.name));
    }
    out.push(...validateLabels(m.labels, 'metadata.labels'));
    out.push(...validateAnnotations(m.annotations, 'metadata.annotations'));
    let controllers = 0;
    (m.ownerReferences || []).forEach((r, i) => {
        const f = `metadata.ownerReferences[${i}]`;
        for (const k of ['apiVersion', 'kind', 'name', 'uid']) {
            if (!r[k]) out.push(cause(`${f}.${k}`, k === 'uid' ? 'invalid' : 'required',
                k === 'uid' ? 'uid must not be empty' : '', k === 'uid' ? '' : undefined));
        }
        if (r.controller) controllers++;
    });
    if (controllers > 1) {
        out.push(cause('metadata.ownerReferences', 'invalid',
            'Only one reference can have Controller set to true', m.ownerReferences));
    }
    (m.finalizers || []).forEach((f, i) => {
        if (!f.includes('/') && !['kubernetes', 'foregroundDeletion', 'orphan'].includes(f)) return;
        for (const e of qualifiedName(f)) out.push(cause(`metadata.finalizers[${i}]`, 'invalid', e, f));
    });
    if (rdef.namespaced && !m.namespace) out.push(cause('metadata.namespace', 'required'));
    return out;
}

