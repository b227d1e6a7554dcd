#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# pod_runner on its own (tests/kube/pod_runner.c): the JSON-line protocol, exit codes and
# signals, an OOM kill under a memory limit, bind mounts (over /etc/hosts, at a path whose
# directory does not exist and at a new top-level directory, read-only, without touching the
# host; an emptyDir at /tmp over the state folder), the pod's hostname, exec in a running
# container's namespaces, usage from its cgroup, CRI-format logs, refusal of bad commands,
# shutdown on end of input killing what runs, and --cleanup.
set -u
: "${MP_KUBE_DIR:?}" "${MP_HELPERS:?}" "${MP_SOURCE_DIR:?}"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: pod_runner needs root (mount namespaces, cgroups)"
    exit 77
fi
runner=$MP_KUBE_DIR/pod_runner
work=$(mktemp -d /tmp/mp-pod-runner.XXXXXX)
group="mp-pr-test-$$"
. "$MP_SOURCE_DIR/tests/integration/tap.sh"
cleanup() {
    exec 3>&- 2>/dev/null
    [ -n "${rpid:-}" ] && kill -KILL "$rpid" 2>/dev/null
    "$runner" --cleanup "$group" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

mkfifo "$work/in"
"$runner" --pod p1 --cgroup-parent "$group" --state-dir "$work" <"$work/in" >"$work/out" 2>"$work/err" &
rpid=$!
exec 3>"$work/in"
send() { printf '%s\n' "$1" >&3; }
# event JQ-FILTER: waits (up to 60 s) for an event line matching the filter; prints it.
event() {
    i=0
    while [ $i -lt 600 ]; do
        line=$(jq -c "select($1)" "$work/out" 2>/dev/null | head -1)
        if [ -n "$line" ]; then
            printf "%s\n" "$line"
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

ready=$(event '.event == "ready"')
check "ready, with the cgroup mode" ready "$(printf '%s\n' "$ready" | jq -r '.event')"
printf '127.0.0.1\tlocalhost\n127.9.9.9\tsvc.ns.svc\n' >"$work/hosts"
: >"$work/msg"
send "{\"op\":\"start\",\"id\":\"a\",\"argv\":[\"sh\",\"-c\",\"echo out; echo err >&2; printf part; grep svc /etc/hosts; hostname; echo done >/var/run/mp-test-$$/msg; exit 7\"],\"env\":[\"PATH=/usr/bin:/bin\"],\"hostname\":\"my-pod\",\"log\":\"$work/a.log\",\"mounts\":[{\"source\":\"$work/hosts\",\"target\":\"/etc/hosts\"},{\"source\":\"$work/msg\",\"target\":\"/var/run/mp-test-$$/msg\"}]}"
ev=$(event '.event == "exited" and .id == "a"')
check "exit code" 7 "$(printf '%s\n' "$ev" | jq -r .exit_code)"
check "not an OOM kill" false "$(printf '%s\n' "$ev" | jq -r .oom_killed)"
check "the message file, bind-mounted where no directory existed" done "$(cat "$work/msg")"
check "... and nothing created on the host" no "$([ -e "/var/run/mp-test-$$" ] && echo yes || echo no)"
check "stdout and stderr in CRI format, a partial line joined to the next" \
    "stderr F err|stdout F my-pod|stdout F out|stdout F part127.9.9.9	svc.ns.svc" \
    "$(sed 's/^[0-9T:.-]*Z //' "$work/a.log" | sort | tr '\n' '|' | sed 's/|$//')"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z stdout F out$' "$work/a.log" &&
    ok "RFC 3339 timestamps with nanoseconds" || not_ok "timestamps: $(head -1 "$work/a.log")"
check "the host's hostname is untouched" "$(cat /proc/sys/kernel/hostname)" "$(hostname)"

mkdir "$work/data"
echo inside >"$work/data/f"
send "{\"op\":\"start\",\"id\":\"top\",\"argv\":[\"sh\",\"-c\",\"cat /mp-top-$$/f; touch /mp-top-$$/g 2>/dev/null || echo read-only\"],\"env\":[\"PATH=/usr/bin:/bin\"],\"log\":\"$work/top.log\",\"mounts\":[{\"source\":\"$work/data\",\"target\":\"/mp-top-$$\",\"readonly\":true}]}"
ev=$(event '.event == "exited" and .id == "top"')
check "a mount at a new top-level directory (in a new root), read-only" "inside|read-only" \
    "$(sed 's/^[^ ]* stdout F //' "$work/top.log" | grep -v '^[^ ]* stderr' | tr '\n' '|' | sed 's/|$//')"
check "... and nothing created on the host" no "$([ -e "/mp-top-$$" ] && echo yes || echo no)"

# An emptyDir at /tmp while the state folder ($work) is itself below /tmp (deploy/operator.yaml's
# pod on a test cluster under /tmp): the log still goes to the state folder, a later mount at a
# missing path is still made (its stash lives in the state folder), the container sees only the
# volume at /tmp and what it writes there stays in the volume. Its program lies below /tmp too
# (as this cluster's images are binaries of a build there): it still runs, as a real image's
# program does, its files being in the image and not under the volume.
mkdir "$work/empty" "$work/bin"
cp "$(command -v sh)" "$work/bin/sh"
echo token >"$work/token"
send "{\"op\":\"start\",\"id\":\"tmp\",\"argv\":[\"$work/bin/sh\",\"-c\",\"echo tmp=\$(ls -A /tmp | wc -l); cat /var/run/mp-tmp-$$/token; echo mine >/tmp/own-$$\"],\"env\":[\"PATH=/usr/bin:/bin\"],\"log\":\"$work/tmp.log\",\"mounts\":[{\"source\":\"$work/empty\",\"target\":\"/tmp\"},{\"source\":\"$work/token\",\"target\":\"/var/run/mp-tmp-$$/token\"}]}"
ev=$(event '.event != "ready" and .id == "tmp" and .event != "started"')
check "emptyDir at /tmp over the state folder: exits 0" 0 "$(printf '%s\n' "$ev" | jq -r .exit_code)"
check "... its log in the state folder, a later mount made, /tmp holding only the volume" \
    "tmp=0|token" "$(sed 's/^[^ ]* stdout F //' "$work/tmp.log" 2>&1 | tr '\n' '|' | sed 's/|$//')"
check "... what it wrote at /tmp is in the volume, not in the host's /tmp" "mine no" \
    "$(cat "$work/empty/own-$$") $([ -e "/tmp/own-$$" ] && echo yes || echo no)"

send '{"op":"start","id":"oom","argv":["'"$MP_HELPERS"'/proc_antics","alloc","512"],"env":[],"memory":67108864}'
ev=$(event '.event == "exited" and .id == "oom"')
check "OOM kill under a 64 MiB limit" "137 9 true" "$(printf '%s\n' "$ev" | jq -r '"\(.exit_code) \(.signal) \(.oom_killed)"')"

send '{"op":"start","id":"missing","argv":["/nonexistent/binary"],"env":[]}'
ev=$(event '.event == "failed" and .id == "missing"')
case "$ev" in
*"No such file or directory"*) ok "a missing binary fails to start, with the reason" ;;
*) not_ok "missing binary: $ev" ;;
esac

send '{"op":"start","id":"s","argv":["sleep","300"],"env":["PATH=/bin:/usr/bin"],"cpu":0.5}'
ev=$(event '.event == "started" and .id == "s"')
spid=$(printf '%s\n' "$ev" | jq -r .pid)
kill -0 "$spid" 2>/dev/null && ok "started, with its pid" || not_ok "started: $ev"
send '{"op":"start","id":"s","argv":["true"],"env":[]}'
event '.event == "error" and .id == "s"' >/dev/null && ok "a second start of a running container is refused" ||
    not_ok "double start"
send '{"op":"exec","id":"x1","container":"s","argv":["sh","-c","grep -q /p1_s /proc/self/cgroup \u0026\u0026 echo in-cgroup; exit 3"],"timeout_ms":5000}'
ev=$(event '.event == "exec" and .id == "x1"')
check "exec: exit code and output, inside the container's cgroup" "3 in-cgroup" \
    "$(printf '%s\n' "$ev" | jq -r '"\(.exit_code) \(.output | rtrimstr("\n"))"')"
send '{"op":"exec","id":"x2","container":"s","argv":["sleep","30"],"timeout_ms":200}'
ev=$(event '.event == "exec" and .id == "x2"')
check "exec timeout" true "$(printf '%s\n' "$ev" | jq -r .timed_out)"
send '{"op":"stats"}'
ev=$(event '.event == "stats" and .id == "s"')
mem=$(printf '%s\n' "$ev" | jq -r .memory_bytes)
if [ "$mem" -gt 0 ] 2>/dev/null; then ok "usage from the cgroup ($mem bytes)"; else not_ok "stats: $ev"; fi
send '{"op":"signal","id":"s","signal":15}'
ev=$(event '.event == "exited" and .id == "s"')
check "SIGTERM" "143 15" "$(printf '%s\n' "$ev" | jq -r '"\(.exit_code) \(.signal)"')"

send 'not json'
send '{"op":"frobnicate"}'
send '{"op":"start","id":"bad"}'
event '.event == "error" and (.message | test("unknown op"))' >/dev/null && ok "unknown op refused" || not_ok "unknown op"
event '.event == "error" and .id == "bad"' >/dev/null && ok "a start without argv refused" || not_ok "bad start"
event '.event == "error" and .id == null and (.message | test("unknown op") | not)' >/dev/null &&
    ok "malformed JSON refused" || not_ok "malformed JSON"

send '{"op":"start","id":"long","argv":["sleep","300"],"env":["PATH=/bin:/usr/bin"]}'
ev=$(event '.event == "started" and .id == "long"')
lpid=$(printf '%s\n' "$ev" | jq -r .pid)
exec 3>&-
i=0
while kill -0 "$rpid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
wait "$rpid"
check "end of input: pod_runner exits 0" 0 $?
rpid=
check "... and kills what ran" gone "$(kill -0 "$lpid" 2>/dev/null && echo alive || echo gone)"
check "bye" bye "$(tail -1 "$work/out" | jq -r .event)"
check "no stash directory left in the state folder" "" "$(find "$work" -name '.stash-*')"
out=$("$runner" --cleanup "$group")
check "--cleanup removes the base groups" '0' "$(printf '%s\n' "$out" | jq -r .failed)"
check "no cgroup left" "" "$(find /sys/fs/cgroup -maxdepth 6 -type d -name "$group" 2>/dev/null)"
"$runner" --bogus >/dev/null 2>&1
check "usage error exits 2" 2 $?
finish
