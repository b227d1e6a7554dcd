// SPDX-License-Identifier: Apache-2.0
// Job controller: runs pods until `completions` succeed (parallelism at a time), counts
// failures against backoffLimit (with the pod-failure back-off), enforces
// activeDeadlineSeconds, and sets the Complete / Failed conditions (with SuccessCriteriaMet /
// FailureTarget first, as Kubernetes 1.31+ does).

import { trackOwnedPods } from './expectations.mjs';
import { key, ownerRef, splitKey } from './labels.mjs';
import { isoNow, podActive, podFromTemplate, podReady, sameJson, setCondition } from './pods.mjs';

const finished = (job) => (job.status?.conditions ?? []).some((c) =>
  (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');

export class JobController {
  constructor({ client, jobs, pods, index, expectations, queue, events, log, backoffBaseMs = 10000 }) {
    Object.assign(this, { client, jobs, pods, index, expectations, queue, events, log, backoffBaseMs });
    jobs.on((type, job) => this.queue.add(key(job)));
    trackOwnedPods(pods, 'Job', expectations, queue);
  }

  ref(job) { return { ...job, apiVersion: 'batch/v1', kind: 'Job' }; }

  async sync(k) {
    const job = this.jobs.get(k);
    if (!job) {
      this.expectations.forget(k);
      return undefined;
    }
    if (finished(job)) return this.expire(job);
    if (job.metadata.deletionTimestamp || !this.expectations.satisfied(k)) return undefined;
    const [ns] = splitKey(k);
    const pods = this.index.owned(job.metadata.uid);
    const active = pods.filter(podActive);
    const succeeded = Math.max(job.status?.succeeded ?? 0, pods.filter((p) => p.status?.phase === 'Succeeded').length);
    const failedPods = pods.filter((p) => p.status?.phase === 'Failed');
    const restarts = job.spec.template?.spec?.restartPolicy === 'OnFailure'
      ? active.reduce((a, p) => a + (p.status?.containerStatuses ?? []).reduce((b, c) => b + (c.restartCount ?? 0), 0), 0) : 0;
    const failed = Math.max(job.status?.failed ?? 0, failedPods.length);
    const completions = job.spec.completions ?? (job.spec.parallelism === undefined ? 1 : null);
    const startTime = job.status?.startTime ?? isoNow();
    const deadline = job.spec.activeDeadlineSeconds;
    const runMs = Date.now() - Date.parse(startTime);
    let verdict = null;
    if (failed + restarts > (job.spec.backoffLimit ?? 6)) {
      verdict = { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    } else if (deadline !== undefined && runMs >= deadline * 1000) {
      verdict = { type: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    } else if (completions !== null ? succeeded >= completions : succeeded > 0 && active.length === 0) {
      verdict = { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
    }
    let recheck;
    if (verdict?.type === 'Failed' || (verdict && active.length)) {
      await this.deletePods(k, ns, active);
    } else if (!verdict && !job.spec.suspend) {
      recheck = await this.startPods(job, ns, k, active, succeeded, completions, failedPods);
    }
    if (deadline !== undefined && !verdict) {
      const left = deadline * 1000 - runMs;
      recheck = Math.min(recheck ?? Infinity, left + 20);
    }
    await this.updateStatus(job, ns, { active, succeeded, failed, startTime, verdict });
    return recheck;
  }

  // Creates the missing active pods, after the failure back-off (10 s, doubling, 6 min at
  // most, from the last failure). Returns when to look again when still backing off.
  async startPods(job, ns, k, active, succeeded, completions, failedPods) {
    const parallelism = job.spec.parallelism ?? 1;
    const want = Math.max(0, Math.min(parallelism, completions === null ? parallelism : completions - succeeded) - active.length);
    if (want === 0) return undefined;
    if (failedPods.length > 0) {
      const last = Math.max(...failedPods.map((p) => Date.parse(
        (p.status?.containerStatuses ?? []).map((c) => c.state?.terminated?.finishedAt).find(Boolean) ?? p.metadata.creationTimestamp)));
      const wait = Math.min(this.backoffBaseMs * 2 ** (failedPods.length - 1), 360000) - (Date.now() - last);
      if (wait > 0) return wait;
    }
    this.expectations.expect(k, want);
    const labels = {
      'batch.kubernetes.io/controller-uid': job.metadata.uid, 'batch.kubernetes.io/job-name': job.metadata.name,
      'controller-uid': job.metadata.uid, 'job-name': job.metadata.name,
    };
    const owner = ownerRef(job, 'batch/v1', 'Job');
    await Promise.all(Array.from({ length: want }, async () => {
      try {
        const pod = await this.client.create(`/api/v1/namespaces/${ns}/pods`, podFromTemplate(job.spec.template, ns, `${job.metadata.name}-`, owner, labels));
        this.events.record(this.ref(job), 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`, 'job-controller');
      } catch (e) {
        this.expectations.added(k);
        this.events.record(this.ref(job), 'Warning', 'FailedCreate', `Error creating: ${e.status?.message ?? e.message}`, 'job-controller');
        throw e;
      }
    }));
    return undefined;
  }

  async deletePods(k, ns, active) {
    this.expectations.expect(k, 0, active.map(key));
    await Promise.all(active.map((p) => this.client.delete(`/api/v1/namespaces/${ns}/pods/${p.metadata.name}`).catch((e) => {
      this.expectations.deleted(k, key(p));
      if (e.code !== 404) throw e;
    })));
  }

  async updateStatus(job, ns, { active, succeeded, failed, startTime, verdict }) {
    const prev = job.status ?? {};
    const now = isoNow();
    let conditions = prev.conditions ?? [];
    if (verdict) {
      const interim = verdict.type === 'Complete' ? 'SuccessCriteriaMet' : 'FailureTarget';
      conditions = setCondition(conditions, { type: interim, status: 'True', reason: verdict.reason, message: verdict.message, lastProbeTime: now }, now);
      conditions = setCondition(conditions, { ...verdict, status: 'True', lastProbeTime: now }, now);
      this.events.record(this.ref(job), verdict.type === 'Complete' ? 'Normal' : 'Warning',
        verdict.type === 'Complete' ? 'Completed' : verdict.reason,
        verdict.type === 'Complete' ? 'Job completed' : verdict.message, 'job-controller');
    }
    const status = {
      ...(conditions.length ? { conditions } : {}),
      startTime,
      ...(verdict?.type === 'Complete' ? { completionTime: now } : {}),
      active: verdict ? 0 : active.length,
      ready: verdict ? 0 : active.filter(podReady).length,
      succeeded, failed, terminating: 0,
      uncountedTerminatedPods: {},
    };
    for (const f of ['active', 'succeeded', 'failed']) if (status[f] === 0) delete status[f];
    if (!sameJson(prev, status)) {
      await this.client.replace(`/apis/batch/v1/namespaces/${ns}/jobs/${job.metadata.name}/status`, { ...this.ref(job), status });
    }
  }

  // ttlSecondsAfterFinished: delete the finished Job (and, through the garbage collector, its
  // pods) once the time is up.
  async expire(job) {
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (ttl === undefined || job.metadata.deletionTimestamp) return undefined;
    const c = job.status.conditions.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
    const left = Date.parse(c.lastTransitionTime) + ttl * 1000 - Date.now();
    if (left > 0) return left + 20;
    await this.client.delete(`/apis/batch/v1/namespaces/${job.metadata.namespace}/jobs/${job.metadata.name}`, {
      apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background',
    }).catch((e) => { if (e.code !== 404) throw e; });
    return undefined;
  }
}
