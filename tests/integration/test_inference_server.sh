#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Drives the example inference server (examples/inference-server) with real models: health and
# nonce, Fashion-MNIST labels of the build's payload images, --host, OCR of a rendered page,
# metrics, 503s under overload with --queue-limit 1, clean exit 0 on SIGTERM, no process left
# behind.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
: "${MP_BUILD_DIR:?MP_BUILD_DIR must point to the build directory}"
server=$MP_BUILD_DIR/examples/inference-server/inference-server
payloads=$MP_BUILD_DIR/examples/payloads
[ -x "$server" ] || fail "no server at $server"
nonce="it-$$-$(date +%s)"
pids=""
host=127.0.0.1

# start NAME ARGS...: starts the server, waits for its port line and a healthy /healthz.
start() {
    name=$1
    shift
    : >"$WORK/$name.out"
    "$server" --host "$host" --port 0 --nonce "$nonce" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    pid=$!
    pids="$pids $pid"
    track "$pid"
    wait_for "$name becomes healthy" healthy "$name"
}

# healthy NAME: the server printed its port and answers /healthz (the test stops when it died).
healthy() {
    port=$(sed -n "s/^listening on $host:\([0-9]*\)\$/\1/p" "$WORK/$1.out")
    [ -n "$port" ] && curl -sf "http://$host:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || fail "$1 exited: $(cat "$WORK/$1.err")"
    return 1
}

# stop: SIGTERM, expect exit status 0.
stop() {
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    check "$name exits 0 on SIGTERM" 0 "$rc"
    [ "$rc" = 0 ] || cat "$WORK/$name.err"
}

# post PATH FILE: prints the status code, body to $WORK/body.
post() {
    curl -s -o "$WORK/body" -w '%{http_code}' --data-binary "@$2" "http://127.0.0.1:$port$1"
}

# --- Fashion-MNIST ---
start fmnist --model fmnist --workers 2 --max-batch 4 --batch-timeout-us 2000
base="http://127.0.0.1:$port"
check_contains "healthz sends the nonce header" "X-Morphling-Nonce: $nonce" \
    "$(curl -s -D - -o /dev/null "$base/healthz" | tr -d '\r')"

n_images=0
while IFS="$(printf '\t')" read -r file label name; do
    code=$(post /v1/fmnist "$payloads/fmnist/$file")
    got=$(sed -n 's/^{"class":\([0-9]*\),"label":"\([^"]*\)".*/\1 \2/p' "$WORK/body")
    check "$file: status and label ($(cat "$WORK/body"))" "200 $label $name" "$code $got"
    n_images=$((n_images + 1))
done <"$payloads/fmnist-labels.tsv"
check_true "at least 10 labelled payloads ($n_images)" [ "$n_images" -ge 10 ]

# Concurrent requests exercise the batching path (64 requests, 8 at a time).
i=0
while [ $i -lt 64 ]; do
    echo "$payloads/fmnist/test-00000-9.raw"
    i=$((i + 1))
done >"$WORK/list"
xargs -P 8 -I F curl -s -o /dev/null -w '%{http_code}\n' --data-binary @F \
    "$base/v1/fmnist" <"$WORK/list" >"$WORK/codes"
check "concurrent: every request answered 200" 64 "$(grep -c '^200$' "$WORK/codes")"

printf 'short' >"$WORK/short"
check "5-byte image" 400 "$(post /v1/fmnist "$WORK/short")"
check "GET /v1/fmnist" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/fmnist")"
check "/v1/ocr on the fmnist server" 404 "$(post /v1/ocr "$WORK/short")"

curl -s "$base/metrics" >"$WORK/metrics"
expect_metric() {
    check_true "metrics have '$1'" grep -q "$1" "$WORK/metrics"
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
curl -s "http://127.0.0.1:$port/metrics" >"$WORK/metrics"
expect_metric '^inference_workers{model="fmnist"} 3$'
expect_metric '^inference_omp_threads{model="fmnist"} 2$'
expect_metric '^inference_max_batch{model="fmnist"} 2$'
stop

# --host binds another loopback address (the test cluster gives each pod its own).
host="127.77.$(($$ % 250 + 1)).$(($$ / 250 % 250 + 1))"
start host
stop
host=127.0.0.1
rc=0
"$server" --host not-an-address >/dev/null 2>"$WORK/badhost.err" || rc=$?
check "--host not-an-address exits 2" 2 "$rc"
check_contains "--host not-an-address is named" "'not-an-address' is not an IPv4 address" \
    "$(cat "$WORK/badhost.err")"

# --- OCR, and overload with a one-slot queue ---
start ocr --model ocr --workers 1 --queue-limit 1
check "page-1.png" 200 "$(post /v1/ocr "$payloads/ocr/page-1.png")"
check_contains "page-1.png: text" '{"text":' "$(cat "$WORK/body")"
check_contains "page-1.png: a word of the page" latency "$(cat "$WORK/body")"
check "page-1.pgm" 200 "$(post /v1/ocr "$payloads/ocr/page-1.pgm")"
check_contains "page-1.pgm: a word of the page" Inference "$(cat "$WORK/body")"
check "raw bytes as a page" 400 "$(post /v1/ocr "$payloads/fmnist/test-00000-9.raw")"

i=0
while [ $i -lt 12 ]; do
    echo "$payloads/ocr/page-2.png"
    i=$((i + 1))
done >"$WORK/list"
xargs -P 12 -I F curl -s -o /dev/null -w '%{http_code}\n' --data-binary @F \
    "http://127.0.0.1:$port/v1/ocr" <"$WORK/list" >"$WORK/codes"
n200=$(grep -c '^200$' "$WORK/codes")
n503=$(grep -c '^503$' "$WORK/codes")
check_true "overload: some 200 ($n200)" [ "$n200" -ge 1 ]
check_true "overload: some 503 ($n503)" [ "$n503" -ge 1 ]
check "overload: only 200 and 503" 12 $((n200 + n503))
curl -s "http://127.0.0.1:$port/metrics" >"$WORK/metrics"
expect_metric "^inference_rejected_total{model=\"ocr\"} $n503\$"
stop

# No server process is left: none of the started pids, and no process carrying our nonce.
for p in $pids; do
    check_false "process $p is gone" kill -0 "$p" 2>/dev/null
done
leftover=""
for f in /proc/[0-9]*/cmdline; do
    c=$({ tr '\0' ' ' <"$f"; } 2>/dev/null)
    case "$c" in
    *"--nonce $nonce"*) leftover="$leftover $f" ;;
    esac
done
check "no process carries the nonce" "" "$leftover"
finish
