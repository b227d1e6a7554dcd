// SPDX-License-Identifier: Apache-2.0
// Label selectors (the query-string syntax and the LabelSelector object) and field selectors,
// parsed into requirement lists that list, watch, deletecollection and the GC match objects with.
import { badRequest } from './errors.mjs';

// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h` into [{key, op, values}].
export function parseLabelSelector(text) {
    const reqs = [];
    if (!text) return reqs;
    let i = 0;
    const s = text;
    const skip = () => {
        while (i < s.length && s[i] === ' ') i++;
    };
    const word = () => {
        skip();
        const start = i;
        while (i < s.length && !' ,=!()'.includes(s[i])) i++;
        return s.slice(start, i);
    };
    while (i < s.length) {
        skip();
        let neg = false;
        if (s[i] === '!') {
            neg = true;
            i++;
        }
        const key = word();
        if (!key) throw badRequest(`unable to parse requirement: found '${s.slice(i)}', expected: identifier`);
        skip();
        if (neg) {
            reqs.push({ key, op: '!', values: [] });
        } else if (s.startsWith('==', i) || s.startsWith('!=', i) || s[i] === '=') {
            const op = s.startsWith('!=', i) ? '!=' : '=';
            i += s.startsWith('==', i) || s.startsWith('!=', i) ? 2 : 1;
            reqs.push({ key, op, values: [word()] });
        } else if (/^(in|notin)\s*\(/.test(s.slice(i))) {
            const op = s.startsWith('notin', i) ? 'notin' : 'in';
            i = s.indexOf('(', i) + 1;
            const close = s.indexOf(')', i);
            if (close < 0) throw badRequest(`unable to parse requirement: expected ')' in "${text}"`);
            const values = s.slice(i, close).split(',').map((v) => v.trim()).filter((v) => v !== '');
            i = close + 1;
            reqs.push({ key, op, values });
        } else {
            reqs.push({ key, op: 'exists', values: [] });
        }
        skip();
        if (i < s.length) {
            if (s[i] !== ',') throw badRequest(`unable to parse requirement: found '${s[i]}', expected: ','`);
            i++;
        }
    }
    return reqs;
}

// A metav1.LabelSelector object as requirements; null selects nothing, {} everything.
export function labelSelectorRequirements(sel) {
    if (!sel) return null;
    const reqs = [];
    for (const [key, value] of Object.entries(sel.matchLabels || {})) {
        reqs.push({ key, op: '=', values: [value] });
    }
    for (const e of sel.matchExpressions || []) {
        const op = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' }[e.operator];
        reqs.push({ key: e.key, op, values: e.values || [] });
    }
    return reqs;
}

export function matchLabels(reqs, labels) {
    labels = labels || {};
    for (const r of reqs) {
        const has = Object.prototype.hasOwnProperty.call(labels, r.key);
        const v = labels[r.key];
        switch (r.op) {
        case '=': if (!has || v !== r.values[0]) return false; break;
        case '!=': if (has && v === r.values[0]) return false; break;
        case 'in': if (!has || !r.values.includes(v)) return false; break;
        case 'notin': if (has && r.values.includes(v)) return false; break;
        case 'exists': if (!has) return false; break;
        case '!': if (has) return false; break;
        default: return false;
        }
    }
    return true;
}

// Field selectors: `metadata.name=x,status.phase!=Running`.
export function parseFieldSelector(text, supported) {
    const reqs = [];
    if (!text) return reqs;
    for (const part of text.split(',')) {
        if (!part) continue;
        const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(part);
        if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
        const field = m[1].trim();
        if (!supported(field)) {
            throw badRequest(`field label not supported: ${field}`);
        }
        reqs.push({ field, neg: m[2] === '!=', value: m[3] });
    }
    return reqs;
}

function getPath(obj, dotted) {
    let v = obj;
    for (const k of dotted.split('.')) {
        if (v === null || typeof v !== 'object') return undefined;
        v = v[k];
    }
    return v;
}

export function matchFields(reqs, obj) {
    for (const r of reqs) {
        let v = getPath(obj, r.field);
        v = v === undefined || v === null ? '' : String(v);
        if ((v === r.value) === r.neg) return false;
    }
    return true;
}

// The field selectors kube-apiserver accepts per resource (besides metadata.name/namespace).
const FIELDS = {
    '/pods': ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName',
        'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
    '/events': ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name',
        'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion',
        'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
    '/secrets': ['type'],
    '/nodes': ['spec.unschedulable'],
    '/namespaces': ['status.phase'],
    'batch/jobs': ['status.successful'],
    'apps/replicasets': ['status.replicas'],
};

export function fieldSupported(rdef, field) {
    if (field === 'metadata.name' || field === 'metadata.namespace') return true;
    if (rdef.selectableFields && rdef.selectableFields.includes(field)) return true;
    return (FIELDS[rdef.storage] || []).includes(field);
}
