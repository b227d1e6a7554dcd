// SPDX-License-Identifier: Apache-2.0
// The fake Kubernetes API server of the test cluster. `node main.mjs --dir DIR` supervises one
// server process: it restarts it on the same port with the same state when a test asks for a
// restart (POST /_test/restart), and stops it on SIGTERM/SIGINT. See tests/kube/README.md.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Auth } from './auth.mjs';
import { crdResources } from './crd.mjs';
import { Controllers } from './gc.mjs';
import { ServiceAllocator } from './allocator.mjs';
import { NodeProxy } from './nodeproxy.mjs';
import { ensurePki, writeKubeconfig } from './pki.mjs';
import { BUILTINS, Registry } from './registry.mjs';
import { Rest } from './rest.mjs';
import { ApiServer } from './server.mjs';
import { Store } from './store.mjs';
import { TestHooks } from './testhooks.mjs';
import { loadValidators } from './validation.mjs';

const RESTART_CODE = 75;
const USAGE = `usage: node main.mjs --dir DIR [--port N] [--no-metrics] [--watch-history N]
       [--bookmark-interval-ms MS] [--watch-timeout-seconds S]
       [--authorization-mode AlwaysAllow|RBAC] [--service-cluster-ip-range CIDR]
       [--default-field-validation Warn|Strict|Ignore]`;

function parseArgs(argv) {
    const o = { port: 0, metrics: true, watchHistory: 10000, bookmarkIntervalMs: 5000,
        watchTimeoutSeconds: 1800, authorizationMode: 'AlwaysAllow',
        serviceRange: '127.100.0.0/16', fieldValidation: 'Warn', child: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const val = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        const num = () => {
            const v = Number(val());
            if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
            return v;
        };
        switch (a) {
        case '--dir': o.dir = path.resolve(val()); break;
        case '--port': o.port = num(); break;
        case '--no-metrics': o.metrics = false; break;
        case '--watch-history': o.watchHistory = num(); break;
        case '--bookmark-interval-ms': o.bookmarkIntervalMs = num(); break;
        case '--watch-timeout-seconds': o.watchTimeoutSeconds = num(); break;
        case '--authorization-mode': o.authorizationMode = val(); break;
        case '--service-cluster-ip-range': o.serviceRange = val(); break;
        case '--default-field-validation': o.fieldValidation = val(); break;
        case '--child': o.child = true; break;
        case '-h': case '--help': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
        default: throw new Error(`unknown option ${a}`);
        }
    }
    if (!o.dir) throw new Error('--dir is required');
    if (!['AlwaysAllow', 'RBAC'].includes(o.authorizationMode)) {
        throw new Error('--authorization-mode must be AlwaysAllow or RBAC');
    }
    if (!['Warn', 'Strict', 'Ignore'].includes(o.fieldValidation)) {
        throw new Error('--default-field-validation must be Warn, Strict or Ignore');
    }
    if (!/^127\.\d+\.\d+\.\d+\/(1[6-9]|2[0-4])$/.test(o.serviceRange)) {
        throw new Error('--service-cluster-ip-range must be a 127.x.y.z/16..24 range');
    }
    return o;
}

// Objects every cluster has: the system namespaces, the `kubernetes` Service and its
// Endpoints pointing at this server, and cluster-admin for system:masters.
function bootstrap(rest, registry, store, alloc, port) {
    const def = (g, v, p) => registry.lookup(g, v, p);
    const ensure = (rdef, ns, obj) => {
        if (!store.get(rdef.storage, ns, obj.metadata.name)) {
            rest.create(rdef, ns, obj, { fieldManager: 'kube-apiserver' });
        }
    };
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
        ensure(def('', 'v1', 'namespaces'), undefined, { metadata: { name: ns } });
    }
    ensure(def('', 'v1', 'services'), 'default', { metadata: { name: 'kubernetes',
        labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { clusterIP: alloc.first(), ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }] } });
    const eps = def('', 'v1', 'endpoints');
    const subsets = [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port, protocol: 'TCP' }] }];
    const cur = store.get('/endpoints', 'default', 'kubernetes');
    if (!cur) {
        rest.create(eps, 'default', { metadata: { name: 'kubernetes', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, subsets }, { fieldManager: 'kube-apiserver' });
    } else {
        rest.update(eps, 'default', 'kubernetes', (o) => ({ ...o, subsets }), { patch: true, fieldManager: 'kube-apiserver' });
    }
    ensure(def('rbac.authorization.k8s.io', 'v1', 'clusterroles'), undefined, {
        metadata: { name: 'system:basic-user', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
        rules: [{ apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews',
            'selfsubjectrulesreviews'], verbs: ['create'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] }] });
    ensure(def('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings'), undefined, {
        metadata: { name: 'system:basic-user', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:basic-user' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }] });
    ensure(def('rbac.authorization.k8s.io', 'v1', 'clusterroles'), undefined, {
        metadata: { name: 'cluster-admin', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
        rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, { nonResourceURLs: ['*'], verbs: ['*'] }] });
    ensure(def('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings'), undefined, {
        metadata: { name: 'cluster-admin', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:masters' }] });
}

function listen(server, port) {
    return new Promise((resolve, reject) => {
        let tries = 0;
        const attempt = () => {
            server.once('error', (e) => {
                if (e.code === 'EADDRINUSE' && port !== 0 && tries++ < 100) setTimeout(attempt, 100);
                else reject(e);
            });
            server.listen(port, '127.0.0.1', () => resolve(server.address().port));
        };
        attempt();
    });
}

async function runServer(o) {
    fs.mkdirSync(o.dir, { recursive: true });
    const store = new Store({ dir: o.dir, historySize: o.watchHistory });
    const alloc = new ServiceAllocator(store, o.serviceRange);
    const pki = ensurePki(o.dir, alloc.first());
    const registry = new Registry({ metrics: o.metrics });
    await loadValidators(BUILTINS);
    store.load();
    const crdStorage = 'apiextensions.k8s.io/customresourcedefinitions';
    for (const crd of store.list(crdStorage)) registry.setCRD(crd.metadata.name, crdResources(crd));
    store.listeners.push((storage, type, obj) => {
        if (storage === crdStorage && type !== 'DELETED') {
            registry.setCRD(obj.metadata.name, crdResources(obj));
        }
    });
    const rest = new Rest({ store, registry, options: o });
    rest.hooks.allocateService = (svc) => alloc.allocate(svc);
    const controllers = new Controllers({ rest, store, registry, caPem: pki.ca.toString() });
    const auth = new Auth({ dir: o.dir, tokenKey: pki.tokenKey, store, mode: o.authorizationMode });
    const hooks = new TestHooks();
    const api = new ApiServer({ store, registry, rest, auth, hooks, options: o,
        nodes: new NodeProxy({ store }) });
    const httpsServer = https.createServer({ key: pki.key, cert: pki.cert, ca: pki.ca,
        requestCert: true, rejectUnauthorized: false, keepAliveTimeout: 65000 }, api.handler());
    const port = await listen(httpsServer, o.port);
    bootstrap(rest, registry, store, alloc, port);
    controllers.resync();
    const url = `https://127.0.0.1:${port}`;
    registry.serverAddress = `127.0.0.1:${port}`;
    writeKubeconfig(o.dir, url, auth.adminToken());
    api.onRestart = () => {
        fs.rmSync(path.join(o.dir, 'apiserver.ready'), { force: true });
        httpsServer.close();
        process.exit(RESTART_CODE);
    };
    fs.writeFileSync(path.join(o.dir, 'apiserver.env'), [
        `KUBECONFIG='${path.join(o.dir, 'kubeconfig')}'`, `KUBE_API_URL='${url}'`,
        `KUBE_ADMIN_TOKEN='${auth.adminToken()}'`, `KUBE_CA='${path.join(pki.dir, 'ca.crt')}'`,
        `KUBE_APISERVER_PID='${process.ppid}'`, ''].join('\n'));
    const ready = path.join(o.dir, 'apiserver.ready');
    fs.writeFileSync(`${ready}.tmp`, `${url}\n`);
    fs.renameSync(`${ready}.tmp`, ready);
    process.send?.({ port });
    process.on('disconnect', () => process.exit(0));
    process.stderr.write(`apiserver: listening on ${url} (state in ${o.dir})\n`);
}

// The supervisor: starts the server as a child and restarts it after a test-requested restart.
function supervise(o, argv) {
    let port = o.port;
    let child = null;
    let stopping = false;
    const start = () => {
        const args = argv.filter((a, i) => a !== '--port' && argv[i - 1] !== '--port');
        child = fork(fileURLToPath(import.meta.url), [...args, '--child', '--port', String(port)],
            { stdio: 'inherit' });
        child.on('message', (m) => {
            if (m.port) port = m.port;
        });
        child.on('exit', (code, signal) => {
            if (!stopping && code === RESTART_CODE) {
                start();
                return;
            }
            fs.rmSync(path.join(o.dir, 'apiserver.ready'), { force: true });
            process.exit(code ?? (signal ? 1 : 0));
        });
    };
    const stop = () => {
        stopping = true;
        child?.kill('SIGTERM');
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    fs.mkdirSync(o.dir, { recursive: true });
    fs.writeFileSync(path.join(o.dir, 'apiserver.pid'), `${process.pid}\n`);
    start();
}

let opts;
try {
    opts = parseArgs(process.argv.slice(2));
} catch (e) {
    process.stderr.write(`apiserver: ${e.message}\n${USAGE}\n`);
    process.exit(2);
}
if (opts.child) {
    runServer(opts).catch((e) => {
        process.stderr.write(`apiserver: ${e.stack || e}\n`);
        process.exit(1);
    });
} else {
    supervise(opts, process.argv.slice(2));
}
