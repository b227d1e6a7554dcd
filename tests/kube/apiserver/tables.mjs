// SPDX-License-Identifier: Apache-2.0
// Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): the columns
// kube-apiserver's printers show for each built-in kind, a CRD's additionalPrinterColumns
// evaluated with a JSONPath subset, and the Table objects kubectl renders.
import { age, humanDuration } from './util.mjs';

const col = (name, type, description, priority = 0, format = '') =>
    ({ name, type, format, description, priority });
const NAME = col('Name', 'string', 'Name must be unique within a namespace.', 0, 'name');
const AGE = col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

function podReady(p) {
    const st = p.status?.containerStatuses || [];
    const total = (p.spec?.containers || []).length;
    return `${st.filter((c) => c.ready).length}/${total}`;
}

function podStatus(p) {
    let reason = p.status?.reason || p.status?.phase || 'Unknown';
    for (const c of p.status?.initContainerStatuses || []) {
        const w = c.state?.waiting?.reason;
        const t = c.state?.terminated;
        if (t && t.exitCode !== 0) return `Init:${t.reason || 'Error'}`;
        if (w && w !== 'PodInitializing') return `Init:${w}`;
    }
    for (const c of [...(p.status?.containerStatuses || [])].reverse()) {
        if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
        else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
        else if (c.state?.terminated) reason = `ExitCode:${c.state.terminated.exitCode}`;
    }
    if (p.metadata.deletionTimestamp) reason = 'Terminating';
    return reason;
}

function podRestarts(p) {
    let n = 0;
    for (const c of p.status?.containerStatuses || []) n += c.restartCount || 0;
    return n;
}

function svcPorts(s) {
    const ports = (s.spec?.ports || []).map((p) =>
        `${p.port}${p.nodePort ? ':' + p.nodePort : ''}/${p.protocol || 'TCP'}`);
    return ports.length ? ports.join(',') : '<none>';
}

function selectorText(sel) {
    if (!sel) return '<none>';
    const parts = Object.entries(sel.matchLabels || sel).filter(([, v]) => typeof v === 'string')
        .map(([k, v]) => `${k}=${v}`);
    for (const e of sel.matchExpressions || []) {
        parts.push(`${e.key} ${e.operator.toLowerCase()} (${(e.values || []).join(',')})`);
    }
    return parts.length ? parts.join(',') : '<none>';
}

const containers = (t) => (t?.spec?.containers || []).map((c) => c.name).join(',');
const images = (t) => (t?.spec?.containers || []).map((c) => c.image).join(',');

function cond(obj, type) {
    return (obj.status?.conditions || []).find((c) => c.type === type);
}

function jobStatus(j) {
    if (cond(j, 'Complete')?.status === 'True') return 'Complete';
    if (cond(j, 'Failed')?.status === 'True') return 'Failed';
    if (j.spec?.suspend) return 'Suspended';
    if (j.metadata.deletionTimestamp) return 'Terminating';
    return 'Running';
}

function jobDuration(j) {
    const start = j.status?.startTime;
    if (!start) return '';
    const end = j.status?.completionTime ? Date.parse(j.status.completionTime) : Date.now();
    return humanDuration(end - Date.parse(start));
}

function endpointsText(ep) {
    const out = [];
    for (const s of ep.subsets || []) {
        for (const a of s.addresses || []) {
            for (const p of s.ports || [{}]) out.push(p.port ? `${a.ip}:${p.port}` : a.ip);
        }
    }
    if (!out.length) return '<none>';
    return out.length > 3 ? `${out.slice(0, 3).join(',')} + ${out.length - 3} more...` : out.join(',');
}

function nodeStatus(n) {
    const ready = cond(n, 'Ready');
    let s = ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
    if (n.spec?.unschedulable) s += ',SchedulingDisabled';
    return s;
}

function nodeRoles(n) {
    const roles = Object.keys(n.metadata.labels || {})
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length));
    return roles.length ? roles.join(',') : '<none>';
}

const addr = (n, type) => (n.status?.addresses || []).find((a) => a.type === type)?.address || '<none>';

function eventObject(e) {
    const o = e.involvedObject || {};
    return `${(o.kind || '').toLowerCase()}/${o.name || ''}`;
}

function lastSeen(e) {
    const t = e.series?.lastObservedTime || e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp;
    return age(t);
}

// Column definitions and cell functions of the built-in kinds, keyed by storage.
const PRINTERS = {
    '/namespaces': [[NAME, (o) => o.metadata.name],
        [col('Status', 'string', 'The status of the namespace'), (o) => o.status?.phase || ''],
        [AGE, (o) => age(o.metadata.creationTimestamp)]],
    '/pods': [[NAME, (o) => o.metadata.name],
        [col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'), podReady],
        [col('Status', 'string', 'The aggregate status of the containers in this pod.'), podStatus],
        [col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'), (o) => String(podRestarts(o))],
        [AGE, (o) => age(o.metadata.creationTimestamp)],
        [col('IP', 'string', 'IP address allocated to the pod. Routable at least within the cluster.', 1), (o) => o.status?.podIP || '<none>'],
        [col('Node', 'string', 'Name of the Node this pod is assigned to.', 1), (o) => o.spec?.nodeName || '<none>'],
        [col('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1), (o) => o.status?.nominatedNodeName || '<none>'],
        [col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1), (o) => (o.spec?.readinessGates || []).length ? `${o.spec.readinessGates.length}` : '<none>']],
    '/services': [[NAME, (o) => o.metadata.name],
        [col('Type', 'string', 'type determines how the Service is exposed.'), (o) => o.spec?.type || ''],
        [col('Cluster-IP', 'string', 'clusterIP is the IP address of the service.'), (o) => o.spec?.clusterIP || '<none>'],
        [col('External-IP', 'string', 'externalIPs is a list of IP addresses.'), (o) => o.spec?.externalName || (o.spec?.externalIPs || []).join(',') || '<none>'],
        [col('Port(s)', 'string', 'The list of ports that are exposed by this service.'), svcPorts],
        [AGE, (o) => age(o.metadata.creationTimestamp)],
        [col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1), (o) => selectorText(o.spec?.selector)]],
    '/endpoints': [[NAME, (o) => o.metadata.name],
        [col('Endpoints', 'string', 'Endpoints of the service'), endpointsText],
        [AGE, (o) => age(o.metadata.creationTimestamp)]],
    '/events': [[col('Last Seen', 'string', 'Time when last event occurred'), lastSeen],
        [col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future.'), (o) => o.type || ''],
        [col('Reason', 'string', 'Reason why this event was generated.'), (o) => o.reason || ''],
        [col('Object', 'string', 'The object that this event is about.'), eventObject],
        [col('Message', 'string', 'A human-readable description of the status of this operation.'), (o) => (o.message || '').trim()],
        [col('Source', 'string', 'Component for reporting this event.', 1), (o) => o.reportingComponent || o.source?.component || ''],
        [col('Count', 'string', 'Number of occurrences.', 1), (o) => String(o.series?.count || o.count || 1)],
        [col('Name', 'string', 'Name of the event.', 1, 'name'), (o) => o.metadata.name]],
    '/configmaps': [[NAME, (o) => o.metadata.name],
        [col('Data', 'string', 'Number of keys.'), (o) => String(Object.keys(o.data || {}).length + Object.keys(o.binaryData || {}).length)],
        [AGE, (o) => age(o.metadata.creationTimestamp)]],
    '/secrets': [[NAME, (o) => o.metadata.name],
        [col('Type', 'string', 'The type of the secret'), (o) => o.type || ''],
        [col('Data', 'string', 'The number of data items.'), (o) => String(Object.keys(o.data || {}).length)],
        [AGE, (o) => age(o.metadata.creationTimestamp)]],
    '/serviceaccounts': [[NAME, (o) => o.metadata.name],
        [col('Secrets', 'string', 'Secrets is a list of the secrets in the same namespace.'), (o) => String((o.secrets || []).length)],
        [AGE, (o) => age(o.metadata.creationTimestamp)]],
    '/nodes': [[NAME, (o) => o.metadata.name],
        [col('Status', 'string', 'The status of the node'), nodeStatus],
        [col('Roles', 'string', 'The roles of the node'), nodeRoles],
        [AGE, (o) => age(o.metadata.creationTimestamp)],
        [col('Version', 'string', 'Kubelet Version reported by the node.'), (o) => o.status?.nodeInfo?.kubeletVersion || ''],
        [col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1), (o) => addr(o, 'InternalIP')],
        [col('External-IP', 'string', 'List of addresses reachable to the node.', 1), (o) => addr(o, 'ExternalIP')],
        [col('OS-Image', 'string', 'OS image reported by the node.', 1), (o) => o.status?.nodeInfo?.osImage || '<unknown>'],
        [col('Kernel-Version', 'string', 'Kernel version reported by the node.', 1), (o) => o.status?.nodeInfo?.kernelVersion || '<unknown>'],
        [col('Container-Runtime', 'string', 'Container runtime version reported by the node.', 1), (o) => o.status?.nodeInfo?.containerRuntimeVersion || '<unknown>']],
    'apps/deployments': [[NAME, (o) => o.metadata.name],
        [col('Ready', 'string', 'Number of the pod with ready state'), (o) => `${o.status?.readyReplicas || 0}/${o.spec?.replicas ?? 0}`],
        [col('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'), (o) => o.status?.updatedReplicas || 0],
        [col('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'), (o) => o.status?.availableReplicas || 0],
        [AGE, (o) => age(o.metadata.creationTimestamp)],
        [col('Containers', 'string', 'Names of each container in the template.', 1), (o) => containers(o.spec?.template)],
        [col('Images', 'string', 'Images referenced by each container in the template.', 1), (o) => images(o.spec?.template)],
        [col('Selector', 'string', 'Label selector for pods.', 1), (o) => selectorText(o.spec?.selector)]],
    'apps/replicasets': [[NAME, (o) => o.metadata.name],
        [col('Desired', 'integer', 'Number of desired pods.'), (o) => o.spec?.replicas ?? 0],
        [col('Current', 'integer', 'Number of actual replicas.'), (o) => o.status?.replicas || 0],
        [col('Ready', 'integer', 'Number of ready replicas.'), (o) => o.status?.readyReplicas || 0],
        [AGE, (o) => age(o.metadata.creationTimestamp)],
        [col('Containers', 'string', 'Names of each container in the template.', 1), (o) => containers(o.spec?.template)],
        [col('Images', 'string', 'Images referenced by each container in the template.', 1), (o) => images(o.spec?.template)],
        [col('Selector', 'string', 'Label selector for pods.', 1), (o) => selectorText(o.spec?.selector)]],
    'batch/jobs': [[NAME, (o) => o.metadata.name],
        [col('Status', 'string', 'Status of the job.'), jobStatus],
        [col('Completions', 'string', 'The desired number of successfully finished pods the job should be run with.'), (o) => `${o.status?.succeeded || 0}/${o.spec?.completions ?? 1}`],
        [col('Duration', 'string', 'Time required to complete the job.'), jobDuration],
        [AGE, (o) => age(o.metadata.creationTimestamp)],
        [col('Containers', 'string', 'Names of each container in the template.', 1), (o) => containers(o.spec?.template)],
        [col('Images', 'string', 'Images referenced by each container in the template.', 1), (o) => images(o.spec?.template)],
        [col('Selector', 'string', 'Label selector for pods.', 1), (o) => selectorText(o.spec?.selector)]],
    'coordination.k8s.io/leases': [[NAME, (o) => o.metadata.name],
        [col('Holder', 'string', 'The holder of the lease.'), (o) => o.spec?.holderIdentity || '<none>'],
        [AGE, (o) => age(o.metadata.creationTimestamp)]],
    'apiextensions.k8s.io/customresourcedefinitions': [[NAME, (o) => o.metadata.name],
        [col('Created At', 'date', 'CreationTimestamp of the resource'), (o) => o.metadata.creationTimestamp]],
    'rbac.authorization.k8s.io/rolebindings': [[NAME, (o) => o.metadata.name],
        [col('Role', 'string', 'Role referenced by this binding.'), (o) => `${o.roleRef?.kind}/${o.roleRef?.name}`],
        [AGE, (o) => age(o.metadata.creationTimestamp)]],
    'rbac.authorization.k8s.io/clusterrolebindings': [[NAME, (o) => o.metadata.name],
        [col('Role', 'string', 'Role referenced by this binding.'), (o) => `${o.roleRef?.kind}/${o.roleRef?.name}`],
        [AGE, (o) => age(o.metadata.creationTimestamp)]],
    'rbac.authorization.k8s.io/roles': [[NAME, (o) => o.metadata.name],
        [col('Created At', 'string', 'Time at which the role was created.'), (o) => o.metadata.creationTimestamp]],
    'rbac.authorization.k8s.io/clusterroles': [[NAME, (o) => o.metadata.name],
        [col('Created At', 'string', 'Time at which the role was created.'), (o) => o.metadata.creationTimestamp]],
};

// --- JSONPath (the subset CRD printer columns use) ----------------------------------------

function parseJsonPath(expr) {
    let s = expr.trim();
    if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
    const steps = [];
    let i = 0;
    while (i < s.length) {
        if (s[i] === '.') {
            i++;
            if (s[i] === '.') throw new Error('recursive descent is not supported');
            const m = /^[^.[\]]*/.exec(s.slice(i));
            if (m[0] === '*') steps.push({ wild: true });
            else if (m[0]) steps.push({ key: m[0] });
            i += m[0].length;
        } else if (s[i] === '[') {
            const close = s.indexOf(']', i);
            const inner = s.slice(i + 1, close);
            i = close + 1;
            if (inner === '*') steps.push({ wild: true });
            else if (/^-?\d+$/.test(inner)) steps.push({ index: Number(inner) });
            else if (/^-?\d*:-?\d*$/.test(inner)) {
                const [a, b] = inner.split(':');
                steps.push({ slice: [a === '' ? undefined : Number(a), b === '' ? undefined : Number(b)] });
            }
            else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ key: inner.slice(1, -1) });
            else {
                const f = /^\?\(@\.([\w.-]+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|([\w.-]+))\)$/.exec(inner);
                if (!f) throw new Error(`unsupported JSONPath ${expr}`);
                steps.push({ filter: f[1], neg: f[2] === '!=', value: f[3] ?? f[4] ?? f[5] });
            }
        } else {
            const m = /^[^.[\]]+/.exec(s.slice(i));
            steps.push({ key: m[0] });
            i += m[0].length;
        }
    }
    return steps;
}

export function jsonPath(obj, expr) {
    let cur = [obj];
    for (const st of parseJsonPath(expr)) {
        const next = [];
        for (const v of cur) {
            if (v === null || v === undefined) continue;
            if (st.key !== undefined) {
                if (typeof v === 'object' && !Array.isArray(v) && v[st.key] !== undefined) next.push(v[st.key]);
            } else if (st.index !== undefined) {
                if (Array.isArray(v)) {
                    const x = v[st.index < 0 ? v.length + st.index : st.index];
                    if (x !== undefined) next.push(x);
                }
            } else if (st.slice) {
                if (Array.isArray(v)) next.push(...v.slice(st.slice[0], st.slice[1]));
            } else if (st.wild) {
                next.push(...(Array.isArray(v) ? v : Object.values(v)));
            } else if (Array.isArray(v)) {
                for (const x of v) {
                    let got = x;
                    for (const k of st.filter.split('.')) got = got?.[k];
                    if ((String(got) === st.value) !== st.neg) next.push(x);
                }
            }
        }
        cur = next;
    }
    return cur;
}

function customCell(type, values) {
    if (!values.length) return null;
    const v = values[0];
    if (type === 'date') return typeof v === 'string' ? age(v) : null;
    if (type === 'integer') return typeof v === 'number' ? Math.trunc(v) : null;
    if (type === 'number') return typeof v === 'number' ? v : null;
    if (type === 'boolean') return typeof v === 'boolean' ? v : null;
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function crdPrinter(rdef) {
    const cols = rdef.printerColumns;
    const out = [[NAME, (o) => o.metadata.name]];
    if (!cols || !cols.length) {
        out.push([col('Age', 'date', AGE.description), (o) => age(o.metadata.creationTimestamp)]);
        return out;
    }
    for (const c of cols) {
        out.push([col(c.name, c.type === 'date' ? 'date' : c.type, c.description || '',
            c.priority || 0, c.format || ''), (o) => {
            try {
                return customCell(c.type, jsonPath(o, c.jsonPath));
            } catch {
                return null;
            }
        }]);
    }
    return out;
}

function printer(rdef) {
    if (!rdef.builtin) return crdPrinter(rdef);
    return PRINTERS[rdef.storage] || [[NAME, (o) => o.metadata.name], [AGE, (o) => age(o.metadata.creationTimestamp)]];
}

function partial(obj) {
    return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

// A Table of `objects`; includeObject None | Metadata (default) | Object.
export function toTable(rdef, objects, { includeObject = 'Metadata', noHeaders = false, listMeta } = {}) {
    const p = printer(rdef);
    const table = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta || {} };
    table.columnDefinitions = noHeaders ? null : p.map(([c]) => c);
    table.rows = objects.map((o) => {
        const row = { cells: p.map(([, fn]) => fn(o)) };
        if (includeObject === 'Object') row.object = o;
        else if (includeObject !== 'None') row.object = partial(o);
        return row;
    });
    return table;
}

export function partialObject(obj) {
    return partial(obj);
}
