// SPDX-License-Identifier: Apache-2.0
// The test cluster's controllers in one process, talking to the API server only through its
// REST API (list + watch): scheduler, ReplicaSet, Deployment, Job and Endpoints controllers,
// kube-proxy, and the node agent that runs pods with pod_runner. Usage in README.md.

import fs from 'node:fs';
import path from 'node:path';
import { Client, loadKubeconfig } from './client.mjs';
import { DeploymentController } from './deployment.mjs';
import { Recorder } from './events.mjs';
import { Expectations } from './expectations.mjs';
import { Informer, WorkQueue } from './informer.mjs';
import { podRange } from './ipam.mjs';
import { JobController } from './job.mjs';
import { ImageTable } from './kubelet/images.mjs';
import { DEFAULT_NODES, NodeAgent } from './kubelet/node.mjs';
import { OwnerIndex } from './pods.mjs';
import { ReplicaSetController } from './replicaset.mjs';
import { Scheduler } from './scheduler.mjs';
import { EndpointsController, Proxy } from './service.mjs';

const USAGE = `usage: node main.mjs --dir DIR (--kubeconfig FILE [--context NAME] |
                    --server URL --ca FILE --token-file FILE) --pod-runner PATH --images FILE
                    --net N [--nodes FILE] [--crash-backoff SECONDS] [--job-backoff SECONDS]`;

function parseArgs(argv) {
  const o = { context: undefined, crashBackoff: 10, jobBackoff: 10 };
  const names = {
    '--dir': 'dir', '--kubeconfig': 'kubeconfig', '--context': 'context', '--pod-runner': 'podRunner',
    '--images': 'images', '--net': 'net', '--nodes': 'nodes', '--crash-backoff': 'crashBackoff',
    '--job-backoff': 'jobBackoff', '--server': 'server', '--ca': 'ca', '--token-file': 'tokenFile',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = names[argv[i]];
    if (!k || argv[i + 1] === undefined) throw new Error(`unknown or incomplete argument '${argv[i]}'\n${USAGE}`);
    o[k] = argv[i + 1];
  }
  if (!o.kubeconfig && !(o.server && o.ca && o.tokenFile)) throw new Error(`no credentials\n${USAGE}`);
  for (const k of ['dir', 'podRunner', 'images', 'net']) {
    if (!o[k]) throw new Error(`missing --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}\n${USAGE}`);
  }
  o.net = Number(o.net);
  if (!Number.isInteger(o.net) || o.net < 1 || o.net > 254) throw new Error('--net: expected 1..254');
  return o;
}

async function loadNodes(file) {
  if (!file) return DEFAULT_NODES;
  const text = fs.readFileSync(file, 'utf8');
  let doc;
  try { doc = JSON.parse(text); } catch { doc = (await import('yaml')).parse(text); }
  const nodes = Array.isArray(doc) ? doc : doc?.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) throw new Error(`${file}: expected a list of nodes (or {nodes: [...]})`);
  for (const [i, n] of nodes.entries()) {
    if (!n.name || typeof n.capacity !== 'object') throw new Error(`${file}: nodes[${i}]: needs name and capacity`);
    n.capacity = Object.fromEntries(Object.entries({ pods: '110', ...n.capacity }).map(([k, v]) => [k, String(v)]));
    if (n.allocatable) n.allocatable = Object.fromEntries(Object.entries(n.allocatable).map(([k, v]) => [k, String(v)]));
  }
  return nodes;
}

function log(msg) {
  process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const cfg = o.kubeconfig ? await loadKubeconfig(o.kubeconfig, o.context) : {
    server: o.server, ca: fs.readFileSync(o.ca), token: fs.readFileSync(o.tokenFile, 'utf8').trim(),
  };
  const client = new Client(cfg, log);
  const inf = (p) => new Informer(client, p, log);
  const pods = inf('/api/v1/pods');
  const nodes = inf('/api/v1/nodes');
  const services = inf('/api/v1/services');
  const endpoints = inf('/api/v1/endpoints');
  const replicasets = inf('/apis/apps/v1/replicasets');
  const deployments = inf('/apis/apps/v1/deployments');
  const jobs = inf('/apis/batch/v1/jobs');
  const events = new Recorder(client, log);
  const index = new OwnerIndex(pods);
  const expectations = new Expectations();
  const queues = [];
  const common = { client, events, log, index, expectations };
  // One work queue per controller, each key reconciled by controller.sync(key).
  const run = (name, make) => {
    let ctl = null;
    const q = new WorkQueue(name, (k) => ctl.sync(k), log);
    queues.push(q);
    ctl = make(q);
  };
  run('scheduler', (queue) => new Scheduler({ ...common, pods, nodes, queue }));
  run('replicaset', (queue) => new ReplicaSetController({ ...common, pods, replicasets, queue }));
  run('deployment', (queue) => new DeploymentController({ ...common, deployments, replicasets, pods, queue }));
  run('job', (queue) => new JobController({ ...common, jobs, pods, queue, backoffBaseMs: Number(o.jobBackoff) * 1000 }));
  run('endpoints', (queue) => new EndpointsController({ ...common, services, endpoints, pods, queue }));
  const proxy = new Proxy({ services, endpoints, log });
  const api = new URL(cfg.server);
  const agent = new NodeAgent({
    client, podInformer: pods, services, endpoints, events, log,
    images: new ImageTable(o.images), podRunner: o.podRunner, cgroupParent: `morphling-kube-n${o.net}`,
    podsDir: path.join(o.dir, 'pods'), pods: podRange(o.net), nodeConfigs: await loadNodes(o.nodes),
    hostIP: '127.0.0.1', apiHost: api.hostname, apiPort: Number(api.port || 443),
    crashBackoffMs: Number(o.crashBackoff) * 1000,
  });
  const informers = [pods, nodes, services, endpoints, replicasets, deployments, jobs];
  await Promise.all(informers.map((i) => i.start()));
  for (const q of queues) q.start();
  await agent.start();
  fs.writeFileSync(path.join(o.dir, 'controllers.ready'), `${process.pid}\n`);
  log(`controllers ready (pid ${process.pid}, nodes ${agent.nodeConfigs.map((n) => n.name).join(', ')})`);
  let stopping = false;
  const stop = async (sig) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping every pod`);
    for (const q of queues) q.stop();
    for (const i of informers) i.stop();
    proxy.close();
    await agent.shutdown();
    client.close();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

process.on('unhandledRejection', (e) => log(`unhandled: ${e?.stack ?? e}`));
main().catch((e) => {
  log(`controllers: ${e.stack ?? e}`);
  process.exit(1);
});
