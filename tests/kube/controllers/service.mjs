// SPDX-License-Identifier: Apache-2.0
// Services: the Endpoints controller (ready and not-ready pod addresses per Service, ports
// resolved from targetPort numbers or container port names) and kube-proxy: a TCP proxy on
// every ClusterIP port (the API server assigns them) to the ready endpoints (round robin).

import net from 'node:net';
import { key, matchMap, splitKey } from './labels.mjs';
import { podReady, sameJson } from './pods.mjs';

export function clusterIPOf(svc) {
  const ip = svc.spec?.clusterIP;
  return ip && ip !== 'None' ? ip : null;
}

function resolvePort(pod, sp) {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number' || /^\d+$/.test(String(tp))) return Number(tp);
  for (const c of pod.spec?.containers ?? []) {
    const p = (c.ports ?? []).find((x) => x.name === tp && (x.protocol ?? 'TCP') === (sp.protocol ?? 'TCP'));
    if (p) return p.containerPort;
  }
  return null;
}

// The Endpoints subsets of a Service over the pods of its namespace: pods grouped by their
// resolved port list, as the real controller repacks them.
export function endpointSubsets(svc, pods) {
  const groups = new Map();
  for (const pod of pods) {
    if (!pod.status?.podIP || pod.metadata.deletionTimestamp) continue;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    if (!matchMap(svc.spec.selector, pod.metadata.labels)) continue;
    const ports = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = resolvePort(pod, sp);
      if (port !== null) ports.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP' });
    }
    if (ports.length === 0) continue;
    const g = JSON.stringify(ports);
    if (!groups.has(g)) groups.set(g, { addresses: [], notReadyAddresses: [], ports });
    const addr = {
      ip: pod.status.podIP, nodeName: pod.spec.nodeName,
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
    };
    const ready = podReady(pod) || svc.spec.publishNotReadyAddresses;
    groups.get(g)[ready ? 'addresses' : 'notReadyAddresses'].push(addr);
  }
  const byIp = (a, b) => a.ip.localeCompare(b.ip);
  return [...groups.values()].map((s) => {
    s.addresses.sort(byIp);
    s.notReadyAddresses.sort(byIp);
    if (!s.addresses.length) delete s.addresses;
    if (!s.notReadyAddresses.length) delete s.notReadyAddresses;
    return s;
  });
}

export class EndpointsController {
  constructor({ client, services, endpoints, pods, queue, log }) {
    Object.assign(this, { client, services, endpoints, pods, queue, log });
    services.on((type, svc) => this.queue.add(key(svc)));
    endpoints.on((type, ep) => this.queue.add(key(ep)));
    pods.on((type, pod, old) => {
      for (const p of [pod, old]) {
        if (!p) continue;
        for (const svc of this.services.list()) {
          if (svc.metadata.namespace === p.metadata.namespace && svc.spec?.selector &&
              matchMap(svc.spec.selector, p.metadata.labels)) this.queue.add(key(svc));
        }
      }
    });
  }

  async sync(k) {
    const [ns, name] = splitKey(k);
    const svc = this.services.get(k);
    const ep = this.endpoints.get(k);
    const base = `/api/v1/namespaces/${ns}/endpoints`;
    if (!svc) {
      if (ep && !ep.metadata.labels?.['endpointslice.kubernetes.io/managed-by']) {
        await this.client.delete(`${base}/${name}`).catch((e) => { if (e.code !== 404) throw e; });
      }
      return;
    }
    if (!svc.spec.selector) return; // endpoints managed by the user
    const pods = this.pods.list().filter((p) => p.metadata.namespace === ns);
    const subsets = endpointSubsets(svc, pods);
    const obj = {
      apiVersion: 'v1', kind: 'Endpoints',
      metadata: { name, namespace: ns, labels: { ...(svc.metadata.labels ?? {}) } },
      subsets,
    };
    if (!ep) {
      await this.client.create(base, obj).catch((e) => { if (e.code !== 409) throw e; });
    } else if (!sameJson(ep.subsets ?? [], subsets) || !sameJson(ep.metadata.labels, obj.metadata.labels)) {
      obj.metadata.resourceVersion = ep.metadata.resourceVersion;
      await this.client.replace(`${base}/${name}`, obj);
    }
  }
}

// kube-proxy for one process: listeners on ClusterIP:port, forwarding each connection to a
// ready endpoint address of that port.
export class Proxy {
  constructor({ services, endpoints, log }) {
    Object.assign(this, { services, endpoints, log });
    this.listeners = new Map(); // "ip:port" -> { server, svcKey, portName }
    this.rr = new Map();
    const resync = () => this.sync();
    services.on(resync);
    endpoints.on(resync);
  }

  targets(svcKey, portName) {
    const ep = this.endpoints.get(svcKey);
    const out = [];
    for (const s of ep?.subsets ?? []) {
      const p = (s.ports ?? []).find((x) => (x.name ?? '') === (portName ?? ''));
      if (!p) continue;
      for (const a of s.addresses ?? []) out.push({ host: a.ip, port: p.port });
    }
    return out;
  }

  connect(client, svcKey, portName) {
    const list = this.targets(svcKey, portName);
    if (list.length === 0) {
      client.destroy(); // as iptables' REJECT for a service without endpoints
      return;
    }
    const n = (this.rr.get(svcKey) ?? 0) + 1;
    this.rr.set(svcKey, n);
    const t = list[n % list.length];
    const upstream = net.connect({ host: t.host, port: t.port });
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  }

  sync() {
    const want = new Map();
    for (const svc of this.services.list()) {
      const ip = clusterIPOf(svc);
      if (!ip || svc.spec.type === 'ExternalName') continue;
      for (const sp of svc.spec.ports ?? []) {
        if ((sp.protocol ?? 'TCP') === 'TCP') want.set(`${ip}:${sp.port}`, { svcKey: key(svc), portName: sp.name, ip, port: sp.port });
      }
    }
    for (const [addr, l] of this.listeners) {
      const w = want.get(addr);
      if (!w || w.svcKey !== l.svcKey || w.portName !== l.portName) {
        l.server.close();
        this.listeners.delete(addr);
      }
    }
    for (const [addr, w] of want) {
      if (this.listeners.has(addr)) continue;
      const server = net.createServer((c) => this.connect(c, w.svcKey, w.portName));
      server.on('error', (e) => this.log(`proxy ${addr} (${w.svcKey}): ${e.message}`));
      server.listen({ host: w.ip, port: w.port });
      this.listeners.set(addr, { server, ...w });
    }
  }

  close() {
    for (const l of this.listeners.values()) l.server.close();
    this.listeners.clear();
  }
}
