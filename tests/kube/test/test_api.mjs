// SPDX-License-Identifier: Apache-2.0
// HTTP-level semantics of the fake API server that clients such as the C client rely on: Status
// bodies on every error, Retry-After on 429, the patch content types, chunked watch streams,
// pagination, persistence across a restart, garbage collection and graceful pod deletion, the
// fault-injection and request-log hooks, and service-account tokens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { startApiServer, waitFor } from './cluster.mjs';

let c;
before(async () => {
    c = await startApiServer(['--watch-history', '50']);
});
after(async () => {
    await c.stop();
});

const CM = '/api/v1/namespaces/default/configmaps';
const cm = (name, extra = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data: { a: '1' } });

function isStatus(r, code, reason) {
    assert.equal(r.status, code, r.text);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.apiVersion, 'v1');
    assert.equal(r.body.status, 'Failure');
    assert.equal(r.body.code, code);
    assert.equal(r.body.reason, reason);
}

test('every error is a Status', async () => {
    isStatus(await c.request('GET', '/apis/nope/v1/things'), 404, 'NotFound');
    isStatus(await c.request('GET', `${CM}/missing`), 404, 'NotFound');
    isStatus(await c.request('POST', `${CM}/x`, cm('x')), 405, 'MethodNotAllowed');
    isStatus(await c.request('GET', '/api/v1/pods', undefined, { Authorization: 'Bearer wrong' }), 401, 'Unauthorized');
    isStatus(await c.request('POST', CM, '{not json'), 400, 'BadRequest');
    isStatus(await c.request('GET', `${CM}?fieldSelector=spec.bogus=1`), 400, 'BadRequest');
    isStatus(await c.request('PATCH', `${CM}/x`, '{}', { 'Content-Type': 'text/plain' }), 415, 'UnsupportedMediaType');
    const r = await c.request('POST', '/api/v1/namespaces/nope/configmaps', cm('x'));
    isStatus(r, 404, 'NotFound');
    assert.equal(r.body.message, 'namespaces "nope" not found');
    const inv = await c.request('POST', CM, cm('Bad_Name'));
    isStatus(inv, 422, 'Invalid');
    assert.equal(inv.body.details.causes[0].field, 'metadata.name');
    assert.equal(inv.body.details.causes[0].reason, 'FieldValueInvalid');
    assert.equal(inv.body.details.kind, 'ConfigMap');
});

test('429 and 500 faults carry Retry-After; 409 faults hit updates only', async () => {
    await c.request('POST', '/_test/faults', { code: 429, count: 2, retryAfter: 3, resource: 'configmaps' });
    for (let i = 0; i < 2; i++) {
        const r = await c.request('GET', CM);
        isStatus(r, 429, 'TooManyRequests');
        assert.equal(r.headers['retry-after'], '3');
        assert.equal(r.body.details.retryAfterSeconds, 3);
    }
    assert.equal((await c.request('GET', CM)).status, 200);
    await c.request('POST', '/_test/faults', { code: 500, retryAfter: 1, verb: 'create' });
    const e = await c.request('POST', CM, cm('f1'));
    isStatus(e, 500, 'InternalError');
    assert.equal(e.headers['retry-after'], '1');
    assert.equal((await c.request('POST', CM, cm('f1'))).status, 201);
    await c.request('POST', '/_test/faults', { code: 409, count: 1 });
    assert.equal((await c.request('GET', `${CM}/f1`)).status, 200);
    const conflict = await c.request('PATCH', `${CM}/f1`, { data: { a: '2' } },
        { 'Content-Type': 'application/merge-patch+json' });
    isStatus(conflict, 409, 'Conflict');
    assert.equal((await c.request('PATCH', `${CM}/f1`, { data: { a: '2' } },
        { 'Content-Type': 'application/merge-patch+json' })).body.data.a, '2');
});

test('the three patch types and their content types', async () => {
    await c.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'svc' },
        spec: { selector: { app: 'a' }, ports: [{ name: 'http', port: 80 }, { name: 'm', port: 9090 }] } });
    const smp = await c.request('PATCH', '/api/v1/namespaces/default/services/svc',
        { spec: { ports: [{ port: 80, targetPort: 8080 }] } }, { 'Content-Type': 'application/strategic-merge-patch+json' });
    assert.equal(smp.status, 200, smp.text);
    assert.deepEqual(smp.body.spec.ports.map((p) => `${p.port}:${p.targetPort}`), ['80:8080', '9090:9090']);
    const merge = await c.request('PATCH', '/api/v1/namespaces/default/services/svc',
        { spec: { ports: [{ name: 'only', port: 81 }] } }, { 'Content-Type': 'application/merge-patch+json' });
    assert.deepEqual(merge.body.spec.ports.map((p) => p.port), [81]);
    const json = await c.request('PATCH', '/api/v1/namespaces/default/services/svc',
        [{ op: 'add', path: '/metadata/labels', value: { x: 'y' } }], { 'Content-Type': 'application/json-patch+json' });
    assert.equal(json.body.metadata.labels.x, 'y');
    const bad = await c.request('PATCH', '/api/v1/namespaces/default/services/svc',
        [{ op: 'test', path: '/metadata/labels/x', value: 'z' }], { 'Content-Type': 'application/json-patch+json' });
    isStatus(bad, 422, 'Invalid');
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n';
    const ssa = await c.request('PATCH', `${CM}/applied?fieldManager=me`, yaml, { 'Content-Type': 'application/apply-patch+yaml' });
    assert.equal(ssa.status, 201, ssa.text);
    assert.equal(ssa.body.data.k, 'v');
    const noManager = await c.request('PATCH', `${CM}/applied`, yaml, { 'Content-Type': 'application/apply-patch+yaml' });
    isStatus(noManager, 400, 'BadRequest');
});

test('watch: chunked, one JSON object per line, selectors, history replay', async () => {
    const list = await c.request('GET', CM);
    const rv = list.body.metadata.resourceVersion;
    const w = c.watch(`${CM}?watch=1&resourceVersion=${rv}&labelSelector=team%3Dx`);
    await waitFor(() => w.status, 'watch headers');
    assert.equal(w.status, 200);
    assert.equal(w.headers['transfer-encoding'], 'chunked');
    assert.equal(w.headers['content-type'], 'application/json');
    await c.request('POST', CM, cm('w1', { labels: { team: 'x' } }));
    await c.request('PATCH', `${CM}/w1`, { metadata: { labels: { team: 'y' } } }, { 'Content-Type': 'application/merge-patch+json' });
    await w.next((e) => e.type === 'DELETED', 'leaving the selector');
    w.close();
    assert.deepEqual(w.events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED w1', 'DELETED w1']);
    assert.ok(w.raw.join('').split('\n').filter(Boolean).every((l) => JSON.parse(l).type));
    const replay = c.watch(`${CM}?watch=true&resourceVersion=${rv}`);
    await replay.next((e) => e.object.metadata.name === 'w1' && e.type === 'MODIFIED', 'replayed history');
    replay.close();
    const initial = c.watch(`${CM}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
    const end = await initial.next((e) => e.type === 'BOOKMARK', 'the initial-events-end bookmark');
    initial.close();
    assert.equal(end.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    assert.ok(initial.events.filter((e) => e.type === 'ADDED').length >= 2);
});

test('a watch from a version older than the history gets an ERROR 410 event', async () => {
    for (let i = 0; i < 60; i++) await c.request('POST', CM, cm(`h${i}`));
    const w = c.watch(`${CM}?watch=true&resourceVersion=1`);
    await waitFor(() => w.closed, 'the stream to end');
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0].type, 'ERROR');
    assert.equal(w.events[0].object.code, 410);
    assert.match(w.events[0].object.message, /^too old resource version: 1 \(\d+\)$/);
});

test('pagination with limit and continue', async () => {
    const first = await c.request('GET', `${CM}?limit=10`);
    assert.equal(first.body.items.length, 10);
    assert.ok(first.body.metadata.continue);
    const total = first.body.items.length + first.body.metadata.remainingItemCount;
    const names = first.body.items.map((i) => i.metadata.name);
    let cont = first.body.metadata.continue;
    while (cont) {
        const page = await c.request('GET', `${CM}?limit=10&continue=${encodeURIComponent(cont)}`);
        assert.equal(page.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
        names.push(...page.body.items.map((i) => i.metadata.name));
        cont = page.body.metadata.continue;
    }
    assert.equal(names.length, total);
    assert.deepEqual(names, [...names].sort());
    assert.equal(first.body.items[0].kind, undefined);
});

test('objects, resourceVersions and history survive a restart', async () => {
    const made = await c.request('POST', CM, cm('durable'));
    const rv = Number(made.body.metadata.resourceVersion);
    await c.restart();
    const got = await c.request('GET', `${CM}/durable`);
    assert.equal(got.body.metadata.uid, made.body.metadata.uid);
    const next = await c.request('POST', CM, cm('after-restart'));
    assert.ok(Number(next.body.metadata.resourceVersion) > rv);
    const w = c.watch(`${CM}?watch=true&resourceVersion=${rv - 1}`);
    await w.next((e) => e.object.metadata.name === 'durable', 'history from before the restart');
    w.close();
});

test('garbage collection: foreground waits for blocking dependents, background and orphan', async () => {
    const owner = (await c.request('POST', CM, cm('gc-owner'))).body;
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'gc-owner', uid: owner.metadata.uid, blockOwnerDeletion: true };
    await c.request('POST', CM, cm('gc-dep', { ownerReferences: [ref], finalizers: ['example.com/hold'] }));
    const del = await c.request('DELETE', `${CM}/gc-owner`, { propagationPolicy: 'Foreground' });
    assert.equal(del.status, 202, del.text);
    assert.deepEqual(del.body.metadata.finalizers, ['foregroundDeletion']);
    await waitFor(async () => (await c.request('GET', `${CM}/gc-dep`)).body.metadata.deletionTimestamp, 'dependent deleting');
    assert.equal((await c.request('GET', `${CM}/gc-owner`)).status, 200, 'owner waits for the dependent');
    await c.request('PATCH', `${CM}/gc-dep`, { metadata: { finalizers: null } }, { 'Content-Type': 'application/merge-patch+json' });
    await waitFor(async () => (await c.request('GET', `${CM}/gc-owner`)).status === 404, 'owner gone');
    const orphanOwner = (await c.request('POST', CM, cm('o-owner'))).body;
    await c.request('POST', CM, cm('o-dep', { ownerReferences: [{ ...ref, name: 'o-owner', uid: orphanOwner.metadata.uid }] }));
    await c.request('DELETE', `${CM}/o-owner?propagationPolicy=Orphan`);
    await waitFor(async () => (await c.request('GET', `${CM}/o-owner`)).status === 404, 'orphaning owner gone');
    assert.equal((await c.request('GET', `${CM}/o-dep`)).body.metadata.ownerReferences, undefined);
    await c.request('POST', CM, cm('dangling', { ownerReferences: [{ ...ref, name: 'never', uid: '0c3e4e6c-0000-4000-8000-000000000000' }] }));
    await waitFor(async () => (await c.request('GET', `${CM}/dangling`)).status === 404, 'dangling dependent collected');
});

test('jobs orphan their pods by default; bound pods are deleted gracefully', async () => {
    const job = await c.request('POST', '/apis/batch/v1/namespaces/default/jobs', { metadata: { name: 'j' },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'morphling:test' }] } } } });
    assert.equal(job.status, 201, job.text);
    const sel = job.body.spec.selector.matchLabels['batch.kubernetes.io/controller-uid'];
    assert.equal(sel, job.body.metadata.uid);
    assert.equal(job.body.spec.template.metadata.labels['job-name'], 'j');
    const pod = await c.request('POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'jp',
        labels: job.body.spec.template.metadata.labels, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job',
            name: 'j', uid: job.body.metadata.uid, controller: true, blockOwnerDeletion: true }] },
    spec: job.body.spec.template.spec });
    assert.equal(pod.status, 201, pod.text);
    assert.equal(pod.body.status.phase, 'Pending');
    assert.equal(pod.body.spec.serviceAccountName, 'default');
    const bind = await c.request('POST', '/api/v1/namespaces/default/pods/jp/binding',
        { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'jp' }, target: { kind: 'Node', name: 'node-1' } });
    assert.equal(bind.status, 201, bind.text);
    const again = await c.request('POST', '/api/v1/namespaces/default/pods/jp/binding',
        { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'jp' }, target: { kind: 'Node', name: 'node-2' } });
    isStatus(again, 409, 'Conflict');
    await c.request('DELETE', '/apis/batch/v1/namespaces/default/jobs/j');
    await waitFor(async () => (await c.request('GET', '/apis/batch/v1/namespaces/default/jobs/j')).status === 404, 'job gone');
    const orphan = await c.request('GET', '/api/v1/namespaces/default/pods/jp');
    assert.equal(orphan.body.metadata.ownerReferences, undefined);
    const del = await c.request('DELETE', '/api/v1/namespaces/default/pods/jp');
    assert.equal(del.status, 202);
    assert.equal(del.body.metadata.deletionGracePeriodSeconds, 30);
    const now = await c.request('DELETE', '/api/v1/namespaces/default/pods/jp?gracePeriodSeconds=0');
    assert.equal(now.status, 200);
    assert.equal((await c.request('GET', '/api/v1/namespaces/default/pods/jp')).status, 404);
});

test('kill hook: SIGKILL a client after its k-th write is applied', async () => {
    const victim = spawn('sleep', ['60']);
    const exited = new Promise((r) => victim.on('exit', (code, signal) => r(signal)));
    await c.request('POST', '/_test/tokens', { user: 'crashy', token: 'crashy-token' });
    await c.request('POST', '/_test/kill', { pid: victim.pid, after: 2, user: 'crashy', verb: 'write' });
    const as = { Authorization: 'Bearer crashy-token' };
    assert.equal((await c.request('POST', CM, cm('k1'), as)).status, 201);
    assert.equal((await c.request('GET', `${CM}/k1`, undefined, as)).status, 200);
    await assert.rejects(c.request('POST', CM, cm('k2'), as));
    assert.equal(await exited, 'SIGKILL');
    assert.equal((await c.request('GET', `${CM}/k2`)).status, 200, 'the write was applied');
    const counters = (await c.request('GET', '/_test/counters')).body;
    assert.equal(counters.crashy.verbs.create, 2);
    const log = (await c.request('GET', '/_test/requests?user=crashy')).body.items;
    assert.deepEqual(log.map((e) => `${e.verb} ${e.code}`), ['create 201', 'get 200', 'create 201']);
});

test('service-account tokens authenticate until their account is deleted', async () => {
    const tr = await c.request('POST', '/api/v1/namespaces/default/serviceaccounts/default/token',
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } });
    assert.equal(tr.status, 201, tr.text);
    const as = { Authorization: `Bearer ${tr.body.status.token}` };
    const who = await c.request('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, as);
    assert.equal(who.body.status.userInfo.username, 'system:serviceaccount:default:default');
    await c.request('PUT', '/_test/policy', { mode: 'RBAC' });
    const denied = await c.request('GET', '/api/v1/namespaces/default/pods', undefined, as);
    isStatus(denied, 403, 'Forbidden');
    assert.equal(denied.body.message, 'pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default"');
    await c.request('PUT', '/_test/policy', { mode: 'AlwaysAllow' });
    await c.request('DELETE', '/api/v1/namespaces/default/serviceaccounts/default');
    isStatus(await c.request('GET', CM, undefined, as), 401, 'Unauthorized');
    await waitFor(async () => (await c.request('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
        'the default service account recreated');
});

test('events: one store seen through core/v1 and events.k8s.io/v1', async () => {
    const ev = await c.request('POST', '/apis/events.k8s.io/v1/namespaces/default/events', {
        metadata: { name: 'e1' }, eventTime: '2024-01-01T00:00:00.000000Z', reportingController: 'morphling.io/operator',
        reportingInstance: 'op-1', action: 'Create', reason: 'TrialCreated', type: 'Normal', note: 'trial 1 created',
        regarding: { kind: 'ConfigMap', name: 'x', namespace: 'default' } });
    assert.equal(ev.status, 201, ev.text);
    const core = await c.request('GET', '/api/v1/namespaces/default/events/e1');
    assert.equal(core.body.message, 'trial 1 created');
    assert.equal(core.body.involvedObject.name, 'x');
    assert.equal(core.body.reportingComponent, 'morphling.io/operator');
});

test('a Terminating namespace refuses new objects, then goes', async () => {
    await c.request('POST', '/api/v1/namespaces', { metadata: { name: 'doomed' } });
    await waitFor(async () => (await c.request('GET', '/api/v1/namespaces/doomed/serviceaccounts/default')).status === 200, 'default service account');
    await c.request('POST', '/api/v1/namespaces/doomed/configmaps', cm('held', { finalizers: ['example.com/hold'] }));
    const del = await c.request('DELETE', '/api/v1/namespaces/doomed');
    assert.equal(del.body.status.phase, 'Terminating');
    const refused = await c.request('POST', '/api/v1/namespaces/doomed/configmaps', cm('late'));
    isStatus(refused, 403, 'Forbidden');
    assert.match(refused.body.message, /because it is being terminated/);
    await c.request('PATCH', '/api/v1/namespaces/doomed/configmaps/held', { metadata: { finalizers: null } },
        { 'Content-Type': 'application/merge-patch+json' });
    await waitFor(async () => (await c.request('GET', '/api/v1/namespaces/doomed')).status === 404, 'namespace gone');
});

test('tables for kubectl and generateName', async () => {
    const made = await c.request('POST', CM, { metadata: { generateName: 'gen-' }, data: {} });
    assert.match(made.body.metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const t = await c.request('GET', `${CM}/${made.body.metadata.name}`, undefined,
        { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    assert.equal(t.body.kind, 'Table');
    assert.deepEqual(t.body.columnDefinitions.map((d) => d.name), ['Name', 'Data', 'Age']);
    assert.equal(t.body.rows[0].cells[0], made.body.metadata.name);
    assert.equal(t.body.rows[0].object.kind, 'PartialObjectMetadata');
});

test('custom resources: status subresource, generation, preconditions, patch types', async () => {
    const crd = await c.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
        metadata: { name: 'trials.morphling.kubedl.io' },
        spec: { group: 'morphling.kubedl.io', scope: 'Namespaced',
            names: { kind: 'Trial', plural: 'trials' },
            versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} },
                schema: { openAPIV3Schema: { type: 'object', properties: {
                    spec: { type: 'object', properties: { n: { type: 'integer' } } },
                    status: { type: 'object', properties: { state: { type: 'string' } } } } } } }] } });
    assert.equal(crd.status, 201, crd.text);
    assert.equal(crd.body.status.conditions.find((x) => x.type === 'Established').status, 'True');
    const T = '/apis/morphling.kubedl.io/v1alpha1/namespaces/default/trials';
    const made = await c.request('POST', T, { apiVersion: 'morphling.kubedl.io/v1alpha1', kind: 'Trial',
        metadata: { name: 't1' }, spec: { n: 1 }, status: { state: 'ignored on create' } });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.body.status, undefined);
    assert.equal(made.body.metadata.generation, 1);
    const st = await c.request('PUT', `${T}/t1/status`, { ...made.body, spec: { n: 99 }, status: { state: 'Running' } });
    assert.equal(st.body.status.state, 'Running');
    assert.equal(st.body.spec.n, 1, '/status ignores the spec');
    assert.equal(st.body.metadata.generation, 1, 'status changes keep the generation');
    const spec = await c.request('PATCH', `${T}/t1`, { spec: { n: 2 }, status: { state: 'ignored' } },
        { 'Content-Type': 'application/merge-patch+json' });
    assert.equal(spec.body.metadata.generation, 2);
    assert.equal(spec.body.status.state, 'Running', 'the main resource ignores status');
    isStatus(await c.request('PATCH', `${T}/t1`, { spec: { n: 3 } },
        { 'Content-Type': 'application/strategic-merge-patch+json' }), 415, 'UnsupportedMediaType');
    const noRV = { ...spec.body, metadata: { ...spec.body.metadata, resourceVersion: undefined } };
    isStatus(await c.request('PUT', `${T}/t1`, noRV), 422, 'Invalid');
    isStatus(await c.request('PUT', `${T}/t1`, made.body), 409, 'Conflict');
    const list = await c.request('GET', T);
    assert.equal(list.body.kind, 'TrialList');
    assert.equal(list.body.items[0].kind, 'Trial', 'custom resource list items keep their kind');
});

test('unknown fields: Warn drops them with a Warning header, Strict refuses them', async () => {
    const body = { ...cm('warned'), bogus: 1, metadata: { name: 'warned', extra: true } };
    const warned = await c.request('POST', CM, body);
    assert.equal(warned.status, 201);
    assert.equal(warned.body.bogus, undefined);
    assert.equal(warned.headers.warning, '299 - "unknown field \\"metadata.extra\\"", 299 - "unknown field \\"bogus\\""');
    const log = (await c.request('GET', '/_test/requests?user=admin')).body.items;
    assert.deepEqual(log.filter((e) => e.warnings).at(-1).warnings, ['unknown field "metadata.extra"', 'unknown field "bogus"']);
    const strict = await c.request('POST', `${CM}?fieldValidation=Strict`, { ...body, metadata: { name: 'strict', extra: true } });
    isStatus(strict, 400, 'BadRequest');
    assert.equal(strict.body.message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "metadata.extra", unknown field "bogus"');
});

test('pod logs and metrics.k8s.io come from the node\'s kubelet endpoint', async () => {
    const kubelet = http.createServer((req, res) => {
        if (req.url.startsWith('/containerLogs/default/lp/main?')) {
            res.end(`line 1\nline 2 (${new URL(req.url, 'http://x').searchParams.get('tailLines')})\n`);
        } else if (req.url === '/stats/summary') {
            res.setHeader('Content-Type', 'application/json');
            res.end(JSON.stringify({ node: { nodeName: 'n1', cpu: { usageNanoCores: 250000000 },
                memory: { workingSetBytes: 1048576 } }, pods: [{ podRef: { name: 'lp', namespace: 'default' },
                containers: [{ name: 'main', cpu: { usageNanoCores: 1000000 }, memory: { workingSetBytes: 204800 } }] }] }));
        } else {
            res.statusCode = 404;
            res.end('no such container');
        }
    });
    await new Promise((r) => kubelet.listen(0, '127.0.0.1', r));
    try {
        const node = await c.request('POST', '/api/v1/nodes', { metadata: { name: 'n1' } });
        assert.equal(node.status, 201, node.text);
        await c.request('PATCH', '/api/v1/nodes/n1/status', { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
            daemonEndpoints: { kubeletEndpoint: { Port: kubelet.address().port } },
            conditions: [{ type: 'Ready', status: 'True' }] } }, { 'Content-Type': 'application/merge-patch+json' });
        await c.request('POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'lp' },
            spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'morphling:test' }] } });
        const early = await c.request('GET', '/api/v1/namespaces/default/pods/lp/log');
        isStatus(early, 400, 'BadRequest');
        assert.equal(early.body.message, 'container "main" in pod "lp" is waiting to start: ContainerCreating');
        await c.request('PATCH', '/api/v1/namespaces/default/pods/lp/status', { status: { phase: 'Running',
            containerStatuses: [{ name: 'main', ready: true, restartCount: 0, image: 'morphling:test', imageID: '',
                state: { running: { startedAt: '2024-01-01T00:00:00Z' } } }] } },
        { 'Content-Type': 'application/merge-patch+json' });
        const logs = await c.request('GET', '/api/v1/namespaces/default/pods/lp/log?tailLines=2');
        assert.equal(logs.status, 200);
        assert.equal(logs.text, 'line 1\nline 2 (2)\n');
        const pm = await c.request('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/lp');
        assert.equal(pm.status, 200, pm.text);
        assert.deepEqual(pm.body.containers, [{ name: 'main', usage: { cpu: '1000000n', memory: '200Ki' } }]);
        const nm = await c.request('GET', '/apis/metrics.k8s.io/v1beta1/nodes');
        assert.deepEqual(nm.body.items.map((n) => `${n.metadata.name} ${n.usage.cpu} ${n.usage.memory}`), ['n1 250000000n 1024Ki']);
    } finally {
        kubelet.close();
    }
});

// kubectl before 1.27 downloads /openapi/v2 as protobuf for every apply/create (validation);
// kube-openapi refuses the whole document when a $ref dangles.
test('/openapi/v2: JSON with every reference defined, protobuf on request, CRDs included', async () => {
    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.example.com' },
        spec: { group: 'example.com', scope: 'Namespaced',
            names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
            versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: {
                type: 'object', properties: { spec: { type: 'object', required: ['size'], properties: {
                    size: { type: 'integer' }, port: { 'x-kubernetes-int-or-string': true,
                        anyOf: [{ type: 'integer' }, { type: 'string' }] },
                    extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true,
                        properties: { a: { type: 'string' } } } } } } } } }] } };
    assert.equal((await c.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).status, 201);
    const r = await c.request('GET', '/openapi/v2');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body.swagger, '2.0');
    const defs = r.body.definitions;
    const refs = new Set();
    const walk = (x) => {
        if (Array.isArray(x)) x.forEach(walk);
        else if (x && typeof x === 'object') {
            if (typeof x.$ref === 'string') refs.add(x.$ref.replace('#/definitions/', ''));
            Object.values(x).forEach(walk);
        }
    };
    walk(defs);
    assert.deepEqual([...refs].filter((n) => !defs[n]), []);
    assert.deepEqual(defs.V1Deployment['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
    assert.deepEqual(defs.V1DeploymentSpec.properties.replicas, { type: 'integer', format: 'int32' });
    const w = defs['com.example.v1.Widget'];
    assert.deepEqual(w['x-kubernetes-group-version-kind'], [{ group: 'example.com', kind: 'Widget', version: 'v1' }]);
    assert.equal(w.properties.metadata.$ref, '#/definitions/V1ObjectMeta');
    assert.deepEqual(w.properties.spec.required, ['size']);
    assert.deepEqual(w.properties.spec.properties.port, {}); // int-or-string: untyped, no anyOf
    assert.deepEqual(w.properties.spec.properties.extra, {}); // preserve-unknown-fields: untyped
    const pb = await c.request('GET', '/openapi/v2', undefined,
        { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
    assert.equal(pb.status, 200);
    assert.equal(pb.headers['content-type'], 'application/octet-stream');
    assert.ok(pb.text.startsWith('\n\x032.0\x12'), 'Document.swagger = "2.0", then Document.info');
    assert.ok(pb.text.includes('com.example.v1.Widget'));
});
