// SPDX-License-Identifier: Apache-2.0
// A small Kubernetes REST client for the controllers: kubeconfig, JSON requests with retries on
// connection errors, 429 and 5xx (honouring Retry-After), and watch streams.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';

export class ApiError extends Error {
  constructor(code, status, method, urlPath) {
    const msg = status?.message ?? `HTTP ${code}`;
    super(`${method} ${urlPath}: ${code} ${status?.reason ?? ''}: ${msg}`);
    this.code = code;
    this.reason = status?.reason ?? '';
    this.status = status;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const RETRY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

async function loadYaml(text) {
  try {
    return JSON.parse(text);
  } catch {
    const { parse } = await import('yaml');
    return parse(text);
  }
}

function dataOrFile(data, file, base) {
  if (data) return Buffer.from(data, 'base64');
  if (file) return fs.readFileSync(path.resolve(base, file));
  return undefined;
}

// Reads a kubeconfig: the named context (else the current one) as client options.
export async function loadKubeconfig(file, context) {
  const cfg = await loadYaml(fs.readFileSync(file, 'utf8'));
  const base = path.dirname(file);
  const ctxName = context ?? cfg['current-context'];
  const ctx = (cfg.contexts ?? []).find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${file}: no context '${ctxName}'`);
  const cluster = (cfg.clusters ?? []).find((c) => c.name === ctx.cluster)?.cluster;
  const user = (cfg.users ?? []).find((u) => u.name === ctx.user)?.user ?? {};
  if (!cluster) throw new Error(`${file}: context '${ctxName}' names no known cluster`);
  return {
    server: cluster.server,
    ca: dataOrFile(cluster['certificate-authority-data'], cluster['certificate-authority'], base),
    insecure: Boolean(cluster['insecure-skip-tls-verify']),
    token: user.token ?? (user.tokenFile ? fs.readFileSync(path.resolve(base, user.tokenFile), 'utf8').trim() : undefined),
    cert: dataOrFile(user['client-certificate-data'], user['client-certificate'], base),
    key: dataOrFile(user['client-key-data'], user['client-key'], base),
  };
}

export class Client {
  constructor(opts, log = () => {}) {
    this.url = new URL(opts.server);
    this.token = opts.token;
    this.log = log;
    const mod = this.url.protocol === 'https:' ? https : http;
    this.mod = mod;
    this.agent = new mod.Agent({
      keepAlive: true, maxSockets: 64, ca: opts.ca, cert: opts.cert, key: opts.key,
      rejectUnauthorized: !opts.insecure,
    });
    this.closed = false;
  }

  headers(extra = {}) {
    const h = { Accept: 'application/json', 'User-Agent': 'morphling-test-controllers/0.1', ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  // One HTTP exchange: resolves { code, headers, body } (body parsed when JSON).
  once(method, urlPath, body, contentType, timeoutMs) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = this.mod.request({
        method, agent: this.agent, hostname: this.url.hostname, port: this.url.port,
        path: urlPath,
        headers: this.headers(data ? { 'Content-Type': contentType, 'Content-Length': data.length } : {}),
        timeout: timeoutMs,
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try { parsed = text ? JSON.parse(text) : null; } catch { /* plain text */ }
          resolve({ code: res.statusCode, headers: res.headers, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(data);
    });
  }

  // A JSON request, retried on connection errors (for up to a minute: the API server may be
  // restarting), 429 and 5xx. Throws ApiError for other failures.
  async request(method, urlPath, { body, contentType = 'application/json', timeoutMs = 30000 } = {}) {
    const deadline = Date.now() + 60000;
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await this.once(method, urlPath, body, contentType, timeoutMs);
      } catch (e) {
        if (this.closed || !RETRY_CODES.has(e.code) || Date.now() > deadline) throw e;
        await sleep(Math.min(50 * 2 ** attempt, 1000));
        continue;
      }
      if (res.code < 300) return res.body;
      if ((res.code === 429 || res.code >= 500) && Date.now() < deadline && !this.closed) {
        const after = Number(res.headers['retry-after']);
        await sleep(Number.isFinite(after) && after > 0 ? Math.min(after, 10) * 1000 : Math.min(50 * 2 ** attempt, 1000));
        continue;
      }
      throw new ApiError(res.code, typeof res.body === 'object' ? res.body : { message: String(res.body) }, method, urlPath);
    }
  }

  get(p) { return this.request('GET', p); }
  create(p, obj) { return this.request('POST', p, { body: obj }); }
  replace(p, obj) { return this.request('PUT', p, { body: obj }); }
  mergePatch(p, patch) { return this.request('PATCH', p, { body: patch, contentType: 'application/merge-patch+json' }); }
  strategicPatch(p, patch) { return this.request('PATCH', p, { body: patch, contentType: 'application/strategic-merge-patch+json' }); }
  delete(p, opts) { return this.request('DELETE', p, { body: opts }); }

  // Streams a watch; calls onEvent(event) per line. Resolves with the last HTTP code when the
  // server ends the stream (200 for a normal close); rejects on connection errors. handle.abort
  // ends it early.
  watch(urlPath, onEvent, handle = {}) {
    return new Promise((resolve, reject) => {
      const req = this.mod.request({
        method: 'GET', agent: this.agent, hostname: this.url.hostname, port: this.url.port,
        path: urlPath, headers: this.headers(),
      }, (res) => {
        if (res.statusCode !== 200) {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(res.statusCode));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          buf += chunk;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line) {
              try { onEvent(JSON.parse(line)); } catch (e) { this.log(`watch ${urlPath}: ${e.stack ?? e}`); }
            }
          }
        });
        res.on('end', () => resolve(200));
        res.on('error', reject);
        res.on('aborted', () => resolve(200));
      });
      req.on('error', (e) => (handle.aborted ? resolve(0) : reject(e)));
      req.end();
      handle.abort = () => { handle.aborted = true; req.destroy(); };
    });
  }

  close() {
    this.closed = true;
    this.agent.destroy();
  }
}
