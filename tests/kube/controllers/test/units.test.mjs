// SPDX-License-Identifier: Apache-2.0
// Pure parts of the controllers and the node agent: quantities, selectors, image references,
// $(VAR) expansion and argv, CRI logs, template hashes, endpoints, status comparison,
// expectations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveIntOrPercent, templateHash } from '../deployment.mjs';
import { Expectations } from '../expectations.mjs';
import { matchNodeSelectorTerm, matchSelector } from '../labels.mjs';
import { ImageTable, parseImage } from '../kubelet/images.mjs';
import { parseCri, renderLog } from '../kubelet/logs.mjs';
import { PodRuntime } from '../kubelet/runtime.mjs';
import { containerArgv, containerEnv, expand, serviceLinkEnv } from '../kubelet/spec.mjs';
import { IpRange } from '../ipam.mjs';
import { sameJson, setCondition } from '../pods.mjs';
import { parseQuantity, schedUnits } from '../quantity.mjs';
import { endpointSubsets } from '../service.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('quantities', () => {
  assert.equal(parseQuantity('500m'), 0.5);
  assert.equal(parseQuantity('1.5Gi'), 1.5 * 2 ** 30);
  assert.equal(parseQuantity('2e3'), 2000);
  assert.equal(parseQuantity('128974848'), 128974848);
  assert.equal(parseQuantity(3), 3);
  assert.ok(Number.isNaN(parseQuantity('1.5.5')));
  assert.ok(Number.isNaN(parseQuantity('12Gb')));
  assert.equal(schedUnits('cpu', '0.1'), 100);
  assert.equal(schedUnits('cpu', '1m'), 1);
  assert.equal(schedUnits('memory', '1Ki'), 1024);
  assert.equal(schedUnits('nvidia.com/gpu', '2'), 2);
});

test('label selectors and node selector terms', () => {
  const labels = { app: 'x', tier: 'web', gpus: '4' };
  assert.ok(matchSelector({ matchLabels: { app: 'x' } }, labels));
  assert.ok(matchSelector({}, labels));
  assert.ok(!matchSelector(null, labels));
  assert.ok(matchSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'db'] }, { key: 'x', operator: 'DoesNotExist' }] }, labels));
  assert.ok(!matchSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels));
  const n = { metadata: { name: 'n1', labels } };
  assert.ok(matchNodeSelectorTerm({ matchExpressions: [{ key: 'gpus', operator: 'Gt', values: ['3'] }] }, n));
  assert.ok(!matchNodeSelectorTerm({ matchExpressions: [{ key: 'gpus', operator: 'Lt', values: ['3'] }] }, n));
  assert.ok(matchNodeSelectorTerm({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }, n));
  assert.ok(!matchNodeSelectorTerm({}, n));
});

test('image references: normalised names and the runtime messages', () => {
  assert.equal(parseImage('morphling:test').name, 'docker.io/library/morphling:test');
  assert.equal(parseImage('nginx').name, 'docker.io/library/nginx:latest');
  assert.equal(parseImage('localhost:5000/a/b').name, 'localhost:5000/a/b:latest');
  assert.equal(parseImage('docker.io/morphling/inference-server:test').name, 'docker.io/morphling/inference-server:test');
  assert.equal(parseImage('a//b').message, 'Failed to apply default image tag "a//b": couldn\'t parse image reference "a//b": invalid reference format');
  assert.match(parseImage('Foo:1').message, /repository name \(library\/Foo\) must be lowercase$/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'images-'));
  const file = path.join(dir, 'images.json');
  fs.writeFileSync(file, JSON.stringify({ images: { 'morphling:test': { entrypoint: ['/bin/true'] } } }));
  const table = new ImageTable(file);
  assert.equal(table.resolve('docker.io/library/morphling:test').image.entrypoint[0], '/bin/true');
  assert.match(table.resolve('morphling:test').image.id, /^docker\.io\/library\/morphling@sha256:[0-9a-f]{64}$/);
  assert.deepEqual(table.resolve('nope'), {
    reason: 'ErrImagePull',
    message: 'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nope:latest": failed to resolve reference "docker.io/library/nope:latest": docker.io/library/nope:latest: not found',
  });
  assert.equal(table.resolve('UPPER').reason, 'InvalidImageName');
  fs.rmSync(dir, { recursive: true });
});

test('$(VAR) expansion and argv from command/args over the image', () => {
  assert.equal(expand('$(A)-$(B)-$$(A)-$(C', { A: '1', B: '2' }), '1-2-$(A)-$(C');
  assert.equal(expand('$(MISSING) $', {}), '$(MISSING) $');
  const image = { entrypoint: ['/srv', '--host', '$(POD_IP)'], args: ['--port', '80'] };
  assert.deepEqual(containerArgv({}, image, {}, '127.5.0.1'), ['/srv', '--host', '127.5.0.1', '--port', '80']);
  assert.deepEqual(containerArgv({ args: ['--x', '$(N)'] }, image, { N: '3' }, '127.5.0.1'), ['/srv', '--host', '127.5.0.1', '--x', '3']);
  assert.deepEqual(containerArgv({ command: ['sh', '-c', 'echo $(N)'] }, image, { N: '3' }, 'x'), ['sh', '-c', 'echo 3']);
});

test('container environment: image env, service links, envFrom, env with valueFrom', async () => {
  const pod = {
    metadata: { name: 'p1', namespace: 'ns', uid: 'u1', labels: { app: 'a' } },
    spec: { nodeName: 'node-1', containers: [] },
    status: { podIP: '127.9.0.7', hostIP: '127.0.0.1' },
  };
  const c = {
    name: 'c', resources: { limits: { memory: '64Mi' } },
    envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }],
    env: [
      { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'MEM_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'URL', value: 'http://$(IP):80/$(NAME)' },
      { name: 'PASS', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    ],
  };
  const objects = { 'configmap/cm': { data: { X: '1' } }, 'secret/s': { data: { k: Buffer.from('pw').toString('base64') } } };
  const getObject = async (kind, name) => objects[`${kind}/${name}`] ?? null;
  const env = await containerEnv({ pod, c, image: { env: { PATH: '/bin', HOST: '$(POD_IP)' } }, serviceEnv: { S: '1' }, node: null, getObject });
  assert.deepEqual(env, {
    PATH: '/bin', HOST: '127.9.0.7', HOSTNAME: 'p1', S: '1', CM_X: '1', NAME: 'p1', IP: '127.9.0.7', APP: 'a',
    MEM_MI: '64', URL: 'http://127.9.0.7:80/p1', PASS: 'pw',
  });
  const missing = { ...c, env: [{ name: 'Y', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k' } } }], envFrom: [] };
  await assert.rejects(containerEnv({ pod, c: missing, image: {}, serviceEnv: {}, getObject }), { message: 'configmap "gone" not found', configError: true });
  const svc = { metadata: { name: 'my-svc', namespace: 'ns' }, spec: { clusterIP: '127.9.128.3', ports: [{ name: 'http', port: 8500, protocol: 'TCP' }] } };
  const links = serviceLinkEnv([svc], 'ns', '127.0.0.1', 6443);
  assert.equal(links.MY_SVC_SERVICE_HOST, '127.9.128.3');
  assert.equal(links.MY_SVC_SERVICE_PORT_HTTP, '8500');
  assert.equal(links.MY_SVC_PORT_8500_TCP_ADDR, '127.9.128.3');
  assert.equal(links.KUBERNETES_SERVICE_PORT, '6443');
  assert.equal(serviceLinkEnv([svc], 'other', null, 0).MY_SVC_SERVICE_HOST, undefined);
});

test('CRI logs: partial lines joined, tail, timestamps, since', () => {
  const t = (s) => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000000001Z`;
  const text = `${t(1)} stdout F one\n${t(2)} stderr P tw\n${t(3)} stderr F o\n${t(4)} stdout F three\n`;
  assert.deepEqual(parseCri(text).map((r) => r.text), ['one', 'two', 'three']);
  assert.equal(renderLog(text, {}), 'one\ntwo\nthree\n');
  assert.equal(renderLog(text, { tailLines: '1' }), 'three\n');
  assert.equal(renderLog(text, { tailLines: '1', timestamps: true }), `${t(4)} three\n`);
  assert.equal(renderLog(text, { sinceTime: t(3) }), 'three\n');
  assert.equal(renderLog(text, { limitBytes: '5' }), 'one\nt');
});

test('template hash, rollout numbers, conditions, status comparison', () => {
  const tpl = { metadata: { labels: { a: '1' } }, spec: { containers: [{ name: 'c', image: 'x' }] } };
  const h = templateHash(tpl);
  assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  assert.equal(templateHash(JSON.parse(JSON.stringify({ spec: tpl.spec, metadata: tpl.metadata }))), h);
  assert.notEqual(templateHash(tpl, 1), h);
  assert.equal(resolveIntOrPercent('25%', 10, true), 3);
  assert.equal(resolveIntOrPercent('25%', 10, false), 2);
  assert.equal(resolveIntOrPercent(2, 10, false), 2);
  const c1 = setCondition([], { type: 'Ready', status: 'False' }, 't1');
  const c2 = setCondition(c1, { type: 'Ready', status: 'False', reason: 'x' }, 't2');
  assert.equal(c2[0].lastTransitionTime, 't1');
  assert.equal(setCondition(c2, { type: 'Ready', status: 'True' }, 't3')[0].lastTransitionTime, 't3');
  assert.ok(sameJson({ a: 1, b: { c: [1, 2] }, z: 0, e: {} }, { b: { c: [1, 2] }, a: 1 }));
  assert.ok(!sameJson({ a: [1, 2] }, { a: [2, 1] }));
});

test('endpoints: ready and not-ready pods, named target ports', () => {
  const svc = { spec: { selector: { app: 'a' }, ports: [{ name: 'http', port: 80, targetPort: 'web' }] } };
  const pod = (name, ip, ready, port = 8080) => ({
    metadata: { name, namespace: 'ns', uid: name, labels: { app: 'a' } },
    spec: { nodeName: 'n', containers: [{ name: 'c', ports: [{ name: 'web', containerPort: port }] }] },
    status: { podIP: ip, phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const other = { ...pod('o', '127.1.0.9', true), metadata: { name: 'o', namespace: 'ns', labels: { app: 'b' } } };
  const s = endpointSubsets(svc, [pod('b', '127.1.0.2', true), pod('a', '127.1.0.1', false), pod('c', '127.1.0.3', true, 9090), other]);
  assert.equal(s.length, 2);
  assert.deepEqual(s[0].addresses.map((x) => x.ip), ['127.1.0.2']);
  assert.deepEqual(s[0].notReadyAddresses.map((x) => x.ip), ['127.1.0.1']);
  assert.deepEqual(s[0].ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  assert.deepEqual(s[1].ports[0].port, 9090);
});

test('address ranges: stable per owner, round robin, exhaustion', () => {
  const r = new IpRange(42, 0, 0);
  assert.equal(r.allocate('a'), '127.42.0.1');
  assert.equal(r.allocate('a'), '127.42.0.1');
  assert.equal(r.allocate('b'), '127.42.0.2');
  r.release('a');
  assert.equal(r.allocate('c'), '127.42.0.3');
  for (let i = 0; i < 252; i++) r.allocate(`x${i}`);
  assert.throws(() => r.allocate('full'), /no free address/);
});

test('expectations: adds counted, deletions by pod key (seen twice, counted once), expiry', () => {
  const e = new Expectations();
  e.expect('ns/rs', 2);
  assert.ok(!e.satisfied('ns/rs'));
  e.added('ns/rs');
  e.added('ns/rs');
  assert.ok(e.satisfied('ns/rs'));
  e.expect('ns/rs', 0, ['ns/a', 'ns/b']);
  e.deleted('ns/rs', 'ns/a');
  e.deleted('ns/rs', 'ns/a');
  assert.ok(!e.satisfied('ns/rs'));
  e.deleted('ns/rs', 'ns/b');
  assert.ok(e.satisfied('ns/rs'));
  e.expect('ns/x', 1);
  e.map.get('ns/x').at -= 6000;
  assert.ok(e.satisfied('ns/x'));
});

test('container stats: overlapping callers each get the answer', async () => {
  // A stand-in for pod_runner that answers each stats command after 200 ms.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-'));
  const bin = path.join(dir, 'pod_runner');
  fs.writeFileSync(bin, `#!/bin/sh
while read -r line; do
  case "$line" in
  *'"stats"'*) sleep 0.2; echo '{"event":"stats","id":"c","memory_bytes":5}' ;;
  *shutdown*) exit 0 ;;
  esac
done
`, { mode: 0o755 });
  const rt = new PodRuntime({ binary: bin, pod: 'p', cgroupParent: '', stateDir: dir, log: () => {} });
  try {
    const [a, b] = await Promise.all([rt.stats(['c']), rt.stats(['c'])]);
    assert.equal(a.c?.memory_bytes, 5);
    assert.equal(b.c?.memory_bytes, 5);
  } finally {
    await rt.shutdown();
    fs.rmSync(dir, { recursive: true });
  }
});
