// SPDX-License-Identifier: Apache-2.0
// core/v1 Events as the controllers and the kubelet record them: one Event per (object,
// reason, message), repeated occurrences counted on it.

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export class Recorder {
  constructor(client, log) {
    this.client = client;
    this.log = log;
    this.seen = new Map(); // dedupe key -> { name, namespace, count }
  }

  // Fire and forget: an event that cannot be written is logged, never fatal.
  record(obj, type, reason, message, component, host) {
    this.write(obj, type, reason, message, component, host).catch((e) => this.log(`event ${reason}: ${e.message}`));
  }

  async write(obj, type, reason, message, component, host) {
    const m = obj.metadata;
    const ns = m.namespace ?? 'default';
    const k = `${m.uid}|${type}|${reason}|${message}`;
    const t = now();
    const prev = this.seen.get(k);
    if (prev) {
      prev.count++;
      await this.client.mergePatch(`/api/v1/namespaces/${ns}/events/${prev.name}`, { count: prev.count, lastTimestamp: t });
      return;
    }
    const name = `${m.name}.${(Date.now() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`;
    this.seen.set(k, { name, count: 1 });
    if (this.seen.size > 5000) this.seen.delete(this.seen.keys().next().value);
    await this.client.create(`/api/v1/namespaces/${ns}/events`, {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: {
        apiVersion: obj.apiVersion ?? 'v1', kind: obj.kind ?? 'Pod', name: m.name, namespace: m.namespace,
        uid: m.uid, resourceVersion: m.resourceVersion,
      },
      reason, message, type, count: 1, firstTimestamp: t, lastTimestamp: t,
      source: { component, ...(host ? { host } : {}) },
      reportingComponent: component, reportingInstance: host ?? component,
    });
  }
}
