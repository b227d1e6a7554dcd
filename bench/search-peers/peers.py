# SPDX-License-Identifier: Apache-2.0
"""Peer baselines for `morphling bench-search`: the same recorded surfaces searched by Optuna's
TPE sampler and by a scikit-learn Gaussian process with expected improvement, summarised with
the same figures, plus the suggestion latency of scikit-learn beside ours.

Runs with Debian's /usr/bin/python3 and its packages:
    apt-get install python3-optuna python3-sklearn
A peer whose package is missing is reported as skipped.

Usage: peers.py [--morphling BIN] [--budget N] [--seeds K] [--latency N] [--json] SURFACE...
(SURFACE: a CSV file or a directory of them; parameters are every column but the last, the
objective is the last column, maximised).
"""
import argparse
import csv
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
import warnings

CHECKPOINTS = (10, 20, 30)


def load_surface(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    configs = [tuple(r[:-1]) for r in body]
    values = [float(r[-1]) for r in body]
    return header, configs, values


def surface_paths(args):
    out = []
    for a in args:
        if os.path.isdir(a):
            out += sorted(os.path.join(a, n) for n in os.listdir(a) if n.endswith(".csv"))
        else:
            out.append(a)
    return out


def is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def encode_table(header, configs):
    """Numeric columns scaled to [0, 1] (log when the levels are more evenly spaced in log),
    categorical columns one-hot: the usual way to feed mixed spaces to scikit-learn."""
    cols = list(zip(*configs))
    feats = []
    for col in cols:
        if all(is_number(v) for v in col):
            levels = sorted(set(float(v) for v in col))
            use_log = levels[0] > 0 and len(levels) > 2 and spacing_cov(
                [math.log(v) for v in levels]) < spacing_cov(levels)
            f = [math.log(float(v)) if use_log else float(v) for v in col]
            lo, hi = min(f), max(f)
            feats.append([[(v - lo) / (hi - lo) if hi > lo else 0.5] for v in f])
        else:
            choices = sorted(set(col))
            feats.append([[1.0 if v == c else 0.0 for c in choices] for v in col])
    return [sum((feat[i] for feat in feats), []) for i in range(len(configs))]


def spacing_cov(levels):
    gaps = [b - a for a, b in zip(levels, levels[1:])]
    m = sum(gaps) / len(gaps)
    if m <= 0:
        return float("inf")
    return statistics.pstdev(gaps) / m


def summarise_run(values_in_order, optimum, budget):
    best, to_opt, to_95, at = -math.inf, budget + 1, budget + 1, {}
    for t, v in enumerate(values_in_order, 1):
        best = max(best, v)
        if to_95 > budget and best >= 0.95 * optimum:
            to_95 = t
        if to_opt > budget and best >= optimum:
            to_opt = t
        if t in CHECKPOINTS:
            at[t] = best / optimum
    for c in CHECKPOINTS:
        at.setdefault(c, best / optimum)
    return to_opt, to_95, at


def run_sklearn(values, feats, budget, seed, n_init=5):
    import numpy as np
    from scipy.stats import norm
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    x_all = np.array(feats)
    y_all = np.array(values)
    rng = random.Random(seed)
    chosen = rng.sample(range(len(values)), n_init)
    while len(chosen) < min(budget, len(values)):
        idx = suggest_sklearn(x_all, y_all, chosen, seed, np, norm, GaussianProcessRegressor,
                              ConstantKernel, Matern, WhiteKernel)
        chosen.append(idx)
    return [values[i] for i in chosen]


def suggest_sklearn(x_all, y_all, chosen, seed, np, norm, gpr, const, matern, white):
    d = x_all.shape[1]
    kernel = const(1.0) * matern(length_scale=np.ones(d), nu=2.5) + white(1e-3)
    gp = gpr(kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed)
    gp.fit(x_all[chosen], y_all[chosen])
    mask = np.ones(len(y_all), dtype=bool)
    mask[chosen] = False
    cand = np.flatnonzero(mask)
    mu, sd = gp.predict(x_all[cand], return_std=True)
    best = y_all[chosen].max()
    sd = np.maximum(sd, 1e-12)
    z = (mu - best) / sd
    ei = (mu - best) * norm.cdf(z) + sd * norm.pdf(z)
    return int(cand[int(np.argmax(ei))])


def run_optuna(header, configs, values, budget, seed):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = dict(zip(configs, values))
    choices = [sorted(set(c[i] for c in configs)) for i in range(len(header) - 1)]
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    seen = []

    def objective(trial):
        cfg = tuple(trial.suggest_categorical(header[i], choices[i]) for i in range(len(choices)))
        v = table.get(cfg, 0.0)
        seen.append(v)
        return v

    study.optimize(objective, n_trials=budget)
    return seen


def aggregate(name, runs, budget, seconds):
    def med(xs):
        m = statistics.median(xs)
        return None if m > budget else m

    return {
        "algorithm": name,
        "runs": len(runs),
        "median_trials_to_optimum": med([r[0] for r in runs]),
        "median_trials_to_95": med([r[1] for r in runs]),
        "share_optimum": sum(r[0] <= budget for r in runs) / len(runs),
        "share_95": sum(r[1] <= budget for r in runs) / len(runs),
        "mean_best_fraction_at": {
            str(c): statistics.fmean(r[2][c] for r in runs) for c in CHECKPOINTS},
        "seconds": seconds,
    }


def sklearn_latency(path, n_obs, repeat=5):
    """Fit-and-suggest time of the scikit-learn GP-EI with n_obs observations."""
    import numpy as np
    from scipy.stats import norm
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    header, configs, values = load_surface(path)
    x_all, y_all = np.array(encode_table(header, configs)), np.array(values)
    chosen = random.Random(12345).sample(range(len(values)), n_obs)
    t0, c0 = time.perf_counter(), time.process_time()
    for r in range(repeat):
        suggest_sklearn(x_all, y_all, chosen, r, np, norm, GaussianProcessRegressor,
                        ConstantKernel, Matern, WhiteKernel)
    wall = (time.perf_counter() - t0) * 1e3 / repeat
    cpu = (time.process_time() - c0) * 1e3 / repeat
    return {"ms_per_suggestion": wall, "cpu_ms_per_suggestion": cpu,
            "candidates": len(values) - n_obs, "observations": n_obs}


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def run_ours(binary, paths, budget, seeds, latency):
    argv = [binary, "bench-search", "--budget", str(budget), "--seeds", str(seeds),
            "--algorithms", "random,bo", "--json", "--surfaces"] + paths
    ours = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    lat = None
    if latency:
        argv = [binary, "bench-search", "--latency", str(latency), "--json", paths[0]]
        lat = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    return ours["algorithms"], lat


def print_table(results, budget):
    print("%-14s %6s %9s %9s %9s %8s %8s %8s %8s" % (
        "algorithm", "runs", "med.opt", "med.95%", "share.opt", "best@10", "best@20", "best@30",
        "seconds"))
    for r in results:
        if "skipped" in r:
            print("%-14s skipped: %s" % (r["algorithm"], r["skipped"]))
            continue

        def fmt(m):
            return ">%d" % budget if m is None else "%g" % m

        at = r["mean_best_fraction_at"]
        print("%-14s %6d %9s %9s %9.2f %8.3f %8.3f %8.3f %8.2f" % (
            r["algorithm"], r["runs"], fmt(r["median_trials_to_optimum"]),
            fmt(r["median_trials_to_95"]), r["share_optimum"], at["10"], at["20"], at["30"],
            r["seconds"]))


def peer_results(paths, budget, seeds):
    results = []
    peers = (("sklearn-gp-ei", "sklearn", "python3-sklearn"),
             ("optuna-tpe", "optuna", "python3-optuna"))
    for name, module, package in peers:
        if not have(module):
            results.append({"algorithm": name, "skipped": package + " not installed"})
            continue
        runs, t0 = [], time.perf_counter()
        for path in paths:
            header, configs, values = load_surface(path)
            feats = encode_table(header, configs) if module == "sklearn" else None
            for seed in range(seeds):
                if module == "sklearn":
                    seq = run_sklearn(values, feats, budget, seed)
                else:
                    seq = run_optuna(header, configs, values, budget, seed)
                runs.append(summarise_run(seq, max(values), budget))
        results.append(aggregate(name, runs, budget, time.perf_counter() - t0))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("surfaces", nargs="+")
    ap.add_argument("--morphling", help="morphling binary to run beside the peers")
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--latency", type=int, default=100,
                    help="observations for the latency comparison (0: skip)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    paths = surface_paths(args.surfaces)
    if not paths:
        print("no surfaces", file=sys.stderr)
        return 2
    results, lat_ours = [], None
    if args.morphling:
        results, lat_ours = run_ours(args.morphling, paths, args.budget, args.seeds, args.latency)
    results += peer_results(paths, args.budget, args.seeds)
    latency = None
    if args.latency and have("sklearn"):
        latency = {"sklearn": sklearn_latency(paths[0], args.latency), "morphling_bo": lat_ours}
        if lat_ours:
            latency["ratio_cpu"] = (lat_ours["cpu_ms_per_suggestion"]
                                    / latency["sklearn"]["cpu_ms_per_suggestion"])
            latency["ratio_wall"] = (lat_ours["ms_per_suggestion"]
                                     / latency["sklearn"]["ms_per_suggestion"])
    if args.json:
        print(json.dumps({"surfaces": paths, "budget": args.budget, "seeds": args.seeds,
                          "algorithms": results, "latency": latency}, indent=2))
        return 0
    print("%d surfaces x %d seeds, budget %d\n" % (len(paths), args.seeds, args.budget))
    print_table(results, args.budget)
    if latency:
        s = latency["sklearn"]
        print("\nsuggestion latency (%d observations, %d candidates):" % (
            s["observations"], s["candidates"]))
        print("  scikit-learn GP-EI: %.1f ms wall, %.1f ms CPU" % (
            s["ms_per_suggestion"], s["cpu_ms_per_suggestion"]))
        if lat_ours:
            print("  morphling bo:       %.1f ms wall, %.1f ms CPU  (ratio %.3f CPU, %.3f wall)" % (
                lat_ours["ms_per_suggestion"], lat_ours["cpu_ms_per_suggestion"],
                latency["ratio_cpu"], latency["ratio_wall"]))
    elif args.latency:
        print("\nsuggestion latency: skipped: python3-sklearn not installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
