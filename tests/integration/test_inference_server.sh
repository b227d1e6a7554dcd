#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Drives the example inference server (examples/inference-server) with real models: health and
# nonce, Fashion-MNIST labels of the build's payload images, --host, OCR of a rendered page,
# metrics, 503s under overload with --queue-limit 1, clean exit 0 on SIGTERM, no process left
# behind.
set -eu
: "${MP_BUILD_DIR:?}"
server=$MP_BUILD_DIR/examples/inference-server/inference-server
payloads=$MP_BUILD_DIR/examples/payloads
[ -x "$server" ] || { echo "FAIL: no server at $server"; exit 1; }
tmp=$(mktemp -d)
nonce="it-$$-$(date +%s)"
pids=""
cleanup() {
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# start NAME ARGS...: starts the server, waits for its port line and a healthy /healthz.
start() {
    name=$1
    shift
    : >"$tmp/$name.out"
    "$server" --port 0 --nonce "$nonce" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    pids="$pids $pid"
    port=""
    i=0
    while [ $i -lt 300 ]; do
        port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/$name.out")
        if [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "FAIL: $name did not become healthy"
    cat "$tmp/$name.err"
    exit 1
}

# stop: SIGTERM, expect exit status 0.
stop() {
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    if [ "$status" -eq 0 ]; then ok; else
        bad "server exited $status after SIGTERM"
        cat "$tmp/$name.err"
    fi
}

# post PATH FILE: prints the status code, body to $tmp/body.
post() {
    curl -s -o "$tmp/body" -w '%{http_code}' --data-binary "@$2" "http://127.0.0.1:$port$1"
}

# --- Fashion-MNIST ---
start fmnist --model fmnist --workers 2 --max-batch 4 --batch-timeout-us 2000
base="http://127.0.0.1:$port"
headers=$(curl -s -D - -o /dev/null "$base/healthz" | tr -d '\r')
case "$headers" in
*"X-Morphling-Nonce: $nonce"*) ok ;;
*) bad "healthz lacks the nonce header: $headers" ;;
esac

n_images=0
while IFS="$(printf '\t')" read -r file label name; do
    code=$(post /v1/fmnist "$payloads/fmnist/$file")
    body=$(cat "$tmp/body")
    got=$(printf '%s' "$body" | sed -n 's/^{"class":\([0-9]*\),"label":"\([^"]*\)".*/\1 \2/p')
    if [ "$code" = 200 ] && [ "$got" = "$label $name" ]; then ok; else
        bad "$file: expected 200 '$label $name', got $code '$body'"
    fi
    n_images=$((n_images + 1))
done <"$payloads/fmnist-labels.tsv"
[ "$n_images" -ge 10 ] && ok || bad "only $n_images labelled payloads"

# Concurrent requests exercise the batching path (64 requests, 8 at a time).
i=0
while [ $i -lt 64 ]; do
    echo "$payloads/fmnist/test-00000-9.raw"
    i=$((i + 1))
done >"$tmp/list"
xargs -P 8 -I F curl -s -o /dev/null -w '%{http_code}\n' --data-binary @F \
    "$base/v1/fmnist" <"$tmp/list" >"$tmp/codes"
n200=$(grep -c '^200$' "$tmp/codes" || true)
[ "$n200" -eq 64 ] && ok || bad "concurrent: $n200 of 64 answered 200: $(sort "$tmp/codes" | uniq -c)"

printf 'short' >"$tmp/short"
code=$(post /v1/fmnist "$tmp/short")
[ "$code" = 400 ] && ok || bad "5-byte image: expected 400, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/fmnist")
[ "$code" = 405 ] && ok || bad "GET /v1/fmnist: expected 405, got $code"
code=$(post /v1/ocr "$tmp/short")
[ "$code" = 404 ] && ok || bad "/v1/ocr on the fmnist server: expected 404, got $code"

metrics=$(curl -s "$base/metrics")
expect_metric() {
    if printf '%s\n' "$metrics" | grep -q "$1"; then ok; else bad "metrics lack '$1'"; fi
}
total=$((n_images + 64))
expect_metric "^inference_requests_total{model=\"fmnist\",endpoint=\"infer\",code=\"200\"} $total\$"
expect_metric '^inference_requests_total{model="fmnist",endpoint="infer",code="400"} 1$'
expect_metric '^inference_requests_total{model="fmnist",endpoint="infer",code="405"} 1$'
expect_metric "^inference_batch_size_count{model=\"fmnist\"} [1-9]"
expect_metric "^inference_batch_size_bucket{model=\"fmnist\",le=\"+Inf\"} [1-9]"
expect_metric "^inference_seconds_sum{model=\"fmnist\"} "
expect_metric "^inference_request_seconds_count{model=\"fmnist\"} $total\$"
expect_metric '^inference_queue_depth{model="fmnist"} 0$'
expect_metric '^inference_workers{model="fmnist"} 2$'
expect_metric '^process_cpu_seconds_total [0-9]'
expect_metric '^process_resident_memory_bytes [1-9][0-9]*$'
stop

# Settings from the environment (MP_SERVER_*, OMP_NUM_THREADS as the default of
# --omp-threads), flags still winning.
OMP_NUM_THREADS=2 MP_SERVER_WORKERS=3 MP_SERVER_MAX_BATCH=5 start envcfg --max-batch 2
m=$(curl -s "http://127.0.0.1:$port/metrics")
case "$m" in
*'inference_workers{model="fmnist"} 3'*'inference_omp_threads{model="fmnist"} 2'*'inference_max_batch{model="fmnist"} 2'*) ok ;;
*) bad "env settings not applied: $(printf '%s\n' "$m" | grep -E 'workers|omp|max_batch')" ;;
esac
stop

# --host binds another loopback address (the test cluster gives each pod its own).
host="127.77.$(($$ % 250 + 1)).$(($$ / 250 % 250 + 1))"
"$server" --host "$host" --port 0 --nonce "$nonce" >"$tmp/host.out" 2>"$tmp/host.err" &
pid=$!
pids="$pids $pid"
name=host
i=0
port=""
healthy=""
while [ $i -lt 300 ] && [ -z "$healthy" ]; do
    port=$(sed -n "s/^listening on $host:\([0-9]*\)\$/\1/p" "$tmp/host.out")
    if [ -n "$port" ] && curl -sf "http://$host:$port/healthz" >/dev/null 2>&1; then
        healthy=yes
    else
        sleep 0.1
    fi
    i=$((i + 1))
done
if [ -n "$healthy" ]; then ok; else
    bad "--host $host: not serving ($(cat "$tmp/host.out" "$tmp/host.err"))"
fi
stop
status=0
"$server" --host not-an-address >/dev/null 2>"$tmp/badhost.err" || status=$?
[ "$status" = 2 ] && grep -q "'not-an-address' is not an IPv4 address" "$tmp/badhost.err" && ok ||
    bad "--host not-an-address: expected exit 2 and a message, got $status $(cat "$tmp/badhost.err")"

# --- OCR, and overload with a one-slot queue ---
start ocr --model ocr --workers 1 --queue-limit 1
code=$(post /v1/ocr "$payloads/ocr/page-1.png")
case "$code $(cat "$tmp/body")" in
"200 {\"text\":"*latency*) ok ;;
*) bad "page-1.png: expected 200 with 'latency', got $code $(cat "$tmp/body")" ;;
esac
code=$(post /v1/ocr "$payloads/ocr/page-1.pgm")
case "$code $(cat "$tmp/body")" in
"200 {\"text\":"*Inference*) ok ;;
*) bad "page-1.pgm: expected 200 with 'Inference', got $code $(cat "$tmp/body")" ;;
esac
code=$(post /v1/ocr "$payloads/fmnist/test-00000-9.raw")
[ "$code" = 400 ] && ok || bad "raw bytes as a page: expected 400, got $code"

i=0
while [ $i -lt 12 ]; do
    echo "$payloads/ocr/page-2.png"
    i=$((i + 1))
done >"$tmp/list"
xargs -P 12 -I F curl -s -o /dev/null -w '%{http_code}\n' --data-binary @F \
    "http://127.0.0.1:$port/v1/ocr" <"$tmp/list" >"$tmp/codes"
n200=$(grep -c '^200$' "$tmp/codes" || true)
n503=$(grep -c '^503$' "$tmp/codes" || true)
if [ "$n503" -ge 1 ] && [ "$n200" -ge 1 ] && [ $((n200 + n503)) -eq 12 ]; then ok; else
    bad "overload: expected some 200 and some 503, got $(sort "$tmp/codes" | uniq -c)"
fi
m=$(curl -s "http://127.0.0.1:$port/metrics")
case "$m" in
*"inference_rejected_total{model=\"ocr\"} $n503"*) ok ;;
*) bad "inference_rejected_total is not $n503" ;;
esac
stop

# No server process is left: none of the started pids, and no process carrying our nonce.
for p in $pids; do
    if kill -0 "$p" 2>/dev/null; then bad "process $p still running"; fi
done
for f in /proc/[0-9]*/cmdline; do
    c=$({ tr '\0' ' ' <"$f"; } 2>/dev/null || true)
    case "$c" in
    *"--nonce $nonce"*) bad "leftover process $f: $c" ;;
    esac
done
ok

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
