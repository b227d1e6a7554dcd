// SPDX-License-Identifier: Apache-2.0
// A Kubernetes API server that knows only discovery (the built-in workload kinds) and answers
// every object as absent: enough for `kubectl apply --dry-run=client`, which maps the kind to
// its resource and looks the object up, to check a manifest without a cluster. Listens on
// 127.0.0.1 (any free port) and prints its URL once listening.
//   node tests/helpers/kube_discovery.mjs
import http from 'node:http';

const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const resource = (name, kind) => ({
    name, singularName: kind.toLowerCase(), namespaced: true, kind, verbs,
});
const lists = {
    '/api/v1': { groupVersion: 'v1', resources: [resource('pods', 'Pod')] },
    '/apis/apps/v1': {
        groupVersion: 'apps/v1',
        resources: [resource('deployments', 'Deployment'), resource('statefulsets', 'StatefulSet'),
            resource('replicasets', 'ReplicaSet'), resource('daemonsets', 'DaemonSet')],
    },
    '/apis/batch/v1': {
        groupVersion: 'batch/v1', resources: [resource('jobs', 'Job'), resource('cronjobs', 'CronJob')],
    },
};
const group = (name) => ({
    name,
    versions: [{ groupVersion: `${name}/v1`, version: 'v1' }],
    preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' },
});

function answer(res, code, body) {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/api') {
        return answer(res, 200, { kind: 'APIVersions', versions: ['v1'] });
    }
    if (path === '/apis') {
        return answer(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [group('apps'), group('batch')] });
    }
    if (lists[path]) {
        return answer(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', ...lists[path] });
    }
    return answer(res, 404, {
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound',
        code: 404, message: `${path} not found`,
    });
});
server.listen(0, '127.0.0.1', () => {
    console.log(`http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
