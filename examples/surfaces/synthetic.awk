# SPDX-License-Identifier: Apache-2.0
# Generates examples/surfaces/synthetic-classifier.csv: a deterministic, synthetic performance
# surface of a CPU inference service (batching, threads, CPU quota, memory limit), so the demo
# and the tests can replay an experiment without measuring anything.
#   awk -f examples/surfaces/synthetic.awk > examples/surfaces/synthetic-classifier.csv
# Model: a batch of b items costs 6 ms + 2 ms per item on one core; `threads` workers share
# `cpu` cores; p99 is 2.5 batch times plus 5 ms; memory need is 200 MiB + 12 MiB per in-flight
# item, and a configuration below it is OOM-killed. A +-3 % deterministic ripple stands in for
# measurement noise.
BEGIN {
    print "cpu,memory,threads,batch,throughput_rps,p99_ms,error_rate,failure"
    n = split("1 2 4 8", threads, " ")
    m = split("512 1024 2048 4096", mem, " ")
    k = split("1 2 4 8 16 32", batch, " ")
    row = 0
    for (c = 1; c <= 8; c++) {
        cpu = c * 0.5
        for (i = 1; i <= m; i++) {
            for (t = 1; t <= n; t++) {
                for (j = 1; j <= k; j++) {
                    row++
                    b = batch[j]; th = threads[t]
                    share = cpu / th; if (share > 1) share = 1
                    batch_ms = (6 + 2 * b) / share
                    rps = th * b * 1000 / batch_ms
                    if (th > 2 * cpu) rps *= 0.93 ^ (th - 2 * cpu)
                    ripple = 1 + 0.03 * sin(row * 12.9898)
                    rps *= ripple
                    p99 = (2.5 * batch_ms + 5) * (2 - ripple)
                    need = 200 + 12 * b * th
                    if (mem[i] < need) {
                        printf "%s,%d,%d,%d,,,,OOM_KILLED\n", cpu, mem[i], th, b
                    } else {
                        printf "%s,%d,%d,%d,%.2f,%.2f,0,\n", cpu, mem[i], th, b, rps, p99
                    }
                }
            }
        }
    }
}
