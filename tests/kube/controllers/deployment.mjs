// SPDX-License-Identifier: Apache-2.0
// Deployment controller: one ReplicaSet per pod template (named by its hash), rolled by the
// RollingUpdate or Recreate strategy; status counts and the Available / Progressing /
// ReplicaFailure conditions, with ProgressDeadlineExceeded after progressDeadlineSeconds.

import { controllerOf, key, ownerRef, splitKey } from './labels.mjs';
import { canonical, isoNow, sameJson, setCondition } from './pods.mjs';

const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

// pod-template-hash: FNV-1a (32 bit) of the template and the collision count, spelt with the
// alphabet Kubernetes uses for generated names.
export function templateHash(template, collisionCount) {
  let h = 0x811c9dc5;
  const text = canonical(template) + (collisionCount ? String(collisionCount) : '');
  for (const b of Buffer.from(text)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return [...String(h)].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join('');
}

// An IntOrString against a total: percentages rounded up (surge) or down (unavailable).
export function resolveIntOrPercent(v, total, roundUp) {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(String(v ?? ''));
  if (!m) return Number(v) || 0;
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

function rolloutLimits(d) {
  const replicas = d.spec.replicas ?? 1;
  const ru = d.spec.strategy?.rollingUpdate ?? {};
  const surge = resolveIntOrPercent(ru.maxSurge ?? '25%', replicas, true);
  let unavailable = resolveIntOrPercent(ru.maxUnavailable ?? '25%', replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { replicas, surge, unavailable: Math.min(unavailable, replicas) };
}

const revisionOf = (rs) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
const specReplicas = (rs) => rs.spec?.replicas ?? 0;
const sum = (list, f) => list.reduce((a, x) => a + (f(x) ?? 0), 0);

export class DeploymentController {
  constructor({ client, deployments, replicasets, pods, index, queue, events, log }) {
    Object.assign(this, { client, deployments, replicasets, index, queue, events, log });
    deployments.on((type, d) => this.queue.add(key(d)));
    const ownerOf = (rs) => {
      const ref = rs && controllerOf(rs);
      if (ref?.kind === 'Deployment') this.queue.add(`${rs.metadata.namespace}/${ref.name}`);
    };
    replicasets.on((type, rs) => ownerOf(rs));
    // A Recreate rollout waits for the old pods to be gone: their deletion is the signal (the
    // ReplicaSet's status stopped counting them when they began terminating).
    pods.on((type, pod) => {
      const ref = controllerOf(pod);
      if (type === 'DELETED' && ref?.kind === 'ReplicaSet') ownerOf(this.replicasets.get(`${pod.metadata.namespace}/${ref.name}`));
    });
    this.pending = new Map(); // deployment uid -> new ReplicaSet created, not yet in the cache
  }

  ref(d) { return { ...d, apiVersion: 'apps/v1', kind: 'Deployment' }; }

  async sync(k) {
    const d = this.deployments.get(k);
    if (!d || d.metadata.deletionTimestamp) return undefined;
    const [ns] = splitKey(k);
    const rsList = this.replicasets.list().filter((rs) => rs.metadata.namespace === ns &&
      controllerOf(rs)?.uid === d.metadata.uid);
    const hash = templateHash(d.spec.template, d.status?.collisionCount);
    let newRS = rsList.find((rs) => rs.metadata.labels?.['pod-template-hash'] === hash);
    const old = rsList.filter((rs) => rs !== newRS);
    let created = false;
    if (!newRS && !d.spec.paused) {
      newRS = this.pending.get(d.metadata.uid);
      if (newRS?.metadata.labels['pod-template-hash'] !== hash) {
        newRS = await this.createReplicaSet(d, ns, hash, old);
        created = true;
      }
    } else if (newRS) {
      this.pending.delete(d.metadata.uid);
    }
    if (newRS && !d.spec.paused) {
      if ((d.spec.strategy?.type ?? 'RollingUpdate') === 'Recreate') await this.recreate(d, newRS, old);
      else await this.rolling(d, newRS, old);
      await this.cleanup(d, old);
    }
    return this.updateStatus(d, ns, newRS, old, created);
  }

  async createReplicaSet(d, ns, hash, old) {
    const { replicas, surge } = rolloutLimits(d);
    const recreate = d.spec.strategy?.type === 'Recreate';
    const oldTotal = sum(old, specReplicas);
    const want = recreate ? (oldTotal > 0 ? 0 : replicas) : Math.max(0, Math.min(replicas, replicas + surge - oldTotal));
    const template = structuredClone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}) };
    template.metadata.labels = { ...(template.metadata.labels ?? {}), 'pod-template-hash': hash };
    const selector = structuredClone(d.spec.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), 'pod-template-hash': hash };
    const revision = Math.max(0, ...old.map(revisionOf)) + 1;
    const rs = {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`, namespace: ns,
        labels: template.metadata.labels,
        annotations: {
          'deployment.kubernetes.io/desired-replicas': String(replicas),
          'deployment.kubernetes.io/max-replicas': String(replicas + surge),
          'deployment.kubernetes.io/revision': String(revision),
        },
        ownerReferences: [ownerRef(d, 'apps/v1', 'Deployment')],
      },
      spec: { replicas: want, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
    };
    let made;
    try {
      made = await this.client.create(`/apis/apps/v1/namespaces/${ns}/replicasets`, rs);
    } catch (e) {
      if (e.code !== 409) throw e;
      const existing = await this.client.get(`/apis/apps/v1/namespaces/${ns}/replicasets/${rs.metadata.name}`);
      if (controllerOf(existing)?.uid === d.metadata.uid) return existing;
      // A ReplicaSet of that name belongs to something else: hash again with a new count.
      await this.client.replace(`/apis/apps/v1/namespaces/${ns}/deployments/${d.metadata.name}/status`, {
        ...this.ref(d), status: { ...(d.status ?? {}), collisionCount: (d.status?.collisionCount ?? 0) + 1 },
      });
      throw Object.assign(new Error(`hash collision on ${rs.metadata.name}`), { code: 409 });
    }
    this.pending.set(d.metadata.uid, made);
    await this.client.mergePatch(`/apis/apps/v1/namespaces/${ns}/deployments/${d.metadata.name}`, {
      metadata: { annotations: { 'deployment.kubernetes.io/revision': String(revision) } },
    });
    if (want > 0) this.scaledEvent(d, made, want, 0);
    return made;
  }

  scaledEvent(d, rs, to, from) {
    const verb = to > from ? 'up' : 'down';
    this.events.record(this.ref(d), 'Normal', 'ScalingReplicaSet',
      `Scaled ${verb} replica set ${rs.metadata.name} to ${to}${verb === 'down' ? ` from ${from}` : ''}`, 'deployment-controller');
  }

  async scale(d, rs, to) {
    const from = specReplicas(rs);
    if (from === to) return;
    const { replicas, surge } = rolloutLimits(d);
    await this.client.mergePatch(`/apis/apps/v1/namespaces/${rs.metadata.namespace}/replicasets/${rs.metadata.name}`, {
      metadata: { annotations: { 'deployment.kubernetes.io/desired-replicas': String(replicas), 'deployment.kubernetes.io/max-replicas': String(replicas + surge) } },
      spec: { replicas: to },
    });
    rs.spec.replicas = to;
    this.scaledEvent(d, rs, to, from);
  }

  async rolling(d, newRS, old) {
    const { replicas, surge, unavailable } = rolloutLimits(d);
    const all = [newRS, ...old];
    if (specReplicas(newRS) > replicas) await this.scale(d, newRS, replicas);
    else if (specReplicas(newRS) < replicas) {
      const room = replicas + surge - sum(all, specReplicas);
      if (room > 0) await this.scale(d, newRS, specReplicas(newRS) + Math.min(room, replicas - specReplicas(newRS)));
    }
    const minAvailable = replicas - unavailable;
    const newUnavailable = specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
    let budget = sum(all, specReplicas) - minAvailable - newUnavailable;
    const oldest = [...old].filter((rs) => specReplicas(rs) > 0).sort((a, b) => revisionOf(a) - revisionOf(b));
    // First the old replicas that are not available anyway, then available ones down to the
    // minimum the strategy allows.
    for (const rs of oldest) {
      if (budget <= 0) break;
      const unhealthy = specReplicas(rs) - (rs.status?.availableReplicas ?? 0);
      const n = Math.min(unhealthy, budget);
      if (n > 0) {
        await this.scale(d, rs, specReplicas(rs) - n);
        budget -= n;
      }
    }
    let canDrop = sum(all, (rs) => rs.status?.availableReplicas) - minAvailable;
    for (const rs of oldest) {
      if (canDrop <= 0) break;
      const n = Math.min(specReplicas(rs), canDrop);
      if (n > 0) {
        await this.scale(d, rs, specReplicas(rs) - n);
        canDrop -= n;
      }
    }
  }

  async recreate(d, newRS, old) {
    const live = old.filter((rs) => specReplicas(rs) > 0);
    for (const rs of live) await this.scale(d, rs, 0);
    if (live.length) return;
    // Old pods must be gone, terminating ones included, before new ones start.
    const running = (p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
    if (old.some((rs) => this.index.owned(rs.metadata.uid).some(running))) return;
    await this.scale(d, newRS, d.spec.replicas ?? 1);
  }

  async cleanup(d, old) {
    const limit = d.spec.revisionHistoryLimit ?? 10;
    const idle = old.filter((rs) => specReplicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp)
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
      await this.client.delete(`/apis/apps/v1/namespaces/${rs.metadata.namespace}/replicasets/${rs.metadata.name}`).catch((e) => {
        if (e.code !== 404) throw e;
      });
    }
  }

  async updateStatus(d, ns, newRS, old, created) {
    const { replicas, unavailable } = rolloutLimits(d);
    const all = newRS ? [newRS, ...old] : old;
    const prev = d.status ?? {};
    const status = {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: sum(all, (rs) => rs.status?.replicas),
      updatedReplicas: newRS?.status?.replicas ?? 0,
      readyReplicas: sum(all, (rs) => rs.status?.readyReplicas),
      availableReplicas: sum(all, (rs) => rs.status?.availableReplicas),
      ...(prev.collisionCount ? { collisionCount: prev.collisionCount } : {}),
    };
    status.unavailableReplicas = Math.max(0, replicas - status.availableReplicas);
    const now = isoNow();
    let conds = prev.conditions ?? [];
    conds = setCondition(conds, status.availableReplicas >= replicas - unavailable
      ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
      : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, now, true);
    const { conditions, recheck } = this.progressing(d, conds, status, prev, newRS, created, now);
    const failure = all.map((rs) => (rs.status?.conditions ?? []).find((c) => c.type === 'ReplicaFailure' && c.status === 'True')).find(Boolean);
    status.conditions = failure
      ? setCondition(conditions, { type: 'ReplicaFailure', status: 'True', reason: failure.reason, message: failure.message }, now, true)
      : conditions.filter((c) => c.type !== 'ReplicaFailure');
    const strip = (s) => ({ ...s, conditions: (s.conditions ?? []).map(({ lastUpdateTime, ...c }) => c) });
    if (!sameJson(strip(prev), strip(status)) || created) {
      await this.client.replace(`/apis/apps/v1/namespaces/${ns}/deployments/${d.metadata.name}/status`, { ...this.ref(d), status });
    }
    return recheck;
  }

  // The Progressing condition, and when to look again for the deadline.
  progressing(d, conds, status, prev, newRS, created, now) {
    const replicas = d.spec.replicas ?? 1;
    const name = newRS?.metadata.name ?? '';
    const cur = conds.find((c) => c.type === 'Progressing');
    const deadline = d.spec.progressDeadlineSeconds ?? 600;
    const set = (st, reason, message) => setCondition(conds, { type: 'Progressing', status: st, reason, message }, now, true);
    const complete = status.updatedReplicas === replicas && status.replicas === replicas &&
      status.availableReplicas === replicas;
    if (created) return { conditions: set('True', 'NewReplicaSetCreated', `Created new replica set "${name}"`), recheck: deadline * 1000 };
    if (complete) return { conditions: set('True', 'NewReplicaSetAvailable', `ReplicaSet "${name}" has successfully progressed.`) };
    const moved = status.updatedReplicas > (prev.updatedReplicas ?? 0) || status.readyReplicas > (prev.readyReplicas ?? 0) ||
      status.availableReplicas > (prev.availableReplicas ?? 0) || status.replicas < (prev.replicas ?? 0) ||
      status.observedGeneration !== prev.observedGeneration;
    if (!cur) return { conditions: set('True', 'FoundNewReplicaSet', `Found new replica set "${name}"`), recheck: deadline * 1000 };
    if (moved) return { conditions: set('True', 'ReplicaSetUpdated', `ReplicaSet "${name}" is progressing.`), recheck: deadline * 1000 };
    if (cur.reason === 'ProgressDeadlineExceeded') return { conditions: conds };
    const since = Date.parse(cur.lastUpdateTime ?? cur.lastTransitionTime ?? now);
    const left = since + deadline * 1000 - Date.now();
    if (left <= 0) return { conditions: set('False', 'ProgressDeadlineExceeded', `ReplicaSet "${name}" has timed out progressing.`) };
    return { conditions: conds, recheck: left + 50 };
  }
}
