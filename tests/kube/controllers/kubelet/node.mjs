// SPDX-License-Identifier: Apache-2.0
// The node agent: registers the configured nodes, runs a PodWorker for every pod bound to one
// of them, keeps each pod's /etc/hosts (cluster DNS) current, and serves each node's kubelet
// endpoints (container logs, the stats summary metrics are computed from, the node's pods).

import fs from 'node:fs';
import http from 'node:http';
import { clusterIPOf } from '../service.mjs';
import { key } from '../labels.mjs';
import { isoNow } from '../pods.mjs';
import { streamLog } from './logs.mjs';
import { PodWorker } from './pod.mjs';
import { serviceLinkEnv } from './spec.mjs';

export const DEFAULT_NODES = [{ name: 'node-1', capacity: { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' } }];

export class NodeAgent {
  constructor(o) {
    Object.assign(this, o); // client, podInformer, services, endpoints, events, images, podRunner,
    // cgroupParent, podsDir, pods (IpRange), nodeConfigs, hostIP, apiHost, apiPort, crashBackoffMs, log
    this.workers = new Map(); // uid -> PodWorker
    this.nodeNames = new Set(this.nodeConfigs.map((n) => n.name));
    this.nodeObjects = new Map();
    this.servers = new Map();
    this.samples = new Map(); // container run -> { t, cpu }
    this.startedAt = isoNow();
    fs.mkdirSync(this.podsDir, { recursive: true });
  }

  async start() {
    for (const cfg of this.nodeConfigs) {
      const server = http.createServer((req, res) => this.serve(cfg.name, req, res).catch((e) => {
        this.log(`kubelet ${cfg.name} ${req.url}: ${e.stack ?? e}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }));
      await new Promise((r) => server.listen(0, this.hostIP, r));
      this.servers.set(cfg.name, server);
      await this.register(cfg, server.address().port);
    }
    this.podInformer.on((type, pod) => this.onPod(type, pod));
    let pending = null;
    const refresh = () => {
      if (pending) return;
      pending = setTimeout(() => { pending = null; for (const w of this.workers.values()) w.refreshHosts(); }, 20);
    };
    this.services.on(refresh);
    this.endpoints.on(refresh);
    for (const pod of this.podInformer.list()) this.onPod('ADDED', pod);
  }

  nodeObject(name) { return this.nodeObjects.get(name); }

  async register(cfg, port) {
    const capacity = { ...cfg.capacity };
    const node = {
      apiVersion: 'v1', kind: 'Node',
      metadata: {
        name: cfg.name,
        labels: {
          'kubernetes.io/hostname': cfg.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', ...(cfg.labels ?? {}),
        },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
      },
      spec: { ...(cfg.taints ? { taints: cfg.taints } : {}), ...(cfg.unschedulable ? { unschedulable: true } : {}) },
    };
    const now = isoNow();
    const cond = (type, status, reason, message) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
    const status = {
      capacity, allocatable: { ...capacity, ...(cfg.allocatable ?? {}) },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [{ type: 'InternalIP', address: this.hostIP }, { type: 'Hostname', address: cfg.name }],
      daemonEndpoints: { kubeletEndpoint: { Port: port } },
      nodeInfo: {
        machineID: '', systemUUID: '', bootID: '', kernelVersion: '', osImage: 'morphling test cluster',
        containerRuntimeVersion: 'morphling-pod-runner://0.1.0', kubeletVersion: 'v1.32.0-morphling',
        kubeProxyVersion: 'v1.32.0-morphling', operatingSystem: 'linux', architecture: 'amd64',
      },
    };
    try {
      await this.client.create('/api/v1/nodes', node);
    } catch (e) {
      if (e.code !== 409) throw e;
      await this.client.mergePatch(`/api/v1/nodes/${cfg.name}`, { metadata: node.metadata, spec: node.spec });
    }
    const saved = await this.client.mergePatch(`/api/v1/nodes/${cfg.name}/status`, { status });
    this.nodeObjects.set(cfg.name, saved);
  }

  onPod(type, pod) {
    if (!this.nodeNames.has(pod.spec?.nodeName)) return;
    const w = this.workers.get(pod.metadata.uid);
    if (type === 'DELETED') {
      w?.vanished();
      return;
    }
    if (w) {
      w.update(pod);
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed' || this.stopping) {
      // Finished before this agent started: only a deletion is left to confirm.
      if (pod.metadata.deletionTimestamp && !this.stopping) {
        this.client.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
          apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid },
        }).catch(() => {});
      }
      return;
    }
    const worker = new PodWorker(this, pod);
    this.workers.set(pod.metadata.uid, worker);
    worker.begin().then(() => worker.update(worker.pod)).catch((e) => {
      this.log(`pod ${key(pod)}: cannot start its sandbox: ${e.stack ?? e}`);
      worker.terminate('Failed', 'SandboxFailed', e.message);
    });
  }

  forget(worker) {
    if (this.workers.get(worker.uid) === worker) this.workers.delete(worker.uid);
  }

  serviceEnv(worker) {
    return serviceLinkEnv(this.services.list(), worker.ns, this.apiHost, this.apiPort, worker.pod.spec.enableServiceLinks !== false);
  }

  async getObject(kind, ns, name) {
    const plural = kind === 'secret' ? 'secrets' : 'configmaps';
    try {
      return await this.client.get(`/api/v1/namespaces/${ns}/${plural}/${name}`);
    } catch (e) {
      if (e.code === 404) return null;
      throw e;
    }
  }

  // The pod's /etc/hosts, as the kubelet writes it, plus the cluster DNS names of every
  // Service: NAME (same namespace), NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local.
  hostsFor(worker) {
    const pod = worker.pod;
    const lines = [
      '# Kubernetes-managed hosts file (morphling test cluster).',
      `${worker.ip}\tlocalhost`,
      '::1\tip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'fe00::0\tip6-mcastprefix',
      'fe00::1\tip6-allnodes',
      'fe00::2\tip6-allrouters',
    ];
    const hostname = pod.spec.hostname ?? pod.metadata.name;
    const fqdn = pod.spec.subdomain ? `${hostname}.${pod.spec.subdomain}.${worker.ns}.svc.cluster.local\t` : '';
    lines.push(`${worker.ip}\t${fqdn}${hostname}`);
    lines.push('', '# Cluster DNS: Services.');
    for (const svc of this.services.list()) {
      const n = svc.metadata.name;
      const ns = svc.metadata.namespace;
      const names = `${ns === worker.ns ? `${n} ` : ''}${n}.${ns} ${n}.${ns}.svc ${n}.${ns}.svc.cluster.local`;
      const ip = clusterIPOf(svc);
      if (ip) {
        lines.push(`${ip}\t${names}`);
      } else if (svc.spec?.clusterIP === 'None') {
        for (const s of this.endpoints.get(key(svc))?.subsets ?? []) {
          for (const a of s.addresses ?? []) lines.push(`${a.ip}\t${names}`);
        }
      }
    }
    if (pod.spec.hostAliases?.length) {
      lines.push('', '# Entries added by HostAliases.');
      for (const h of pod.spec.hostAliases) lines.push(`${h.ip}\t${(h.hostnames ?? []).join('\t')}`);
    }
    return `${lines.join('\n')}\n`;
  }

  // ---- kubelet endpoints ----

  workerOf(nodeName, ns, name) {
    for (const w of this.workers.values()) {
      if (w.node === nodeName && w.ns === ns && w.name === name) return w;
    }
    return null;
  }

  async serve(nodeName, req, res) {
    const url = new URL(req.url, 'http://kubelet');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const json = (code, body) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/healthz') {
      res.end('ok');
    } else if (parts[0] === 'containerLogs' && parts.length === 4) {
      await this.serveLogs(nodeName, parts, url.searchParams, res);
    } else if (url.pathname === '/stats/summary') {
      json(200, await this.summary(nodeName));
    } else if (url.pathname === '/pods') {
      json(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [...this.workers.values()].filter((w) => w.node === nodeName).map((w) => w.pod) });
    } else {
      json(404, { message: `no kubelet endpoint ${url.pathname}` });
    }
  }

  async serveLogs(nodeName, [, ns, name, container], params, res) {
    const w = this.workerOf(nodeName, ns, name);
    const cs = w?.containers.get(container);
    const fail = (code, msg) => {
      res.writeHead(code, { 'Content-Type': 'text/plain' });
      res.end(msg);
    };
    if (!cs) {
      fail(404, w ? `container ${container} is not valid for pod ${name}` : `pod ${ns}/${name} not found on node ${nodeName}`);
      return;
    }
    const previous = params.get('previous') === 'true';
    const run = previous ? cs.restartCount - 1 : cs.restartCount;
    const file = `${w.dir}/${container}/${run}.log`;
    if (previous && run < 0) {
      fail(400, `previous terminated container "${container}" in pod "${name}" not found`);
      return;
    }
    if (!fs.existsSync(file)) {
      const waiting = cs.state.waiting;
      fail(400, `container "${container}" in pod "${name}" is waiting to start: ${waiting?.reason ?? 'ContainerCreating'}`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    const restartCount = cs.restartCount;
    await streamLog(file, {
      follow: params.get('follow') === 'true', timestamps: params.get('timestamps') === 'true',
      tailLines: params.get('tailLines'), sinceSeconds: params.get('sinceSeconds'), sinceTime: params.get('sinceTime'),
      limitBytes: params.get('limitBytes'),
    }, res, () => previous || !cs.running || cs.restartCount !== restartCount || w.closed);
    res.end();
  }

  // The kubelet Summary API (stats/v1alpha1) for one node, from the pods' cgroup counters.
  async summary(nodeName) {
    const t = new Date().toISOString();
    const pods = [];
    let nodeCores = 0;
    let nodeMem = 0;
    let nodeCpuNs = 0;
    // All pods' runners are asked at once: one after the other, a few slow answers on a busy
    // machine added up past the API server's scrape timeout and the node had no metrics at all.
    const workers = [...this.workers.values()].filter((w) => w.node === nodeName && w.runtime && !w.closed);
    const runningOf = (w) => [...w.containers.values()].filter((cs) => cs.running);
    const stats = await Promise.all(workers.map((w) => w.runtime.stats(runningOf(w).map((cs) => cs.spec.name))));
    for (const [i, w] of workers.entries()) {
      const running = runningOf(w);
      const got = stats[i];
      const containers = [];
      for (const cs of running) {
        const s = got[cs.spec.name];
        if (!s) continue;
        const runKey = `${w.uid}/${cs.spec.name}/${cs.restartCount}`;
        const prev = this.samples.get(runKey);
        const now = Date.now();
        const startedMs = Date.parse(cs.state.running?.startedAt ?? '') || now;
        const cores = prev && now > prev.t ? (s.cpu_seconds - prev.cpu) / ((now - prev.t) / 1000)
          : s.cpu_seconds / Math.max(1, (now - startedMs) / 1000);
        if (!prev || now - prev.t >= 1000) this.samples.set(runKey, { t: now, cpu: s.cpu_seconds });
        const cpu = { time: t, usageNanoCores: Math.max(0, Math.round(cores * 1e9)), usageCoreNanoSeconds: Math.round(s.cpu_seconds * 1e9) };
        const memory = { time: t, workingSetBytes: s.memory_bytes ?? 0, usageBytes: s.memory_bytes ?? 0 };
        containers.push({ name: cs.spec.name, startTime: cs.state.running?.startedAt, cpu, memory });
      }
      const sum = (f) => containers.reduce((a, c) => a + f(c), 0);
      const cpu = { time: t, usageNanoCores: sum((c) => c.cpu.usageNanoCores), usageCoreNanoSeconds: sum((c) => c.cpu.usageCoreNanoSeconds) };
      const memory = { time: t, workingSetBytes: sum((c) => c.memory.workingSetBytes), usageBytes: sum((c) => c.memory.usageBytes) };
      nodeCores += cpu.usageNanoCores;
      nodeCpuNs += cpu.usageCoreNanoSeconds;
      nodeMem += memory.workingSetBytes;
      pods.push({ podRef: { name: w.name, namespace: w.ns, uid: w.uid }, startTime: w.startTime, containers, cpu, memory });
    }
    return {
      node: {
        nodeName, startTime: this.startedAt,
        cpu: { time: t, usageNanoCores: nodeCores, usageCoreNanoSeconds: nodeCpuNs },
        memory: { time: t, workingSetBytes: nodeMem, usageBytes: nodeMem },
      },
      pods,
    };
  }

  // Kills every pod at once and stops the kubelet servers (the cluster is being stopped).
  async shutdown() {
    this.stopping = true;
    await Promise.all([...this.workers.values()].map((w) => w.abort()));
    for (const s of this.servers.values()) s.close();
  }
}
