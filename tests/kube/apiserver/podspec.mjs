// SPDX-License-Identifier: Apache-2.0
// Pod specs as kube-apiserver treats them, for pods and for the templates of Deployments,
// ReplicaSets and Jobs: the defaults it fills in, the validation it runs (names, images, ports,
// environment, resources, probes, restart policy) and the pod's QoS class.
import { cause } from './errors.mjs';
import { dns1123Label, envVarName, portName, validateLabels } from './names.mjs';
import { parseQuantity } from './util.mjs';

function probeDefaults(p) {
    if (!p) return;
    p.timeoutSeconds ??= 1;
    p.periodSeconds ??= 10;
    p.successThreshold ??= 1;
    p.failureThreshold ??= 3;
    if (p.httpGet) {
        p.httpGet.path ??= '/';
        p.httpGet.scheme ??= 'HTTP';
    }
}

function containerDefaults(c) {
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
        const tag = /:([^/:@]+)$/.exec(c.image.split('@')[0]);
        c.imagePullPolicy = !c.image.includes('@') && (!tag || tag[1] === 'latest') ?
            'Always' : 'IfNotPresent';
    }
    c.resources ??= {};
    for (const p of c.ports || []) p.protocol ??= 'TCP';
    for (const e of c.env || []) {
        if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
    }
    probeDefaults(c.livenessProbe);
    probeDefaults(c.readinessProbe);
    probeDefaults(c.startupProbe);
}

export function podSpecDefaults(spec) {
    if (!spec || typeof spec !== 'object') return;
    spec.restartPolicy ??= 'Always';
    spec.dnsPolicy ??= 'ClusterFirst';
    spec.schedulerName ??= 'default-scheduler';
    spec.terminationGracePeriodSeconds ??= 30;
    spec.securityContext ??= {};
    for (const c of spec.containers || []) containerDefaults(c);
    for (const c of spec.initContainers || []) containerDefaults(c);
}

// Defaults a Pod (not a template) gets from defaulting and admission: service account, token
// volume, tolerations, priority, requests from limits.
export function podDefaults(pod, tokenVolumeName) {
    const spec = pod.spec;
    if (!spec || typeof spec !== 'object') return;
    podSpecDefaults(spec);
    spec.enableServiceLinks ??= true;
    spec.serviceAccountName ??= spec.serviceAccount || 'default';
    spec.serviceAccount = spec.serviceAccountName;
    spec.priority ??= 0;
    spec.preemptionPolicy ??= 'PreemptLowerPriority';
    spec.tolerations ??= [];
    for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
        if (!spec.tolerations.some((t) => t.key === key)) {
            spec.tolerations.push({ key, operator: 'Exists', effect: 'NoExecute',
                tolerationSeconds: 300 });
        }
    }
    for (const c of [...(spec.containers || []), ...(spec.initContainers || [])]) {
        const r = c.resources;
        if (r && r.limits) {
            r.requests ??= {};
            for (const [k, v] of Object.entries(r.limits)) r.requests[k] ??= v;
        }
    }
    if (spec.automountServiceAccountToken !== false && tokenVolumeName &&
        !(spec.volumes || []).some((v) => v.name.startsWith('kube-api-access-'))) {
        spec.volumes ??= [];
        spec.volumes.push({ name: tokenVolumeName, projected: { defaultMode: 420, sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace',
                fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ] } });
        for (const c of spec.containers || []) {
            c.volumeMounts ??= [];
            if (!c.volumeMounts.some((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount')) {
                c.volumeMounts.push({ name: tokenVolumeName, readOnly: true,
                    mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' });
            }
        }
    }
}

function enumCheck(out, field, value, allowed) {
    if (value !== undefined && !allowed.includes(value)) {
        out.push(cause(field, 'notSupported',
            `supported values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value));
    }
}

function validateProbe(out, p, field) {
    if (!p) return;
    const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => p[h]);
    if (handlers.length === 0) out.push(cause(field, 'required', 'must specify a handler type'));
    if (handlers.length > 1) {
        out.push(cause(`${field}.${handlers[1]}`, 'forbidden', 'may not specify more than 1 handler type'));
    }
    for (const k of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold',
        'failureThreshold']) {
        if (typeof p[k] === 'number' && p[k] < 0) {
            out.push(cause(`${field}.${k}`, 'invalid', 'must be greater than or equal to 0', p[k]));
        }
    }
}

function validateResources(out, r, field) {
    if (!r) return;
    for (const [k, v] of Object.entries(r.limits || {})) {
        const limit = parseQuantity(v);
        if (limit < 0) out.push(cause(`${field}.limits[${k}]`, 'invalid', 'must be greater than or equal to 0', v));
        const req = r.requests?.[k];
        if (req !== undefined && parseQuantity(req) > limit) {
            out.push(cause(`${field}.requests`, 'invalid', `must be less than or equal to ${k} limit of ${v}`, req));
        }
    }
    for (const [k, v] of Object.entries(r.requests || {})) {
        if (parseQuantity(v) < 0) {
            out.push(cause(`${field}.requests[${k}]`, 'invalid', 'must be greater than or equal to 0', v));
        }
        if (k.includes('/') && !k.startsWith('kubernetes.io/') && r.limits?.[k] === undefined) {
            out.push(cause(`${field}.limits`, 'required', `Limit must be set for non overcommitable resources`));
        }
        if (k.includes('/') && r.limits?.[k] !== undefined && String(r.limits[k]) !== String(v)) {
            out.push(cause(`${field}.requests[${k}]`, 'invalid',
                'must be equal to ' + k + ' limit of ' + r.limits[k], v));
        }
    }
}

function validateContainer(out, c, field, names, volumes) {
    if (!c.name) out.push(cause(`${field}.name`, 'required'));
    else {
        for (const e of dns1123Label(c.name)) out.push(cause(`${field}.name`, 'invalid', e, c.name));
        if (names.has(c.name)) out.push(cause(`${field}.name`, 'duplicate', '', c.name));
        names.add(c.name);
    }
    if (!c.image || !String(c.image).trim()) out.push(cause(`${field}.image`, 'required'));
    const ports = new Set();
    (c.ports || []).forEach((p, i) => {
        const pf = `${field}.ports[${i}]`;
        if (p.containerPort === undefined) out.push(cause(`${pf}.containerPort`, 'required'));
        else if (p.containerPort < 1 || p.containerPort > 65535) {
            out.push(cause(`${pf}.containerPort`, 'invalid', 'must be between 1 and 65535, inclusive', p.containerPort));
        }
        if (p.name) {
            for (const e of portName(p.name)) out.push(cause(`${pf}.name`, 'invalid', e, p.name));
            if (ports.has(p.name)) out.push(cause(`${pf}.name`, 'duplicate', '', p.name));
            ports.add(p.name);
        }
        enumCheck(out, `${pf}.protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']);
    });
    (c.env || []).forEach((e, i) => {
        const ef = `${field}.env[${i}]`;
        if (!e.name) out.push(cause(`${ef}.name`, 'required'));
        else for (const m of envVarName(e.name)) out.push(cause(`${ef}.name`, 'invalid', m, e.name));
        if (e.value !== undefined && e.valueFrom) {
            out.push(cause(`${ef}.valueFrom`, 'invalid', 'may not be specified when `value` is not empty', ''));
        }
    });
    (c.volumeMounts || []).forEach((m, i) => {
        if (m.name && !volumes.has(m.name)) {
            out.push(cause(`${field}.volumeMounts[${i}].name`, 'notFound', '', m.name));
        }
    });
    validateResources(out, c.resources, `${field}.resources`);
    validateProbe(out, c.livenessProbe, `${field}.livenessProbe`);
    validateProbe(out, c.readinessProbe, `${field}.readinessProbe`);
    validateProbe(out, c.startupProbe, `${field}.startupProbe`);
    enumCheck(out, `${field}.imagePullPolicy`, c.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']);
    enumCheck(out, `${field}.terminationMessagePolicy`, c.terminationMessagePolicy,
        ['File', 'FallbackToLogsOnError']);
}

// Causes for an invalid pod spec at `field` ("spec" or "spec.template.spec").
export function validatePodSpec(spec, field, restartPolicies) {
    const out = [];
    if (!spec) return [cause(field, 'required')];
    const volumes = new Set();
    (spec.volumes || []).forEach((v, i) => {
        if (!v.name) out.push(cause(`${field}.volumes[${i}].name`, 'required'));
        else if (volumes.has(v.name)) out.push(cause(`${field}.volumes[${i}].name`, 'duplicate', '', v.name));
        volumes.add(v.name);
    });
    if (!spec.containers || spec.containers.length === 0) {
        out.push(cause(`${field}.containers`, 'required'));
    }
    const names = new Set();
    (spec.initContainers || []).forEach((c, i) =>
        validateContainer(out, c, `${field}.initContainers[${i}]`, names, volumes));
    (spec.containers || []).forEach((c, i) =>
        validateContainer(out, c, `${field}.containers[${i}]`, names, volumes));
    // kube-apiserver checks a node selector as labels (ValidatePodSpec).
    out.push(...validateLabels(spec.nodeSelector, `${field}.nodeSelector`));
    enumCheck(out, `${field}.restartPolicy`, spec.restartPolicy,
        restartPolicies || ['Always', 'OnFailure', 'Never']);
    enumCheck(out, `${field}.dnsPolicy`, spec.dnsPolicy,
        ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']);
    if (typeof spec.terminationGracePeriodSeconds === 'number' && spec.terminationGracePeriodSeconds < 0) {
        out.push(cause(`${field}.terminationGracePeriodSeconds`, 'invalid',
            'must be greater than or equal to 0', spec.terminationGracePeriodSeconds));
    }
    if (typeof spec.activeDeadlineSeconds === 'number' && spec.activeDeadlineSeconds <= 0) {
        out.push(cause(`${field}.activeDeadlineSeconds`, 'invalid',
            'must be between 1 and 2147483647, inclusive', spec.activeDeadlineSeconds));
    }
    (spec.tolerations || []).forEach((t, i) => {
        enumCheck(out, `${field}.tolerations[${i}].operator`, t.operator, ['Equal', 'Exists']);
        enumCheck(out, `${field}.tolerations[${i}].effect`, t.effect || undefined,
            ['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
    });
    return out;
}

// The pod's QoS class from its containers' requests and limits.
export function qosClass(spec) {
    const containers = [...(spec.containers || []), ...(spec.initContainers || [])];
    let any = false;
    let guaranteed = true;
    for (const c of containers) {
        const req = c.resources?.requests || {};
        const lim = c.resources?.limits || {};
        for (const r of ['cpu', 'memory']) {
            if (req[r] !== undefined && parseQuantity(req[r]) !== 0) any = true;
            if (lim[r] !== undefined && parseQuantity(lim[r]) !== 0) any = true;
            if (lim[r] === undefined || (req[r] !== undefined &&
                parseQuantity(req[r]) !== parseQuantity(lim[r]))) guaranteed = false;
        }
    }
    if (!any) return 'BestEffort';
    return guaranteed ? 'Guaranteed' : 'Burstable';
}
