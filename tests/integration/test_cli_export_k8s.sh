#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling export --format k8s`: the patch configures only the named container, with the
# service's own arguments (no host paths, no per-trial placeholders), the port as containerPort,
# requests = limits, GPUs as the cluster asks for them, the GPU feature discovery label, and never
# a null; --base prints the whole object, the same as `kubectl patch --local` makes of it, and
# merges into a container's own args. kubectl (when on the PATH) patches and applies them, the
# latter against the test cluster's API server, which checks them with the official schemas.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/surface.csv" <<'CSV'
cpu,memory,workers,gpu_share,gpu_type,throughput_rps,p99_ms
0.5,512,1,1,T4,100,20
1,1024,2,0.5,A100,80,15
CSV
# The command measured on this machine: a build path, an option with a host path, the port, the
# per-trial nonce, a parameter; env with a per-trial value, a fixed one and a host path.
cat >"$WORK/spec.yaml" <<'SPEC'
name: k8s-whole
service:
  command: [../build/release/server, --model, fmnist, --model-dir, ./models, --port, "{port}",
            --nonce, "{nonce}", --workers, "{workers}"]
  env: {TRIAL: "{trial}", DATA: /srv/data, MODE: fast}
parameters:
  - {name: cpu, type: discrete, values: [0.5, 1], target: {resource: cpu}}
  - {name: memory, type: discrete, values: [512, 1024], target: {resource: memory}}
  - {name: workers, type: int, min: 1, max: 2}
  - {name: gpu_share, type: discrete, values: [0.5, 1], target: {resource: gpu_memory_share}}
  - {name: gpu_type, type: categorical, values: [T4, A100], target: {resource: gpu_type}}
objective: {metric: throughput_rps}
algorithm: {name: grid, max_trials: 32}
runner: {kind: replay, surface: surface.csv}
SPEC
sed -e 's/k8s-whole/k8s-share/' -e 's/metric: throughput_rps/metric: p99_ms, direction: minimize/' \
    "$WORK/spec.yaml" >"$WORK/share.yaml"
cat >"$WORK/plain.yaml" <<'SPEC'
name: k8s-plain
parameters:
  - {name: workers, type: int, min: 1, max: 2, target: {arg: --workers}}
objective: {metric: throughput_rps}
algorithm: {name: grid, max_trials: 2}
runner: {kind: replay, surface: surface.csv}
SPEC
for s in spec share plain; do
    "$MORPHLING" run "$WORK/$s.yaml" --quiet >/dev/null 2>&1 || not_ok "run $s.yaml"
done

"$MORPHLING" export k8s-whole --format k8s >/dev/null 2>"$WORK/err"
check "k8s without a container or a base exits 2" 2 "$?"
check_contains "says what to give" "--container NAME" "$(cat "$WORK/err")"
# A container name no Kubernetes container can have (it went into the patch as it was).
"$MORPHLING" export k8s-whole --format k8s --container 'a"b' >"$WORK/out" 2>"$WORK/err"
check "an invalid container name exits 2" 2 "$?"
check_contains "says why" 'RFC 1123 label' "$(cat "$WORK/err")"
check "and prints nothing" "" "$(cat "$WORK/out")"

# Secrets are never in the output, and stderr says what is missing (the patch went out with a
# literal '--token <redacted>' and without the variables, silently).
sed -e 's/k8s-whole/k8s-secret/' -e 's/--nonce, "{nonce}"/--token, s3cr3t-arg/' \
    -e 's/MODE: fast}/MODE: fast, API_KEY: s3cr3t-env, DB_PASSWORD: {from_env: HOME}}/' \
    "$WORK/spec.yaml" >"$WORK/secret.yaml"
"$MORPHLING" run "$WORK/secret.yaml" --quiet >/dev/null 2>&1 || not_ok "run secret.yaml"
"$MORPHLING" export k8s-secret --format k8s --container server >"$WORK/secret.json" \
    2>"$WORK/secret.err"
check "secrets: exit 0" 0 "$?"
check "secrets: no secret value in the output" "" "$(grep -o 's3cr3t[a-z-]*' "$WORK/secret.json")"
check_contains "secrets: the variable is named" "the secret variable API_KEY is not in the output" \
    "$(cat "$WORK/secret.err")"
check_contains "secrets: the reference too" "the secret variable DB_PASSWORD is not in the output" \
    "$(cat "$WORK/secret.err")"
check_contains "secrets: the argument is counted" "1 argument is shown as <redacted>" \
    "$(cat "$WORK/secret.err")"
check "secrets: MODE is no secret" "" "$(grep -o 'variable MODE' "$WORK/secret.err")"

"$MORPHLING" export k8s-whole --format k8s --container server >"$WORK/patch.json" 2>"$WORK/notes"
check "the patch exits 0" 0 "$?"
c='.spec.template.spec.containers[0]'
check "one container, the named one" '["server"]' "$(jq -c '[.spec.template.spec.containers[].name]' "$WORK/patch.json")"
check "args: the service's own, no host path, no nonce" '["--model","fmnist","--port","8080","--workers","1"]' \
    "$(jq -c "$c.args" "$WORK/patch.json")"
check "env: no per-trial variable, no host path" '[{"name":"MODE","value":"fast"}]' "$(jq -c "$c.env" "$WORK/patch.json")"
check_contains "stderr names what was left out as host paths (it was silent)" \
    "left out as paths of this machine (the container has its own files): --model-dir ./models, DATA=/srv/data;" \
    "$(cat "$WORK/notes")"
check "containerPort" 8080 "$(jq "$c.ports[0].containerPort" "$WORK/patch.json")"
check "requests = limits" true "$(jq "$c.resources.requests == $c.resources.limits" "$WORK/patch.json")"
check "cpu, memory and a whole GPU" '{"cpu":"500m","memory":"512Mi","nvidia.com/gpu":"1"}' \
    "$(jq -c "$c.resources.limits" "$WORK/patch.json")"
check "GPU feature discovery label" '{"nvidia.com/gpu.product":"Tesla-T4"}' \
    "$(jq -c '.spec.template.spec.nodeSelector' "$WORK/patch.json")"
check "no null anywhere" 0 "$(jq '[paths(. == null)] | length' "$WORK/patch.json")"
check_contains "notes on stderr: the program measured" "../build/release/server" "$(cat "$WORK/notes")"

"$MORPHLING" export k8s-whole --format k8s --container server --port 9000 >"$WORK/p9000.json" 2>/dev/null
check "--port changes the argument" '["--model","fmnist","--port","9000","--workers","1"]' \
    "$(jq -c "$c.args" "$WORK/p9000.json")"
check "--port changes containerPort" 9000 "$(jq "$c.ports[0].containerPort" "$WORK/p9000.json")"

"$MORPHLING" export k8s-plain --format k8s --container server >"$WORK/plain.json" 2>/dev/null
check "no resource parameter: no resources block at all" null \
    "$(jq -c "$c.resources" "$WORK/plain.json")"
check "no resource parameter: no null" 0 "$(jq '[paths(. == null)] | length' "$WORK/plain.json")"
check "an arg target" '["--workers","1"]' "$(jq -c "$c.args" "$WORK/plain.json")"

# A Deployment whose container has no args: --base prints what kubectl makes of the patch.
cat >"$WORK/deploy.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: server
spec:
  replicas: 2
  selector:
    matchLabels: {app: server}
  template:
    metadata:
      labels: {app: server}
    spec:
      containers:
        - name: server
          image: registry.example/server:1.0
          ports: [{containerPort: 8080, name: http}]
          env: [{name: OTHER, value: "x"}]
          resources:
            requests: {ephemeral-storage: 1Gi}
        - name: sidecar
          image: busybox
          args: [sleep, infinity]
YAML
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy.yaml" --container server \
    >"$WORK/based.json" 2>/dev/null
check "--base exits 0" 0 "$?"
t='.spec.template.spec'
check "the sidecar is untouched" '{"name":"sidecar","image":"busybox","args":["sleep","infinity"]}' \
    "$(jq -c "$t.containers[1]" "$WORK/based.json")"
check "the image is kept" '"registry.example/server:1.0"' "$(jq -c "$t.containers[0].image" "$WORK/based.json")"
check "other requests are kept" '"1Gi"' "$(jq -c "$t.containers[0].resources.requests[\"ephemeral-storage\"]" "$WORK/based.json")"
check "other variables are kept" '["MODE","OTHER"]' "$(jq -c "[$t.containers[0].env[].name] | sort" "$WORK/based.json")"
check "the port keeps its name" '[{"containerPort":8080,"name":"http"}]' "$(jq -c "$t.containers[0].ports" "$WORK/based.json")"
check "the rest of the Deployment is kept" '2 "server"' "$(jq -r '"\(.spec.replicas) \"\(.metadata.name)\""' "$WORK/based.json")"

# A container with args of its own: each tunable flag is set in place or appended.
sed -e 's|          image: registry.example/server:1.0|          image: registry.example/server:1.0\n          args: [--model, mnist, --workers, "8", --log=info]|' \
    "$WORK/deploy.yaml" >"$WORK/deploy-args.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy-args.yaml" --container server \
    --port 9000 --target-rps 1000 >"$WORK/merged.json" 2>/dev/null
check "args merged flag by flag" '["--model","mnist","--workers","1","--log=info","--port","9000"]' \
    "$(jq -c "$t.containers[0].args" "$WORK/merged.json")"
check "the port replaced, its name kept" '[{"containerPort":9000,"name":"http"}]' "$(jq -c "$t.containers[0].ports" "$WORK/merged.json")"
check "replicas of the capacity plan (1000 req/s, 100 per replica, 20 % headroom)" 12 \
    "$(jq '.spec.replicas' "$WORK/merged.json")"
# A Deployment without replicas runs 1 pod: the plan's replicas go in all the same (they were
# left out, silently); a kind without replicas cannot take a plan.
sed -e '/^  replicas: 2$/d' "$WORK/deploy.yaml" >"$WORK/deploy-one.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy-one.yaml" --container server \
    --target-rps 1000 >"$WORK/one.json" 2>/dev/null
check "replicas of the capacity plan when the base has none" 12 "$(jq '.spec.replicas' "$WORK/one.json")"
sed -e 's/^kind: Deployment$/kind: DaemonSet/' "$WORK/deploy-one.yaml" >"$WORK/daemonset.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/daemonset.yaml" --container server \
    --target-rps 1000 >"$WORK/out" 2>"$WORK/err"
check "a DaemonSet with --target-rps exits 2" 2 "$?"
check_contains "... naming the file, line and field" "$WORK/daemonset.yaml:2:7: 'kind': a DaemonSet has no replicas" \
    "$(cat "$WORK/err")"
check "... and prints nothing" "" "$(cat "$WORK/out")"
# Without --port the base's containerPort stays (a Service targets it), in the args too.
sed -e 's|containerPort: 8080|containerPort: 7070|' "$WORK/deploy-args.yaml" >"$WORK/deploy-7070.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy-7070.yaml" --container server \
    >"$WORK/kept.json" 2>/dev/null
check "the base's port is kept" '[{"containerPort":7070,"name":"http"}]' "$(jq -c "$t.containers[0].ports" "$WORK/kept.json")"
check "... and given to the service" '["--model","mnist","--workers","1","--log=info","--port","7070"]' \
    "$(jq -c "$t.containers[0].args" "$WORK/kept.json")"

"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy.yaml" >/dev/null 2>"$WORK/err"
check "two containers and none named exits 2" 2 "$?"
check_contains "names them" "2 containers (server, sidecar)" "$(cat "$WORK/err")"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy.yaml" --container web >/dev/null 2>"$WORK/err"
check_contains "an unknown container" "no container 'web' (it has: server, sidecar)" "$(cat "$WORK/err")"
# Containers as the API server requires them: objects with a name, each name once (a number
# printed "container '(null)' is not an object"; of two named alike the first was configured).
sed -e 's|^        - name: sidecar$|        - name: server|' "$WORK/deploy.yaml" >"$WORK/deploy-twice.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy-twice.yaml" --container server >/dev/null 2>"$WORK/err"
check "two containers of one name exit 2" 2 "$?"
check_contains "... naming the second" "spec.containers[1]: a second container named 'server'" "$(cat "$WORK/err")"
sed -e 's|^        - name: sidecar$|        - 5|' -e '/^          image: busybox$/d' -e '/^          args: \[sleep, infinity\]$/d' \
    "$WORK/deploy.yaml" >"$WORK/deploy-five.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy-five.yaml" --container server >/dev/null 2>"$WORK/err"
check "a container that is a number exits 2" 2 "$?"
check_contains "... naming it" "spec.containers[1]: expected a container with a name" "$(cat "$WORK/err")"
# A field of the wrong type in the base is an error naming it (once), never silently replaced.
sed -e 's|env: \[{name: OTHER, value: "x"}\]|env: {OTHER: x}|' "$WORK/deploy.yaml" >"$WORK/deploy-env.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy-env.yaml" --container server >/dev/null 2>"$WORK/err"
check "env as a mapping exits 2" 2 "$?"
check "... naming the field" "morphling export: $WORK/deploy-env.yaml: container 'server': 'env': expected a list, got a mapping" \
    "$(cat "$WORK/err")"
sed -e 's|requests: {ephemeral-storage: 1Gi}|requests: 1Gi|' "$WORK/deploy.yaml" >"$WORK/deploy-res.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy-res.yaml" --container server >/dev/null 2>"$WORK/err"
check_contains "resources.requests as a string" "container 'server': 'resources.requests': expected a mapping, got a string" \
    "$(cat "$WORK/err")"
# A containerPort that is no port: it became 8080, in the args' {port} too, without a word.
for bad in 99999 '"8080"'; do
    sed -e "s|ports: \[{containerPort: 8080, name: http}\]|ports: [{containerPort: $bad, name: http}]|" \
        "$WORK/deploy.yaml" >"$WORK/deploy-port.yaml"
    "$MORPHLING" export k8s-whole --format k8s --base "$WORK/deploy-port.yaml" --container server >/dev/null 2>"$WORK/err"
    check "containerPort $bad exits 2" 2 "$?"
    check_contains "... naming the field" "container 'server': 'ports[0].containerPort': expected a port number" \
        "$(cat "$WORK/err")"
done
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' >"$WORK/cm.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/cm.yaml" >/dev/null 2>"$WORK/err"
check "an object without a pod template: the file named once, with the line" \
    "morphling export: $WORK/cm.yaml:2:7: 'kind': a ConfigMap has no pod template (spec.template)" "$(cat "$WORK/err")"
printf 'apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers: []\n' \
    >"$WORK/nocontainer.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/nocontainer.yaml" >/dev/null 2>"$WORK/err"
check "a pod template without a container exits 2" 2 "$?"
check "... naming file, line and field (it said 'the pod has 0 containers (none): name the one')" \
    "morphling export: $WORK/nocontainer.yaml:6:19: 'spec.template.spec.containers': the pod template has no container to configure" \
    "$(cat "$WORK/err")"
printf 'apiVersion: v1\nmetadata: {name: x}\n' >"$WORK/nokind.yaml"
"$MORPHLING" export k8s-whole --format k8s --base "$WORK/nokind.yaml" >/dev/null 2>"$WORK/err"
check "an object without a kind: the file and line named" \
    "morphling export: $WORK/nokind.yaml:1:1: no 'kind': expected a Kubernetes object" "$(cat "$WORK/err")"

# A GPU memory share: as the cluster's device plugin asks for it.
"$MORPHLING" export k8s-share --format k8s --container s >/dev/null 2>"$WORK/err"
check "a share without --gpu-sharing exits 2" 2 "$?"
check_contains "says why" "gpu_memory_share 0.5 is less than a GPU" "$(cat "$WORK/err")"
share() {
    "$MORPHLING" export k8s-share --format k8s --container s "$@" 2>/dev/null | jq -c "$c.resources.limits"
}
check "HAMi" '{"cpu":"1000m","memory":"1024Mi","nvidia.com/gpu":"1","nvidia.com/gpumem":"8192"}' \
    "$(share --gpu-sharing hami --gpu-memory-mib 16384)"
check "Aliyun gpushare (GiB)" '{"cpu":"1000m","memory":"1024Mi","aliyun.com/gpu-mem":"8"}' \
    "$(share --gpu-sharing aliyun --gpu-memory-mib 16384)"
check "MIG: the smallest profile holding half of 40 GB" '{"cpu":"1000m","memory":"1024Mi","nvidia.com/mig-3g.20gb":"1"}' \
    "$(share --gpu-sharing mig)"
check "MIG with the cluster's profiles" '{"cpu":"1000m","memory":"1024Mi","nvidia.com/mig-4g.40gb":"1"}' \
    "$(share --gpu-sharing mig --mig-profiles 1g.10gb,2g.20gb,4g.40gb,7g.80gb)"
check "a GPU type without a built-in label is used as it is" '{"nvidia.com/gpu.product":"A100"}' \
    "$("$MORPHLING" export k8s-share --format k8s --container s --gpu-sharing mig 2>/dev/null | jq -c "$t.nodeSelector")"
check "--gpu-type and --gpu-type-label" '{"cloud.google.com/gke-accelerator":"nvidia-tesla-a100"}' \
    "$("$MORPHLING" export k8s-share --format k8s --container s --gpu-sharing mig \
        --gpu-type A100=nvidia-tesla-a100 --gpu-type-label cloud.google.com/gke-accelerator 2>/dev/null |
        jq -c "$t.nodeSelector")"
"$MORPHLING" export k8s-whole --format csv --base "$WORK/deploy.yaml" >/dev/null 2>&1
check "--base with another format exits 2" 2 "$?"
# A GPU type that is no node label value went into nodeSelector as it was ("Tesla T4"), which
# the API server refuses: it must be mapped to the nodes' label value.
printf 'gpu_type,throughput_rps\nTesla T4,5\n' >"$WORK/gt.csv"
cat >"$WORK/gt.yaml" <<'SPEC'
name: k8s-gputype
parameters:
  - {name: gpu_type, type: categorical, values: [Tesla T4], target: {resource: gpu_type}}
objective: {metric: throughput_rps}
algorithm: {name: grid, max_trials: 1}
runner: {kind: replay, surface: gt.csv}
SPEC
"$MORPHLING" run "$WORK/gt.yaml" --quiet >/dev/null 2>&1 || not_ok "run gt.yaml"
"$MORPHLING" export k8s-gputype --format k8s --container s >"$WORK/out" 2>"$WORK/err"
check "a GPU type that is no label value exits 2" 2 "$?"
check_contains "... naming it and the way out" \
    'gpu_type "Tesla T4" cannot select nodes: label nvidia.com/gpu.product: value "Tesla T4"' \
    "$(cat "$WORK/err")"
check "... and prints nothing" "" "$(cat "$WORK/out")"
check "mapped with --gpu-type, it selects nodes" '{"nvidia.com/gpu.product":"Tesla-T4"}' \
    "$("$MORPHLING" export k8s-gputype --format k8s --container s --gpu-type 'Tesla T4=Tesla-T4' \
        2>/dev/null | jq -c "$t.nodeSelector")"

# Memory is the trial's exact bytes: a fraction of a MiB is neither rounded away nor to zero.
# CPU is in whole millicores, rounded, and at least 1m (a limit of "0m" would be no limit).
for v in "memory 1000.4 1048995430" "memory 0.3 314573" "memory 1536 1536Mi" "cpu 0.0004 1m" \
    "cpu 0.0015 2m" "cpu 0.25 250m"; do
    set -- $v
    printf '%s,throughput_rps\n%s,5\n' "$1" "$2" >"$WORK/res.csv"
    cat >"$WORK/res.yaml" <<SPEC
name: k8s-res
parameters:
  - {name: $1, type: discrete, values: [$2], target: {resource: $1}}
objective: {metric: throughput_rps}
algorithm: {name: grid, max_trials: 1}
runner: {kind: replay, surface: res.csv}
SPEC
    "$MORPHLING" run "$WORK/res.yaml" --quiet --restart >/dev/null 2>&1 || not_ok "run res.yaml ($1 $2)"
    out=$("$MORPHLING" export k8s-res --format k8s --container server 2>/dev/null |
        jq -c "$c.resources.limits.$1, $c.resources.requests.$1")
    check "$1 of $2 is $3" "$(printf '"%s"\n"%s"' "$3" "$3")" "$out"
done
# A CPU beyond what millicores in 64 bits hold went out as "1m" (an overflow), exit 0.
printf 'cpu,throughput_rps\n1e17,5\n' >"$WORK/res.csv"
sed 's/values: \[.*\]/values: [1e17]/; s/name: [a-z]*, type/name: cpu, type/; s/resource: [a-z]*}/resource: cpu}/' \
    "$WORK/res.yaml" >"$WORK/big.yaml"
"$MORPHLING" run "$WORK/big.yaml" --quiet --restart >/dev/null 2>&1 || not_ok "run big.yaml"
"$MORPHLING" export k8s-res --format k8s --container server >"$WORK/out" 2>"$WORK/err"
check "cpu 1e17 exits 2" 2 "$?"
check_contains "... saying why" "cpu 1e+17 cores: too large for a resource quantity" "$(cat "$WORK/err")"

# The notes on stderr are escaped as every message of the CLI: a program whose name holds an
# escape sequence reached the terminal as it was ("the container's image takes the place of the
# program measured (./srv<ESC>[31m)").
sed -e 's/k8s-whole/k8s-esc/' -e 's|\.\./build/release/server|"./srv\\e[31mRED"|' \
    "$WORK/spec.yaml" >"$WORK/esc.yaml"
"$MORPHLING" run "$WORK/esc.yaml" --quiet >/dev/null 2>&1 || not_ok "run esc.yaml"
err=$("$MORPHLING" export k8s-esc --format k8s --container web 2>&1 >/dev/null)
check_contains "export's notes escape a control character" \
    "the program measured (./srv\\x1b[31mRED)" "$err"
check "... and let none through" 0 "$(printf '%s' "$err" | tr -cd '\033' | wc -c | tr -d ' ')"

# kubectl, a client we did not write, applies what we print.
if ! command -v kubectl >/dev/null 2>&1; then
    echo "SKIP: kubectl is not on the PATH: the kubectl checks did not run"
    finish
    exit $?
fi
kubectl patch --local -f "$WORK/deploy.yaml" --patch-file "$WORK/patch.json" -o json >"$WORK/kpatched.json"
check "kubectl patch --local takes the patch" 0 "$?"
norm='.spec.template.spec | .containers[0].env |= sort_by(.name)'
check "--base prints what kubectl patch makes of the same patch" "$(jq -S -c "$norm" "$WORK/kpatched.json")" \
    "$(jq -S -c "$norm" "$WORK/based.json")"
check "kubectl adds no second container" 2 "$(jq '.spec.template.spec.containers | length' "$WORK/kpatched.json")"
# The test cluster's API server (tests/kube) validates what it is sent against the official
# Kubernetes schemas, as a real one does: kubectl's client-side dry run checks the object with
# the server's OpenAPI, the server-side one (Strict field validation) on the server.
apiserver="$MP_BUILD_DIR/kube/apiserver/main.mjs"
if command -v node >/dev/null 2>&1 && [ -f "$apiserver" ]; then
    node "$apiserver" --dir "$WORK/cluster" --default-field-validation Strict >"$WORK/apiserver.log" 2>&1 &
    api=$!
    wait_for_file "$WORK/cluster/apiserver.ready" || not_ok "the API server did not start"
    export KUBECONFIG="$WORK/cluster/kubeconfig"
    for f in based merged; do
        for mode in client server; do
            out=$(kubectl apply --dry-run=$mode -f "$WORK/$f.json" 2>&1)
            check "kubectl apply --dry-run=$mode takes --base's output ($f)" \
                "deployment.apps/server created ($mode dry run)" "$(printf '%s' "$out" | sed 's/ (dry run)/ (client dry run)/')"
        done
    done
    jq '.spec.template.spec.containers[0].ports[0].containerPort = "http"' "$WORK/based.json" >"$WORK/bad.json"
    out=$(kubectl apply --dry-run=server -f "$WORK/bad.json" 2>&1)
    check "it refuses a wrong type, so the checks above mean something" 1 "$?"
    check_contains "naming the field" "containerPort" "$out"
    # A node selector is checked as labels, as kube-apiserver does.
    jq '.spec.template.spec.nodeSelector = {"nvidia.com/gpu.product": "Tesla T4"}' \
        "$WORK/based.json" >"$WORK/bad.json"
    out=$(kubectl apply --dry-run=server -f "$WORK/bad.json" 2>&1)
    check "it refuses a node selector value that no label can have" 1 "$?"
    check_contains "naming the field" "spec.template.spec.nodeSelector" "$out"
    kill "$api"
    wait "$api" 2>/dev/null
else
    echo "SKIP: node or the test cluster (tests/kube) is missing: kubectl apply --dry-run did not run"
fi
finish
