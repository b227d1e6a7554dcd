#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling validate` reads a ProfilingExperiment written for the original Morphling: errors
# name the resource's field with file, line and column and exit 2; --set addresses the
# resource's fields. (The valid file against a cluster: test_deploy.sh.)
. "$(dirname "$0")/lib.sh"

pe="$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml"
# bad NAME SED-EXPRESSION MESSAGE: the original-style file changed by SED is refused with exit 2
# and MESSAGE (file:line:col: 'field': why).
bad() {
    sed -e "$2" "$pe" >"$WORK/bad.yaml"
    "$MORPHLING" validate "$WORK/bad.yaml" >/dev/null 2>"$WORK/err"
    check "$1: exit 2" 2 "$?"
    check_contains "$1: names the field" "$WORK/bad.yaml:$3" "$(cat "$WORK/err")"
}
bad "an unknown resource name" 's/name: "memory"/name: "ephemeral-storage"/' \
    "58:17: 'spec.tunableParameters[0].parameters[1].name': unknown resource \"ephemeral-storage\""
bad "a bad quantity" 's/- "1800Mi"/- "1800Mx"/' \
    "61:17: 'spec.tunableParameters[0].parameters[1].feasibleSpace.list[0]': expected a Kubernetes quantity"
bad "a duplicate value after conversion" 's/- "2Gi"/- "2048Mi"\n              - "2Gi"/' \
    "63:17: 'spec.tunableParameters[0].parameters[1].feasibleSpace.list[2]': duplicate value \"2048\": the same as item [1] (line 62, column 17)"
bad "a misspelt field" 's/maxNumTrials:/maxNumTrial:/' \
    "17:3: 'spec.maxNumTrial': unknown key; did you mean 'maxNumTrials'?"
sed -e 's/algorithmName: grid/algorithmName: hyperband/' "$pe" >"$WORK/algo.yaml"
"$MORPHLING" validate "$WORK/algo.yaml" >/dev/null 2>"$WORK/err"
check "an unknown algorithm: exit 2" 2 "$?"
check_contains "an unknown algorithm: says which exist" \
    "unknown algorithm 'hyperband' (available: grid, random, bo, morphling)" "$(cat "$WORK/err")"
bad "a negative maxNumTrials" 's/maxNumTrials: 8/maxNumTrials: -1/' \
    "17:17: 'spec.maxNumTrials': expected an integer in [1, 1000000], got \"-1\""
# What the API server's schema refuses (deploy/crds), refused before kubectl apply would be.
bad "a quoted integer" 's/maxNumTrials: 8/maxNumTrials: "8"/' \
    "17:17: 'spec.maxNumTrials': expected an integer, got the string \"8\": write it without quotes"
bad "a number that is no integer in a list" 's/- "2"$/- 2.5/' \
    "70:17: 'spec.tunableParameters[1].parameters[0].feasibleSpace.list[1]': expected a string or an integer, got the number 2.5: quote it (\"2.5\")"
sed -e 's/- "2"$/- 2/' -e 's/- "1"$/- 1/' "$pe" >"$WORK/ints.yaml"
check "integers written as numbers in feasibleSpace are taken" \
    "$WORK/ints.yaml: valid: experiment 'mobilenet-experiment-grid', 3 parameters, 8 configurations, algorithm grid, runner kubernetes, up to 8 trials" \
    "$("$MORPHLING" validate --offline "$WORK/ints.yaml" 2>&1)"
# An int resource parameter counts its quantity's own unit (it was "expected an integer, got
# \"0.25\"" for nvidia.com/gpumem, whose MiB are a share of one GPU here, and for "500m" or "1G").
cat >"$WORK/int-resources.yaml" <<'YAML'
apiVersion: morphling.kubedl.io/v1alpha1
kind: ProfilingExperiment
metadata: {name: int-resources}
spec:
  objective: {objectiveMetricName: qps}
  algorithm: {algorithmName: grid}
  maxNumTrials: 200
  gpuMemoryMiB: 16384
  servicePodTemplate:
    template:
      spec:
        containers: [{name: server, image: "morphling/inference-server:test"}]
  tunableParameters:
    - category: resource
      parameters:
        - {name: cpu, parameterType: int, feasibleSpace: {min: "500m", max: "2", step: "500m"}}
        - {name: memory, parameterType: int, feasibleSpace: {min: "1G", max: "4G", step: "1G"}}
        - {name: nvidia.com/gpumem, parameterType: int, feasibleSpace: {min: "4096", max: "16384", step: "4096"}}
        - {name: nvidia.com/gpu, parameterType: int, feasibleSpace: {min: "1", max: "2"}}
YAML
check "int resource parameters range over their quantities' units" \
    "$WORK/int-resources.yaml: valid: experiment 'int-resources', 4 parameters, 128 configurations, algorithm grid, runner kubernetes, up to 200 trials" \
    "$("$MORPHLING" validate --offline "$WORK/int-resources.yaml" 2>&1)"
sed -e 's/step: "4096"//' "$WORK/int-resources.yaml" >"$WORK/int-step.yaml"
check_contains "without a step, by 1 of the unit: 4 x 4 x 12289 MiB of nvidia.com/gpumem x 2" \
    "4 parameters, 393248 configurations" \
    "$("$MORPHLING" validate --offline "$WORK/int-step.yaml" 2>&1)"
sed -e 's/step: "1G"//' -e 's/min: "1G", max: "4G"/min: "1Gi", max: "4Gi"/' "$WORK/int-resources.yaml" \
    >"$WORK/mem-step.yaml"
check_contains "memory without a step, by 1Mi: 4 x 3073 MiB x 4 x 2" \
    "4 parameters, 98336 configurations" \
    "$("$MORPHLING" validate --offline "$WORK/mem-step.yaml" 2>&1)"
bad "an env name the shell could not set" 's/name: "BATCH_SIZE"/name: "BATCH SIZE"/' \
    "66:17: 'spec.tunableParameters[1].parameters[0].name': \"BATCH SIZE\" is not a valid environment name"

"$MORPHLING" validate "$pe" --set spec.tunableParameters[0].parameters[0].feasibleSpace.list[1]=0 \
    >/dev/null 2>"$WORK/err"
check "--set edits the resource: exit 2" 2 "$?"
check_contains "--set edits the resource: the parameter is named" \
    "mobilenet-grid.yaml:52:17: 'spec.tunableParameters[0].parameters[0].name': values out of range for resource 'cpu' (must be > 0)" \
    "$(cat "$WORK/err")"
finish
