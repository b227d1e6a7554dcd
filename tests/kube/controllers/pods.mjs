// SPDX-License-Identifier: Apache-2.0
// Pod facts the controllers share: readiness, availability, activity, and the controller-owned
// pod index.

import { controllerOf, key } from './labels.mjs';

export function podReady(pod) {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

// Ready for at least minReadySeconds at `now` (ms); also returns when it will be, if not yet.
export function podAvailable(pod, minReadySeconds, now = Date.now()) {
  const c = (pod.status?.conditions ?? []).find((x) => x.type === 'Ready' && x.status === 'True');
  if (!c) return { available: false };
  if (!minReadySeconds) return { available: true };
  const since = Date.parse(c.lastTransitionTime ?? '') || 0;
  const at = since + minReadySeconds * 1000;
  return at <= now ? { available: true } : { available: false, inMs: at - now };
}

export function podActive(pod) {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

// Keys of pods by the uid of their controlling owner, kept up to date from the pod informer.
export class OwnerIndex {
  constructor(pods) {
    this.pods = pods;
    this.byOwner = new Map();
    pods.on((type, pod, old) => {
      if (old) this.remove(old);
      if (type !== 'DELETED') this.addPod(pod);
    });
  }

  addPod(pod) {
    const ref = controllerOf(pod);
    if (!ref) return;
    if (!this.byOwner.has(ref.uid)) this.byOwner.set(ref.uid, new Set());
    this.byOwner.get(ref.uid).add(key(pod));
  }

  remove(pod) {
    const ref = controllerOf(pod);
    const set = ref && this.byOwner.get(ref.uid);
    if (!set) return;
    set.delete(key(pod));
    if (set.size === 0) this.byOwner.delete(ref.uid);
  }

  owned(uid) {
    return [...(this.byOwner.get(uid) ?? [])].map((k) => this.pods.get(k)).filter(Boolean);
  }
}

// A pod object for a controller: the template's metadata and spec, owned by owner.
export function podFromTemplate(template, namespace, generateName, owner, extraLabels = {}) {
  const md = template.metadata ?? {};
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      generateName, namespace,
      labels: { ...(md.labels ?? {}), ...extraLabels },
      ...(md.annotations ? { annotations: md.annotations } : {}),
      ownerReferences: [owner],
    },
    spec: structuredClone(template.spec),
  };
}

export function isoNow() {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

// Sets condition `type` in a status' conditions list (lastTransitionTime moves only when the
// status flips); returns the new list.
export function setCondition(conditions = [], cond, now = isoNow(), withUpdateTime = false) {
  const old = conditions.find((c) => c.type === cond.type);
  const next = { ...cond };
  next.lastTransitionTime = old && old.status === cond.status ? old.lastTransitionTime : now;
  if (withUpdateTime) next.lastUpdateTime = cond.lastUpdateTime ?? now;
  return [...conditions.filter((c) => c.type !== cond.type), next];
}

function prune(v) {
  if (Array.isArray(v)) return v.map(prune);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      const y = prune(x);
      const empty = y === undefined || y === null || y === 0 || y === '' || y === false ||
        (typeof y === 'object' && Object.keys(y).length === 0);
      if (!empty) out[k] = y;
    }
    return out;
  }
  return v;
}

export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

// Equal as API objects: key order and empty values (0, "", false, {}, [], null) do not count,
// since the server may drop or add them. Controllers compare before writing a status, so a
// write never causes another.
export function sameJson(a, b) {
  return canonical(prune(a ?? {})) === canonical(prune(b ?? {}));
}
