// SPDX-License-Identifier: Apache-2.0
// Name, label and annotation rules of apimachinery's validation package, with the exact
// messages kube-apiserver answers when an object breaks them.
import { cause } from './errors.mjs';

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${QUALIFIED_NAME})?`;

const re = (s) => new RegExp(`^${s}$`);

export function dns1123Label(v) {
    const errs = [];
    if (v.length > 63) errs.push('must be no more than 63 characters');
    if (!re(DNS1123_LABEL).test(v)) {
        errs.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters " +
            "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or " +
            `'123-abc', regex used for validation is '${DNS1123_LABEL}')`);
    }
    return errs;
}

export function dns1123Subdomain(v) {
    const errs = [];
    if (v.length > 253) errs.push('must be no more than 253 characters');
    if (!re(DNS1123_SUBDOMAIN).test(v)) {
        errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric " +
            "characters, '-' or '.', and must start and end with an alphanumeric character " +
            `(e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`);
    }
    return errs;
}

export function dns1035Label(v) {
    const errs = [];
    if (v.length > 63) errs.push('must be no more than 63 characters');
    if (!re(DNS1035_LABEL).test(v)) {
        errs.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', " +
            'start with an alphabetic character, and end with an alphanumeric character (e.g. ' +
            `'my-name',  or 'abc-123', regex used for validation is '${DNS1035_LABEL}')`);
    }
    return errs;
}

// Any name that is a valid path segment (RBAC objects, events).
export function pathSegmentName(v) {
    if (v === '.' || v === '..') return [`may not be '${v}'`];
    for (const bad of ['/', '%']) if (v.includes(bad)) return [`may not contain '${bad}'`];
    return [];
}

export function qualifiedName(v) {
    const errs = [];
    const parts = v.split('/');
    let name = v;
    if (parts.length === 2) {
        const [prefix, n] = parts;
        name = n;
        if (!prefix) errs.push('prefix part must be non-empty');
        else errs.push(...dns1123Subdomain(prefix).map((e) => `prefix part ${e}`));
    } else if (parts.length > 2) {
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and " +
            "must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  " +
            `or '123-abc', regex used for validation is '${QUALIFIED_NAME}') with an optional ` +
            "DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"];
    }
    if (!name) errs.push('name part must be non-empty');
    else if (name.length > 63) errs.push('name part must be no more than 63 characters');
    if (name && !re(QUALIFIED_NAME).test(name)) {
        errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must " +
            "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or " +
            `'123-abc', regex used for validation is '${QUALIFIED_NAME}')`);
    }
    return errs;
}

function labelValue(v) {
    const errs = [];
    if (v.length > 63) errs.push('must be no more than 63 characters');
    if (!re(LABEL_VALUE).test(v)) {
        errs.push("a valid label must be an empty string or consist of alphanumeric characters, " +
            "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. " +
            "'MyValue',  or 'my_value',  or '12345', regex used for validation is " +
            `'${LABEL_VALUE}')`);
    }
    return errs;
}

export function validateLabels(labels, field) {
    const out = [];
    for (const [k, v] of Object.entries(labels || {})) {
        for (const e of qualifiedName(k)) out.push(cause(field, 'invalid', e, k));
        if (typeof v === 'string') {
            for (const e of labelValue(v)) out.push(cause(field, 'invalid', e, v));
        }
    }
    return out;
}

export function validateAnnotations(annotations, field) {
    const out = [];
    let size = 0;
    for (const [k, v] of Object.entries(annotations || {})) {
        for (const e of qualifiedName(k.toLowerCase())) out.push(cause(field, 'invalid', e, k));
        size += k.length + String(v).length;
    }
    if (size > 256 * 1024) {
        out.push(cause(field, 'tooLong', 'may not be more than 262144 bytes'));
    }
    return out;
}

// `name` as a C identifier-like environment variable name.
export function envVarName(v) {
    if (/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(v)) return [];
    return ["a valid environment variable name must consist of alphabetic characters, digits, " +
        "'_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or " +
        "'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"];
}

// IANA service names (container and service port names).
export function portName(v) {
    if (v.length > 15) return ['must be no more than 15 characters'];
    if (!/^[-a-z0-9]+$/.test(v)) return ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"];
    if (!/[a-z]/.test(v)) return ['must contain at least one letter (a-z)'];
    if (v.includes('--')) return ["must not contain consecutive hyphens"];
    if (v.startsWith('-') || v.endsWith('-')) return ['must not begin or end with a hyphen'];
    return [];
}
