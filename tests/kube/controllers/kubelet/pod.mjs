// SPDX-License-Identifier: Apache-2.0
// The kubelet's work for one pod: its sandbox (address, /etc/hosts, a pod_runner process), its
// containers (image "pull", start, probes, restart policy with CrashLoopBackOff, termination
// messages, OOM kills), its status, and graceful deletion.

import fs from 'node:fs';
import path from 'node:path';
import { parseQuantity } from '../quantity.mjs';
import { isoNow, sameJson, setCondition } from '../pods.mjs';
import { logTail } from './logs.mjs';
import { Prober } from './probes.mjs';
import { PodRuntime } from './runtime.mjs';
import { containerArgv, containerEnv } from './spec.mjs';
import { prepareVolumes, volumeMounts } from './volumes.mjs';

const MSG_MAX = 4096;
const MAX_BACKOFF_MS = 300000;

function fmtDuration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : '0s'}`;
}

function qosClass(pod) {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  let any = false;
  let guaranteed = true;
  for (const c of all) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ['cpu', 'memory']) {
      const want = req[r] ?? lim[r];
      if (lim[r] === undefined || parseQuantity(want) !== parseQuantity(lim[r])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export class PodWorker {
  constructor(agent, pod) {
    this.agent = agent;
    this.pod = pod;
    this.uid = pod.metadata.uid;
    this.ns = pod.metadata.namespace;
    this.name = pod.metadata.name;
    this.node = pod.spec.nodeName;
    this.dir = path.join(agent.podsDir, `${this.ns}_${this.name}_${this.uid}`);
    this.startTime = pod.status?.startTime ?? isoNow();
    this.conds = pod.status?.conditions ?? [];
    this.containers = new Map();
    for (const c of pod.spec.initContainers ?? []) this.containers.set(c.name, this.newState(c, true));
    for (const c of pod.spec.containers) this.containers.set(c.name, this.newState(c, false));
    this.phase = 'Pending';
    this.sandbox = false;
    this.deleting = false;
    this.gone = false;
    this.closed = false;
    this.lastSent = null;
    this.volumes = null;
    this.timers = new Set();
    this.reason = undefined;
    this.message = undefined;
  }

  newState(spec, init) {
    return {
      spec, init, restartCount: 0, state: { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } },
      lastState: {}, ready: false, started: false, running: false, starting: false, done: false,
      probes: [], containerID: '', image: null, backoffMs: 0, backoffAt: 0, pullBackoffMs: 0, timer: null,
    };
  }

  log(msg) { this.agent.log(`pod ${this.ns}/${this.name}: ${msg}`); }

  event(type, reason, message) {
    this.agent.events.record({ ...this.pod, apiVersion: 'v1', kind: 'Pod' }, type, reason, message, 'kubelet', this.node);
  }

  // ---- sandbox ----

  async begin() {
    fs.mkdirSync(this.dir, { recursive: true });
    this.ip = this.pod.spec.hostNetwork ? this.agent.hostIP : this.agent.pods.allocate(this.uid);
    this.hostsFile = path.join(this.dir, 'hosts');
    this.hostsText = this.agent.hostsFor(this);
    fs.writeFileSync(this.hostsFile, this.hostsText);
    this.runtime = new PodRuntime({
      binary: this.agent.podRunner, pod: this.uid, cgroupParent: this.agent.cgroupParent, stateDir: this.dir,
      log: (m) => this.agent.log(m),
    });
    this.runtime.on('started', (ev) => this.onStarted(ev));
    this.runtime.on('exited', (ev) => this.onExited(ev));
    this.runtime.on('failed', (ev) => this.onFailed(ev));
    // A refused start leaves the container to the restart policy, as a failed one.
    this.runtime.on('refused', (ev) => {
      const cs = this.containers.get(ev.id);
      if (cs?.starting && !cs.running) this.onFailed(ev);
    });
    this.runtime.on('gone', () => this.onRuntimeGone());
    await this.runtime.ready;
    this.sandbox = true;
    const deadline = this.pod.spec.activeDeadlineSeconds;
    if (deadline !== undefined) {
      const left = Date.parse(this.startTime) + deadline * 1000 - Date.now();
      this.deadlineTimer = setTimeout(() => this.deadlineExceeded(), Math.max(0, left));
    }
    this.touch();
    await this.mountVolumes();
  }

  // Volumes come before any container; a failure (FailedMount) is retried every 2 s.
  async mountVolumes() {
    if (this.closed || this.deleting) return;
    try {
      this.volumes = await prepareVolumes(this);
    } catch (e) {
      if (!e.mountError) throw e;
      this.event('Warning', 'FailedMount', e.message);
      const t = setTimeout(() => { this.timers.delete(t); this.mountVolumes().catch((x) => this.log(x.message)); }, 2000);
      this.timers.add(t);
      return;
    }
    this.advance();
  }

  // Rewrites /etc/hosts in place (the containers see the file through a bind mount).
  refreshHosts() {
    if (!this.hostsFile || this.closed) return;
    const text = this.agent.hostsFor(this);
    if (text === this.hostsText) return;
    this.hostsText = text;
    const buf = Buffer.from(text);
    const fd = fs.openSync(this.hostsFile, 'r+');
    fs.writeSync(fd, buf, 0, buf.length, 0);
    fs.ftruncateSync(fd, buf.length);
    fs.closeSync(fd);
  }

  // ---- containers ----

  // Starts what should run now: init containers one at a time, then every regular container.
  advance() {
    if (!this.volumes || this.runtime.dead || this.deleting || this.closed || this.phase === 'Succeeded' || this.phase === 'Failed') return;
    const all = [...this.containers.values()];
    const pendingInit = all.find((cs) => cs.init && !cs.done);
    const runnable = pendingInit ? [pendingInit] : all.filter((cs) => !cs.init);
    for (const cs of runnable) {
      if (!cs.running && !cs.starting && !cs.timer && !cs.done && !cs.blocked) this.startContainer(cs);
    }
    this.touch();
  }

  setWaiting(cs, reason, message) {
    cs.state = { waiting: { reason, ...(message ? { message } : {}) } };
    this.touch();
  }

  pullFailed(cs, message) {
    const ref = cs.spec.image;
    this.event('Normal', 'Pulling', `Pulling image "${ref}"`);
    this.event('Warning', 'Failed', `Failed to pull image "${ref}": ${message}`);
    this.event('Warning', 'Failed', 'Error: ErrImagePull');
    this.setWaiting(cs, 'ErrImagePull', message);
    cs.pullBackoffMs = Math.min(cs.pullBackoffMs ? cs.pullBackoffMs * 2 : 10000, MAX_BACKOFF_MS);
    // The next sync finds the image still in back-off.
    cs.timer = setTimeout(() => {
      this.event('Normal', 'BackOff', `Back-off pulling image "${ref}"`);
      this.event('Warning', 'Failed', 'Error: ImagePullBackOff');
      this.setWaiting(cs, 'ImagePullBackOff', `Back-off pulling image "${ref}"`);
      cs.timer = setTimeout(() => { cs.timer = null; this.advance(); }, cs.pullBackoffMs);
    }, 1000);
  }

  async startContainer(cs) {
    const c = cs.spec;
    const found = this.agent.images.resolve(c.image);
    if (found.reason === 'InvalidImageName') {
      cs.blocked = true;
      this.event('Warning', 'InspectFailed', found.message);
      this.event('Warning', 'Failed', 'Error: InvalidImageName');
      this.setWaiting(cs, 'InvalidImageName', found.message);
      return;
    }
    if (!found.image) {
      this.pullFailed(cs, found.message);
      return;
    }
    cs.image = found.image;
    cs.starting = true;
    let env;
    try {
      env = await containerEnv({
        pod: { ...this.pod, status: { ...(this.pod.status ?? {}), podIP: this.ip, hostIP: this.agent.hostIP } },
        c, image: found.image, serviceEnv: this.agent.serviceEnv(this), node: this.agent.nodeObject(this.node),
        getObject: (kind, name) => this.agent.getObject(kind, this.ns, name),
      });
    } catch (e) {
      cs.starting = false;
      if (!e.configError) throw e;
      this.event('Warning', 'Failed', `Error: ${e.message}`);
      this.setWaiting(cs, 'CreateContainerConfigError', e.message);
      cs.timer = setTimeout(() => { cs.timer = null; this.advance(); }, 2000);
      return;
    }
    if (this.deleting || this.closed) {
      cs.starting = false;
      return;
    }
    this.launch(cs, env);
  }

  launch(cs, env) {
    const c = cs.spec;
    const argv = containerArgv(c, cs.image, env, this.ip);
    const cdir = path.join(this.dir, c.name);
    fs.mkdirSync(cdir, { recursive: true });
    cs.logFile = path.join(cdir, `${cs.restartCount}.log`);
    cs.msgFile = path.join(cdir, `${cs.restartCount}.termination-log`);
    fs.writeFileSync(cs.msgFile, '');
    if (cs.restartCount === 0 || !cs.pulledOnce) {
      this.event('Normal', 'Pulled', `Container image "${c.image}" already present on machine`);
      cs.pulledOnce = true;
    }
    if (argv.length === 0) {
      this.onFailed({ id: c.name, message: 'no command specified' });
      return;
    }
    this.event('Normal', 'Created', `Created container ${c.name}`);
    const lim = c.resources?.limits ?? {};
    const mem = lim.memory !== undefined ? Math.floor(parseQuantity(lim.memory)) : 0;
    this.runtime.start({
      id: c.name, argv, env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      workdir: c.workingDir ?? cs.image.workingDir, hostname: (this.pod.spec.hostname ?? this.name).slice(0, 63),
      log: cs.logFile,
      ...(lim.cpu !== undefined ? { cpu: parseQuantity(lim.cpu) } : {}),
      ...(mem > 0 ? { memory: mem } : {}),
      mounts: [
        ...volumeMounts(c, this.volumes),
        { source: this.hostsFile, target: '/etc/hosts' },
        { source: cs.msgFile, target: c.terminationMessagePath ?? '/dev/termination-log' },
      ],
    });
  }

  onStarted(ev) {
    const cs = this.containers.get(ev.id);
    if (!cs) return;
    cs.starting = false;
    cs.running = true;
    cs.containerID = `morphling://${this.uid}-${ev.id}-${cs.restartCount}`;
    cs.state = { running: { startedAt: ev.started_at } };
    this.event('Normal', 'Started', `Started container ${ev.id}`);
    if (this.deleting) {
      this.runtime.signal(ev.id, 9);
      return;
    }
    this.startProbes(cs);
    this.touch();
  }

  startProbes(cs) {
    const c = cs.spec;
    cs.started = !c.startupProbe;
    cs.ready = !c.readinessProbe && cs.started && !cs.init;
    const make = (kind, spec, onResult) => new Prober({
      kind, spec, container: c, podIP: this.ip, runtime: this.runtime, onResult,
      onFailure: (msg) => this.event('Warning', 'Unhealthy', `${kind[0].toUpperCase()}${kind.slice(1)} probe failed: ${msg}`),
    });
    const others = () => {
      if (c.readinessProbe) {
        cs.probes.push(make('readiness', c.readinessProbe, (ok) => { cs.ready = ok && cs.running; this.touch(); }));
      } else {
        cs.ready = !cs.init;
      }
      if (c.livenessProbe) {
        cs.probes.push(make('liveness', c.livenessProbe, (ok) => { if (!ok) this.probeKill(cs, 'liveness', c.livenessProbe); }));
      }
      this.touch();
    };
    if (c.startupProbe) {
      cs.probes.push(make('startup', c.startupProbe, (ok) => {
        if (!ok) {
          this.probeKill(cs, 'startup', c.startupProbe);
          return;
        }
        cs.started = true;
        cs.probes.find((p) => p.kind === 'startup')?.stop();
        others();
      }));
    } else {
      others();
    }
  }

  stopProbes(cs) {
    for (const p of cs.probes) p.stop();
    cs.probes = [];
  }

  probeKill(cs, kind, probe) {
    if (!cs.running || cs.killing) return;
    this.event('Normal', 'Killing', `Container ${cs.spec.name} failed ${kind} probe, will be restarted`);
    this.stopProbes(cs);
    const grace = probe.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
    this.kill(cs, grace);
  }

  // SIGTERM now, SIGKILL after the grace period if it still runs.
  kill(cs, graceSeconds) {
    if (!cs.running || cs.killing) return;
    cs.killing = true;
    this.runtime.signal(cs.spec.name, graceSeconds > 0 ? 15 : 9);
    if (graceSeconds > 0) {
      cs.killTimer = setTimeout(() => { if (cs.running) this.runtime.signal(cs.spec.name, 9); }, graceSeconds * 1000);
    }
  }

  readMessage(cs, exitCode) {
    let msg = '';
    try {
      const fd = fs.openSync(cs.msgFile, 'r');
      const buf = Buffer.alloc(MSG_MAX);
      const n = fs.readSync(fd, buf, 0, MSG_MAX, 0);
      fs.closeSync(fd);
      msg = buf.subarray(0, n).toString('utf8');
    } catch { /* no file */ }
    if (!msg && exitCode !== 0 && cs.spec.terminationMessagePolicy === 'FallbackToLogsOnError') msg = logTail(cs.logFile);
    return msg;
  }

  onExited(ev) {
    const cs = this.containers.get(ev.id);
    if (!cs) return;
    const code = ev.exit_code;
    const message = this.readMessage(cs, code);
    const term = {
      exitCode: code, reason: ev.oom_killed ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error',
      ...(ev.signal ? { signal: ev.signal } : {}),
      ...(message ? { message } : {}),
      startedAt: ev.started_at, finishedAt: ev.finished_at, containerID: cs.containerID,
    };
    this.finishRun(cs, term);
  }

  onFailed(ev) {
    const cs = this.containers.get(ev.id);
    if (!cs) return;
    const now = isoNow();
    this.event('Warning', 'Failed', `Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${ev.message}: unknown`);
    this.finishRun(cs, {
      exitCode: 128, reason: 'StartError',
      message: `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${ev.message}: unknown`,
      startedAt: '1970-01-01T00:00:00Z', finishedAt: now, containerID: cs.containerID,
    });
  }

  finishRun(cs, term) {
    cs.starting = false;
    cs.running = false;
    cs.killing = false;
    clearTimeout(cs.killTimer);
    cs.ready = false;
    cs.started = false;
    this.stopProbes(cs);
    cs.state = { terminated: term };
    if (this.deleting || this.closed) {
      this.touch();
      this.maybeFinishKill();
      return;
    }
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    const failed = term.exitCode !== 0;
    const restart = cs.init ? failed && policy !== 'Never' : policy === 'Always' || (policy === 'OnFailure' && failed);
    if (!restart) {
      cs.done = !cs.init || !failed;
      if (cs.init && failed) this.terminate('Failed');
      this.settle();
      return;
    }
    this.restartLater(cs, Date.parse(term.finishedAt) || Date.now());
  }

  // kubelet's back-off: the first restart is immediate; a crash within the current back-off
  // (10 s, doubling up to 5 min) waits in CrashLoopBackOff.
  restartLater(cs, finishedAt) {
    if (cs.backoffMs && Date.now() - cs.backoffAt > 2 * MAX_BACKOFF_MS) cs.backoffMs = 0;
    const last = cs.state.terminated;
    const restart = () => {
      cs.timer = null;
      cs.backoffMs = cs.backoffMs ? Math.min(cs.backoffMs * 2, MAX_BACKOFF_MS) : this.agent.crashBackoffMs;
      cs.backoffAt = Date.now();
      cs.lastState = { terminated: last };
      cs.state = { waiting: { reason: 'ContainerCreating' } };
      cs.restartCount++;
      this.advance();
    };
    const left = cs.backoffMs ? finishedAt + cs.backoffMs - Date.now() : 0;
    if (left <= 0) {
      restart();
      return;
    }
    const podRef = `${this.name}_${this.ns}(${this.uid})`;
    cs.lastState = { terminated: last };
    this.setWaiting(cs, 'CrashLoopBackOff', `back-off ${fmtDuration(cs.backoffMs)} restarting failed container=${cs.spec.name} pod=${podRef}`);
    this.event('Warning', 'BackOff', `Back-off restarting failed container ${cs.spec.name} in pod ${podRef}`);
    cs.timer = setTimeout(restart, left);
  }

  // After a container stopped for good: the pod is finished once no container runs or will
  // run again.
  settle() {
    const regular = [...this.containers.values()].filter((cs) => !cs.init);
    if (this.phase === 'Failed') return;
    if (regular.every((cs) => cs.done)) {
      const ok = regular.every((cs) => cs.state.terminated?.exitCode === 0);
      this.terminate(ok ? 'Succeeded' : 'Failed');
      return;
    }
    this.advance();
  }

  terminate(phase, reason, message) {
    this.phase = phase;
    this.reason = reason;
    this.message = message;
    for (const cs of this.containers.values()) {
      clearTimeout(cs.timer);
      cs.timer = null;
      this.stopProbes(cs);
    }
    clearTimeout(this.deadlineTimer);
    this.touch();
    if ([...this.containers.values()].every((cs) => !cs.running)) this.stopSandbox();
  }

  deadlineExceeded() {
    if (this.deleting || this.phase === 'Succeeded' || this.phase === 'Failed') return;
    this.event('Normal', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline');
    for (const cs of this.containers.values()) this.kill(cs, this.pod.spec.terminationGracePeriodSeconds ?? 30);
    this.terminate('Failed', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline');
  }

  async stopSandbox() {
    if (!this.runtime || this.sandboxStopping) return;
    this.sandboxStopping = true;
    await this.runtime.shutdown();
    if (!this.pod.spec.hostNetwork) this.agent.pods.release(this.uid);
  }

  onRuntimeGone() {
    // pod_runner died (killed from outside): its containers died with it.
    for (const cs of this.containers.values()) {
      if (cs.running || cs.starting) {
        this.finishRun(cs, {
          exitCode: 137, reason: 'Error', message: 'the pod runner exited',
          startedAt: cs.state.running?.startedAt ?? isoNow(), finishedAt: isoNow(), containerID: cs.containerID,
        });
      }
    }
    if (!this.deleting && !this.sandboxStopping && this.phase !== 'Succeeded' && this.phase !== 'Failed') {
      this.terminate('Failed', 'PodRunnerExited', 'the pod runner exited');
    }
  }

  // ---- deletion ----

  update(pod) {
    this.pod = pod;
    if (pod.metadata.deletionTimestamp && !this.deleting) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
      this.beginKill(grace);
    }
  }

  beginKill(graceSeconds) {
    this.deleting = true;
    clearTimeout(this.deadlineTimer);
    for (const cs of this.containers.values()) {
      clearTimeout(cs.timer);
      cs.timer = null;
      this.stopProbes(cs);
      if (cs.running) {
        this.event('Normal', 'Killing', `Stopping container ${cs.spec.name}`);
        this.kill(cs, graceSeconds);
      }
    }
    this.maybeFinishKill();
  }

  // The object is gone from the API server (force deletion): stop quickly.
  vanished() {
    this.gone = true;
    if (!this.deleting) this.beginKill(Math.min(this.pod.spec.terminationGracePeriodSeconds ?? 30, 2));
    else this.maybeFinishKill();
  }

  async maybeFinishKill() {
    if (this.finishing || [...this.containers.values()].some((cs) => cs.running || cs.starting)) return;
    this.finishing = true;
    // A deleted pod ends in a terminal phase from its containers' exit codes (kubelet's
    // getPhase with podIsTerminal); one whose containers never ran stays as it was.
    const regular = [...this.containers.values()].filter((cs) => !cs.init);
    if (this.phase !== 'Succeeded' && this.phase !== 'Failed' && regular.every((cs) => cs.state.terminated)) {
      this.phase = regular.every((cs) => cs.state.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
    }
    try {
      if (!this.gone) {
        await this.flushStatus();
        await this.agent.client.delete(`/api/v1/namespaces/${this.ns}/pods/${this.name}`, {
          apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: this.uid },
        });
      }
    } catch (e) {
      if (e.code !== 404 && e.code !== 409) this.log(`final delete: ${e.message}`);
    }
    await this.close();
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.statusTimer);
    clearTimeout(this.deadlineTimer);
    for (const t of this.timers) clearTimeout(t);
    for (const cs of this.containers.values()) {
      clearTimeout(cs.timer);
      clearTimeout(cs.killTimer);
      this.stopProbes(cs);
    }
    if (this.runtime) await this.runtime.shutdown();
    if (!this.pod.spec.hostNetwork) this.agent.pods.release(this.uid);
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.agent.forget(this);
  }

  // Kills everything at once (the agent is shutting down).
  async abort() {
    this.deleting = true;
    this.gone = true;
    for (const cs of this.containers.values()) if (cs.running) this.runtime.signal(cs.spec.name, 9);
    await this.close();
  }

  // ---- status ----

  touch() {
    if (this.statusTimer || this.closed) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      this.flushStatus().catch((e) => { this.log(`status: ${e.message}`); this.touch(); });
    }, 10);
  }

  containerStatus(cs) {
    return {
      name: cs.spec.name, state: cs.state, lastState: cs.lastState ?? {}, ready: cs.ready,
      restartCount: cs.restartCount, image: cs.spec.image, imageID: cs.image?.id ?? '',
      ...(cs.containerID ? { containerID: cs.containerID } : {}),
      started: cs.running && cs.started,
    };
  }

  buildStatus() {
    const all = [...this.containers.values()];
    const init = all.filter((cs) => cs.init);
    const regular = all.filter((cs) => !cs.init);
    const now = isoNow();
    const terminal = this.phase === 'Succeeded' || this.phase === 'Failed';
    const unready = regular.filter((cs) => !cs.ready).map((cs) => cs.spec.name);
    const uninit = init.filter((cs) => !cs.done).map((cs) => cs.spec.name);
    let conds = this.conds;
    const set = (type, ok, reason, message) => {
      conds = setCondition(conds, { type, status: ok ? 'True' : 'False', lastProbeTime: null, ...(reason ? { reason } : {}), ...(message ? { message } : {}) }, now);
    };
    set('PodReadyToStartContainers', this.sandbox && !this.sandboxStopping);
    set('Initialized', uninit.length === 0, uninit.length ? 'ContainersNotInitialized' : undefined,
      uninit.length ? `containers with incomplete status: [${uninit.join(' ')}]` : undefined);
    const ready = !terminal && unready.length === 0;
    const why = terminal ? 'PodCompleted' : unready.length ? 'ContainersNotReady' : undefined;
    const what = !terminal && unready.length ? `containers with unready status: [${unready.join(' ')}]` : undefined;
    set('Ready', ready, why, what);
    set('ContainersReady', ready, why, what);
    // A pod on this node has been scheduled, whatever an older copy of its status said (the
    // scheduler's Unschedulable from before the binding must not come back).
    set('PodScheduled', true);
    this.conds = conds;
    return {
      phase: this.phaseNow(),
      conditions: conds,
      ...(this.reason ? { reason: this.reason, message: this.message } : {}),
      hostIP: this.agent.hostIP, hostIPs: [{ ip: this.agent.hostIP }],
      ...(this.ip ? { podIP: this.ip, podIPs: [{ ip: this.ip }] } : {}),
      startTime: this.startTime,
      qosClass: qosClass(this.pod),
      ...(init.length ? { initContainerStatuses: init.map((cs) => this.containerStatus(cs)) } : {}),
      containerStatuses: regular.map((cs) => this.containerStatus(cs)),
    };
  }

  // Pod phase from the containers, as kubelet's getPhase.
  phaseNow() {
    if (this.phase === 'Succeeded' || this.phase === 'Failed') return this.phase;
    const all = [...this.containers.values()];
    if (all.some((cs) => cs.init && !cs.done)) return 'Pending';
    const regular = all.filter((cs) => !cs.init);
    if (regular.some((cs) => cs.state.waiting && !cs.lastState?.terminated)) return 'Pending';
    return regular.some((cs) => cs.running) || regular.some((cs) => !cs.done) ? 'Running' : 'Pending';
  }

  // One status write at a time, each built when its turn comes: two writes in flight could land
  // out of order (on separate connections), and an older Running would overwrite a Succeeded
  // that a controller had already acted on.
  flushStatus() {
    clearTimeout(this.statusTimer);
    this.statusTimer = null;
    const send = async () => {
      if (this.gone) return;
      const status = this.buildStatus();
      if (this.lastSent && sameJson(this.lastSent, status)) return;
      this.lastSent = status;
      await this.agent.client.mergePatch(`/api/v1/namespaces/${this.ns}/pods/${this.name}/status`, { status });
    };
    const turn = (this.statusChain ?? Promise.resolve()).then(send, send);
    this.statusChain = turn.catch(() => {});
    return turn;
  }
}
