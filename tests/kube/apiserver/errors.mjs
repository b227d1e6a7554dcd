// SPDX-License-Identifier: Apache-2.0
// Errors of the fake API server as Kubernetes `Status` objects (reason, code, details and the
// message texts a real kube-apiserver writes), thrown as ApiError and written by the router.

export class ApiError extends Error {
    constructor(code, reason, message, details, headers) {
        super(message);
        this.code = code;
        this.reason = reason;
        this.details = details;
        this.headers = headers || {};
    }

    status() {
        const s = {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: this.message,
            reason: this.reason,
            code: this.code,
        };
        if (this.details) s.details = this.details;
        return s;
    }
}

// "deployments.apps" or "pods": how messages name a resource.
export function qualified(rdef) {
    return rdef.group ? `${rdef.plural}.${rdef.group}` : rdef.plural;
}

// "Deployment.apps" or "Pod": how Invalid messages name a kind.
function qualifiedKind(rdef) {
    return rdef.group ? `${rdef.kind}.${rdef.group}` : rdef.kind;
}

function details(rdef, name) {
    const d = { name, group: rdef.group, kind: rdef.plural };
    if (!rdef.group) delete d.group;
    return d;
}

export function notFound(rdef, name) {
    return new ApiError(404, 'NotFound', `${qualified(rdef)} "${name}" not found`,
        details(rdef, name));
}

export function pathNotFound() {
    return new ApiError(404, 'NotFound', 'the server could not find the requested resource',
        { causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }] });
}

export function alreadyExists(rdef, name) {
    return new ApiError(409, 'AlreadyExists', `${qualified(rdef)} "${name}" already exists`,
        details(rdef, name));
}

export function conflict(rdef, name, why) {
    const text = why || 'the object has been modified; please apply your changes to the latest ' +
        'version and try again';
    return new ApiError(409, 'Conflict',
        `Operation cannot be fulfilled on ${qualified(rdef)} "${name}": ${text}`,
        details(rdef, name));
}

export function badRequest(message) {
    return new ApiError(400, 'BadRequest', message);
}

export function gone(message) {
    return new ApiError(410, 'Expired', message);
}

export function forbidden(message, rdef, name) {
    return new ApiError(403, 'Forbidden', message, rdef ? details(rdef, name || '') : undefined);
}

export function methodNotAllowed(message) {
    return new ApiError(405, 'MethodNotAllowed',
        message || 'the server does not allow this method on the requested resource');
}

export function unsupportedMediaType(type, accepted) {
    return new ApiError(415, 'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
}

export function tooManyRequests(seconds) {
    return new ApiError(429, 'TooManyRequests',
        'Too many requests, please try again later.',
        { retryAfterSeconds: seconds }, { 'Retry-After': String(seconds) });
}

export function internalError(message, seconds) {
    const headers = seconds ? { 'Retry-After': String(seconds) } : undefined;
    return new ApiError(500, 'InternalError',
        `Internal error occurred: ${message}`,
        { causes: [{ message }], retryAfterSeconds: seconds || undefined }, headers);
}

export function unauthorized() {
    return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

// One validation failure: a field path (`spec.template.spec.containers[0].image`), a reason from
// the apimachinery field error types and the detail text.
export function cause(field, type, detail, value) {
    return { field, type, detail, value };
}

const causeReasons = {
    required: ['FieldValueRequired', 'Required value'],
    invalid: ['FieldValueInvalid', 'Invalid value'],
    forbidden: ['FieldValueForbidden', 'Forbidden'],
    notSupported: ['FieldValueNotSupported', 'Unsupported value'],
    duplicate: ['FieldValueDuplicate', 'Duplicate value'],
    notFound: ['FieldValueNotFound', 'Not found'],
    tooLong: ['FieldValueTooLong', 'Too long'],
    tooMany: ['FieldValueTooMany', 'Too many'],
    typeInvalid: ['FieldValueTypeInvalid', 'Invalid value'],
};

function showValue(v) {
    if (typeof v === 'string') return JSON.stringify(v);
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
}

// The text of one cause as kube-apiserver's field.Error.Error() writes it.
function causeText(c) {
    const [, label] = causeReasons[c.type] || causeReasons.invalid;
    if (c.type === 'required' || c.type === 'forbidden' || c.type === 'tooMany') {
        return `${c.field}: ${label}${c.detail ? ': ' + c.detail : ''}`;
    }
    if (c.type === 'notSupported') {
        return `${c.field}: ${label}: ${showValue(c.value)}${c.detail ? ': ' + c.detail : ''}`;
    }
    if (c.type === 'duplicate' || c.type === 'notFound') return `${c.field}: ${label}: ${showValue(c.value)}`;
    const shown = c.value === undefined ? '' : `: ${showValue(c.value)}`;
    return `${c.field}: ${label}${shown}${c.detail ? ': ' + c.detail : ''}`;
}

export function invalid(rdef, name, causes) {
    const texts = causes.map(causeText);
    const list = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
    return new ApiError(422, 'Invalid', `${qualifiedKind(rdef)} "${name}" is invalid: ${list}`, {
        name,
        group: rdef.group || undefined,
        kind: rdef.kind,
        causes: causes.map((c, i) => ({
            reason: (causeReasons[c.type] || causeReasons.invalid)[0],
            message: texts[i].slice(c.field.length + 2),
            field: c.field,
        })),
    });
}
