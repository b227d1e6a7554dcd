#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A runner killed with SIGKILL leaves no process of its trial behind, even when it is killed
# with its whole process group (`timeout -s KILL`, a cancelled CI job) and the service has a
# child that escaped with setsid(): the shim outlives the runner and kills the trial.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
[ -x "$ANTICS" ] || skip "$ANTICS is not built"
command -v setsid >/dev/null || skip "setsid(1) is missing"
command -v pgrep >/dev/null || skip "pgrep(1) is missing"

# count_with MARKER: live processes whose command line carries MARKER (zombies have none).
count_with() { pgrep -c -f -- "$1"; }
none_with() { [ "$(count_with "$1")" = 0 ]; }
two_with() { [ "$(count_with "$1")" -ge 2 ]; }

# killed HOW: starts a trial whose service never gets ready and has an escaped child, kills the
# runner once both service processes run (HOW = "group": the runner's whole process group,
# "runner": the runner alone), and checks that both go away.
killed() {
    marker="mp-killed-$1-$$"
    write_spec "$WORK/$1.yaml" 60s "[\"$ANTICS\", \"escape\", \"$marker\", \"{mode}\", \"{port}\"]"
    setsid "$MORPHLING" trial "$WORK/$1.yaml" --set cpu=0.5 --set memory=64 --set mode=healthy \
        --json >"$WORK/$1.json" 2>"$WORK/$1.err" &
    runner=$!
    track $runner
    wait_for "$1: the service and its escaped child run" two_with "$marker" &&
        ok "$1: the service and its escaped child run"
    if [ "$1" = group ]; then
        pgid=$(ps -o pgid= -p "$runner" | tr -d ' ')
        check "$1: the runner leads its own process group" "$runner" "$pgid"
        kill -9 "-$pgid"
    else
        kill -9 "$runner"
    fi
    # The helper lingers 60 s at most: the hang guard ends well before that.
    MP_WAIT_S=20 wait_for "$1: no process of the trial left" none_with "$marker" &&
        ok "$1: no process of the trial left"
    for left in $(pgrep -f -- "$marker"); do kill -9 "$left"; done
    wait "$runner" 2>/dev/null
}

killed runner
killed group
finish
