#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Invalid specs: a clear FILE:LINE:COL message naming the field, and exit status 2.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"

cat >"$WORK/bad.yaml" <<'YAML'
name: bad
parameters:
  - name: a
    type: int
    min: 1
    max: 4
    step: 0
objective: {metric: qps}
runner: {kind: replay, surface: x.csv}
YAML
err=$("$MORPHLING" validate "$WORK/bad.yaml" 2>&1); rc=$?
check "invalid spec exits 2" 2 "$rc"
check "error names file, line, column and field" \
    "morphling validate: $WORK/bad.yaml:7:11: 'parameters[0].step': expected a positive number, got \"0\"" "$err"

# - reads the spec from standard input (it was a file named "-"), named <stdin> in messages.
err=$("$MORPHLING" validate - <"$WORK/bad.yaml" 2>&1); rc=$?
check "validate -: exit 2" 2 "$rc"
check "validate -: the message names <stdin>" \
    "morphling validate: <stdin>:7:11: 'parameters[0].step': expected a positive number, got \"0\"" "$err"
mkdir "$WORK/stdin" && printf 'a,qps\n1,1\n2,2\n3,3\n4,4\n' >"$WORK/stdin/x.csv" # relative to the current folder
out=$(cd "$WORK/stdin" && sed 's/step: 0/step: 1/' ../bad.yaml | "$MORPHLING" validate -); rc=$?
check "validate - from a pipe: exit 0" 0 "$rc"
check_contains "validate - from a pipe: valid" "<stdin>: valid: experiment 'bad'" "$out"

# A folder on standard input is a bad input too (it was exit 1, "read failed: Is a directory").
err=$("$MORPHLING" validate - <"$WORK" 2>&1); rc=$?
check "validate - from a folder: exit 2" 2 "$rc"
check "... naming it" "morphling validate: <stdin>: is a directory, not a file" "$err"

err=$("$MORPHLING" run "$WORK/bad.yaml" 2>&1); rc=$?
check "run refuses an invalid spec with 2" 2 "$rc"
check_false "run creates no store for an invalid spec" test -e "$MORPHLING_DB"

# grid and random take no prior (it was ignored: a cold run under a prior's name).
for alg in grid random; do
    sed "s/^runner: .*/algorithm: {name: $alg, prior: m.model}\nrunner: {kind: replay, surface: x.csv}/; s/step: 0/step: 1/" \
        "$WORK/bad.yaml" >"$WORK/prior.yaml"
    err=$("$MORPHLING" validate "$WORK/prior.yaml" 2>&1); rc=$?
    check "$alg with a prior: exit 2" 2 "$rc"
    check_contains "$alg with a prior: message" "'algorithm.name': this algorithm takes no prior" "$err"
done

# A parameter named like a column every trial export has, a metric morphling derives or one the
# runner measures: the export held two columns of one name, and replay refused it.
for name in state number failure cost_per_hour p99_ms requests; do
    cat >"$WORK/named.yaml" <<YAML
name: named
service: {command: [sleep, "{$name}"]}
parameters:
  - {name: $name, type: int, min: 1, max: 4}
objective: {metric: throughput_rps}
YAML
    err=$("$MORPHLING" validate "$WORK/named.yaml" 2>&1); rc=$?
    check "a parameter named $name: exit 2" 2 "$rc"
    check_contains "... naming the field" "named.yaml:4:12: 'parameters[0].name': \"$name\" names" "$err"
done

# An inline request body is for the kubernetes runner (a ProfilingExperiment's requestTemplate).
cat >"$WORK/inline.yaml" <<'YAML'
name: inline
service: {command: [sleep, "{a}"]}
parameters:
  - {name: a, type: int, min: 1, max: 4}
objective: {metric: throughput_rps}
runner: {kind: local, load: {method: POST, body_text: '{"x": 1}'}}
YAML
err=$("$MORPHLING" validate "$WORK/inline.yaml" 2>&1); rc=$?
check "the local runner refuses an inline body with 2" 2 "$rc"
check_contains "... naming the field and what to give instead" "'runner.load.body_text': the local runner reads request bodies from files" "$err"

# More stable windows than windows: the measurement refused it in every trial, the spec passed.
for load in '{windows: 2}' '{windows: 4, stable_windows: 5}' '{stable_windows: 80, windows: 100}'; do
    sed "s/load: {method: POST, body_text: '{\"x\": 1}'}/load: $load/" "$WORK/inline.yaml" \
        >"$WORK/windows.yaml"
    err=$("$MORPHLING" validate "$WORK/windows.yaml" 2>&1); rc=$?
    check "load $load: exit 2" 2 "$rc"
    check_contains "load $load: message" "stable_windows" "$err"
done

# A capacity search's time budget holds at least its probe (trials failed INFRA).
sed "s/load: {method: POST, body_text: '{\"x\": 1}'}/load: {mode: capacity, slo: 'p99<=1s', max_time: 1s}/" \
    "$WORK/inline.yaml" >"$WORK/maxtime.yaml"
err=$("$MORPHLING" validate "$WORK/maxtime.yaml" 2>&1); rc=$?
check "capacity max_time 1s: exit 2" 2 "$rc"
check_contains "capacity max_time 1s: message" "'runner.load.max_time': shorter than one step" "$err"

# An interim status is never a final response: every request of every trial failed.
sed "s/load: {method: POST, body_text: '{\"x\": 1}'}/load: {expect_status: 100}/" \
    "$WORK/inline.yaml" >"$WORK/status.yaml"
err=$("$MORPHLING" validate "$WORK/status.yaml" 2>&1); rc=$?
check "expect_status 100: exit 2" 2 "$rc"
check_contains "expect_status 100: message" "runner.load.expect_status" "$err"

# The service's working directory must exist (before: every trial CRASHED, naming no folder).
cat >"$WORK/workdir.yaml" <<'YAML'
name: workdir
service: {command: [sleep, "{a}"], workdir: no-such-folder}
parameters:
  - {name: a, type: int, min: 1, max: 4}
objective: {metric: throughput_rps}
YAML
err=$("$MORPHLING" validate "$WORK/workdir.yaml" 2>&1); rc=$?
check "a missing service workdir exits 2" 2 "$rc"
check "... naming the field and the folder" \
    "morphling validate: $WORK/workdir.yaml:2:45: 'service.workdir': service workdir '$WORK/no-such-folder': No such file or directory" \
    "$err"
err=$("$MORPHLING" validate "$WORK/workdir.yaml" --set "service.workdir=$WORK/workdir.yaml" 2>&1)
check_contains "... or a file that is no folder" "workdir.yaml': not a directory" "$err"
# The port lock folder must be one the runner can use: a file there, a symbolic link (refused
# as a planted one) or a missing parent failed every trial INFRA (each retried twice).
for dir in "$WORK/workdir.yaml" "$WORK/lock-link" "$WORK/no-such/locks"; do
    ln -sfn "$WORK" "$WORK/lock-link"
    err=$("$MORPHLING" validate "$WORK/workdir.yaml" --set "service.workdir=$WORK" \
        --set "runner.port_lock_dir=$dir" 2>&1); rc=$?
    check "port_lock_dir $dir: exits 2" 2 "$rc"
    check_contains "... naming the field" "'runner.port_lock_dir': port lock directory '$dir'" "$err"
done
err=$("$MORPHLING" validate "$WORK/workdir.yaml" --set "service.workdir=$WORK" \
    --set "runner.port_lock_dir=$WORK/new-locks" 2>&1)
check "port_lock_dir to be made: valid ($err)" 0 "$?"
# A relative port_lock_dir is the spec's folder's, as every path of a spec is (it was the
# current directory's: a file of that name there, or none, decided).
mkdir -p "$WORK/elsewhere"
: >"$WORK/locks-file"
err=$(cd "$WORK/elsewhere" && "$MORPHLING" validate "$WORK/workdir.yaml" --set "service.workdir=$WORK" \
    --set "runner.port_lock_dir=locks-file" 2>&1); rc=$?
check "a relative port_lock_dir is the spec folder's: exits 2" 2 "$rc"
check_contains "... naming it there" "port lock directory '$WORK/locks-file': not a directory" "$err"
# require_limits with a GPU target, which the local runner never enforces: every trial
# SUCCEEDED with the GPU limit recorded as not enforced, against what require_limits asks.
cat >"$WORK/gpu.yaml" <<'YAML'
name: gpu
service: {command: [sleep, "{a}"]}
parameters:
  - {name: a, type: int, min: 1, max: 4}
  - {name: g, type: int, min: 0, max: 1, target: {resource: gpu}}
objective: {metric: throughput_rps}
runner: {kind: local, require_limits: true}
YAML
err=$("$MORPHLING" validate "$WORK/gpu.yaml" 2>&1); rc=$?
check "require_limits with a gpu target: exits 2" 2 "$rc"
check_contains "... naming the field" \
    "gpu.yaml:7:39: 'runner.require_limits': parameter 'g' sets the resource gpu, which the local runner never enforces" "$err"
# A workdir is no template: one with braces was let through as if it were, and every trial
# CRASHED in a folder named 'run-{a}' that is not there. Written as it is, it is checked; and the
# folder of that name is used.
err=$("$MORPHLING" validate "$WORK/workdir.yaml" --set "service.workdir=run-{a}" 2>&1); rc=$?
check "a workdir with braces is checked: exits 2" 2 "$rc"
check_contains "... saying it is no template" \
    "service workdir '$WORK/run-{a}': No such file or directory (a workdir is no template: {a} stays as written)" \
    "$err"
mkdir "$WORK/run-{a}"
err=$("$MORPHLING" validate "$WORK/workdir.yaml" --set "service.workdir=run-{a}" 2>&1); rc=$?
check "a folder of that name: valid ($err)" 0 "$rc"

sed 's/step: 0/step: 1/; s/max_trial/x/' "$WORK/bad.yaml" >"$WORK/nosurface.yaml"
err=$("$MORPHLING" validate "$WORK/nosurface.yaml" 2>&1); rc=$?
check "missing surface file exits 2" 2 "$rc"
check_contains "missing surface is named" "x.csv" "$err"

err=$("$MORPHLING" validate "$WORK/bad.yaml" --set parameters[0].step=2 --set algorithm.max_trial=3 2>&1); rc=$?
check "--set typo exits 2" 2 "$rc"
check_contains "--set typo gets a suggestion" "did you mean 'max_trials'" "$err"

# The spec argument itself: a missing file, a directory, a FIFO (which must not block) and a
# device are invalid input (exit 2), for validate and run alike.
err=$("$MORPHLING" validate "$WORK/does-not-exist.yaml" 2>&1); rc=$?
check "missing file exits 2" 2 "$rc"
check_contains "missing file is named" "does-not-exist.yaml" "$err"
err=$("$MORPHLING" validate "$WORK" 2>&1); rc=$?
check "a directory exits 2" 2 "$rc"
check "a directory is named" "morphling validate: $WORK: is a directory, not a regular file" "$err"
mkfifo "$WORK/fifo"
err=$(timeout 10 "$MORPHLING" validate "$WORK/fifo" 2>&1); rc=$?
check "a FIFO is refused at once with 2 (124 = it blocked)" 2 "$rc"
check_contains "a FIFO is named" "fifo: is a FIFO" "$err"
err=$(timeout 10 "$MORPHLING" run "$WORK/fifo" 2>&1); rc=$?
check "run refuses a FIFO with 2" 2 "$rc"
err=$("$MORPHLING" validate /dev/null 2>&1); rc=$?
check "a device exits 2" 2 "$rc"

# Issue 13: an int range of more than 10^12 values without a step crashed (SIGSEGV).
sed 's/    max: 4/    max: 1000000000002/; /step: 0/d' "$WORK/bad.yaml" >"$WORK/big-range.yaml"
err=$("$MORPHLING" validate "$WORK/big-range.yaml" 2>&1); rc=$?
check "an int range without step over 10^12 values exits 2" 2 "$rc"
check_contains "naming max" "'parameters[0].max': more than 10^12 steps between min and max" "$err"

# Errors found after parsing still point at the field: an unknown algorithm, a service command
# that does not exist.
sed 's/step: 0/step: 1/; s/^runner:.*/algorithm: {name: Bayes}\nrunner: {kind: replay, surface: x.csv}/' \
    "$WORK/bad.yaml" >"$WORK/algo.yaml"
err=$("$MORPHLING" validate "$WORK/algo.yaml" 2>&1); rc=$?
check "an unknown algorithm exits 2" 2 "$rc"
check_contains "... at algorithm.name" "$WORK/algo.yaml:9:19: 'algorithm.name': unknown algorithm 'Bayes'" "$err"
# The algorithm's own check of the space: a float parameter without a step cannot be a grid.
sed 's/    step: 0//; s/type: int/type: float/; s/^runner:.*/algorithm: {name: grid}\nrunner: {kind: replay, surface: x.csv}/' \
    "$WORK/bad.yaml" >"$WORK/grid.yaml"
err=$("$MORPHLING" validate "$WORK/grid.yaml" 2>&1); rc=$?
check "grid over a float without a step exits 2" 2 "$rc"
check_contains "... at algorithm.name" "$WORK/grid.yaml:9:19: 'algorithm.name': algorithm 'grid' needs a finite space: give float parameter 'a' a step" "$err"
sed 's/sleep/\/nonexistent\/bin/; s/body_text.*}}/}}/' "$WORK/inline.yaml" >"$WORK/nocmd.yaml"
err=$("$MORPHLING" validate "$WORK/nocmd.yaml" 2>&1); rc=$?
check "a missing service command exits 2" 2 "$rc"
check_contains "... at service.command" "$WORK/nocmd.yaml:2:20: 'service.command': service command '/nonexistent/bin'" "$err"
# A program next to the spec, written without './', is looked up in PATH, as a shell would: the
# error says how to name the one that is there.
sed 's/sleep/my-server.sh/; s/body_text.*}}/}}/' "$WORK/inline.yaml" >"$WORK/here.yaml"
printf '#!/bin/sh\n' >"$WORK/my-server.sh" && chmod +x "$WORK/my-server.sh"
err=$("$MORPHLING" validate "$WORK/here.yaml" 2>&1); rc=$?
check "a program of the spec's folder without ./ exits 2" 2 "$rc"
check_contains "... and says to write ./" "'my-server.sh': not found in PATH; for the one in the service's folder write './my-server.sh'" "$err"
# The service is started with its own PATH (service.env), so the program is looked up there; it
# was looked up in morphling's PATH, and a spec that runs was refused.
mkdir -p "$WORK/bin" && mv "$WORK/my-server.sh" "$WORK/bin/"
sed "s|service: {command: \[my-server.sh, \"{a}\"\]}|service: {command: [my-server.sh, \"{a}\"], env: {PATH: \"$WORK/bin:/usr/bin\"}}|" \
    "$WORK/here.yaml" >"$WORK/path.yaml"
err=$("$MORPHLING" validate "$WORK/path.yaml" 2>&1); rc=$?
check "a program in service.env's PATH: valid ($err)" 0 "$rc"
sed "s|$WORK/bin:|/nonexistent:|" "$WORK/path.yaml" >"$WORK/nopath.yaml"
err=$("$MORPHLING" validate "$WORK/nopath.yaml" 2>&1); rc=$?
check "not in service.env's PATH: exits 2" 2 "$rc"
check_contains "... saying which PATH" "'my-server.sh': not found in service.env's PATH" "$err"

# A metric the runner does not measure (a typo) is refused where it is named, with the likely
# intended name; a derived one names what the spec lacks. Every trial failed METRIC_MISSING.
sed 's/body_text.*}}/}}/; s/^objective:.*/objective: {metric: throughput}/' "$WORK/inline.yaml" \
    >"$WORK/metric.yaml"
err=$("$MORPHLING" validate "$WORK/metric.yaml" 2>&1); rc=$?
check "an objective the local runner does not measure exits 2" 2 "$rc"
check_contains "... naming it, and the likely one" \
    "'objective.metric': runner 'local' measures no \"throughput\"; did you mean \"throughput_rps\"?" "$err"
sed -i 's/^objective:.*/objective: {metric: throughput_per_cost}/' "$WORK/metric.yaml"
err=$("$MORPHLING" validate "$WORK/metric.yaml" 2>&1); rc=$?
check "a cost metric without a cost table exits 2" 2 "$rc"
check_contains "... saying so" \
    "'objective.metric': \"throughput_per_cost\" is derived from a cost table ('cost'), which the spec lacks" "$err"

out=$("$MORPHLING" validate --json "$WORK/bad.yaml" 2>/dev/null)
check "validate --json reports invalid" false "$(printf '%s' "$out" | jq .valid)"
# An error that is no UTF-8 (a file name) or is cut inside a character (a long non-ASCII value
# quoted in it) is still JSON: both crashed with SIGSEGV (jansson refused the string).
out=$("$MORPHLING" validate --json "$WORK/$(printf '\377').yaml" 2>/dev/null); rc=$?
check "validate --json, a file name of no UTF-8: exit 2" 2 "$rc"
check "... and a JSON verdict" false "$(printf '%s' "$out" | jq .valid)"
for prefix in a ab abc; do
    { printf 'name: %s' "$prefix"; for i in $(seq 600); do printf '\303\251'; done; printf '\n'
      sed 1d "$WORK/bad.yaml"; } >"$WORK/utf8.yaml"
    out=$("$MORPHLING" validate --json "$WORK/utf8.yaml" 2>/dev/null); rc=$?
    check "validate --json, a long non-ASCII name after '$prefix': exit 2" 2 "$rc"
    check_contains "... and a JSON verdict naming the field" "'name': expected a name" \
        "$(printf '%s' "$out" | jq -r .error)"
done
# --offline asks no cluster: a kubernetes spec validates without a kubeconfig; its own settings
# are still checked.
cat >"$WORK/k8s.yaml" <<'YAML'
name: k8s
parameters:
  - {name: cpu, type: discrete, values: [0.5, 1], target: {resource: cpu}}
objective: {metric: throughput_rps}
runner:
  kind: kubernetes
  pod_template: {spec: {containers: [{name: c, image: 'x:1', ports: [{containerPort: 8080}]}]}}
YAML
err=$(KUBECONFIG="$WORK/no-such-kubeconfig" "$MORPHLING" validate "$WORK/k8s.yaml" 2>&1); rc=$?
check "a kubernetes spec without a kubeconfig exits 2" 2 "$rc"
check_contains "... naming it" "'runner': no kubeconfig" "$err"
# validate and run have no --kubeconfig option: the message named it as the way out.
check_contains "... and how to name one" \
    "name one with \$KUBECONFIG or the spec's runner.kubeconfig (runner.context: its context)" "$err"
case "$err" in *--kubeconfig*) not_ok "... naming an option validate lacks: $err" ;; *) ok "... no --kubeconfig" ;; esac
out=$(KUBECONFIG="$WORK/no-such-kubeconfig" "$MORPHLING" validate --offline "$WORK/k8s.yaml" 2>&1); rc=$?
check "validate --offline: exit 0" 0 "$rc"
check_contains "... valid" "valid: experiment 'k8s', 1 parameter," "$out"
{ cat "$WORK/k8s.yaml"; echo '  container: d'; } >"$WORK/k8s-bad.yaml"
err=$(KUBECONFIG="$WORK/no-such-kubeconfig" "$MORPHLING" validate --offline "$WORK/k8s-bad.yaml" 2>&1); rc=$?
check "validate --offline, a container the template lacks: exit 2" 2 "$rc"
check_contains "... naming the field" "k8s-bad.yaml:7:17: 'runner.pod_template': the pod template has no container named \"d\"" "$err"
# A load window of microseconds (a unit mistyped) measured nothing, trial after trial.
err=$(KUBECONFIG="$WORK/no-such-kubeconfig" "$MORPHLING" validate --offline --set runner.load.window=50us "$WORK/k8s.yaml" 2>&1); rc=$?
check "a load window under 10 ms exits 2" 2 "$rc"
check_contains "... naming the field and the least" \
    "'runner.load.window': expected a duration of at least 10 ms, got \"50us\"" "$err"
# A ProfilingExperiment's grid that maxNumTrials cuts short: the warning names its fields.
sed 's/maxNumTrials: 8/maxNumTrials: 3/' "$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml" >"$WORK/pe.yaml"
err=$("$MORPHLING" validate --offline "$WORK/pe.yaml" 2>&1 >/dev/null)
check "a ProfilingExperiment's grid cut short: the warning in its words" \
    "morphling validate: warning: grid search stops after maxNumTrials = 3 of its 8 configurations: 'cpu' (the slowest parameter) takes 1 of its 2 values; raise spec.maxNumTrials or use random or BayesianOpt" \
    "$err"
# A budget that reaches every value of the slowest parameter says what it leaves out (it read
# "'cpu' takes 2 of its 2 values").
sed 's/maxNumTrials: 8/maxNumTrials: 6/' "$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml" >"$WORK/pe.yaml"
err=$("$MORPHLING" validate --offline "$WORK/pe.yaml" 2>&1 >/dev/null)
check "a grid cut short in the slowest parameter's last value" \
    "morphling validate: warning: grid search stops after maxNumTrials = 6 of its 8 configurations: the last value of 'cpu' (the slowest parameter) meets 2 of the 4 configurations of the others; raise spec.maxNumTrials or use random or BayesianOpt" \
    "$err"
# A grid under a constraint on cost_per_hour skips the priced-out configurations: the warning
# counts the others (it said 6 of 12 when the budget of 6 reached all 6 that cost 0.3 or less).
printf 'cpu,b,throughput_rps\n' >"$WORK/price.csv"
for c in 1 2 3 4; do for b in 1 2 3; do echo "$c,$b,$((c * b))" >>"$WORK/price.csv"; done; done
cat >"$WORK/price.yaml" <<'YAML'
name: price
parameters:
  - {name: cpu, type: int, min: 1, max: 4, target: {resource: cpu}}
  - {name: b, type: int, min: 1, max: 3}
objective: {metric: throughput_rps}
constraints: ['cost_per_hour <= 0.2']
cost: {cpu_core_hour: 0.1}
algorithm: {name: grid, max_trials: 6}
runner: {kind: replay, surface: price.csv}
YAML
err=$("$MORPHLING" validate "$WORK/price.yaml" 2>&1 >/dev/null)
check "a budget that reaches every affordable configuration: no warning" "" "$err"
err=$("$MORPHLING" validate --set algorithm.max_trials=4 "$WORK/price.yaml" 2>&1 >/dev/null)
check "... one that does not: the affordable ones counted" \
    "morphling validate: warning: grid search stops after max_trials = 4 of the 6 configurations a constraint on cost_per_hour leaves of its 12: it reaches 'cpu' (the slowest parameter) = 2; raise algorithm.max_trials or use random or bo" \
    "$err"
# A valid spec that likely does not mean what it says: warnings naming the file, line and field,
# exit 0 (a service never told {port} validated clean, every trial then STARTUP_TIMEOUT; a bare
# window of 500 is 500 seconds).
cat >"$WORK/warn.yaml" <<'YAML'
name: warn
service: {command: [sleep, "{w}"]}
parameters:
  - {name: w, type: int, min: 1, max: 2}
  - {name: memory, type: discrete, values: [256, 512, 1024], target: {resource: memory}}
  - {name: cpu, type: float, min: 0.5, max: 2, step: 0.5, target: {resource: cpu}}
objective: {metric: throughput_rps}
runner: {load: {window: 500}}
YAML
err=$("$MORPHLING" validate "$WORK/warn.yaml" 2>&1 >/dev/null); rc=$?
check "warnings: exit 0" 0 "$rc"
check "warnings: the port and the window, naming file, line and field" \
    "morphling validate: warning: $WORK/warn.yaml:8:25: 'runner.load.window': a bare number is seconds: 500 is read as 500s (8.3 minutes); write 500ms for milliseconds, or 500s to say seconds
morphling validate: warning: $WORK/warn.yaml:2:20: 'service.command': no {port} in service.command or service.env: each trial's service must listen on the port the runner gives it (from runner.ports), which it can learn only from \$MORPHLING_PORT; pass it (e.g. --port, \"{port}\"); a service that reads \$MORPHLING_PORT itself says so with service.env: {MORPHLING_PORT: \"{port}\"}; one on a fixed port needs runner.ports: PORT-PORT" \
    "$err"
out=$("$MORPHLING" validate --json "$WORK/warn.yaml" 2>/dev/null)
check "warnings: in --json too" 2 "$(printf '%s' "$out" | jq '.warnings | length')"
err=$("$MORPHLING" validate --set runner.load.window=500ms --set 'service.command=[sleep, "{w}", "{port}"]' "$WORK/warn.yaml" 2>&1 >/dev/null)
check "with units and {port}: no warning" "" "$err"
err=$("$MORPHLING" run --set runner.load.window=500ms "$WORK/warn.yaml" --db "$WORK/warn.db" --set runner.kind=nothing 2>&1)
check_contains "run: an invalid spec is refused before any warning" "'runner.kind'" "$err"
# A --set value of a memory or cpu parameter in Kubernetes units says the unit (it said only
# "expected a number"), and one off the parameter's list lists it.
for set in "memory=2Gi|a memory target is in MiB: 2Gi is 2048 MiB; write 2048" \
    "cpu=2000m|a cpu target is in cores: 2000m is 2 cores; write 2" \
    "memory=3000|parameter 'memory': 3000 is not one of its values (256, 512 or 1024)" \
    "cpu=3|parameter 'cpu': 3 is not one of its values (0.5 to 2 in steps of 0.5)"; do
    err=$("$MORPHLING" trial "$WORK/warn.yaml" --set w=1 --set "${set%%|*}" 2>&1); rc=$?
    check "trial --set ${set%%|*}: exit 2" 2 "$rc"
    check_contains "trial --set ${set%%|*}: the unit or the values" "${set#*|}" "$err"
done
# A message stays one line whatever it quotes: a newline or ESC in a file name or an argument.
nl_file="$WORK/two
lines.yaml"
printf 'name: x\n' >"$nl_file"
err=$("$MORPHLING" validate "$nl_file" 2>&1); rc=$?
check "a spec whose name has a newline: exit 2" 2 "$rc"
check "... on one line, the newline written as backslash n" \
    "morphling validate: $WORK/two\\nlines.yaml:1:1: 'parameters': required key is missing" "$err"
err=$("$MORPHLING" validate "$(printf -- '--a\033[2Jb')" 2>&1)
check "an unknown option with ESC: written as \\x1b" \
    "morphling validate: unknown option '--a\\x1b[2Jb'" "$(printf '%s\n' "$err" | head -1)"
finish
