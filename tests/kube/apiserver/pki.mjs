// SPDX-License-Identifier: Apache-2.0
// Credentials of the test cluster, made with the openssl CLI and kept in DIR/pki so that a
// restart keeps them: a CA, the server certificate (IP SAN 127.0.0.1), the admin's client
// certificate, the HMAC key of exec and service-account tokens; plus DIR/kubeconfig with the
// contexts `token` (current), `cert`, `exec` and `insecure`, and the exec plugin script.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

function openssl(args, cwd) {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(cwd, file) {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], cwd);
}

// Issues a certificate signed by the CA in `pkiDir`: `subject` like "/CN=alice/O=devs".
function issueCert(pkiDir, base, subject, ext) {
    newKey(pkiDir, `${base}.key`);
    openssl(['req', '-new', '-key', `${base}.key`, '-subj', subject, '-out', `${base}.csr`], pkiDir);
    fs.writeFileSync(path.join(pkiDir, `${base}.ext`), ext);
    openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
        '-CAcreateserial', '-days', '3650', '-sha256', '-extfile', `${base}.ext`,
        '-out', `${base}.crt`], pkiDir);
    fs.rmSync(path.join(pkiDir, `${base}.csr`));
    fs.rmSync(path.join(pkiDir, `${base}.ext`));
}

export function ensurePki(dir, serviceIP) {
    const pki = path.join(dir, 'pki');
    fs.mkdirSync(pki, { recursive: true, mode: 0o700 });
    const has = (f) => fs.existsSync(path.join(pki, f));
    if (!has('ca.crt')) {
        newKey(pki, 'ca.key');
        openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=morphling-test-ca',
            '-days', '3650', '-sha256', '-out', 'ca.crt'], pki);
    }
    if (!has('server.crt')) {
        const sans = ['IP:127.0.0.1', `IP:${serviceIP}`, 'DNS:localhost', 'DNS:kubernetes',
            'DNS:kubernetes.default', 'DNS:kubernetes.default.svc',
            'DNS:kubernetes.default.svc.cluster.local'];
        issueCert(pki, 'server', '/CN=kube-apiserver',
            `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\n`);
    }
    if (!has('admin.crt')) {
        issueCert(pki, 'admin', '/CN=admin/O=system:masters', 'extendedKeyUsage=clientAuth\n');
    }
    if (!has('token.key')) {
        fs.writeFileSync(path.join(pki, 'token.key'), crypto.randomBytes(32).toString('hex'),
            { mode: 0o600 });
    }
    const read = (f) => fs.readFileSync(path.join(pki, f));
    return { dir: pki, ca: read('ca.crt'), key: read('server.key'), cert: read('server.crt'),
        tokenKey: read('token.key').toString().trim() };
}

// The exec credential plugin: prints a client.authentication.k8s.io/v1 ExecCredential whose
// token (user MORPHLING_EXEC_USER, default exec-user) expires after MORPHLING_EXEC_TTL seconds.
function execScript(pkiDir) {
    return `#!/bin/sh
# Exec credential plugin of the morphling test cluster (written by the API server).
set -eu
user=\${MORPHLING_EXEC_USER:-exec-user}
ttl=\${MORPHLING_EXEC_TTL:-3600}
exp=$(( $(date +%s) + ttl ))
u64=$(printf %s "$user" | base64 | tr '+/' '-_' | tr -d '=\\n')
sig=$(printf '%s.%s' "$u64" "$exp" | openssl dgst -sha256 -hmac "$(cat '${pkiDir}/token.key')" -r | cut -d' ' -f1)
ts=$(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec.%s.%s.%s","expirationTimestamp":"%s"}}\\n' "$u64" "$exp" "$sig" "$ts"
`;
}

function yamlString(s) {
    return JSON.stringify(s);
}

export function writeKubeconfig(dir, url, adminToken) {
    const pki = path.join(dir, 'pki');
    const script = path.join(dir, 'exec-credential.sh');
    fs.writeFileSync(script, execScript(pki), { mode: 0o755 });
    const ca = path.join(pki, 'ca.crt');
    const text = `apiVersion: v1
kind: Config
clusters:
- name: morphling-test
  cluster:
    server: ${yamlString(url)}
    certificate-authority: ${yamlString(ca)}
- name: morphling-test-insecure
  cluster:
    server: ${yamlString(url)}
    insecure-skip-tls-verify: true
users:
- name: admin-token
  user:
    token: ${yamlString(adminToken)}
- name: admin-cert
  user:
    client-certificate: ${yamlString(path.join(pki, 'admin.crt'))}
    client-key: ${yamlString(path.join(pki, 'admin.key'))}
- name: exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /bin/sh
      args: [${yamlString(script)}]
      interactiveMode: Never
contexts:
- name: token
  context: {cluster: morphling-test, user: admin-token, namespace: default}
- name: cert
  context: {cluster: morphling-test, user: admin-cert, namespace: default}
- name: exec
  context: {cluster: morphling-test, user: exec, namespace: default}
- name: insecure
  context: {cluster: morphling-test-insecure, user: admin-token, namespace: default}
current-context: token
preferences: {}
`;
    const file = path.join(dir, 'kubeconfig');
    fs.writeFileSync(file + '.tmp', text, { mode: 0o600 });
    fs.renameSync(file + '.tmp', file);
}
