// SPDX-License-Identifier: Apache-2.0
// The `/_test/` endpoints (admin only, never under /api): fault injection (429/500 with
// Retry-After, 409 on updates, delays, dropped watches, restart, history compaction, a SIGKILL
// of a client after its k-th request is applied but before the answer), authorization deny
// rules, extra tokens, and the request log with per-user counters.
import crypto from 'node:crypto';
import { conflict, internalError, tooManyRequests, ApiError } from './errors.mjs';

const LOG_LIMIT = 200000;

function matches(rule, info) {
    if (rule.verb && rule.verb !== info.verb && !(rule.verb === 'write' && info.write)) return false;
    if (rule.user && rule.user !== info.user) return false;
    if (rule.userAgent && !(info.userAgent || '').startsWith(rule.userAgent)) return false;
    if (rule.resource && rule.resource !== info.resource) return false;
    if (rule.path && !new RegExp(rule.path).test(info.path)) return false;
    return true;
}

export class TestHooks {
    constructor() {
        this.faults = []; // {code, count, retryAfter, verb, path, user, resource, userAgent}
        this.delays = []; // {ms, count, ...match}
        this.kills = []; // {pid, after, signal, seen, ...match}
        this.log = [];
        this.counters = new Map(); // user -> {total, verbs: {}}
        this.seq = 0;
    }

    // Called before a request is served; returns a delay in ms and throws injected errors.
    before(info) {
        let delay = 0;
        for (const d of this.delays) {
            if (d.count === 0 || !matches(d, info)) continue;
            delay += d.ms;
            if (d.count > 0) d.count--;
        }
        this.delays = this.delays.filter((d) => d.count !== 0);
        for (const k of this.kills) {
            if (!matches(k, info)) continue;
            k.seen++;
            if (k.seen === k.after) info.kill = k;
        }
        this.kills = this.kills.filter((k) => k.seen < k.after);
        for (const f of this.faults) {
            if (f.count === 0 || !matches(f, info)) continue;
            if (f.code === 409 && !['update', 'patch'].includes(info.verb)) continue;
            f.count--;
            info.injected = f.code;
            this.faults = this.faults.filter((x) => x.count !== 0);
            return { delay, error: this.faultError(f, info) };
        }
        return { delay };
    }

    faultError(f, info) {
        if (f.code === 429) return tooManyRequests(f.retryAfter ?? 1);
        if (f.code === 409) {
            return conflict(info.rdef || { plural: info.resource || 'objects', group: '' }, info.name || '');
        }
        if (f.code === 500) return internalError('injected fault', f.retryAfter);
        return new ApiError(f.code, 'ServiceUnavailable', 'injected fault', undefined,
            f.retryAfter ? { 'Retry-After': String(f.retryAfter) } : undefined);
    }

    record(info, code) {
        const entry = { seq: ++this.seq, time: new Date().toISOString(), user: info.user,
            userAgent: info.userAgent, verb: info.verb, method: info.method, path: info.path,
            code, ms: Date.now() - info.started };
        if (info.warnings?.length) entry.warnings = info.warnings;
        if (info.injected) entry.injected = info.injected;
        this.log.push(entry);
        if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
        let c = this.counters.get(info.user);
        if (!c) {
            c = { total: 0, verbs: {} };
            this.counters.set(info.user, c);
        }
        c.total++;
        c.verbs[info.verb] = (c.verbs[info.verb] || 0) + 1;
    }

    // Routes /_test/...; `server` gives access to the store, watches and auth.
    async handle(method, sub, body, q, server) {
        const ok = (extra) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', ...extra });
        switch (`${method} ${sub}`) {
        case 'POST faults':
            this.faults.push({ code: body.code ?? 500, count: body.count ?? 1, retryAfter: body.retryAfter,
                verb: body.verb, path: body.path, user: body.user, resource: body.resource,
                userAgent: body.userAgent });
            return ok();
        case 'DELETE faults':
            this.faults = [];
            this.delays = [];
            this.kills = [];
            return ok();
        case 'POST delay':
            this.delays.push({ ms: body.ms ?? 1000, count: body.count ?? -1, verb: body.verb,
                path: body.path, user: body.user, resource: body.resource, userAgent: body.userAgent });
            return ok();
        case 'POST kill':
            this.kills.push({ pid: body.pid, after: body.after ?? 1, signal: body.signal || 'SIGKILL',
                seen: 0, user: body.user, userAgent: body.userAgent, verb: body.verb,
                resource: body.resource, path: body.path });
            return ok();
        case 'POST drop-watches':
            return ok({ details: { dropped: server.dropWatches(body.mode === 'reset') } });
        case 'POST bookmark':
            return ok({ details: { sent: server.bookmarkAll() } });
        case 'POST compact':
            server.store.compact();
            return ok({ details: { resourceVersion: String(server.store.rv) } });
        case 'POST restart':
            setTimeout(() => server.restart(), 50);
            return ok({ details: { pid: process.pid } });
        case 'GET policy':
            return { deny: server.auth.deny, mode: server.auth.mode };
        case 'PUT policy':
            server.auth.deny = body.deny || [];
            if (body.mode) server.auth.mode = body.mode;
            return { deny: server.auth.deny, mode: server.auth.mode };
        case 'POST tokens': {
            const token = body.token || crypto.randomBytes(16).toString('hex');
            server.auth.addToken(token, body.user, body.groups || []);
            return { token, user: body.user, groups: body.groups || [] };
        }
        case 'GET requests': {
            const since = Number(q.get('since') || 0);
            const user = q.get('user');
            return { items: this.log.filter((e) => e.seq > since && (!user || e.user === user)) };
        }
        case 'GET counters':
            return Object.fromEntries(this.counters);
        case 'DELETE requests':
        case 'DELETE counters':
            this.log = [];
            this.counters.clear();
            return ok();
        case 'GET stats':
            return { pid: process.pid, resourceVersion: String(server.store.rv),
                compacted: String(server.store.compacted),
                watches: server.store.allWatchers().length, history: server.store.history.length,
                objects: [...server.store.tables.values()].reduce((n, t) => n + t.objs.size, 0) };
        default:
            return undefined;
        }
    }
}
