#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A second Ctrl-C hurries a cancel: a service that ignores SIGTERM under a 60 s grace period is
# killed at once (the run waited out the whole grace period, up to the hour accepted), its
# processes and cgroups are gone, and the trial is CANCELLED with exit status 130, for
# `morphling trial` and for `morphling run`.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
need_fake
SPEC=$WORK/spec.yaml
write_spec "$SPEC" 20s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\"]"
# Long enough a load test that both interrupts arrive during it.
SET="--set cpu=0.5 --set memory=256 --set mode=ignore-term --set runner.grace_period=60s
     --set runner.load.windows=200"

# The pid of the running service (ignoring SIGTERM), and whether it has answered the load test.
service_pid() { processes_with "--mode ignore-term" | awk -v f="$FAKE" '$2 == f {print $1; exit}'; }
serving() {
    p=$(service_pid)
    [ -n "$p" ] || return 1
    port=$(tr '\0' ' ' <"/proc/$p/cmdline" | sed 's/.*--port \([0-9]*\).*/\1/')
    curl -s "http://127.0.0.1:$port/metrics" | grep -q "fake_requests_total [1-9]"
}

# hurry NAME PID: two SIGINTs a second apart once the service answers the load; sets SVC (the
# service's pid), NONCE, CGS (its cgroup folders) and HURRY_S (first SIGINT to exit).
hurry() {
    wait_for "$1: the service answers the load test" serving || return
    SVC=$(service_pid)
    NONCE=$(tr '\0' ' ' <"/proc/$SVC/cmdline" | sed 's/.*--nonce \([0-9a-f]*\).*/\1/')
    # Its groups under the trials' parent (".../morphling/<trial>"), in each hierarchy.
    CGS=$(awk -F: '$3 ~ /morphling/ {print $2 ":" $3}' "/proc/$SVC/cgroup" |
        while IFS=: read -r ctl path; do
            for d in "/sys/fs/cgroup/$ctl" /sys/fs/cgroup/unified /sys/fs/cgroup; do
                [ -d "$d$path" ] && { echo "$d$path"; break; }
            done
        done)
    echo "# $1: the service's groups: ${CGS:-none (no cgroups here)}"
    t0=$(now)
    kill -INT "$2"
    sleep 1
    kill -INT "$2"
    wait "$2"
    HURRY_RC=$?
    HURRY_S=$(echo "$t0 $(now)" | awk '{printf "%.1f", $2 - $1}')
}

no_group_left() {
    for g in $CGS; do
        [ ! -d "$g" ] || return 1
    done
}

"$MORPHLING" trial "$SPEC" $SET --json >"$WORK/t.json" 2>"$WORK/t.err" &
pid=$!
track $pid
hurry trial $pid
check "trial: two SIGINTs exit 130 ($(cat "$WORK/t.err"))" 130 "$HURRY_RC"
check_true "trial: ended in ${HURRY_S}s, not after the 60 s grace period" \
    [ "$(echo "$HURRY_S" | awk '{print ($1 < 30)}')" = 1 ]
check "trial: CANCELLED" CANCELLED "$(field "$WORK/t.json" .state)"
check "trial: the teardown says it hurried" true "$(field "$WORK/t.json" .meta.teardown.hurried)"
expect_nothing_left "$WORK/t.json"

# `run` takes no parameter values: the spec's ranges hold one mode, and memory enough.
RUN_SET="--set parameters.memory.min=256
         --set runner.grace_period=60s --set runner.load.windows=200 --set algorithm.max_trials=1"
"$MORPHLING" run "$SPEC" --set "parameters.mode.values=[ignore-term]" $RUN_SET --quiet >"$WORK/r.out" 2>"$WORK/r.err" &
pid=$!
track $pid
hurry run $pid
check "run: two SIGINTs exit 130 ($(cat "$WORK/r.err"))" 130 "$HURRY_RC"
check_true "run: ended in ${HURRY_S}s, not after the 60 s grace period" \
    [ "$(echo "$HURRY_S" | awk '{print ($1 < 30)}')" = 1 ]
check_true "run: no process of the trial left" no_process_with "$NONCE"
check_true "run: no cgroup of the trial left ($CGS)" no_group_left
check "run: INTERRUPTED" INTERRUPTED "$("$MORPHLING" show local-it --json | jq -r .state)"
finish
