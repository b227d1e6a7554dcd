#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A ProfilingExperiment's clientTemplate (the user's own load client Job) runs in place of
# morphling's load Job: it gets the service's address and the trial's parameters in its
# environment, and its termination message (JSON) is the trial's result. Two clients: `morphling
# load` writing its compact result, and a shell script writing {"qps": ...} from its environment;
# then clients that fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

body=$(awk 'BEGIN { for (i = 0; i < 784; i++) printf "a" }')
# pe NAME WORKERS-LIST CLIENT-CONTAINER (YAML flow map)
pe() {
    cat >"$WORK/$1.yaml" <<PE
apiVersion: morphling.kubedl.io/v1alpha1
kind: ProfilingExperiment
metadata:
  name: $1
  namespace: default
spec:
  objective:
    type: maximize
    objectiveMetricName: qps
  algorithm:
    algorithmName: grid
  parallelism: 1
  maxNumTrials: 2
  serviceProgressDeadline: 60
  requestTemplate: "$body"
  clientTemplate:
    spec:
      template:
        spec:
          containers:
            - $3
          restartPolicy: Never
      backoffLimit: 1
  servicePodTemplate:
    template:
      spec:
        containers:
          - name: resnet-container
            image: morphling/inference-server:test
            args: ["--model", "fmnist", "--workers", "1"]
            ports:
              - containerPort: 8500
  tunableParameters:
    - category: "args"
      parameters:
        - parameterType: discrete
          name: "workers"
          feasibleSpace:
            list: $2
PE
}

cluster_up

# morphling load as the client: the service's URL and the request body from the environment.
pe client-load '["1"]' '{name: client, image: "morphling:test", command: ["morphling"], args: ["load", "$(MORPHLING_SERVICE_URL)/v1/fmnist", "--method", "POST", "--body", "$(MORPHLING_BODY_DIR)", "--connections", "2", "--warmup", "300ms", "--window", "300ms", "--max-windows", "3", "--stable-windows", "2", "--result", "/dev/termination-log"]}'
"$MORPHLING" run "$WORK/client-load.yaml" -q >"$WORK/out" 2>&1
check "morphling run with a morphling-load client exits 0" 0 "$?"
"$MORPHLING" show client-load --json >"$WORK/show.json"
check "the trial SUCCEEDED with the client's throughput and no errors" "SUCCEEDED true" \
    "$(jq -r '.trials[0] | "\(.state) \(.metrics.throughput_rps > 0 and .metrics.error_rate == 0)"' "$WORK/show.json")"
check "no object left" "" "$(leftover_objects client-load)"

# A shell script as the client: the result is what it computes from its environment.
script='u=0; [ "$MORPHLING_SERVICE_URL" = "http://$MORPHLING_TRIAL_NAME.default.svc:8500" ] && u=1; printf "{\"qps\": %s.5, \"port\": %s, \"url_ok\": %s}" "$MORPHLING_PARAM_WORKERS" "$MORPHLING_SERVICE_PORT" "$u" >/dev/termination-log'
pe client-sh '["1", "2"]' "{name: client, image: \"debian:12\", command: [\"sh\", \"-c\", '$script']}"
"$MORPHLING" run "$WORK/client-sh.yaml" -q >"$WORK/out" 2>&1
check "morphling run with a shell client exits 0" 0 "$?"
"$MORPHLING" show client-sh --json >"$WORK/show.json"
check "both trials SUCCEEDED with the client's qps as throughput_rps (workers + 0.5)" \
    "SUCCEEDED 1.5 1 SUCCEEDED 2.5 2" \
    "$(jq -r '[.trials[] | .state, .metrics.throughput_rps, .metrics.qps - 0.5] | map(tostring) | join(" ")' "$WORK/show.json")"
check "the client saw the service's port and URL" "8500 1 8500 1" \
    "$(jq -r '[.trials[] | .metrics.port, .metrics.url_ok] | map(tostring) | join(" ")' "$WORK/show.json")"
check "the best trial is the one with 2 workers" "2" \
    "$(jq -r '.best.assignment.workers // .best.params.workers // empty' "$WORK/show.json")"
check "no object left" "" "$(leftover_objects client-sh)"

# client_trial NAME SCRIPT: runs one trial of a client running `sh -c SCRIPT`; prints its
# "STATE FAILURE: REASON".
client_trial() {
    pe "$1" '["1"]' "{name: client, image: \"debian:12\", command: [\"sh\", \"-c\", '$2']}"
    "$MORPHLING" run "$WORK/$1.yaml" -q >"$WORK/out" 2>&1
    "$MORPHLING" show "$1" --json | jq -r '.trials[0] | "\(.state) \(.failure): \(.reason)"'
}
# A client whose message is no result fails its trial, naming the message.
check "a client without a JSON result fails its trial (METRIC_MISSING), quoting its message" \
    "FAILED METRIC_MISSING: the client Job's termination message holds no numeric metric (a JSON object such as {\"qps\": 12.5} is expected): \"done\"" \
    "$(client_trial client-bad 'echo done >/dev/termination-log')"
# A client that fails without a message: its log's last lines say why (FallbackToLogsOnError;
# the reason said only "exited with code 1").
check "a failing client's trial: LOAD_ERRORS with its log's last lines" \
    "FAILED LOAD_ERRORS: the client Job exited with code 1: \"cannot reach the service\"" \
    "$(client_trial client-fails 'echo cannot reach the service >&2; exit 1')"
# A client whose container cannot be created (a Secret that does not exist): INFRA at once with
# the kubelet's message, retried (the trial waited out its deadline, then failed TIMEOUT, a
# verdict on the configuration).
pe client-nosecret '["1"]' '{name: client, image: "debian:12", command: [sh, -c, "exit 0"], envFrom: [{secretRef: {name: missing}}]}'
sed -i 's/^  parallelism: 1$/  parallelism: 1\n  trialTimeout: 40s/' "$WORK/client-nosecret.yaml"
"$MORPHLING" run "$WORK/client-nosecret.yaml" -q >"$WORK/out" 2>&1
"$MORPHLING" show client-nosecret --json >"$WORK/show.json"
check_contains "a client that cannot be created: INFRA at its third attempt" \
    "FAILED INFRA 2: load pod client-nosecret-t1-a2-load-" \
    "$(jq -r '.trials[0] | "\(.state) \(.failure) \(.attempt): \(.reason)"' "$WORK/show.json")"
check_contains "... with the kubelet's message" 'CreateContainerConfigError: secret "missing" not found' \
    "$(jq -r '.trials[0].reason' "$WORK/show.json")"
check_true "... at once, not at the trial's deadline (40 s)" \
    test "$(jq '.trials[0].meta.total_s < 30' "$WORK/show.json")" = true
check "no object left" "" "$(leftover_objects client-nosecret)"
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
cluster_down
finish
