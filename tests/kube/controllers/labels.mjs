// SPDX-License-Identifier: Apache-2.0
// Label selectors (metav1.LabelSelector), node selector terms (with Gt/Lt and matchFields), and
// owner-reference helpers shared by the controllers.

function requirement(labels, { key, operator, values = [] }) {
  const has = Object.prototype.hasOwnProperty.call(labels, key);
  const v = labels[key];
  switch (operator) {
    case 'In': return has && values.includes(v);
    case 'NotIn': return !has || !values.includes(v);
    case 'Exists': return has;
    case 'DoesNotExist': return !has;
    case 'Gt': case 'Lt': {
      if (!has || values.length !== 1) return false;
      const a = Number(v); const b = Number(values[0]);
      if (!Number.isInteger(a) || !Number.isInteger(b)) return false;
      return operator === 'Gt' ? a > b : a < b;
    }
    default: return false;
  }
}

// True when labels match a LabelSelector; an empty selector matches everything and a missing
// (null) one matches nothing, as in the API.
export function matchSelector(selector, labels = {}) {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  return (selector.matchExpressions ?? []).every((r) => requirement(labels, r));
}

// A Service's or ReplicationController's plain map selector.
export function matchMap(map, labels = {}) {
  return Object.entries(map ?? {}).every(([k, v]) => labels[k] === v);
}

// One NodeSelectorTerm against a node: every expression and field must hold (an empty term
// matches nothing).
export function matchNodeSelectorTerm(term, node) {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  return exprs.every((r) => requirement(labels, r)) &&
    fields.every((r) => requirement({ 'metadata.name': node.metadata.name }, r));
}

export function controllerOf(obj) {
  return (obj.metadata.ownerReferences ?? []).find((r) => r.controller) ?? null;
}

export function ownerRef(owner, apiVersion, kind) {
  return {
    apiVersion, kind, name: owner.metadata.name, uid: owner.metadata.uid,
    controller: true, blockOwnerDeletion: true,
  };
}

export function key(obj) {
  const m = obj.metadata;
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}

export function splitKey(k) {
  const i = k.indexOf('/');
  return i < 0 ? [undefined, k] : [k.slice(0, i), k.slice(i + 1)];
}
