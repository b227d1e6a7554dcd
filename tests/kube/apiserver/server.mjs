// SPDX-License-Identifier: Apache-2.0
// The HTTP face of the fake API server: authentication and authorization of every request,
// path routing (/api, /apis, /version, /openapi/v2, /openapi/v3, /healthz, /_test/), the REST
// verbs with their query parameters, content negotiation (JSON, Table, PartialObjectMetadata), the three patch
// types plus server-side apply, watch streams, and Status bodies on every error.
import crypto from 'node:crypto';
import YAML from 'yaml';
import { ApiError, badRequest, invalid, cause, gone, methodNotAllowed, notFound, pathNotFound,
    unsupportedMediaType } from './errors.mjs';
import { serverSideApply } from './apply.mjs';
import { VERSION, openapiV3, openapiV3Root } from './discovery.mjs';
import { PROTOBUF_TYPES, openapiV2, openapiV2Protobuf } from './openapiv2.mjs';
import { jsonPatch, mergePatch, strategicMerge } from './patch.mjs';
import { fieldSupported, parseFieldSelector, parseLabelSelector, labelSelectorRequirements, matchLabels }
    from './selectors.mjs';
import { decodeProtobuf } from './protobuf.mjs';
import { partialObject, toTable } from './tables.mjs';
import { clone, isObject, now } from './util.mjs';
import { Watch } from './watch.mjs';

const MAX_BODY = 3 * 1024 * 1024;
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json',
    'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];

function readBody(req, raw) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        req.on('data', (c) => {
            size += c.length;
            if (size > MAX_BODY) {
                reject(new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => {
            const buf = Buffer.concat(chunks);
            resolve(raw ? buf : buf.toString('utf8'));
        });
        req.on('error', reject);
    });
}

function parseBody(text, contentType) {
    if (!text.trim()) throw badRequest('the body of the request is empty');
    const yamlish = /yaml/.test(contentType);
    try {
        if (!yamlish) return JSON.parse(text);
        const doc = YAML.parse(text, { maxAliasCount: 100, version: '1.2' });
        return doc;
    } catch (e) {
        throw badRequest(`error decoding ${yamlish ? 'YAML' : 'JSON'}: ${e.message}`);
    }
}

// "Table", "metadata" or "json" from the Accept header.
function negotiate(accept) {
    if (!accept) return 'json';
    const types = accept.split(',').map((t) => t.trim());
    for (const t of types) {
        const params = Object.fromEntries(t.split(';').slice(1).map((p) => p.trim().split('=')));
        if (!/^application\/json/.test(t)) continue;
        if (params.as === 'Table' && params.g === 'meta.k8s.io') return 'table';
        if (/^PartialObjectMetadata/.test(params.as || '') && params.g === 'meta.k8s.io') return 'metadata';
        if (!params.as) return 'json';
    }
    if (types.some((t) => /^(application\/json|application\/\*|\*\/\*)/.test(t))) return 'json';
    throw new ApiError(406, 'NotAcceptable', `only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
}

function parsePath(pathname) {
    const seg = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let group;
    let version;
    let rest;
    if (seg[0] === 'api') {
        group = '';
        version = seg[1];
        rest = seg.slice(2);
    } else if (seg[0] === 'apis') {
        group = seg[1];
        version = seg[2];
        rest = seg.slice(3);
    } else return null;
    let watchPath = false;
    if (rest[0] === 'watch') {
        watchPath = true;
        rest = rest.slice(1);
    }
    return { group, version, rest, watchPath };
}

export class ApiServer {
    constructor(ctx) {
        Object.assign(this, ctx); // store, registry, rest, auth, hooks, options, nodes, onRestart
        this.watches = new Set();
        this.openapiCache = new Map();
    }

    handler() {
        return (req, res) => {
            this.serve(req, res).catch((e) => this.fail(req, res, e));
        };
    }

    info(req) {
        if (!req.info) {
            req.info = { started: Date.now(), method: req.method, path: req.url, warnings: [],
                auditId: crypto.randomUUID() };
        }
        return req.info;
    }

    fail(req, res, e) {
        const info = this.info(req);
        if (!(e instanceof ApiError)) {
            process.stderr.write(`apiserver: ${req.method} ${req.url}: ${e.stack || e}\n`);
            e = new ApiError(500, 'InternalError', `Internal error occurred: ${e.message}`);
        }
        if (res.headersSent) {
            res.destroy();
            return;
        }
        this.send(req, res, e.code, e.status(), e.headers);
        if (info.user) this.hooks.record(info, e.code);
    }

    send(req, res, code, obj, headers = {}) {
        const info = this.info(req);
        if (info.kill) {
            try {
                process.kill(info.kill.pid, info.kill.signal);
            } catch {
                // the process is already gone
            }
            res.socket?.destroy();
            return;
        }
        const pretty = req.query?.get('pretty') === 'true';
        const body = typeof obj === 'string' ? obj : JSON.stringify(obj, null, pretty ? 2 : 0);
        const h = { 'Content-Type': typeof obj === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
            'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache, private',
            'Audit-Id': info.auditId, ...headers };
        if (info.warnings.length) {
            h.Warning = info.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
        }
        res.writeHead(code, h);
        res.end(body);
    }

    async serve(req, res) {
        const info = this.info(req);
        const url = new URL(req.url, 'https://apiserver');
        req.query = url.searchParams;
        info.path = url.pathname;
        info.userAgent = req.headers['user-agent'] || '';
        const user = this.auth.authenticate(req);
        info.user = user.name;
        const p = url.pathname.replace(/\/+$/, '') || '/';
        if (['/healthz', '/livez', '/readyz'].includes(p) || p === '/version') {
            info.verb = 'get';
            const body = p === '/version' ? VERSION : 'ok';
            this.send(req, res, 200, body);
            return;
        }
        if (user.name === 'system:anonymous') {
            throw new ApiError(403, 'Forbidden', `forbidden: User "system:anonymous" cannot get path "${p}"`);
        }
        if (p.startsWith('/_test/')) {
            await this.serveTest(req, res, user, p.slice('/_test/'.length));
            return;
        }
        const r = parsePath(p);
        info.verb = this.verbOf(req, r);
        info.write = !['get', 'list', 'watch'].includes(info.verb);
        const loc = r && r.version ? this.locate(r) : null;
        info.resource = loc?.rdef.plural;
        info.rdef = loc?.rdef;
        info.name = loc?.name;
        const hooked = this.hooks.before(info);
        if (hooked.delay) await new Promise((done) => setTimeout(done, hooked.delay));
        if (hooked.error) throw hooked.error;
        if (!r) return this.serveOther(req, res, p);
        if (!r.version) return this.discoveryGroups(req, res, r);
        const code = await this.serveResource(req, res, r, user);
        if (code) this.hooks.record(info, code);
    }

    verbOf(req, r) {
        const m = req.method;
        const named = r && this.locate(r)?.name !== undefined;
        if (m === 'GET') {
            if (req.query.get('watch') === 'true' || req.query.get('watch') === '1' || r?.watchPath) return 'watch';
            return named ? 'get' : 'list';
        }
        return { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: named ? 'delete' : 'deletecollection' }[m] || m.toLowerCase();
    }

    async serveTest(req, res, user, sub) {
        const info = this.info(req);
        info.verb = 'test';
        if (!this.auth.isAdmin(user)) {
            throw new ApiError(403, 'Forbidden', `forbidden: User "${user.name}" cannot use the test endpoints`);
        }
        const text = ['POST', 'PUT'].includes(req.method) ? await readBody(req) : '';
        const body = text.trim() ? parseBody(text, 'application/json') : {};
        const out = await this.hooks.handle(req.method, sub, body, req.query, this);
        if (out === undefined) throw pathNotFound();
        this.send(req, res, 200, out);
    }

    // /openapi/v2 as protobuf when the client asks for it (kubectl does), else as JSON. The
    // protobuf form goes out as application/octet-stream, as kube-apiserver's http.ServeContent
    // sniffs it (Go's mime parser refuses the '@' of the media type the client asks for).
    serveOpenapiV2(req, res) {
        const key = `${this.registry.generation}|v2`;
        if (!this.openapiCache.has(key)) {
            const doc = openapiV2(this.registry);
            this.openapiCache.set(key, { doc, pb: openapiV2Protobuf(doc) });
        }
        const { doc, pb } = this.openapiCache.get(key);
        const accept = (req.headers.accept || '').split(',').map((t) => t.split(';')[0].trim());
        if (!accept.some((t) => PROTOBUF_TYPES.includes(t))) return this.send(req, res, 200, doc);
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': pb.length,
            'Cache-Control': 'no-cache, private', 'Audit-Id': this.info(req).auditId });
        return res.end(pb);
    }

    serveOther(req, res, p) {
        if (p === '/openapi/v2') return this.serveOpenapiV2(req, res);
        if (p === '/openapi/v3') return this.send(req, res, 200, openapiV3Root(this.registry));
        const m = /^\/openapi\/v3\/(api|apis)\/(.+)$/.exec(p);
        if (m) {
            const parts = m[2].split('/');
            const [group, version] = m[1] === 'api' ? ['', parts[0]] : [parts[0], parts[1]];
            const key = `${this.registry.generation}|${group}/${version}`;
            if (!this.openapiCache.has(key)) this.openapiCache.set(key, openapiV3(this.registry, group, version));
            const doc = this.openapiCache.get(key);
            if (!doc) throw pathNotFound();
            return this.send(req, res, 200, doc);
        }
        throw pathNotFound();
    }

    discoveryGroups(req, res, r) {
        if (r.group === '') return this.send(req, res, 200, this.registry.apiVersions());
        if (r.group === undefined) return this.send(req, res, 200, this.registry.apiGroupList());
        const g = this.registry.groupInfo(r.group);
        if (!g) throw pathNotFound();
        return this.send(req, res, 200, g);
    }

    // {rdef, ns, name, sub} of a resource path, or undefined.
    locate(r) {
        if (r.located !== undefined) return r.located;
        const rest = r.rest;
        let ns;
        let plural;
        let name;
        let sub;
        if (rest[0] === 'namespaces' && rest.length >= 3 &&
            this.registry.lookup(r.group, r.version, rest[2])) {
            [, ns, plural, name, sub] = rest;
        } else {
            [plural, name, sub] = rest;
        }
        const rdef = plural && this.registry.lookup(r.group, r.version, plural);
        r.located = rdef ? { rdef, ns, name, sub, extra: rest.length > (ns ? 5 : 3) } : null;
        return r.located;
    }

    async serveResource(req, res, r, user) {
        if (r.rest.length === 0) {
            const list = this.registry.resourceList(r.group, r.version);
            if (!list) throw pathNotFound();
            this.send(req, res, 200, list);
            return 200;
        }
        const loc = this.locate(r);
        if (!loc || loc.extra) throw pathNotFound();
        const { rdef, ns, name, sub } = loc;
        if (sub && !rdef.subresources[sub]) throw pathNotFound();
        if (ns !== undefined && !rdef.namespaced) throw pathNotFound();
        const verb = this.info(req).verb;
        const attrs = { verb, apiGroup: rdef.group, resource: rdef.plural, subresource: sub || '',
            namespace: ns || '', name: name || '' };
        if (!this.auth.allowed(user, attrs)) throw this.auth.forbiddenError(user, attrs, rdef);
        const allowedVerb = sub ? true : rdef.verbs.includes(verb);
        if (!allowedVerb) throw methodNotAllowed();
        const q = req.query;
        const opts = {
            fieldValidation: q.get('fieldValidation') || this.options.fieldValidation || 'Warn', dryRun: q.getAll('dryRun').includes('All'),
            fieldManager: q.get('fieldManager') || undefined, userAgent: this.info(req).userAgent,
            warnings: this.info(req).warnings, user,
        };
        if (!['Strict', 'Warn', 'Ignore'].includes(opts.fieldValidation)) {
            throw badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${opts.fieldValidation}"`);
        }
        if (rdef.group === 'metrics.k8s.io') return this.nodes.metrics(req, res, this, rdef, ns, name, verb);
        if (sub === 'log') return this.nodes.logs(req, res, this, rdef, ns, name);
        switch (verb) {
        case 'get': return this.doGet(req, res, rdef, ns, name, sub);
        case 'list': return this.doList(req, res, rdef, ns);
        case 'watch': return this.doWatch(req, res, rdef, ns, name);
        case 'create': return this.doCreate(req, res, rdef, ns, name, sub, opts);
        case 'update': return this.doUpdate(req, res, rdef, ns, name, sub, opts);
        case 'patch': return this.doPatch(req, res, rdef, ns, name, sub, opts);
        case 'delete': return this.doDelete(req, res, rdef, ns, name, opts);
        case 'deletecollection': return this.doDeleteCollection(req, res, rdef, ns, opts);
        default: throw methodNotAllowed();
        }
    }

    // --- reads ---------------------------------------------------------------------------

    output(req, rdef, obj) {
        const format = negotiate(req.headers.accept);
        if (format === 'table') {
            return toTable(rdef, [obj], { includeObject: req.query.get('includeObject') || 'Metadata' });
        }
        if (format === 'metadata') return partialObject(obj);
        return obj;
    }

    doGet(req, res, rdef, ns, name, sub) {
        const obj = this.rest.get(rdef, ns, name);
        if (sub === 'scale') return this.reply(req, res, 200, this.scaleOf(rdef, obj));
        return this.reply(req, res, 200, this.output(req, rdef, obj));
    }

    reply(req, res, code, obj, headers) {
        this.send(req, res, code, obj, headers);
        return code;
    }

    selectors(req, rdef, name) {
        const labelReqs = parseLabelSelector(req.query.get('labelSelector') || '');
        const fieldReqs = parseFieldSelector(req.query.get('fieldSelector') || '',
            (f) => fieldSupported(rdef, f));
        if (name) fieldReqs.push({ field: 'metadata.name', neg: false, value: name });
        return { labelReqs, fieldReqs };
    }

    doList(req, res, rdef, ns) {
        const q = req.query;
        const { labelReqs, fieldReqs } = this.selectors(req, rdef);
        const rvParam = q.get('resourceVersion');
        const match = q.get('resourceVersionMatch');
        const rv = this.store.rv;
        if (rvParam && rvParam !== '0') {
            const n = Number(rvParam);
            if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid resource version "${rvParam}"`);
            if (n > rv) {
                throw new ApiError(504, 'Timeout', `Too large resource version: ${n}, current: ${rv}`,
                    { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 });
            }
            if (match === 'Exact' && n !== rv) {
                throw gone(`too old resource version: ${n} (${rv})`);
            }
        }
        let items = this.store.list(rdef.storage, rdef.namespaced ? ns : undefined, labelReqs, fieldReqs);
        let listRV = String(rv);
        const cont = q.get('continue');
        if (cont) {
            let token;
            try {
                token = JSON.parse(Buffer.from(cont, 'base64').toString());
            } catch {
                throw badRequest('continue key is not valid: illegal base64 data');
            }
            if (token.rv < this.store.compacted) {
                throw gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
            }
            listRV = String(token.rv);
            const key = (o) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);
            items = items.filter((o) => key(o) > token.start);
        }
        const meta = { resourceVersion: listRV };
        const limit = Number(q.get('limit') || 0);
        if (limit > 0 && items.length > limit) {
            const last = items[limit - 1];
            const start = last.metadata.namespace ? `${last.metadata.namespace}/${last.metadata.name}` : last.metadata.name;
            meta.continue = Buffer.from(JSON.stringify({ rv: Number(listRV), start })).toString('base64');
            meta.remainingItemCount = items.length - limit;
            items = items.slice(0, limit);
        }
        items = items.map((o) => this.rest.toVersion(rdef, o));
        const format = negotiate(req.headers.accept);
        if (format === 'table') {
            return this.reply(req, res, 200, toTable(rdef, items, { listMeta: meta,
                includeObject: q.get('includeObject') || 'Metadata' }));
        }
        if (format === 'metadata') {
            return this.reply(req, res, 200, { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1',
                metadata: meta, items: items.map(partialObject) });
        }
        const listItems = rdef.builtin ? items.map((o) => {
            const c = { ...o };
            delete c.apiVersion;
            delete c.kind;
            return c;
        }) : items;
        return this.reply(req, res, 200, { apiVersion: rdef.apiVersion, kind: rdef.listKind || `${rdef.kind}List`,
            metadata: meta, items: listItems });
    }

    doWatch(req, res, rdef, ns, name) {
        const q = req.query;
        const { labelReqs, fieldReqs } = this.selectors(req, rdef, name);
        const format = negotiate(req.headers.accept);
        const rvParam = q.get('resourceVersion') || '';
        const initial = q.get('sendInitialEvents') === 'true';
        if (rvParam && rvParam !== '0' && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version "${rvParam}"`);
        const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
        if (initial && (!bookmarks || q.get('resourceVersionMatch') !== 'NotOlderThan')) {
            throw invalid({ kind: 'ListOptions', group: 'meta.k8s.io' }, '', [
                cause('sendInitialEvents', 'forbidden', 'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and allowWatchBookmarks is set and resourceVersionMatch is NotOlderThan')]);
        }
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private',
            'Transfer-Encoding': 'chunked' });
        res.flushHeaders();
        if (this.info(req).kill) return this.send(req, res, 200, '');
        const w = new Watch({ res, rdef, rest: this.rest, store: this.store,
            ns: rdef.namespaced ? ns : undefined, labelReqs, fieldReqs, format, bookmarks });
        const storage = rdef.storage;
        const timers = [];
        w.onClose = () => {
            this.store.removeWatcher(storage, w);
            this.watches.delete(w);
            for (const t of timers) clearTimeout(t);
            this.hooks.record(this.info(req), 200);
        };
        if (!rvParam || rvParam === '0' || initial) {
            const list = this.store.list(storage, w.ns, labelReqs, fieldReqs);
            for (const o of list) w.send('ADDED', w.render(o));
            if (initial) w.bookmark({ 'k8s.io/initial-events-end': 'true' });
        } else {
            const events = this.store.eventsSince(storage, Number(rvParam));
            if (events === null) {
                w.send('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
                    message: `too old resource version: ${rvParam} (${this.store.compacted + 1})`,
                    reason: 'Expired', code: 410 });
                w.close();
                return 0;
            }
            for (const ev of events) w.notify(ev);
        }
        this.store.addWatcher(storage, w);
        this.watches.add(w);
        const timeout = Number(q.get('timeoutSeconds')) || this.options.watchTimeoutSeconds;
        timers.push(setTimeout(() => {
            w.bookmark();
            w.close();
        }, timeout * 1000));
        if (bookmarks) {
            const every = this.options.bookmarkIntervalMs;
            const tick = () => {
                w.bookmark();
                timers.push(setTimeout(tick, every));
            };
            timers.push(setTimeout(tick, every));
        }
        req.on('close', () => w.close());
        res.on('error', () => w.close());
        return 0;
    }

    dropWatches(reset) {
        const list = [...this.watches];
        for (const w of list) w.close(reset);
        return list.length;
    }

    bookmarkAll() {
        let n = 0;
        for (const w of this.watches) {
            if (w.bookmarks) {
                w.bookmark();
                n++;
            }
        }
        return n;
    }

    // --- writes --------------------------------------------------------------------------

    async body(req, allowed) {
        const type = (req.headers['content-type'] || 'application/json').split(';')[0].trim();
        if (allowed && !allowed.includes(type)) throw unsupportedMediaType(type, allowed);
        if (type === 'application/vnd.kubernetes.protobuf') {
            return { type, value: decodeProtobuf(await readBody(req, true)) };
        }
        const text = await readBody(req);
        return { type, value: parseBody(text, type) };
    }

    async doCreate(req, res, rdef, ns, name, sub, opts) {
        const { value } = await this.body(req, ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
        if (sub === 'binding' || rdef.plural === 'bindings') {
            return this.reply(req, res, 201, this.bind(ns, sub ? name : value?.metadata?.name, value));
        }
        if (sub === 'token') return this.reply(req, res, 201, this.tokenRequest(ns, name, value));
        if (sub === 'eviction') return this.reply(req, res, 201, this.evict(ns, name, value, opts));
        if (sub || name) throw methodNotAllowed();
        if (rdef.virtual) return this.reply(req, res, 201, this.review(rdef, value, opts.user));
        const obj = this.rest.create(rdef, ns, value, opts);
        return this.reply(req, res, 201, obj);
    }

    async doUpdate(req, res, rdef, ns, name, sub, opts) {
        const { value } = await this.body(req, ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
        if (sub === 'scale') return this.updateScale(req, res, rdef, ns, name, () => value, opts);
        const result = this.rest.update(rdef, ns, name, () => value, { ...opts, sub: sub || undefined });
        return this.reply(req, res, result.created ? 201 : 200, result.obj);
    }

    async doPatch(req, res, rdef, ns, name, sub, opts) {
        const type = (req.headers['content-type'] || '').split(';')[0].trim();
        const accepted = rdef.builtin ? PATCH_TYPES : PATCH_TYPES.filter((t) => !t.includes('strategic'));
        if (!accepted.includes(type)) throw unsupportedMediaType(type, accepted);
        const { value } = await this.body(req);
        if (type === 'application/apply-patch+yaml') return this.apply(req, res, rdef, ns, name, sub, value, opts);
        const patchFn = (old) => {
            if (type === 'application/json-patch+json') return jsonPatch(old, value);
            if (!isObject(value)) throw badRequest('the patch must be a JSON object');
            if (type === 'application/merge-patch+json') return mergePatch(old, value);
            return strategicMerge(old, value, rdef.model);
        };
        if (sub === 'scale') return this.updateScale(req, res, rdef, ns, name, patchFn, opts);
        const result = this.rest.update(rdef, ns, name, patchFn, { ...opts, sub: sub || undefined, patch: true });
        return this.reply(req, res, 200, result.obj);
    }

    apply(req, res, rdef, ns, name, sub, applied, opts) {
        if (!opts.fieldManager) throw badRequest('PATCH, application/apply-patch+yaml requires fieldManager to be set');
        if (!isObject(applied)) throw badRequest('the apply configuration must be an object');
        if (!applied.apiVersion || !applied.kind) {
            throw badRequest(`invalid object type: ${applied.apiVersion || ''}, Kind=${applied.kind || ''}`);
        }
        const force = req.query.get('force') === 'true';
        const status = sub === 'status';
        const live = this.store.get(rdef.storage, rdef.namespaced ? ns : undefined, name);
        applied.metadata ??= {};
        if (applied.metadata.name && applied.metadata.name !== name) {
            throw badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`);
        }
        const ssa = { manager: opts.fieldManager, force, status };
        const o2 = { ...opts, applied: true, patch: true, sub: sub || undefined };
        if (!live) {
            if (status) throw notFound(rdef, name);
            const probe = clone(applied);
            this.rest.decode(rdef, probe, opts);
            const obj = serverSideApply(rdef, undefined, applied, ssa);
            obj.metadata.name = name;
            return this.reply(req, res, 201, this.rest.create(rdef, ns, obj, o2));
        }
        const result = this.rest.update(rdef, ns, name, (old) => {
            const probe = clone(applied);
            this.rest.decode(rdef, probe, opts);
            return serverSideApply(rdef, old, applied, ssa);
        }, o2);
        return this.reply(req, res, 200, result.obj);
    }

    scaleOf(rdef, obj) {
        let selector = '';
        if (rdef.builtin) {
            const reqs = labelSelectorRequirements(obj.spec?.selector) || [];
            selector = reqs.map((r) => (r.op === '=' ? `${r.key}=${r.values[0]}` :
                r.op === 'exists' ? r.key : r.op === '!' ? `!${r.key}` : `${r.key} ${r.op} (${r.values.join(',')})`)).join(',');
        }
        return { kind: 'Scale', apiVersion: 'autoscaling/v1',
            metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid,
                resourceVersion: obj.metadata.resourceVersion, creationTimestamp: obj.metadata.creationTimestamp },
            spec: { replicas: obj.spec?.replicas ?? 0 },
            status: { replicas: obj.status?.replicas ?? 0, ...(selector ? { selector } : {}) } };
    }

    updateScale(req, res, rdef, ns, name, next, opts) {
        const result = this.rest.update(rdef, ns, name, (old) => {
            const scale = next(this.scaleOf(rdef, old));
            if (!isObject(scale?.spec) || typeof scale.spec.replicas !== 'number') {
                throw invalid({ kind: 'Scale', group: 'autoscaling' }, name, [cause('spec.replicas', 'required')]);
            }
            if (scale.spec.replicas < 0) {
                throw invalid({ kind: 'Scale', group: 'autoscaling' }, name, [cause('spec.replicas', 'invalid', 'must be greater than or equal to 0', scale.spec.replicas)]);
            }
            old.spec.replicas = scale.spec.replicas;
            old.metadata.resourceVersion = scale.metadata?.resourceVersion || old.metadata.resourceVersion;
            return old;
        }, { ...opts, patch: true });
        return this.reply(req, res, 200, this.scaleOf(rdef, result.obj));
    }

    // POST pods/NAME/eviction (policy/v1 or v1beta1 Eviction), as kube-apiserver's
    // EvictionREST: a pod that is not running, or is being deleted, goes at once; else the one
    // PodDisruptionBudget matching it must allow a disruption (its status, which no controller
    // here computes: a test writes it), and it is counted. The pod gets the DisruptionTarget
    // condition (EvictionByEvictionAPI), then is deleted with the Eviction's deleteOptions
    // (grace period, preconditions, dryRun).
    evict(ns, name, eviction, opts) {
        if (!isObject(eviction) || !['policy/v1', 'policy/v1beta1'].includes(eviction.apiVersion) ||
            eviction.kind !== 'Eviction') {
            throw badRequest(`the body of the request must be a policy/v1 Eviction, got ${eviction?.apiVersion || ''}, Kind=${eviction?.kind || ''}`);
        }
        if (eviction.metadata?.name !== name) throw badRequest('name in URL does not match name in Eviction object');
        const pods = this.registry.lookup('', 'v1', 'pods');
        const d = eviction.deleteOptions || {};
        const dryRun = opts.dryRun || (d.dryRun || []).includes('All');
        const del = { gracePeriodSeconds: d.gracePeriodSeconds, preconditions: d.preconditions,
            propagationPolicy: d.propagationPolicy, dryRun };
        const pod = this.rest.get(pods, ns, name);
        const phase = pod.status?.phase;
        if (!(pod.metadata.deletionTimestamp || ['Succeeded', 'Failed', 'Pending'].includes(phase))) {
            this.disruptionAllowed(ns, pod, dryRun);
        }
        if (!dryRun) {
            this.rest.update(pods, ns, name, (p) => {
                const pre = d.preconditions || {};
                if ((pre.uid && pre.uid !== p.metadata.uid) ||
                    (pre.resourceVersion && pre.resourceVersion !== p.metadata.resourceVersion)) {
                    return p; // the delete below answers the Conflict
                }
                const conds = (p.status.conditions || []).filter((c) => c.type !== 'DisruptionTarget');
                conds.push({ type: 'DisruptionTarget', status: 'True', lastProbeTime: null,
                    lastTransitionTime: now(), reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' });
                p.status.conditions = conds;
                return p;
            }, { sub: 'status', patch: true, internal: true });
            if (del.preconditions?.resourceVersion) {
                del.preconditions = { ...del.preconditions,
                    resourceVersion: this.rest.get(pods, ns, name).metadata.resourceVersion };
            }
        }
        this.rest.delete(pods, ns, name, del);
        return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
    }

    // The eviction of pod against the PodDisruptionBudgets of its namespace (checkAndDecrement).
    disruptionAllowed(ns, pod, dryRun) {
        const pdbs = this.registry.lookup('policy', 'v1', 'poddisruptionbudgets');
        const matching = this.store.list(pdbs.storage, ns).filter((b) => {
            const reqs = labelSelectorRequirements(b.spec?.selector);
            return reqs && matchLabels(reqs, pod.metadata.labels);
        });
        if (matching.length === 0) return;
        if (matching.length > 1) {
            throw new ApiError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
        }
        const b = matching[0];
        const st = b.status || {};
        const tooMany = (message) => new ApiError(429, 'TooManyRequests',
            "Cannot evict pod as it would violate the pod's disruption budget.",
            { causes: [{ reason: 'DisruptionBudget', message }] });
        if ((st.observedGeneration || 0) < (b.metadata.generation || 0)) {
            throw tooMany(`The disruption budget ${b.metadata.name} is still being processed by the server.`);
        }
        if ((st.disruptionsAllowed || 0) < 0) {
            throw new ApiError(403, 'Forbidden', 'pdb disruptions allowed is negative');
        }
        if ((st.disruptionsAllowed || 0) === 0) {
            throw tooMany(`The disruption budget ${b.metadata.name} needs ${st.desiredHealthy || 0} healthy pods and has ${st.currentHealthy || 0} currently`);
        }
        if (dryRun) return;
        this.rest.update(pdbs, ns, b.metadata.name, (cur) => {
            cur.status.disruptionsAllowed = (cur.status.disruptionsAllowed || 0) - 1;
            cur.status.disruptedPods = { ...cur.status.disruptedPods, [pod.metadata.name]: now() };
            return cur;
        }, { sub: 'status', patch: true, internal: true });
    }

    bind(ns, name, binding) {
        const pods = this.registry.lookup('', 'v1', 'pods');
        const target = binding?.target;
        if (!target?.name) throw invalid({ kind: 'Binding' }, name || '', [cause('target.name', 'required')]);
        this.rest.update(pods, ns, name, (pod) => {
            if (pod.spec.nodeName) {
                throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${pod.spec.nodeName}"`,
                    { name, kind: 'pods/binding' });
            }
            if (pod.metadata.deletionTimestamp) {
                throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is being deleted, cannot be assigned to a host`, { name, kind: 'pods/binding' });
            }
            pod.spec.nodeName = target.name;
            pod.metadata.annotations = { ...pod.metadata.annotations, ...binding.metadata?.annotations };
            if (!Object.keys(pod.metadata.annotations).length) delete pod.metadata.annotations;
            return pod;
        }, { patch: true, fieldManager: 'kube-scheduler', internal: true, binding: true });
        this.rest.update(pods, ns, name, (pod) => {
            const conds = (pod.status.conditions || []).filter((c) => c.type !== 'PodScheduled');
            conds.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() });
            pod.status.conditions = conds;
            return pod;
        }, { sub: 'status', patch: true, internal: true });
        return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
    }

    tokenRequest(ns, name, tr) {
        const sa = this.rest.get(this.registry.lookup('', 'v1', 'serviceaccounts'), ns, name);
        const seconds = Math.max(600, tr?.spec?.expirationSeconds ?? 3600);
        const audiences = tr?.spec?.audiences?.length ? tr.spec.audiences : ['https://kubernetes.default.svc.cluster.local'];
        const ref = tr?.spec?.boundObjectRef;
        const status = this.auth.issueServiceAccountToken(sa, seconds, audiences,
            ref?.kind === 'Pod' ? { name: ref.name, uid: ref.uid } : undefined);
        return { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1',
            metadata: { name, namespace: ns, creationTimestamp: null },
            spec: { audiences, expirationSeconds: seconds, boundObjectRef: ref ?? null }, status };
    }

    review(rdef, body, user) {
        if (rdef.kind === 'SelfSubjectAccessReview') {
            const a = body?.spec?.resourceAttributes;
            const n = body?.spec?.nonResourceAttributes;
            let allowed = true;
            if (a) {
                const attrs = { verb: a.verb, apiGroup: a.group || '', resource: a.resource,
                    subresource: a.subresource || '', namespace: a.namespace || '', name: a.name || '' };
                allowed = this.auth.allowed(user, attrs);
            } else if (n) {
                allowed = user.name !== 'system:anonymous';
            }
            return { kind: rdef.kind, apiVersion: rdef.apiVersion, metadata: { creationTimestamp: null },
                spec: body.spec, status: { allowed, ...(allowed ? {} : { reason: '' }) } };
        }
        if (rdef.kind === 'SelfSubjectReview') {
            return { kind: rdef.kind, apiVersion: rdef.apiVersion, metadata: { creationTimestamp: null },
                status: { userInfo: { username: user.name, uid: user.uid || undefined, groups: user.groups } } };
        }
        const ns = body?.spec?.namespace || '';
        const rules = this.auth.isAdmin(user) || this.auth.mode !== 'RBAC' ?
            [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] : this.auth.rulesFor(user, ns);
        return { kind: rdef.kind, apiVersion: rdef.apiVersion, metadata: { creationTimestamp: null },
            spec: body.spec, status: { resourceRules: rules, nonResourceRules: [], incomplete: false } };
    }

    // A DELETE's options: its body (a DeleteOptions as JSON, YAML or protobuf, which typed
    // clients such as `kubectl drain --disable-eviction` send; other types answer 415, as
    // kube-apiserver's), then the query's.
    async deleteOptions(req) {
        const q = req.query;
        const type = (req.headers['content-type'] || 'application/json').split(';')[0].trim();
        const raw = await readBody(req, true);
        let o = {};
        if (raw.toString('latin1').trim()) {
            const types = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];
            if (!types.includes(type)) throw unsupportedMediaType(type, types);
            o = type === types[2] ? decodeProtobuf(raw) : parseBody(raw.toString('utf8'), type);
            if (!isObject(o) || (o.kind !== undefined && o.kind !== 'DeleteOptions')) {
                throw badRequest('decoded object cannot be converted to DeleteOptions');
            }
        }
        if (q.get('propagationPolicy')) o.propagationPolicy = q.get('propagationPolicy');
        if (q.get('gracePeriodSeconds')) o.gracePeriodSeconds = Number(q.get('gracePeriodSeconds'));
        if (q.get('orphanDependents')) o.orphanDependents = q.get('orphanDependents') === 'true';
        if (q.getAll('dryRun').includes('All') || (o.dryRun || []).includes('All')) o.dryRun = true;
        else delete o.dryRun;
        return o;
    }

    async doDelete(req, res, rdef, ns, name, opts) {
        const o = await this.deleteOptions(req);
        const { obj, pending } = this.rest.delete(rdef, ns, name, { ...o, dryRun: o.dryRun || opts.dryRun });
        return this.reply(req, res, pending ? 202 : 200, obj);
    }

    async doDeleteCollection(req, res, rdef, ns, opts) {
        const o = await this.deleteOptions(req);
        const { labelReqs, fieldReqs } = this.selectors(req, rdef);
        const items = this.store.list(rdef.storage, rdef.namespaced ? ns : undefined, labelReqs, fieldReqs);
        const out = [];
        for (const it of items) {
            try {
                out.push(this.rest.delete(rdef, it.metadata.namespace, it.metadata.name,
                    { ...o, dryRun: o.dryRun || opts.dryRun }).obj);
            } catch (e) {
                if (!(e instanceof ApiError && e.code === 404)) throw e;
            }
        }
        return this.reply(req, res, 200, { apiVersion: rdef.apiVersion, kind: rdef.listKind || `${rdef.kind}List`,
            metadata: { resourceVersion: String(this.store.rv) }, items: out });
    }

    restart() {
        this.dropWatches(true);
        this.onRestart?.();
    }
}
