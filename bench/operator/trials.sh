#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The operator's start with many Trials in its namespace: one finished experiment whose Trials
# are T copies (default 2000) of a real one (status, metrics and all), and the operator (the fake
# trial runner of its tests) started against it, as after a restart or a rollout. Prints, with
# no Trial beside the experiment's own two and then with T more: the Trials read at start (list
# requests, pages, what they took in the API server), the time from the operator's start to
# its watch of Trials and to /readyz, and the operator's peak RSS once it is idle.
#   sh bench/operator/trials.sh [BUILD]      (default build/release; needs node, kubectl, jq, curl)
set -eu
build=${1:-build/release}
T=${MP_BENCH_TRIALS:-2000}
cd "$(dirname "$0")/../.."
. bench/operator/lib.sh
bench_cluster operator-trials
. "$work/cluster/apiserver.env"
admin() {
    curl -sS --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
        -H 'Content-Type: application/json' -X "$1" "$KUBE_API_URL$2" ${3:+-d "$3"}
}
kubectl apply -f deploy/crds/ >/dev/null
kubectl create namespace bench >/dev/null
sed -e 's/name: mobilenet-experiment-grid/name: seed/' -e 's/maxNumTrials: 8/maxNumTrials: 2/' \
    -e 's/namespace: morphling-system/namespace: bench/' tests/data/pe/mobilenet-grid.yaml \
    >"$work/seed.yaml"

start_op() {
    "$op" --kubeconfig "$KUBECONFIG" --namespace bench --work-dir "$work" --identity op \
        --trial-ms 10 --health-addr 127.0.0.1:0 >"$work/operator.log" 2>&1 &
    opid=$!
    pids="$pids $opid"
}
stop_op() {
    kill -TERM "$opid"
    wait "$opid" || true
}
seed_done() {
    [ "$(kubectl get pe seed -n bench -o jsonpath='{.status.conditions[-1:].type}')" = Succeeded ]
}

start_op
kubectl apply -f "$work/seed.yaml" >/dev/null
n=0
until seed_done; do
    n=$((n + 1)); [ "$n" -lt 600 ] || { echo "operator-trials: the seed experiment did not end"; exit 1; }
    sleep 0.2
done
stop_op

# One start: the requests it made for Trials until it watched them, the time to that watch and
# to /readyz, and the peak RSS 3 s after the watch started.
measure() {
    admin DELETE /_test/requests >/dev/null
    t0=$(date +%s%N)
    start_op
    n=0
    # (A watch is logged when it ends: the server's count of open watches says it began; the
    # operator opens two, of experiments and of Trials, the latter after its list.)
    until [ "$(admin GET /_test/stats | jq .watches)" -ge 2 ]; do
        n=$((n + 1)); [ "$n" -lt 1200 ] || { echo "operator-trials: no watch of Trials"; exit 1; }
        sleep 0.05
    done
    tw=$(date +%s%N)
    health=$(sed -n 's|.*serving /healthz /readyz on \(http://[0-9.:]*\).*|\1|p' "$work/operator.log" | head -1)
    until curl -sf "$health/readyz" >/dev/null 2>&1; do sleep 0.05; done
    tr=$(date +%s%N)
    sleep 3
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$opid/status")
    admin GET /_test/requests | jq -r --arg w "$(( (tw - t0) / 1000000 ))" --arg r "$(( (tr - t0) / 1000000 ))" --arg h "$hwm" --arg what "$1" \
        '[.items[] | select(.verb == "list" and (.path | test("/trials")))] as $l |
         "\($what): \($l | length) list request(s) of Trials, \($l | map(.ms) | add // 0) ms in the API server; watch of Trials after \($w) ms, /readyz after \($r) ms; operator RSS peak \(($h | tonumber) / 1024 * 10 | round / 10) MiB"'
    stop_op
}

measure "operator-trials: 2 Trials"
uid=$(kubectl get pe seed -n bench -o jsonpath='{.metadata.uid}')
kubectl get trial seed-1 -n bench -o json >"$work/trial.json"
# T copies of a real Trial, numbers 3.., created and their status written (16 at a time).
cat >"$work/make.mjs" <<'JS'
import fs from 'node:fs';
import https from 'node:https';
const [file, total] = [process.argv[2], Number(process.argv[3])];
const base = JSON.parse(fs.readFileSync(file, 'utf8'));
const ca = fs.readFileSync(process.env.KUBE_CA);
const url = new URL(process.env.KUBE_API_URL);
const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca });
function req(method, path, body) {
    return new Promise((resolve, reject) => {
        const r = https.request({ host: url.hostname, port: url.port, method, path, agent,
            headers: { Authorization: `Bearer ${process.env.KUBE_ADMIN_TOKEN}`,
                'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' } },
        (res) => { let d = ''; res.on('data', (c) => { d += c; }); res.on('end', () => (res.statusCode < 300 ? resolve(d) : reject(new Error(`${res.statusCode} ${d}`)))); });
        r.on('error', reject);
        r.end(JSON.stringify(body));
    });
}
const dir = `/apis/morphling.kubedl.io/v1alpha1/namespaces/${base.metadata.namespace}/trials`;
let next = 3;
async function one() {
    while (next < total + 3) {
        const n = next++;
        const name = base.metadata.name.replace(/-\d+$/, `-${n}`);
        const t = { apiVersion: base.apiVersion, kind: base.kind, spec: { ...base.spec, number: n },
            metadata: { name, namespace: base.metadata.namespace, ownerReferences: base.metadata.ownerReferences,
                labels: { ...base.metadata.labels, 'morphling.kubedl.io/trial': String(n) } } };
        await req('POST', dir, t);
        await req('PATCH', `${dir}/${name}/status`, { status: base.status });
    }
}
await Promise.all(Array.from({ length: 16 }, one));
JS
KUBE_CA=$KUBE_CA KUBE_API_URL=$KUBE_API_URL KUBE_ADMIN_TOKEN=$KUBE_ADMIN_TOKEN node "$work/make.mjs" "$work/trial.json" "$T"
measure "operator-trials: $((T + 2)) Trials"
