// SPDX-License-Identifier: Apache-2.0
// What kube-apiserver gets from kubelets: `pods/log` is proxied to the node's kubelet endpoint
// (GET /containerLogs/NS/POD/CONTAINER, as a real kubelet serves it), and metrics.k8s.io
// PodMetrics/NodeMetrics are built from each node's GET /stats/summary (as metrics-server does).
// The node agent of the test cluster serves both over plain HTTP at the node's InternalIP and
// status.daemonEndpoints.kubeletEndpoint.Port.
import http from 'node:http';
import { ApiError, badRequest, notFound } from './errors.mjs';
import { now } from './util.mjs';

function kubeletAddress(node) {
    const ip = (node.status?.addresses || []).find((a) => a.type === 'InternalIP')?.address;
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
    return ip && port ? { host: ip, port } : null;
}

// Longer than the kubelet's own wait for its containers' stats (STATS_WAIT_MS, 3 s).
function fetchJson(addr, path, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: addr.host, port: addr.port, path, timeout: timeoutMs }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                try {
                    resolve(JSON.parse(Buffer.concat(chunks).toString()));
                } catch (e) {
                    reject(e);
                }
            });
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
    });
}

const cpu = (nano) => `${Math.round(nano || 0)}n`;
const mem = (bytes) => `${Math.round((bytes || 0) / 1024)}Ki`;

export class NodeProxy {
    constructor({ store }) {
        this.store = store;
    }

    async logs(req, res, server, rdef, ns, name) {
        const pod = server.rest.get(rdef, ns, name);
        const q = req.query;
        const names = (pod.spec.containers || []).map((c) => c.name);
        const all = [...names, ...(pod.spec.initContainers || []).map((c) => c.name)];
        let container = q.get('container');
        if (!container) {
            if (names.length !== 1) {
                throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`);
            }
            container = names[0];
        }
        if (!all.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
        const status = [...(pod.status?.containerStatuses || []), ...(pod.status?.initContainerStatuses || [])]
            .find((c) => c.name === container);
        const waiting = status?.state?.waiting;
        if (!pod.spec.nodeName || (!status?.state?.running && !status?.state?.terminated &&
            !status?.lastState?.terminated)) {
            const reason = waiting?.reason || 'ContainerCreating';
            throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${reason}`);
        }
        const node = this.store.get('/nodes', undefined, pod.spec.nodeName);
        const addr = node && kubeletAddress(node);
        if (!addr) {
            throw new ApiError(500, 'InternalError', `Get "https://${pod.spec.nodeName}:10250/containerLogs/${ns}/${name}/${container}": node has no kubelet endpoint`);
        }
        const params = new URLSearchParams();
        for (const k of ['follow', 'previous', 'timestamps', 'tailLines', 'sinceSeconds', 'sinceTime', 'limitBytes']) {
            if (q.get(k) !== null) params.set(k, q.get(k));
        }
        const path = `/containerLogs/${ns}/${name}/${container}?${params}`;
        await new Promise((resolve) => {
            const up = http.get({ host: addr.host, port: addr.port, path }, (ur) => {
                if (ur.statusCode !== 200) {
                    const chunks = [];
                    ur.on('data', (c) => chunks.push(c));
                    ur.on('end', () => {
                        server.fail(req, res, badRequest(Buffer.concat(chunks).toString().trim() || `kubelet answered ${ur.statusCode}`));
                        resolve();
                    });
                    return;
                }
                res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
                ur.pipe(res);
                ur.on('end', resolve);
                ur.on('error', resolve);
            });
            up.on('error', (e) => {
                server.fail(req, res, new ApiError(500, 'InternalError', `Get "http://${addr.host}:${addr.port}${path}": ${e.message}`));
                resolve();
            });
            req.on('close', () => up.destroy());
        });
        return 200;
    }

    async summaries() {
        const out = [];
        for (const node of this.store.list('/nodes')) {
            const addr = kubeletAddress(node);
            if (!addr) continue;
            try {
                out.push(await fetchJson(addr, '/stats/summary'));
            } catch {
                // metrics-server skips nodes it cannot scrape
            }
        }
        return out;
    }

    async metrics(req, res, server, rdef, ns, name, verb) {
        const summaries = await this.summaries();
        const t = now();
        let items;
        if (rdef.kind === 'NodeMetrics') {
            items = summaries.filter((s) => s.node?.nodeName).map((s) => ({
                metadata: { name: s.node.nodeName, creationTimestamp: t,
                    labels: this.store.get('/nodes', undefined, s.node.nodeName)?.metadata.labels },
                timestamp: s.node.cpu?.time || t, window: '10s',
                usage: { cpu: cpu(s.node.cpu?.usageNanoCores), memory: mem(s.node.memory?.workingSetBytes) },
            }));
        } else {
            items = [];
            for (const s of summaries) {
                for (const p of s.pods || []) {
                    if (ns && p.podRef.namespace !== ns) continue;
                    const pod = this.store.get('/pods', p.podRef.namespace, p.podRef.name);
                    if (!pod) continue;
                    items.push({ metadata: { name: p.podRef.name, namespace: p.podRef.namespace,
                        creationTimestamp: t, labels: pod.metadata.labels },
                    timestamp: p.cpu?.time || t, window: '10s',
                    containers: (p.containers || []).map((c) => ({ name: c.name,
                        usage: { cpu: cpu(c.cpu?.usageNanoCores), memory: mem(c.memory?.workingSetBytes) } })) });
                }
            }
        }
        const kind = rdef.kind;
        if (verb === 'get') {
            const it = items.find((i) => i.metadata.name === name);
            if (!it) throw notFound(rdef, name);
            return server.reply(req, res, 200, { kind, apiVersion: rdef.apiVersion, ...it });
        }
        return server.reply(req, res, 200, { kind: `${kind}List`, apiVersion: rdef.apiVersion,
            metadata: {}, items: items.map((i) => ({ ...i })) });
    }
}
