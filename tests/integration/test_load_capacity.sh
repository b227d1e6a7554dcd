#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Capacity search against a service whose capacity is known by construction:
# 2 workers x 5 ms per request = 400 requests/s.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/load_lib.sh"

start_service cap --workers 2 --service-us 5000
run_load "$WORK/cap.json" 0 "http://127.0.0.1:$PORT/infer" --capacity --slo 'p99<=100ms' \
    --max-time 40s --json
cap=$(json_num "$WORK/cap.json" capacity_rps)
check_true "capacity $cap req/s within 400 +-15 %" between "$cap" 340 460
check_contains "found" '"found":true' "$(cat "$WORK/cap.json")"
for key in uncertainty_rps search_s saturation_rps steps at_capacity; do
    check_contains "JSON has $key" "\"$key\":" "$(cat "$WORK/cap.json")"
done

# An SLO no rate can meet: exit 1, found false.
run_load "$WORK/none.json" 1 "http://127.0.0.1:$PORT/infer" --capacity --slo 'p50<=1ms' \
    --max-time 20s --json
check_contains "impossible SLO: not found" '"found":false' "$(cat "$WORK/none.json")"
finish
