// SPDX-License-Identifier: Apache-2.0
// Pod volumes as the kubelet sets them up before any container starts: emptyDir, hostPath,
// configMap, secret, downwardAPI and projected (service-account token from the TokenRequest
// API, refreshed at 80 % of its lifetime, the cluster CA, the namespace). Each becomes a folder
// in the pod's directory that pod_runner bind-mounts at the containers' mountPaths.

import fs from 'node:fs';
import path from 'node:path';
import { fieldValue } from './spec.mjs';

const mountError = (message) => Object.assign(new Error(message), { mountError: true });

function writeFile(dir, rel, data, mode) {
  const file = path.join(dir, rel);
  if (!file.startsWith(`${dir}/`)) throw mountError(`invalid path "${rel}"`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, data, { mode: mode ?? 0o644 });
  fs.renameSync(tmp, file); // containers see whole files only
}

// Keys of a ConfigMap or Secret (values as Buffers) written as files, all or the listed items.
function writeKeys(dir, data, items, defaultMode, what, optional) {
  for (const it of items ?? Object.keys(data).map((k) => ({ key: k, path: k }))) {
    if (!(it.key in data)) {
      if (optional) continue;
      throw mountError(`configmap references non-existent config key: ${it.key}`.replace('configmap', what));
    }
    writeFile(dir, it.path, data[it.key], it.mode ?? defaultMode);
  }
}

async function objectData(worker, kind, name, optional) {
  const obj = await worker.agent.getObject(kind, worker.ns, name);
  if (!obj) {
    if (optional) return {};
    throw mountError(`${kind} "${name}" not found`);
  }
  const out = {};
  if (kind === 'secret') {
    for (const [k, v] of Object.entries(obj.data ?? {})) out[k] = Buffer.from(v, 'base64');
  } else {
    for (const [k, v] of Object.entries(obj.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
    for (const [k, v] of Object.entries(obj.data ?? {})) out[k] = Buffer.from(v);
  }
  return out;
}

function writeDownward(worker, dir, items, defaultMode) {
  const pod = { ...worker.pod, status: { ...(worker.pod.status ?? {}), podIP: worker.ip, hostIP: worker.agent.hostIP } };
  for (const it of items ?? []) {
    if (!it.fieldRef) throw mountError(`downwardAPI item "${it.path}": only fieldRef is simulated`);
    let v;
    try { v = fieldValue(pod, it.fieldRef.fieldPath); } catch (e) { throw mountError(e.message); }
    writeFile(dir, it.path, v, it.mode ?? defaultMode);
  }
}

// Requests a service-account token for the pod and writes it; schedules its refresh.
async function writeToken(worker, dir, src, defaultMode) {
  const sa = worker.pod.spec.serviceAccountName ?? 'default';
  const seconds = src.expirationSeconds ?? 3607;
  const tr = await worker.agent.client.create(`/api/v1/namespaces/${worker.ns}/serviceaccounts/${sa}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
    spec: {
      audiences: src.audience ? [src.audience] : [], expirationSeconds: seconds,
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: worker.name, uid: worker.uid },
    },
  }).catch((e) => { throw mountError(`failed to fetch token: ${e.status?.message ?? e.message}`); });
  writeFile(dir, src.path, tr.status.token, defaultMode);
  const timer = setTimeout(() => {
    if (!worker.closed) writeToken(worker, dir, src, defaultMode).catch((e) => worker.log(`token refresh: ${e.message}`));
  }, seconds * 800);
  timer.unref?.();
  worker.timers.add(timer);
}

async function fillVolume(worker, v, dir) {
  const mode = (x) => x?.defaultMode ?? 0o644;
  if (v.configMap) {
    writeKeys(dir, await objectData(worker, 'configmap', v.configMap.name, v.configMap.optional), v.configMap.items, mode(v.configMap), 'configmap', v.configMap.optional);
  } else if (v.secret) {
    writeKeys(dir, await objectData(worker, 'secret', v.secret.secretName, v.secret.optional), v.secret.items, mode(v.secret), 'secret', v.secret.optional);
  } else if (v.downwardAPI) {
    writeDownward(worker, dir, v.downwardAPI.items, mode(v.downwardAPI));
  } else if (v.projected) {
    for (const s of v.projected.sources ?? []) {
      if (s.serviceAccountToken) await writeToken(worker, dir, s.serviceAccountToken, mode(v.projected));
      else if (s.configMap) writeKeys(dir, await objectData(worker, 'configmap', s.configMap.name, s.configMap.optional), s.configMap.items, mode(v.projected), 'configmap', s.configMap.optional);
      else if (s.secret) writeKeys(dir, await objectData(worker, 'secret', s.secret.name, s.secret.optional), s.secret.items, mode(v.projected), 'secret', s.secret.optional);
      else if (s.downwardAPI) writeDownward(worker, dir, s.downwardAPI.items, mode(v.projected));
    }
  } else if (!v.emptyDir) {
    throw mountError(`volume type of "${v.name}" is not simulated by the test cluster`);
  }
}

// Sets up every volume of the pod: name -> { path, readonly }. A failure is a mount error
// (the kubelet's FailedMount), retried by the caller.
export async function prepareVolumes(worker) {
  const out = new Map();
  for (const v of worker.pod.spec.volumes ?? []) {
    if (v.hostPath) {
      const p = v.hostPath.path;
      const type = v.hostPath.type ?? '';
      if (type === 'DirectoryOrCreate') fs.mkdirSync(p, { recursive: true });
      if (type === 'FileOrCreate' && !fs.existsSync(p)) fs.writeFileSync(p, '');
      if (!fs.existsSync(p)) throw mountError(`hostPath type check failed: ${p} does not exist`);
      out.set(v.name, { path: p, readonly: false });
      continue;
    }
    const dir = path.join(worker.dir, 'volumes', v.name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    try {
      await fillVolume(worker, v, dir);
    } catch (e) {
      throw e.mountError ? mountError(`MountVolume.SetUp failed for volume "${v.name}" : ${e.message}`) : e;
    }
    out.set(v.name, { path: dir, readonly: Boolean(v.configMap || v.secret || v.downwardAPI || v.projected) });
  }
  return out;
}

// The bind mounts of one container: its volumeMounts (parents before children).
export function volumeMounts(container, volumes) {
  const mounts = [];
  for (const m of container.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v) continue;
    let source = v.path;
    if (m.subPath) {
      source = path.join(v.path, m.subPath);
      if (!fs.existsSync(source)) fs.mkdirSync(source, { recursive: true });
    }
    mounts.push({ source, target: m.mountPath, readonly: Boolean(m.readOnly || v.readonly) });
  }
  return mounts.sort((a, b) => a.target.length - b.target.length);
}
