// SPDX-License-Identifier: Apache-2.0
// Test helper: starts the fake API server in a temporary folder and talks to it over HTTPS as the
// admin (raw requests that return status, headers and parsed body; chunked watch streams).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const mainScript = path.join(here, '..', 'apiserver', 'main.mjs');

export async function waitFor(fn, what, timeoutMs = 60000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

export async function startApiServer(args = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-kube-'));
    const log = fs.openSync(path.join(dir, 'apiserver.log'), 'w');
    const state = path.join(dir, 'cluster');
    const child = spawn(process.execPath, [mainScript, '--dir', state, ...args],
        { stdio: ['ignore', log, log] });
    const ready = path.join(state, 'apiserver.ready');
    await waitFor(() => fs.existsSync(ready) || child.exitCode !== null, 'the API server');
    if (child.exitCode !== null) throw new Error(fs.readFileSync(path.join(dir, 'apiserver.log'), 'utf8'));
    const c = new Cluster(dir, state, child);
    c.url = fs.readFileSync(ready, 'utf8').trim();
    return c;
}

export class Cluster {
    constructor(dir, state, child) {
        this.dir = dir;
        this.state = state;
        this.child = child;
        this.kubeconfig = path.join(state, 'kubeconfig');
        this.ca = fs.readFileSync(path.join(state, 'pki', 'ca.crt'));
        this.token = fs.readFileSync(path.join(state, 'tokens.csv'), 'utf8').split(',')[0];
        this.agent = new https.Agent({ ca: this.ca, keepAlive: true });
    }

    // {status, headers, body (parsed JSON when it is JSON), text}.
    request(method, p, body, headers = {}) {
        return new Promise((resolve, reject) => {
            const u = new URL(this.url + p);
            const data = body === undefined ? undefined :
                typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
            const req = https.request({ host: u.hostname, port: u.port, path: u.pathname + u.search,
                method, agent: this.agent,
                headers: { Authorization: `Bearer ${this.token}`,
                    ...(data !== undefined ? { 'Content-Type': 'application/json',
                        'Content-Length': Buffer.byteLength(data) } : {}), ...headers } }, (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => {
                    const text = Buffer.concat(chunks).toString();
                    let parsed;
                    try {
                        parsed = JSON.parse(text);
                    } catch {
                        parsed = undefined;
                    }
                    resolve({ status: res.statusCode, headers: res.headers, body: parsed, text });
                });
            });
            req.on('error', reject);
            if (data !== undefined) req.write(data);
            req.end();
        });
    }

    // A watch stream: events arrive in `events`; `next(pred)` waits for a matching one.
    watch(p, headers = {}) {
        const w = { events: [], raw: [], closed: false, waiters: [] };
        const u = new URL(this.url + p);
        const req = https.request({ host: u.hostname, port: u.port, path: u.pathname + u.search,
            agent: new https.Agent({ ca: this.ca }), headers: { Authorization: `Bearer ${this.token}`, ...headers } }, (res) => {
            w.status = res.statusCode;
            w.headers = res.headers;
            let buf = '';
            res.on('data', (c) => {
                w.raw.push(c.toString());
                buf += c.toString();
                let i;
                while ((i = buf.indexOf('\n')) >= 0) {
                    const line = buf.slice(0, i);
                    buf = buf.slice(i + 1);
                    if (line) w.events.push(JSON.parse(line));
                }
                w.waiters.forEach((f) => f());
            });
            res.on('end', () => {
                w.closed = true;
                w.waiters.forEach((f) => f());
            });
            res.on('error', () => {
                w.closed = true;
            });
        });
        req.on('error', () => {
            w.closed = true;
        });
        req.end();
        w.req = req;
        w.next = (pred, what = 'a watch event') => waitFor(() => w.events.find(pred), what);
        w.close = () => req.destroy();
        return w;
    }

    // Restarts the server process (POST /_test/restart) and waits for the new one.
    async restart() {
        const before = (await this.request('POST', '/_test/restart', {})).body.details.pid;
        await waitFor(async () => {
            try {
                const r = await this.request('GET', '/_test/stats');
                return r.status === 200 && r.body.pid !== before;
            } catch {
                return false;
            }
        }, 'the restarted API server');
    }

    stop() {
        return new Promise((resolve) => {
            if (this.child.exitCode !== null) {
                resolve();
                return;
            }
            this.child.on('exit', () => resolve());
            this.child.kill('SIGTERM');
        }).then(() => {
            this.agent.destroy();
            fs.rmSync(this.dir, { recursive: true, force: true });
        });
    }
}
