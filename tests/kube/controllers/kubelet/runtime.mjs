// SPDX-License-Identifier: Apache-2.0
// One pod_runner process (tests/kube/pod_runner.c) per pod: JSON-line commands in, container
// lifecycle events out.

import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';

const STATS_WAIT_MS = 3000;

export class PodRuntime extends EventEmitter {
  // opts: { binary, pod (cgroup-safe pod id), cgroupParent, stateDir, log }
  constructor(opts) {
    super();
    this.log = opts.log;
    this.seq = 0;
    this.pendingExec = new Map();
    this.pendingStats = new Map();
    this.proc = spawn(opts.binary, ['--pod', opts.pod, '--cgroup-parent', opts.cgroupParent, '--state-dir', opts.stateDir], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? 'detect_leaks=1' },
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => {
      this.dead = true;
      for (const r of this.pendingExec.values()) r({ error: 'pod_runner exited' });
      this.pendingExec.clear();
      for (const waiters of this.pendingStats.values()) for (const r of waiters) r(null);
      this.pendingStats.clear();
      this.emit('gone', code, sig);
      resolve({ code, sig });
    }));
    this.ready = new Promise((resolve, reject) => {
      this.once('ready', resolve);
      this.proc.on('error', reject);
      this.once('gone', (code) => reject(new Error(`pod_runner exited with ${code} before it was ready`)));
    });
    this.ready.catch(() => {});
    this.proc.stdin.on('error', () => {});
    let buf = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.dispatch(line);
      }
    });
    let errbuf = '';
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (c) => {
      errbuf += c;
      const lines = errbuf.split('\n');
      errbuf = lines.pop();
      for (const l of lines) if (l) this.log(`pod_runner ${opts.pod}: ${l}`);
    });
  }

  dispatch(line) {
    let ev;
    try { ev = JSON.parse(line); } catch { this.log(`pod_runner: bad line ${line}`); return; }
    if (ev.event === 'exec') {
      const r = this.pendingExec.get(ev.id);
      this.pendingExec.delete(ev.id);
      r?.(ev);
    } else if (ev.event === 'stats') {
      const waiters = this.pendingStats.get(ev.id) ?? [];
      this.pendingStats.delete(ev.id);
      for (const r of waiters) r(ev);
    } else if (ev.event === 'error') {
      this.log(`pod_runner: ${ev.id ?? ''}: ${ev.message}`);
      this.emit('refused', ev); // ('error' would be special to an EventEmitter)
    } else {
      this.emit(ev.event, ev);
    }
  }

  send(cmd) {
    if (this.dead) return false;
    this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    return true;
  }

  start(spec) { return this.send({ op: 'start', ...spec }); }
  signal(id, signal) { return this.send({ op: 'signal', id, signal }); }

  exec(container, argv, timeoutMs) {
    const id = `x${++this.seq}`;
    return new Promise((resolve) => {
      if (!this.send({ op: 'exec', id, container, argv, timeout_ms: timeoutMs })) {
        resolve({ error: 'pod_runner is gone' });
        return;
      }
      this.pendingExec.set(id, resolve);
    });
  }

  // Usage of the running containers: { id: { cpu_seconds, memory_bytes } }. A container whose
  // runner does not answer within STATS_WAIT_MS is left out (a busy test machine: 1 s was too
  // short beside three clusters on two cores, and a trial then read "no pod metrics yet").
  // Callers may overlap (two trials read metrics.k8s.io at once): each waits for the next answer
  // about a container, and one answer serves all of them (with one waiter per container, the
  // later caller's waiter replaced the earlier one's, which then got nothing).
  async stats(ids) {
    const out = {};
    const waits = ids.map((id) => new Promise((resolve) => {
      const waiters = this.pendingStats.get(id) ?? new Set();
      this.pendingStats.set(id, waiters);
      const done = (ev) => { clearTimeout(t); waiters.delete(done); if (ev) out[id] = ev; resolve(); };
      const t = setTimeout(() => done(null), STATS_WAIT_MS);
      waiters.add(done);
    }));
    this.send({ op: 'stats' });
    await Promise.all(waits);
    return out;
  }

  async shutdown() {
    this.send({ op: 'shutdown' });
    this.proc.stdin.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 30000);
    await this.exited;
    clearTimeout(t);
  }
}
