// SPDX-License-Identifier: Apache-2.0
// The scheduler: pure fit rules (resources, node selector, required node affinity, taints,
// unschedulable nodes, pod count) with kube-scheduler's failure message, and the controller that
// binds pending pods to the least allocated feasible node.

import { matchMap, matchNodeSelectorTerm, matchSelector, key } from './labels.mjs';
import { schedUnits } from './quantity.mjs';

// What a pod asks for, in scheduler units: the larger of the sum over its containers and each
// init container, plus its overhead. A container with a limit and no request requests its limit.
export function podRequests(pod) {
  const spec = pod.spec ?? {};
  const add = (acc, c) => {
    const req = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    for (const [r, q] of Object.entries(req)) acc[r] = (acc[r] ?? 0) + schedUnits(r, q);
    return acc;
  };
  const total = (spec.containers ?? []).reduce(add, {});
  for (const ic of spec.initContainers ?? []) {
    for (const [r, v] of Object.entries(add({}, ic))) total[r] = Math.max(total[r] ?? 0, v);
  }
  for (const [r, q] of Object.entries(spec.overhead ?? {})) total[r] = (total[r] ?? 0) + schedUnits(r, q);
  return total;
}

// True when a pod still holds its node's resources (bound and not finished).
export function podHoldsNode(pod) {
  const phase = pod.status?.phase;
  return Boolean(pod.spec?.nodeName) && phase !== 'Succeeded' && phase !== 'Failed';
}

function tolerates(tol, taint) {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if (tol.operator === 'Exists') return !tol.key || tol.key === taint.key;
  return tol.key === taint.key && (tol.value ?? '') === (taint.value ?? '');
}

// Reasons (kube-scheduler's texts) why pod does not fit node, given the requests of the pods
// already on it; [] when it fits. `preemptable` is false for reasons preemption cannot fix.
export function fitReasons(pod, node, usedRequests, podsOnNode) {
  const reasons = [];
  const spec = pod.spec ?? {};
  const labels = node.metadata.labels ?? {};
  if (node.spec?.unschedulable &&
      !(spec.tolerations ?? []).some((t) => tolerates(t, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }))) {
    reasons.push({ text: "node(s) were unschedulable", preemptable: false });
  }
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!matchMap(spec.nodeSelector, labels) || (terms && !terms.some((t) => matchNodeSelectorTerm(t, node)))) {
    reasons.push({ text: "node(s) didn't match Pod's node affinity/selector", preemptable: false });
  }
  const untolerated = (node.spec?.taints ?? []).find((taint) =>
    (taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') &&
    !(spec.tolerations ?? []).some((t) => tolerates(t, taint)));
  if (untolerated) {
    reasons.push({ text: `node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`, preemptable: false });
  }
  const alloc = node.status?.allocatable ?? node.status?.capacity ?? {};
  const maxPods = schedUnits('pods', alloc.pods ?? 110);
  if (podsOnNode + 1 > maxPods) reasons.push({ text: 'Too many pods', preemptable: true });
  const req = podRequests(pod);
  for (const r of Object.keys(req).sort()) {
    if (req[r] === 0) continue;
    const have = alloc[r] === undefined ? 0 : schedUnits(r, alloc[r]);
    if ((usedRequests[r] ?? 0) + req[r] > have) reasons.push({ text: `Insufficient ${r}`, preemptable: true });
  }
  return reasons;
}

function countText(counts) {
  return [...counts.entries()].map(([text, n]) => `${n} ${text}`).sort().join(', ');
}

// kube-scheduler's FailedScheduling message for a pod that fits no node: the reasons with the
// number of nodes giving each, then the preemption verdict (no victims are ever chosen here).
export function unschedulableMessage(reasonsByNode, nNodes) {
  if (nNodes === 0) return 'no nodes available to schedule pods';
  const counts = new Map();
  let notHelpful = 0;
  for (const reasons of reasonsByNode.values()) {
    for (const r of reasons) counts.set(r.text, (counts.get(r.text) ?? 0) + 1);
    if (reasons.some((r) => !r.preemptable)) notHelpful++;
  }
  const pre = new Map();
  if (notHelpful) pre.set('Preemption is not helpful for scheduling', notHelpful);
  if (nNodes - notHelpful) pre.set('No preemption victims found for incoming pod', nNodes - notHelpful);
  return `0/${nNodes} nodes are available: ${countText(counts)}. preemption: 0/${nNodes} nodes are available: ${countText(pre)}.`;
}

// Lower is better: the largest share of cpu or memory the node would have allocated.
function allocatedShare(pod, node, used) {
  const alloc = node.status?.allocatable ?? {};
  const req = podRequests(pod);
  let worst = 0;
  for (const r of ['cpu', 'memory']) {
    const have = alloc[r] === undefined ? 0 : schedUnits(r, alloc[r]);
    if (have > 0) worst = Math.max(worst, ((used[r] ?? 0) + (req[r] ?? 0)) / have);
  }
  return worst;
}

// Picks a node for pod: { node } or { message } when none fits.
export function choose(pod, nodes, podsByNode) {
  const reasonsByNode = new Map();
  let best = null;
  for (const node of nodes) {
    const onNode = podsByNode.get(node.metadata.name) ?? [];
    const used = {};
    for (const p of onNode) {
      for (const [r, v] of Object.entries(podRequests(p))) used[r] = (used[r] ?? 0) + v;
    }
    const reasons = fitReasons(pod, node, used, onNode.length);
    if (reasons.length) {
      reasonsByNode.set(node.metadata.name, reasons);
      continue;
    }
    const score = allocatedShare(pod, node, used) + antiAffinityPenalty(pod, onNode);
    if (!best || score < best.score) best = { node, score };
  }
  return best ? { node: best.node } : { message: unschedulableMessage(reasonsByNode, nodes.length) };
}

// Preferred pod anti-affinity on the node's hostname: one point per matching pod and term.
function antiAffinityPenalty(pod, onNode) {
  const terms = pod.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  let p = 0;
  for (const t of terms) {
    const ns = t.podAffinityTerm?.namespaces ?? [pod.metadata.namespace];
    const n = onNode.filter((o) => ns.includes(o.metadata.namespace) &&
      matchSelector(t.podAffinityTerm?.labelSelector, o.metadata.labels)).length;
    p += n * ((t.weight ?? 1) / 100);
  }
  return p;
}

export class Scheduler {
  constructor({ client, pods, nodes, queue, events, log, name = 'default-scheduler' }) {
    Object.assign(this, { client, pods, nodes, events, log, name });
    this.queue = queue;
    this.failed = new Set(); // keys waiting for a change in the cluster
    this.assumed = new Map(); // node -> pods bound but not yet seen bound
    pods.on((type, pod, old) => {
      if (this.wants(pod)) this.queue.add(key(pod));
      // A pod leaving a node or finishing frees room: retry the unschedulable ones.
      if (type === 'DELETED' || (old && podHoldsNode(old) && !podHoldsNode(pod))) this.retryAll();
    });
    nodes.on(() => this.retryAll());
  }

  wants(pod) {
    return !pod.spec?.nodeName && !pod.metadata.deletionTimestamp &&
      (pod.spec?.schedulerName ?? 'default-scheduler') === this.name &&
      pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
  }

  retryAll() {
    // Cleared first: queue.add may run a key's sync at once, and a sync that fails again puts
    // the key back into `failed`, where it must stay for the next change.
    const keys = [...this.failed];
    this.failed.clear();
    for (const k of keys) this.queue.add(k);
  }

  podsByNode() {
    const m = new Map();
    for (const p of this.pods.list()) {
      if (!podHoldsNode(p)) continue;
      if (!m.has(p.spec.nodeName)) m.set(p.spec.nodeName, []);
      m.get(p.spec.nodeName).push(p);
    }
    for (const [n, list] of this.assumed) {
      for (const p of list) {
        const live = this.pods.get(key(p));
        if (!live || live.spec.nodeName || !this.wants(live)) continue;
        if (!m.has(n)) m.set(n, []);
        m.get(n).push(p);
      }
    }
    return m;
  }

  async sync(k) {
    const pod = this.pods.get(k);
    if (!pod || !this.wants(pod)) return;
    const nodes = this.nodes.list().filter((n) => !n.metadata.deletionTimestamp);
    const verdict = choose(pod, nodes, this.podsByNode());
    const ns = pod.metadata.namespace;
    if (!verdict.node) {
      this.failed.add(k);
      const cond = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
      if (cond?.status !== 'False' || cond.message !== verdict.message) {
        const others = (pod.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
        const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        await this.client.mergePatch(`/api/v1/namespaces/${ns}/pods/${pod.metadata.name}/status`, {
          status: {
            conditions: [...others, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: verdict.message, lastProbeTime: null, lastTransitionTime: now }],
          },
        });
        this.events.record(pod, 'Warning', 'FailedScheduling', verdict.message, this.name);
      }
      return;
    }
    const nodeName = verdict.node.metadata.name;
    this.assume(nodeName, pod);
    await this.client.create(`/api/v1/namespaces/${ns}/pods/${pod.metadata.name}/binding`, {
      apiVersion: 'v1', kind: 'Binding',
      metadata: { name: pod.metadata.name, namespace: ns, uid: pod.metadata.uid },
      target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
    });
    this.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${pod.metadata.name} to ${nodeName}`, this.name);
  }

  // Until the informer shows the binding, count the pod on its node (kube-scheduler's assume).
  assume(nodeName, pod) {
    if (!this.assumed.has(nodeName)) this.assumed.set(nodeName, []);
    this.assumed.get(nodeName).push(pod);
    setTimeout(() => {
      const list = this.assumed.get(nodeName) ?? [];
      this.assumed.set(nodeName, list.filter((p) => p !== pod));
    }, 30000).unref?.();
  }
}
