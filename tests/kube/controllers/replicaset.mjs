// SPDX-License-Identifier: Apache-2.0
// ReplicaSet controller: keeps spec.replicas active pods from the template, each owned by the
// ReplicaSet; status counts, ReplicaFailure when pods cannot be created. A pod of the ReplicaSet
// relabelled off its selector is released (kube-controller-manager's ControllerRefManager: its
// ownerReference removed, so it lives on as an orphan) and replaced.

import { trackOwnedPods } from './expectations.mjs';
import { key, matchSelector, ownerRef, splitKey } from './labels.mjs';
import { podActive, podAvailable, podFromTemplate, podReady, sameJson, setCondition } from './pods.mjs';

const BURST = 500;

// Which pods to delete first when scaling down (kube-controller-manager's ActivePods order):
// unassigned before assigned, pending before running, not ready before ready, newer first.
function deletionRank(a, b) {
  const s = (p) => [
    p.spec?.nodeName ? 1 : 0,
    { Pending: 0, Unknown: 1, Running: 2 }[p.status?.phase] ?? 0,
    podReady(p) ? 1 : 0,
  ];
  const x = s(a); const y = s(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '');
}

export class ReplicaSetController {
  constructor({ client, pods, replicasets, index, expectations, queue, events, log }) {
    Object.assign(this, { client, pods, replicasets, index, expectations, queue, events, log });
    replicasets.on((type, rs) => this.queue.add(key(rs)));
    trackOwnedPods(pods, 'ReplicaSet', expectations, queue);
  }

  async sync(k) {
    const rs = this.replicasets.get(k);
    if (!rs) {
      this.expectations.forget(k);
      return undefined;
    }
    const [ns] = splitKey(k);
    const pods = (await this.claim(rs, ns)).filter(podActive);
    let failure = null;
    if (this.expectations.satisfied(k) && !rs.metadata.deletionTimestamp) {
      failure = await this.manage(rs, ns, pods);
    }
    const again = await this.updateStatus(rs, ns, pods, failure);
    return failure ? Math.min(again ?? 2000, 2000) : again; // retry failed creates
  }

  // The owned pods that still match the selector; the others are released, as the real
  // controller does (not while the ReplicaSet is being deleted, nor pods being deleted): a
  // strategic merge patch deleting our ownerReference, with the pod's uid as precondition.
  async claim(rs, ns) {
    const owned = this.index.owned(rs.metadata.uid);
    const keep = [];
    for (const p of owned) {
      if (matchSelector(rs.spec.selector, p.metadata.labels) || rs.metadata.deletionTimestamp ||
          p.metadata.deletionTimestamp) {
        keep.push(p);
        continue;
      }
      try {
        await this.client.strategicPatch(`/api/v1/namespaces/${ns}/pods/${p.metadata.name}`, {
          metadata: { uid: p.metadata.uid, ownerReferences: [{ $patch: 'delete', uid: rs.metadata.uid }] },
        });
        this.log?.(`replicaset ${key(rs)}: released pod ${p.metadata.name} (no longer matches the selector)`);
      } catch (e) {
        if (e.code !== 404 && e.code !== 409 && e.code !== 422) throw e;
      }
    }
    return keep;
  }

  async manage(rs, ns, pods) {
    const want = rs.spec.replicas ?? 1;
    const k = key(rs);
    const diff = pods.length - want;
    if (diff < 0) {
      const n = Math.min(-diff, BURST);
      this.expectations.expect(k, n);
      const owner = ownerRef(rs, 'apps/v1', 'ReplicaSet');
      let failure = null;
      // Slow start, as the real controller: batches of 1, 2, 4, ... stop at the first error.
      for (let done = 0, batch = 1; done < n && !failure; done += batch, batch *= 2) {
        const size = Math.min(batch, n - done);
        const results = await Promise.allSettled(Array.from({ length: size }, () =>
          this.client.create(`/api/v1/namespaces/${ns}/pods`, podFromTemplate(rs.spec.template, ns, `${rs.metadata.name}-`, owner))));
        for (const r of results) {
          if (r.status === 'fulfilled') {
            this.events.record({ ...rs, apiVersion: 'apps/v1', kind: 'ReplicaSet' }, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata.name}`, 'replicaset-controller');
          } else {
            this.expectations.added(k);
            failure = r.reason.status?.message ?? r.reason.message;
          }
        }
        for (let skipped = done + size; failure && skipped < n; skipped++) this.expectations.added(k);
      }
      if (failure) {
        this.events.record({ ...rs, apiVersion: 'apps/v1', kind: 'ReplicaSet' }, 'Warning', 'FailedCreate', `Error creating: ${failure}`, 'replicaset-controller');
      }
      return failure;
    }
    if (diff > 0) {
      const victims = [...pods].sort(deletionRank).slice(0, diff);
      this.expectations.expect(k, 0, victims.map(key));
      await Promise.all(victims.map(async (p) => {
        try {
          await this.client.delete(`/api/v1/namespaces/${ns}/pods/${p.metadata.name}`);
          this.events.record({ ...rs, apiVersion: 'apps/v1', kind: 'ReplicaSet' }, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`, 'replicaset-controller');
        } catch (e) {
          this.expectations.deleted(k, key(p));
          if (e.code !== 404) throw e;
        }
      }));
    }
    return null;
  }

  async updateStatus(rs, ns, pods, failure) {
    const minReady = rs.spec.minReadySeconds ?? 0;
    let available = 0;
    let recheck;
    for (const p of pods) {
      const a = podAvailable(p, minReady);
      if (a.available) available++;
      else if (a.inMs !== undefined) recheck = Math.min(recheck ?? Infinity, a.inMs + 10);
    }
    const labels = rs.spec.template?.metadata?.labels ?? {};
    const st = rs.status ?? {};
    let conditions = st.conditions ?? [];
    if (failure) {
      conditions = setCondition(conditions, { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: failure });
    } else if (pods.length === (rs.spec.replicas ?? 1)) {
      conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
    }
    const status = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((p) => matchSelector({ matchLabels: labels }, p.metadata.labels)).length,
      readyReplicas: pods.filter(podReady).length,
      availableReplicas: available,
      observedGeneration: rs.metadata.generation ?? 1,
      ...(conditions.length ? { conditions } : {}),
    };
    if (!sameJson(st, status)) {
      await this.client.replace(`/apis/apps/v1/namespaces/${ns}/replicasets/${rs.metadata.name}/status`, {
        ...rs, apiVersion: 'apps/v1', kind: 'ReplicaSet', status,
      });
    }
    return recheck;
  }
}

