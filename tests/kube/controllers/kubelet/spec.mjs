// SPDX-License-Identifier: Apache-2.0
// What the kubelet derives from a container spec: its environment (image env, service links,
// env with valueFrom, envFrom) and its argv (command/args over the image's entrypoint and
// default args), with $(VAR) references expanded as Kubernetes does.

import { parseQuantity } from '../quantity.mjs';

// Expands $(VAR) from vars; $$ is a literal $; unknown references stay as they are.
export function expand(text, vars) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '$' || i + 1 >= text.length) {
      out += text[i];
      continue;
    }
    if (text[i + 1] === '$') {
      out += '$';
      i++;
    } else if (text[i + 1] === '(') {
      const end = text.indexOf(')', i + 2);
      const name = end < 0 ? null : text.slice(i + 2, end);
      if (name !== null && Object.prototype.hasOwnProperty.call(vars, name)) {
        out += vars[name];
        i = end;
      } else {
        out += '$';
      }
    } else {
      out += '$';
    }
  }
  return out;
}

// The argv of a container: command replaces the entrypoint, args the default args. $(VAR) in
// command and args expands from the container's environment; the image table's own entries may
// only use $(POD_IP), which stands for the pod's address (where a real image would bind
// 0.0.0.0 in its own network namespace).
export function containerArgv(c, image, env, podIP) {
  const fromImage = (list) => (list ?? []).map((s) => expand(s, { POD_IP: podIP }));
  const fromPod = (list) => list.map((s) => expand(s, env));
  if (c.command) return [...fromPod(c.command), ...fromPod(c.args ?? [])];
  if (c.args) return [...fromImage(image.entrypoint), ...fromPod(c.args)];
  return [...fromImage(image.entrypoint), ...fromImage(image.args)];
}

export function fieldValue(pod, path) {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (m) return pod.metadata[m[1]]?.[m[2]] ?? '';
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace;
    case 'metadata.uid': return pod.metadata.uid;
    case 'spec.nodeName': return pod.spec.nodeName;
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'status.hostIP': case 'status.hostIPs': return pod.status?.hostIP ?? '';
    case 'status.podIP': case 'status.podIPs': return pod.status?.podIP ?? '';
    default: throw new Error(`unsupported fieldRef fieldPath "${path}"`);
  }
}

// resourceFieldRef: the container's limit (else the node's allocatable) or request, divided by
// the divisor and rounded up.
function resourceValue(pod, c, ref, node) {
  const container = ref.containerName ? pod.spec.containers.find((x) => x.name === ref.containerName) : c;
  const [kind, res] = ref.resource.split('.');
  let q = container?.resources?.[kind]?.[res];
  if (q === undefined && kind === 'limits') q = node?.status?.allocatable?.[res];
  if (q === undefined) return '0';
  const div = parseQuantity(ref.divisor ?? '1');
  return String(Math.ceil(parseQuantity(q) / div - 1e-9));
}

const missing = (kind, name) => Object.assign(new Error(`${kind} "${name}" not found`), { configError: true });

// Reads one key of a ConfigMap or Secret (getObject(kind, name) resolves the object or null).
async function refValue(getObject, ref, kind) {
  const obj = await getObject(kind, ref.name);
  if (!obj) {
    if (ref.optional) return undefined;
    throw missing(kind, ref.name);
  }
  const data = kind === 'secret' ? obj.data ?? {} : { ...(obj.binaryData ?? {}), ...(obj.data ?? {}) };
  if (!(ref.key in data)) {
    if (ref.optional) return undefined;
    throw Object.assign(new Error(`couldn't find key ${ref.key} in ${kind === 'secret' ? 'Secret' : 'ConfigMap'} ${ref.namespace ?? ''}${ref.name}`), { configError: true });
  }
  return kind === 'secret' ? Buffer.from(data[ref.key], 'base64').toString('utf8') : data[ref.key];
}

// The container's environment as a name -> value map, in Kubernetes' order: image env, service
// links, envFrom, env (later entries win; $(VAR) in env values sees the earlier ones).
export async function containerEnv({ pod, c, image, serviceEnv, node, getObject }) {
  const env = {};
  for (const [k, v] of Object.entries(image.env ?? {})) env[k] = expand(v, { POD_IP: pod.status?.podIP ?? '' });
  env.HOSTNAME = pod.spec.hostname ?? pod.metadata.name;
  Object.assign(env, serviceEnv);
  for (const src of c.envFrom ?? []) {
    const ref = src.configMapRef ?? src.secretRef;
    const kind = src.configMapRef ? 'configmap' : 'secret';
    const obj = await getObject(kind, ref.name);
    if (!obj) {
      if (ref.optional) continue;
      throw missing(kind, ref.name);
    }
    for (const [k, v] of Object.entries(obj.data ?? {})) {
      env[`${src.prefix ?? ''}${k}`] = kind === 'secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
    }
  }
  for (const e of c.env ?? []) {
    let v;
    if (e.valueFrom?.fieldRef) v = fieldValue(pod, e.valueFrom.fieldRef.fieldPath);
    else if (e.valueFrom?.resourceFieldRef) v = resourceValue(pod, c, e.valueFrom.resourceFieldRef, node);
    else if (e.valueFrom?.configMapKeyRef) v = await refValue(getObject, e.valueFrom.configMapKeyRef, 'configmap');
    else if (e.valueFrom?.secretKeyRef) v = await refValue(getObject, e.valueFrom.secretKeyRef, 'secret');
    else v = expand(e.value ?? '', env);
    if (v !== undefined) env[e.name] = v;
  }
  return env;
}

// Docker-style service link variables for the Services of the pod's namespace, plus
// KUBERNETES_SERVICE_HOST/PORT pointing at the API server.
export function serviceLinkEnv(services, ns, apiHost, apiPort, enable = true) {
  const env = {};
  for (const svc of enable ? services : []) {
    const ip = svc.spec?.clusterIP;
    if (svc.metadata.namespace !== ns || !ip || ip === 'None' || !(svc.spec.ports ?? []).length) continue;
    const name = svc.metadata.name.toUpperCase().replace(/-/g, '_');
    const first = svc.spec.ports[0];
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(first.port);
    env[`${name}_PORT`] = `${(first.protocol ?? 'TCP').toLowerCase()}://${ip}:${first.port}`;
    for (const p of svc.spec.ports) {
      const proto = p.protocol ?? 'TCP';
      if (p.name) env[`${name}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
      const base = `${name}_PORT_${p.port}_${proto}`;
      env[base] = `${proto.toLowerCase()}://${ip}:${p.port}`;
      env[`${base}_PROTO`] = proto.toLowerCase();
      env[`${base}_PORT`] = String(p.port);
      env[`${base}_ADDR`] = ip;
    }
  }
  if (apiHost) {
    env.KUBERNETES_SERVICE_HOST = apiHost;
    env.KUBERNETES_SERVICE_PORT = String(apiPort);
    env.KUBERNETES_SERVICE_PORT_HTTPS = String(apiPort);
  }
  return env;
}
