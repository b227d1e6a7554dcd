// SPDX-License-Identifier: Apache-2.0
// List + watch caches and work queues, the way client-go's informers and rate-limited queues
// work: an event only says "look at this key again"; reconcilers read the cache.

import { key } from './labels.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Informer {
  // collection: e.g. '/api/v1/pods' or '/apis/apps/v1/replicasets' (all namespaces).
  constructor(client, collection, log) {
    this.client = client;
    this.collection = collection;
    this.log = log;
    this.cache = new Map();
    this.handlers = [];
    this.rv = '';
    this.stopped = false;
    this.synced = new Promise((r) => { this.markSynced = r; });
    this.handle = {};
  }

  // handler(type, obj, old): type ADDED | MODIFIED | DELETED.
  on(handler) { this.handlers.push(handler); }

  get(k) { return this.cache.get(k); }
  list() { return [...this.cache.values()]; }

  emit(type, obj, old) {
    for (const h of this.handlers) {
      try { h(type, obj, old); } catch (e) { this.log(`${this.collection} handler: ${e.stack ?? e}`); }
    }
  }

  async relist() {
    const res = await this.client.get(this.collection);
    const seen = new Set();
    for (const obj of res.items ?? []) {
      const k = key(obj);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, obj);
      if (!old) this.emit('ADDED', obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('MODIFIED', obj, old);
    }
    for (const [k, old] of this.cache) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.emit('DELETED', old, old);
      }
    }
    this.rv = res.metadata?.resourceVersion ?? '';
  }

  apply(ev) {
    if (ev.type === 'BOOKMARK') {
      this.rv = ev.object?.metadata?.resourceVersion ?? this.rv;
      return true;
    }
    if (ev.type === 'ERROR') {
      this.log(`${this.collection} watch error: ${JSON.stringify(ev.object)}`);
      return ev.object?.code !== 410 && ev.object?.code !== 'Expired';
    }
    const obj = ev.object;
    const k = key(obj);
    const old = this.cache.get(k);
    this.rv = obj.metadata.resourceVersion ?? this.rv;
    if (ev.type === 'DELETED') {
      this.cache.delete(k);
      this.emit('DELETED', obj, old);
    } else {
      this.cache.set(k, obj);
      this.emit(old ? 'MODIFIED' : 'ADDED', obj, old);
    }
    return true;
  }

  async run() {
    let failures = 0;
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist();
          this.markSynced();
          needList = false;
        }
        let expired = false;
        const code = await this.client.watch(
          `${this.collection}?watch=1&allowWatchBookmarks=true&timeoutSeconds=${240 + Math.floor(Math.random() * 120)}&resourceVersion=${encodeURIComponent(this.rv)}`,
          (ev) => { if (!this.apply(ev)) { expired = true; this.handle.abort?.(); } },
          this.handle);
        if (code === 410 || expired) needList = true;
        else if (code !== 200 && code !== 0) throw new Error(`watch answered ${code}`);
        failures = 0;
      } catch (e) {
        if (this.stopped) break;
        failures++;
        this.log(`${this.collection}: ${e.message ?? e}; retrying`);
        await sleep(Math.min(100 * 2 ** failures, 2000));
        if (failures > 3) needList = true;
      }
    }
  }

  start() {
    this.running = this.run();
    return this.synced;
  }

  stop() {
    this.stopped = true;
    this.handle.abort?.();
  }
}

// Keys to reconcile: each key is handled by one worker at a time; a key added while it is being
// handled runs again afterwards; a failed key is retried with per-key exponential backoff.
export class WorkQueue {
  constructor(name, handler, log, { workers = 4, baseDelayMs = 10, maxDelayMs = 5000 } = {}) {
    Object.assign(this, { name, handler, log, workers, baseDelayMs, maxDelayMs });
    this.queue = [];
    this.dirty = new Set();
    this.processing = new Set();
    this.failures = new Map();
    this.timers = new Map();
    this.active = 0;
    this.stopped = false;
    this.started = false;
  }

  // Workers run only once start() is called: after every cache has synced, as client-go's
  // controllers wait for WaitForCacheSync (a half-filled cache would look like deletions).
  start() {
    this.started = true;
    this.pump();
  }

  add(k) {
    if (this.stopped || this.dirty.has(k)) return;
    this.dirty.add(k);
    if (!this.processing.has(k)) {
      this.queue.push(k);
      this.pump();
    }
  }

  addAfter(k, ms) {
    if (this.stopped) return;
    const due = Date.now() + ms;
    const t = this.timers.get(k);
    if (t && t.due <= due) return;
    if (t) clearTimeout(t.timer);
    const timer = setTimeout(() => { this.timers.delete(k); this.add(k); }, Math.max(0, ms));
    timer.unref?.();
    this.timers.set(k, { due, timer });
  }

  pump() {
    while (this.started && this.active < this.workers && this.queue.length > 0) {
      const k = this.queue.shift();
      this.dirty.delete(k);
      this.processing.add(k);
      this.active++;
      this.work(k);
    }
  }

  async work(k) {
    try {
      const again = await this.handler(k);
      this.failures.delete(k);
      if (typeof again === 'number') this.addAfter(k, again);
    } catch (e) {
      const n = (this.failures.get(k) ?? 0) + 1;
      this.failures.set(k, n);
      const delay = Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
      if (e.code !== 409) this.log(`${this.name} ${k}: ${e.message ?? e} (retry in ${delay} ms)`);
      this.addAfter(k, delay);
    } finally {
      this.processing.delete(k);
      this.active--;
      if (this.dirty.has(k)) this.queue.push(k);
      this.pump();
    }
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
  }
}

export { sleep };
