// SPDX-License-Identifier: Apache-2.0
// Small helpers shared by the fake API server: timestamps, names, deep equality, quantities and
// the human durations kubectl prints in AGE columns.
import crypto from 'node:crypto';

// RFC 3339 with seconds, as metav1.Time serialises.
export function now() {
    return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export function uid() {
    return crypto.randomUUID();
}

const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

// The 5 random characters `generateName` and ReplicaSet/pod names get (apimachinery's rand).
export function randomSuffix(n = 5) {
    const bytes = crypto.randomBytes(n);
    let s = '';
    for (const b of bytes) s += SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length];
    return s;
}

export function clone(v) {
    return v === undefined ? undefined : structuredClone(v);
}

export function deepEqual(a, b) {
    if (a === b) return true;
    if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    if (Array.isArray(a)) {
        if (a.length !== b.length) return false;
        return a.every((x, i) => deepEqual(x, b[i]));
    }
    // Keys holding undefined count as absent (as in the JSON the objects stand for).
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => b[k] !== undefined && deepEqual(a[k], b[k]));
}

export function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;
const SUFFIX = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
    n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

// A resource quantity ("500m", "1Gi", 2) as a number, or NaN when Kubernetes would refuse it.
export function parseQuantity(q) {
    if (typeof q === 'number') return q;
    if (typeof q !== 'string') return NaN;
    const m = QUANTITY.exec(q.trim());
    if (!m) return NaN;
    const n = Number(m[1]);
    if (!m[2]) return n;
    if (/^[eE]/.test(m[2])) return n * 10 ** Number(m[2].slice(1));
    return n * SUFFIX[m[2]];
}

export const QUANTITY_MESSAGE =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

// apimachinery's duration.HumanDuration, as kubectl shows ages.
export function humanDuration(ms) {
    const seconds = Math.floor(ms / 1000);
    if (seconds < -1) return '<invalid>';
    if (seconds < 0) return '0s';
    if (seconds < 120) return `${seconds}s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 10) {
        const s = seconds % 60;
        return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
    }
    if (minutes < 180) return `${minutes}m`;
    const hours = Math.floor(minutes / 60);
    if (hours < 8) {
        const m = minutes % 60;
        return m === 0 ? `${hours}h` : `${hours}h${m}m`;
    }
    if (hours < 48) return `${hours}h`;
    if (hours < 24 * 8) {
        const h = hours % 24;
        return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
    }
    if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
    const days = Math.floor(hours / 24);
    if (hours < 24 * 365 * 8) {
        const dy = days % 365;
        return dy === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${dy}d`;
    }
    return `${Math.floor(days / 365)}y`;
}

export function age(timestamp) {
    if (!timestamp) return '<unknown>';
    return humanDuration(Date.now() - Date.parse(timestamp));
}
