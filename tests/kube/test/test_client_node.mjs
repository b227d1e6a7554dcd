// SPDX-License-Identifier: Apache-2.0
// The fake API server through @kubernetes/client-node, a client we did not write: CRUD with its
// typed and generic APIs, patches of each type, 409 Conflict on a stale resourceVersion, 409
// AlreadyExists, 404, 422, watch from a resourceVersion, bookmarks, 410 on a compacted version,
// and an informer that keeps its cache right across dropped watches and a server restart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startApiServer, waitFor } from './cluster.mjs';

let cluster;
let kc;
let core;
let apps;
let objects;

before(async () => {
    cluster = await startApiServer(['--bookmark-interval-ms', '600000']);
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    objects = k8s.KubernetesObjectApi.makeApiClient(kc);
});

after(async () => {
    await cluster.stop();
});

async function rejects(promise) {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    throw new Error('expected the call to fail');
}

function statusOf(e) {
    assert.ok(e instanceof k8s.ApiException, `not an ApiException: ${e}`);
    return typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
}

const namespace = 'default';
const cm = (name, data = { a: '1' }) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });

test('create, read, list, replace and delete with the typed API', async () => {
    const created = await core.createNamespacedConfigMap({ namespace, body: cm('one') });
    assert.match(created.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(created.metadata.resourceVersion, /^\d+$/);
    const read = await core.readNamespacedConfigMap({ name: 'one', namespace });
    assert.equal(read.metadata.resourceVersion, created.metadata.resourceVersion);
    read.data.b = '2';
    const replaced = await core.replaceNamespacedConfigMap({ name: 'one', namespace, body: read });
    assert.ok(Number(replaced.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
    const list = await core.listNamespacedConfigMap({ namespace });
    assert.ok(list.items.some((i) => i.metadata.name === 'one' && i.data.b === '2'));
    assert.ok(Number(list.metadata.resourceVersion) >= Number(replaced.metadata.resourceVersion));
    await core.deleteNamespacedConfigMap({ name: 'one', namespace });
    const e = await rejects(core.readNamespacedConfigMap({ name: 'one', namespace }));
    assert.equal(e.code, 404);
    assert.equal(statusOf(e).reason, 'NotFound');
    assert.equal(statusOf(e).message, 'configmaps "one" not found');
});

test('409 AlreadyExists and 409 Conflict on a stale resourceVersion', async () => {
    await core.createNamespacedConfigMap({ namespace, body: cm('two') });
    const dup = await rejects(core.createNamespacedConfigMap({ namespace, body: cm('two') }));
    assert.equal(dup.code, 409);
    assert.equal(statusOf(dup).reason, 'AlreadyExists');
    const first = await core.readNamespacedConfigMap({ name: 'two', namespace });
    const stale = structuredClone(first);
    first.data.a = 'new';
    await core.replaceNamespacedConfigMap({ name: 'two', namespace, body: first });
    stale.data.a = 'lost update';
    const e = await rejects(core.replaceNamespacedConfigMap({ name: 'two', namespace, body: stale }));
    assert.equal(e.code, 409);
    const s = statusOf(e);
    assert.equal(s.reason, 'Conflict');
    assert.match(s.message, /the object has been modified; please apply your changes to the latest version/);
    const now = await core.readNamespacedConfigMap({ name: 'two', namespace });
    assert.equal(now.data.a, 'new');
});

test('patches: merge, strategic merge, JSON patch and server-side apply', async () => {
    const dep = {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace, labels: { app: 'web' } },
        spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'a', image: 'x:1' }, { name: 'b', image: 'y:1' }] } } },
    };
    await objects.create(dep);
    const smp = await objects.patch({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace },
        spec: { template: { spec: { containers: [{ name: 'b', image: 'y:2' }] } } } },
    undefined, undefined, undefined, undefined, k8s.PatchStrategy.StrategicMergePatch);
    assert.deepEqual(smp.spec.template.spec.containers.map((c) => c.image), ['x:1', 'y:2']);
    const merge = await objects.patch({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace },
        spec: { replicas: 3 } }, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch);
    assert.equal(merge.spec.replicas, 3);
    assert.equal(merge.spec.template.spec.containers.length, 2);
    const json = await apps.patchNamespacedDeployment({ name: 'web', namespace,
        body: [{ op: 'replace', path: '/spec/replicas', value: 1 }] },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch));
    assert.equal(json.spec.replicas, 1);
    const applied = await objects.patch({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa', namespace },
        data: { k: 'v' } }, undefined, undefined, 'tester', true, k8s.PatchStrategy.ServerSideApply);
    assert.equal(applied.data.k, 'v');
    assert.equal(applied.metadata.managedFields[0].manager, 'tester');
    assert.equal(applied.metadata.managedFields[0].operation, 'Apply');
});

test('422 Invalid names the fields', async () => {
    const e = await rejects(apps.createNamespacedDeployment({ namespace, body: {
        metadata: { name: 'bad' }, spec: { selector: { matchLabels: { app: 'x' } },
            template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c' }] } } } } }));
    assert.equal(e.code, 422);
    const s = statusOf(e);
    assert.equal(s.reason, 'Invalid');
    const fields = s.details.causes.map((c) => c.field).sort();
    assert.deepEqual(fields, ['spec.template.metadata.labels', 'spec.template.spec.containers[0].image']);
    const immutable = await rejects(objects.patch({ apiVersion: 'apps/v1', kind: 'Deployment',
        metadata: { name: 'web', namespace }, spec: { selector: { matchLabels: { app: 'other' } },
            template: { metadata: { labels: { app: 'other' } } } } },
    undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch));
    assert.equal(immutable.code, 422);
    assert.match(statusOf(immutable).message, /spec.selector: Invalid value: .*field is immutable/);
});

function watchEvents(path, params) {
    const events = [];
    const state = { events, done: null };
    const w = new k8s.Watch(kc);
    state.started = w.watch(path, params, (type, obj) => events.push({ type, obj }),
        (err) => {
            state.done = err || 'closed';
        });
    return state;
}

test('watch from a list resourceVersion sees ADDED, MODIFIED, DELETED in order', async () => {
    const list = await core.listNamespacedConfigMap({ namespace });
    const st = watchEvents('/api/v1/namespaces/default/configmaps', {
        resourceVersion: list.metadata.resourceVersion, labelSelector: 'w=1' });
    const controller = await st.started;
    await core.createNamespacedConfigMap({ namespace, body: { ...cm('w1'), metadata: { name: 'w1', labels: { w: '1' } } } });
    await core.patchNamespacedConfigMap({ name: 'w1', namespace, body: { data: { a: '2' } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await core.createNamespacedConfigMap({ namespace, body: cm('not-selected') });
    await core.deleteNamespacedConfigMap({ name: 'w1', namespace });
    await waitFor(() => st.events.some((e) => e.type === 'DELETED'), 'DELETED');
    controller.abort();
    assert.deepEqual(st.events.map((e) => `${e.type} ${e.obj.metadata.name}`),
        ['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    const rvs = st.events.map((e) => Number(e.obj.metadata.resourceVersion));
    assert.deepEqual([...rvs].sort((a, b) => a - b), rvs);
});

test('bookmarks carry the current resourceVersion', async () => {
    const st = watchEvents('/api/v1/namespaces/default/configmaps', { allowWatchBookmarks: true, resourceVersion: '0' });
    const controller = await st.started;
    await waitFor(async () => {
        await cluster.request('POST', '/_test/bookmark', {});
        return st.events.some((e) => e.type === 'BOOKMARK');
    }, 'a bookmark');
    controller.abort();
    const bm = st.events.find((e) => e.type === 'BOOKMARK');
    const stats = (await cluster.request('GET', '/_test/stats')).body;
    assert.ok(Number(bm.obj.metadata.resourceVersion) <= Number(stats.resourceVersion));
    assert.equal(bm.obj.kind, 'ConfigMap');
});

test('a compacted resourceVersion gives 410 Expired; a re-list recovers', async () => {
    const list = await core.listNamespacedConfigMap({ namespace });
    await core.createNamespacedConfigMap({ namespace, body: cm('after-list') });
    await cluster.request('POST', '/_test/compact', {});
    const st = watchEvents('/api/v1/namespaces/default/configmaps', { resourceVersion: list.metadata.resourceVersion });
    await st.started;
    await waitFor(() => st.done, 'the watch to end');
    assert.equal(st.events.length, 1);
    assert.equal(st.events[0].type, 'ERROR');
    assert.equal(st.events[0].obj.code, 410);
    assert.equal(st.events[0].obj.reason, 'Expired');
    const relist = await core.listNamespacedConfigMap({ namespace });
    assert.ok(relist.items.some((i) => i.metadata.name === 'after-list'));
});

test('an informer keeps its cache across dropped watches and a restart', async () => {
    const listFn = () => core.listNamespacedConfigMap({ namespace, labelSelector: 'inf=1' });
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/configmaps', listFn, 'inf=1');
    const seen = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata.name}`));
    let stopped = false;
    informer.on('error', () => setTimeout(() => stopped || informer.start(), 100));
    await informer.start();
    const labeled = (name) => ({ ...cm(name), metadata: { name, labels: { inf: '1' } } });
    await core.createNamespacedConfigMap({ namespace, body: labeled('i1') });
    await waitFor(() => informer.get('i1', namespace), 'i1 in the cache');
    await cluster.request('POST', '/_test/drop-watches', {});
    await core.createNamespacedConfigMap({ namespace, body: labeled('i2') });
    await waitFor(() => informer.get('i2', namespace), 'i2 after a dropped watch');
    await cluster.restart();
    const kept = await core.readNamespacedConfigMap({ name: 'i2', namespace });
    assert.equal(kept.metadata.labels.inf, '1');
    await core.deleteNamespacedConfigMap({ name: 'i1', namespace });
    await waitFor(() => !informer.get('i1', namespace), 'i1 gone after a restart');
    stopped = true;
    await informer.stop();
    assert.ok(seen.includes('add i1') && seen.includes('add i2') && seen.includes('delete i1'), seen.join());
});
