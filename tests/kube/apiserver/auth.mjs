// SPDX-License-Identifier: Apache-2.0
// Authentication (static bearer tokens, client certificates, exec-plugin tokens with expiry,
// service-account tokens from the TokenRequest API) and authorization (allow all, RBAC over the
// stored Role/Binding objects, and deny rules set by tests) with kube-apiserver's 401/403 texts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { forbidden, qualified, unauthorized } from './errors.mjs';

const b64url = (b) => Buffer.from(b).toString('base64url');

export class Auth {
    constructor({ dir, tokenKey, store, mode = 'AlwaysAllow' }) {
        this.dir = dir;
        this.tokenKey = tokenKey;
        this.store = store;
        this.mode = mode;
        this.tokens = new Map(); // token -> {name, uid, groups}
        this.deny = []; // [{user, group, verb, resource, apiGroup, namespace, name}]
        this.loadTokens();
    }

    tokenFile() {
        return path.join(this.dir, 'tokens.csv');
    }

    // tokens.csv as kube-apiserver's --token-auth-file: token,user,uid,"group1,group2".
    loadTokens() {
        if (!fs.existsSync(this.tokenFile())) {
            const admin = crypto.randomBytes(16).toString('hex');
            fs.writeFileSync(this.tokenFile(), `${admin},admin,admin,"system:masters"\n`, { mode: 0o600 });
        }
        for (const line of fs.readFileSync(this.tokenFile(), 'utf8').split('\n')) {
            const m = /^([^,]+),([^,]+),([^,]*)(?:,"?([^"]*)"?)?$/.exec(line.trim());
            if (m) this.tokens.set(m[1], { name: m[2], uid: m[3], groups: m[4] ? m[4].split(',') : [] });
        }
    }

    adminToken() {
        for (const [t, u] of this.tokens) if (u.name === 'admin') return t;
        return undefined;
    }

    addToken(token, name, groups = []) {
        this.tokens.set(token, { name, uid: name, groups });
        fs.appendFileSync(this.tokenFile(), `${token},${name},${name},"${groups.join(',')}"\n`);
    }

    hmac(text) {
        return crypto.createHmac('sha256', this.tokenKey).update(text).digest();
    }

    // A service-account token (a JWT signed with HS256) as the TokenRequest API returns it.
    issueServiceAccountToken(sa, seconds, audiences, boundPod) {
        const nowS = Math.floor(Date.now() / 1000);
        const exp = nowS + seconds;
        const claims = {
            aud: audiences, exp, iat: nowS, nbf: nowS,
            iss: 'https://kubernetes.default.svc.cluster.local',
            sub: `system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}`,
            'kubernetes.io': { namespace: sa.metadata.namespace,
                serviceaccount: { name: sa.metadata.name, uid: sa.metadata.uid },
                ...(boundPod ? { pod: boundPod } : {}) },
        };
        const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
        const body = b64url(JSON.stringify(claims));
        const sig = b64url(this.hmac(`${head}.${body}`));
        return { token: `${head}.${body}.${sig}`, expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d+Z$/, 'Z') };
    }

    verifyJwt(token) {
        const [head, body, sig] = token.split('.');
        const want = b64url(this.hmac(`${head}.${body}`));
        if (!sig || sig.length !== want.length ||
            !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want))) return null;
        const c = JSON.parse(Buffer.from(body, 'base64url').toString());
        if (c.exp * 1000 < Date.now()) return null;
        const info = c['kubernetes.io'];
        const sa = this.store.get('/serviceaccounts', info.namespace, info.serviceaccount.name);
        if (!sa || sa.metadata.uid !== info.serviceaccount.uid) return null;
        return { name: c.sub, uid: info.serviceaccount.uid,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${info.namespace}`] };
    }

    // exec.<base64url user>.<expiry seconds>.<hex hmac>: written by exec-credential.sh.
    verifyExec(token) {
        const [, u64, exp, sig] = token.split('.');
        const want = this.hmac(`${u64}.${exp}`).toString('hex');
        if (!sig || sig !== want) return null;
        if (Number(exp) * 1000 < Date.now()) return null;
        return { name: Buffer.from(u64, 'base64url').toString(), uid: '', groups: [] };
    }

    // The user of a request, or throws 401. Requests without credentials are anonymous.
    authenticate(req) {
        const h = req.headers.authorization;
        let user = null;
        if (h) {
            const m = /^Bearer\s+(\S+)$/i.exec(h);
            if (!m) throw unauthorized();
            const t = m[1];
            if (this.tokens.has(t)) user = this.tokens.get(t);
            else if (t.startsWith('exec.')) user = this.verifyExec(t);
            else if (t.split('.').length === 3) {
                try {
                    user = this.verifyJwt(t);
                } catch {
                    user = null;
                }
            }
            if (!user) throw unauthorized();
        } else if (req.socket.authorized) {
            const cert = req.socket.getPeerCertificate();
            const o = cert.subject?.O;
            user = { name: cert.subject.CN, uid: '', groups: o ? [].concat(o) : [] };
        }
        if (!user) return { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'] };
        user = { ...user, groups: [...new Set([...user.groups, 'system:authenticated'])] };
        return this.impersonate(req, user);
    }

    // Impersonate-User / Impersonate-Group headers (kubectl --as, --as-group).
    impersonate(req, user) {
        const as = req.headers['impersonate-user'];
        if (!as) return user;
        const attrs = { verb: 'impersonate', apiGroup: '', resource: 'users', subresource: '',
            namespace: '', name: as };
        if (!this.allowed(user, attrs)) {
            throw forbidden(`users "${as}" is forbidden: User "${user.name}" cannot impersonate ` +
                'resource "users" in API group "" at the cluster scope');
        }
        const raw = req.headersDistinct?.['impersonate-group'] || [];
        const groups = raw.flatMap((g) => g.split(',')).map((g) => g.trim()).filter(Boolean);
        return { name: as, uid: '', groups: [...new Set([...groups, 'system:authenticated'])] };
    }

    isAdmin(user) {
        return user.groups.includes('system:masters');
    }

    // Attributes: {verb, apiGroup, resource, subresource, namespace, name}.
    allowed(user, a) {
        for (const d of this.deny) {
            const m = (k, v) => d[k] === undefined || d[k] === '*' || d[k] === v;
            if ((d.user === undefined || d.user === user.name) &&
                (d.group === undefined || user.groups.includes(d.group)) &&
                m('verb', a.verb) && m('apiGroup', a.apiGroup) &&
                m('resource', a.subresource ? `${a.resource}/${a.subresource}` : a.resource) &&
                m('namespace', a.namespace || '') && m('name', a.name || '')) return false;
        }
        if (this.isAdmin(user)) return true;
        if (user.name === 'system:anonymous') return false;
        if (this.mode !== 'RBAC') return true;
        return this.rbacAllows(user, a);
    }

    subjectMatches(s, user) {
        if (s.kind === 'User') return s.name === user.name;
        if (s.kind === 'Group') return user.groups.includes(s.name);
        if (s.kind === 'ServiceAccount') {
            return user.name === `system:serviceaccount:${s.namespace}:${s.name}`;
        }
        return false;
    }

    rulesOf(ref, ns) {
        const storage = ref.kind === 'ClusterRole' ? 'rbac.authorization.k8s.io/clusterroles' :
            'rbac.authorization.k8s.io/roles';
        const role = this.store.get(storage, ref.kind === 'Role' ? ns : undefined, ref.name);
        return role?.rules || [];
    }

    // The rules that apply to `user` in `namespace` (cluster-wide ones included).
    rulesFor(user, namespace) {
        const rules = [];
        for (const b of this.store.list('rbac.authorization.k8s.io/clusterrolebindings')) {
            if ((b.subjects || []).some((s) => this.subjectMatches(s, user))) {
                rules.push(...this.rulesOf(b.roleRef, undefined));
            }
        }
        if (namespace) {
            for (const b of this.store.list('rbac.authorization.k8s.io/rolebindings', namespace)) {
                if ((b.subjects || []).some((s) => this.subjectMatches(s, user))) {
                    rules.push(...this.rulesOf(b.roleRef, namespace));
                }
            }
        }
        return rules;
    }

    rbacAllows(user, a) {
        const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
        const has = (list, v) => (list || []).includes('*') || (list || []).includes(v);
        return this.rulesFor(user, a.namespace).some((r) =>
            has(r.verbs, a.verb) && has(r.apiGroups, a.apiGroup) &&
            (has(r.resources, res) || (a.subresource && (r.resources || []).includes(`*/${a.subresource}`))) &&
            (!r.resourceNames?.length || (a.name && r.resourceNames.includes(a.name))));
    }

    // kube-apiserver's 403 text.
    forbiddenError(user, a, rdef) {
        const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
        const what = a.name ? `${qualified(rdef)} "${a.name}"` : qualified(rdef);
        const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
        return forbidden(`${what} is forbidden: User "${user.name}" cannot ${a.verb} resource ` +
            `"${res}" in API group "${a.apiGroup}" ${scope}`, rdef, a.name);
    }
}
