// SPDX-License-Identifier: Apache-2.0
// Container probes (httpGet, tcpSocket, exec) with Kubernetes' timing: initialDelaySeconds,
// periodSeconds, timeoutSeconds, successThreshold and failureThreshold; results and messages
// as the kubelet reports them.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

function namedPort(container, port) {
  if (typeof port === 'number' || /^\d+$/.test(String(port))) return Number(port);
  const p = (container.ports ?? []).find((x) => x.name === port);
  if (!p) throw new Error(`unknown port name "${port}"`);
  return p.containerPort;
}

function dialError(host, port, e) {
  const why = e.code === 'ECONNREFUSED' ? 'connect: connection refused'
    : e.code === 'ETIMEDOUT' ? 'i/o timeout' : e.message;
  return `dial tcp ${host}:${port}: ${why}`;
}

function httpProbe(spec, container, podIP, timeoutMs) {
  const g = spec.httpGet;
  const host = g.host || podIP;
  const port = namedPort(container, g.port);
  const scheme = (g.scheme ?? 'HTTP').toLowerCase();
  const url = `${scheme}://${host}:${port}${g.path ?? '/'}`;
  const headers = { 'User-Agent': 'kube-probe/1.32', Accept: '*/*' };
  for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
  return new Promise((resolve) => {
    const mod = scheme === 'https' ? https : http;
    const req = mod.get(url, { headers, timeout: timeoutMs, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        const ok = res.statusCode >= 200 && res.statusCode < 400;
        resolve({ ok, message: ok ? '' : `HTTP probe failed with statuscode: ${res.statusCode}` });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'PROBE_TIMEOUT' })));
    req.on('error', (e) => resolve({
      ok: false,
      message: e.code === 'PROBE_TIMEOUT'
        ? `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`
        : `Get "${url}": ${dialError(host, port, e)}`,
    }));
  });
}

function tcpProbe(spec, container, podIP, timeoutMs) {
  const host = spec.tcpSocket.host || podIP;
  const port = namedPort(container, spec.tcpSocket.port);
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => { s.destroy(); resolve({ ok: false, message: dialError(host, port, { code: 'ETIMEDOUT' }) }); }, timeoutMs);
    s.on('connect', () => { clearTimeout(t); s.destroy(); resolve({ ok: true }); });
    s.on('error', (e) => { clearTimeout(t); resolve({ ok: false, message: dialError(host, port, e) }); });
  });
}

async function execProbe(spec, container, runtime, timeoutMs) {
  const argv = spec.exec.command ?? [];
  const r = await runtime.exec(container.name, argv, timeoutMs);
  if (r.error) return { ok: false, message: r.error };
  if (r.timed_out) return { ok: false, message: `command "${argv.join(' ')}" timed out` };
  return { ok: r.exit_code === 0, message: r.output ?? '' };
}

export function runProbe(spec, container, podIP, runtime) {
  const timeoutMs = (spec.timeoutSeconds ?? 1) * 1000;
  try {
    if (spec.httpGet) return httpProbe(spec, container, podIP, timeoutMs);
    if (spec.tcpSocket) return tcpProbe(spec, container, podIP, timeoutMs);
    if (spec.exec) return execProbe(spec, container, runtime, timeoutMs);
  } catch (e) {
    return Promise.resolve({ ok: false, message: e.message });
  }
  return Promise.resolve({ ok: false, message: 'unsupported probe handler (grpc is not simulated)' });
}

// One probe of one running container. onResult(ok, message) is called when the result flips
// (after the thresholds), and onFailure(message) for every failed attempt (for events).
export class Prober {
  constructor({ kind, spec, container, podIP, runtime, onResult, onFailure }) {
    Object.assign(this, { kind, spec, container, podIP, runtime, onResult, onFailure });
    this.successes = 0;
    this.failures = 0;
    this.result = null;
    this.stopped = false;
    const delay = (spec.initialDelaySeconds ?? 0) * 1000;
    this.timer = setTimeout(() => this.tick(), delay);
  }

  async tick() {
    if (this.stopped) return;
    const r = await runProbe(this.spec, this.container, this.podIP, this.runtime);
    if (this.stopped) return;
    if (r.ok) {
      this.failures = 0;
      this.successes++;
      if (this.result !== true && this.successes >= (this.spec.successThreshold ?? 1)) this.set(true, '');
    } else {
      this.successes = 0;
      this.failures++;
      this.onFailure(r.message);
      if (this.result !== false && this.failures >= (this.spec.failureThreshold ?? 3)) this.set(false, r.message);
    }
    if (!this.stopped) this.timer = setTimeout(() => this.tick(), (this.spec.periodSeconds ?? 10) * 1000);
  }

  set(ok, message) {
    this.result = ok;
    this.onResult(ok, message);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
