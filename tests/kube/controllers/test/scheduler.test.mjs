// SPDX-License-Identifier: Apache-2.0
// The scheduler's pure rules: requests, fit reasons and kube-scheduler's failure message; and its
// retry of unschedulable pods when room frees up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Scheduler, choose, fitReasons, podRequests, unschedulableMessage } from '../scheduler.mjs';

const node = (name, allocatable, labels = {}, spec = {}) => ({
  metadata: { name, labels }, spec, status: { allocatable: { pods: '110', ...allocatable } },
});
const pod = (containers, spec = {}) => ({
  metadata: { name: 'p', namespace: 'default' },
  spec: { containers: containers.map((r, i) => ({ name: `c${i}`, image: 'x', resources: r })), ...spec },
});

test('requests: limits stand in for missing requests; init containers take the maximum', () => {
  const p = pod([{ limits: { cpu: '500m', memory: '1Gi' } }, { requests: { cpu: '250m' }, limits: { cpu: '1' } }]);
  p.spec.initContainers = [{ name: 'i', resources: { requests: { cpu: '2', 'nvidia.com/gpu': '1' } } }];
  assert.deepEqual(podRequests(p), { cpu: 2000, memory: 2 ** 30, 'nvidia.com/gpu': 1 });
});

test('fits when everything is free', () => {
  assert.deepEqual(fitReasons(pod([{ limits: { cpu: '1' } }]), node('n', { cpu: '2' }), {}, 0), []);
});

test('insufficient resources, counting what is already used', () => {
  const p = pod([{ requests: { cpu: '1500m', memory: '1Gi', 'nvidia.com/gpu': '1' } }]);
  const r = fitReasons(p, node('n', { cpu: '2', memory: '4Gi' }), { cpu: 1000 }, 3).map((x) => x.text);
  assert.deepEqual(r, ['Insufficient cpu', 'Insufficient nvidia.com/gpu']);
});

test('node selector, required affinity, taints, cordon and pod count', () => {
  const gpuNode = node('g', { cpu: '8', pods: '1' }, { 'nvidia.com/gpu.product': 'Tesla-T4' },
    { unschedulable: true, taints: [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }] });
  const p = pod([{}], { nodeSelector: { 'nvidia.com/gpu.product': 'A100' } });
  const r = fitReasons(p, gpuNode, {}, 1).map((x) => x.text);
  assert.deepEqual(r, ['node(s) were unschedulable', "node(s) didn't match Pod's node affinity/selector",
    'node(s) had untolerated taint {gpu: yes}', 'Too many pods']);
  const tolerant = pod([{}], {
    tolerations: [{ key: 'gpu', operator: 'Exists' }, { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }],
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [
      { matchExpressions: [{ key: 'nvidia.com/gpu.product', operator: 'In', values: ['A100'] }] },
      { matchExpressions: [{ key: 'nvidia.com/gpu.product', operator: 'In', values: ['Tesla-T4'] }] },
    ] } } },
  });
  assert.deepEqual(fitReasons(tolerant, gpuNode, {}, 0), []);
});

test("kube-scheduler's message: sorted counted reasons, then the preemption verdict", () => {
  const nodes = [node('a', { cpu: '1' }), node('b', { cpu: '4' }, { zone: 'x' }), node('c', { cpu: '4' })];
  const p = pod([{ requests: { cpu: '2', 'nvidia.com/gpu': '1' } }], { nodeSelector: { zone: 'x' } });
  const verdict = choose(p, nodes, new Map());
  assert.equal(verdict.message,
    "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector, 3 Insufficient nvidia.com/gpu. " +
    'preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.');
  assert.equal(unschedulableMessage(new Map([['a', [{ text: 'Insufficient nvidia.com/gpu', preemptable: true }]]]), 1),
    '0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.');
  assert.equal(unschedulableMessage(new Map(), 0), 'no nodes available to schedule pods');
});

test('chooses the least allocated feasible node, and counts pods already there', () => {
  const nodes = [node('a', { cpu: '4', memory: '8Gi' }), node('b', { cpu: '4', memory: '8Gi' })];
  const busy = pod([{ requests: { cpu: '3' } }]);
  const p = pod([{ requests: { cpu: '2' } }]);
  assert.equal(choose(p, nodes, new Map([['a', [busy]]])).node.metadata.name, 'b');
  assert.match(choose(p, nodes, new Map([['a', [busy]], ['b', [busy]]])).message, /^0\/2 nodes are available: 2 Insufficient cpu\./);
});

// A queue that runs a key's sync at once (as the work queue does when a worker is free) used to
// lose the key: the retry re-added it to the failed set while iterating it, then cleared the set,
// so the next change that freed room retried nothing (two 5-CPU pods on an 8-CPU node: the second
// stayed Pending after the first was gone).
test('an unschedulable pod is retried after every change, not only the first', async () => {
  const handlers = [];
  const cache = new Map();
  const informer = (items) => ({ on: (h) => handlers.push(h), list: () => [...items.values()], get: (k) => items.get(k) });
  const pods = informer(cache);
  const nodes = informer(new Map([['n', node('n', { cpu: '8' })]]));
  const synced = [];
  const queue = { add: (k) => { synced.push(k); sched.sync(k); } };
  const client = { mergePatch: async () => {}, create: async () => {} };
  const events = { record: () => {} };
  const sched = new Scheduler({ client, pods, nodes, queue, events, log: () => {} });
  const put = (p, old) => { cache.set(`default/${p.metadata.name}`, p); for (const h of handlers) h(old ? 'MODIFIED' : 'ADDED', p, old); };
  const big = (name, cpu, extra = {}) => ({ ...pod([{ requests: { cpu } }]), metadata: { name, namespace: 'default' }, ...extra });
  const a = big('a', '5', { spec: { ...big('a', '5').spec, nodeName: 'n' }, status: { phase: 'Running' } });
  const b = big('b', '1', { spec: { ...big('b', '1').spec, nodeName: 'n' }, status: { phase: 'Running' } });
  put(a);
  put(b);
  const waiting = big('w', '5');
  put(waiting);
  await sched.sync('default/w');
  assert.ok(sched.failed.has('default/w'), 'w does not fit while a holds 5 CPUs');
  // b finishes: w is retried, still does not fit, and must stay in the failed set.
  put({ ...b, status: { phase: 'Succeeded' } }, b);
  assert.ok(sched.failed.has('default/w'), 'w is still waiting for room');
  // a finishes: now w fits and is bound.
  synced.length = 0;
  put({ ...a, status: { phase: 'Succeeded' } }, a);
  assert.ok(synced.includes('default/w'), 'w is retried when a frees its CPUs');
  assert.ok(!sched.failed.has('default/w'), 'w is bound');
});
