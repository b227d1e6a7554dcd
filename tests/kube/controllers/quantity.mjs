// SPDX-License-Identifier: Apache-2.0
// Kubernetes resource quantities ("500m", "1.5Gi", "2e3") as numbers, and the unit each
// resource is counted in by the scheduler (milli-cores for cpu, bytes, whole units otherwise).

const SUFFIX = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$/;

// The value of a quantity (a string or a number), or NaN when it is not one.
export function parseQuantity(q) {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return NaN;
  const m = QUANTITY.exec(q.trim());
  if (!m) return NaN;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  return base * SUFFIX[m[3] ?? ''];
}

// A quantity in the integer unit the scheduler compares: milli-cores for cpu, otherwise the
// quantity rounded up (bytes for memory, counts for pods and extended resources).
export function schedUnits(resource, q) {
  const v = parseQuantity(q);
  if (!Number.isFinite(v)) return NaN;
  return resource === 'cpu' ? Math.ceil(v * 1000 - 1e-9) : Math.ceil(v - 1e-9);
}

// Nanocores as metrics.k8s.io writes them ("12345678n").
export function formatNanoCores(cores) {
  return `${Math.max(0, Math.round(cores * 1e9))}n`;
}

// Bytes as metrics.k8s.io writes memory ("1234Ki").
export function formatKi(bytes) {
  return `${Math.max(0, Math.round(bytes / 1024))}Ki`;
}
