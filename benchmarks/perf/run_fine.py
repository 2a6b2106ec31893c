"""Fine-grained Flanders instances: distance/sparsification, full solve, memory and build vs solve, in one run.

Figures reported (medians over ``--runs`` runs, each in its own process under ``/usr/bin/time -v`` so the peak
memory is the process's "Maximum resident set size"; the 1-minute load average before each run is recorded):

* ``knn``: the k-nearest arcs of ``fine-10k-3k`` — 10,000 demand points × its options (cKDTree on the candidate
  points, blockwise; :meth:`optimizer.model.arcs.PointArcSource.nearest`) for the first round's ``k`` and for 64,
  next to the dense float32 10,000 × 3,000 straight-line matrix (:func:`optimizer.geo.distances.euclidean_km`) it
  replaces. Table generation and loading are outside the timed region.
* ``solve``: ``siting solve fine-10k-3k --out DIR`` end to end, with the stage timings of its ``summary.json``
  (compile = instance → arrays, sparsify = k-nearest arcs and certificate growth, build = solver matrices,
  heuristic + bound + solve = the solver, verify, export), the proven gap and the certificate.

Usage::

    python benchmarks/perf/run_fine.py                 # 3 runs of each, JSON lines to benchmarks/perf/out/fine.jsonl
    python benchmarks/perf/run_fine.py --runs 5 --instance fine-2k-500

Benchmarks are scripts reporting figures, not timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TIME = "/usr/bin/time"


def _child_knn(instance: str, k: int) -> dict:
    """Time the k-nearest arcs and the dense matrix for ``instance`` (runs inside a measured child process)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from optimizer.data.instance import load_instance
    from optimizer.geo.distances import euclidean_km, knearest_grouped
    from optimizer.model.formulation import compile_instance

    sp = compile_instance(load_instance(instance, {"sparsify": "on", "sparsify_k": str(k)}))
    source = sp.arc_source
    t = time.perf_counter()
    arcs = source.nearest(k)
    knn_s = time.perf_counter() - t
    points, parcels = sp.instance.demand[["x", "y"]].to_numpy(), sp.instance.candidates[["x", "y"]].to_numpy()
    t = time.perf_counter()
    every = knearest_grouped(points, parcels, k)  # all parcels, one group: the plain n × m case
    all_s = time.perf_counter() - t
    t = time.perf_counter()
    dense = euclidean_km(sp.instance.demand[["x", "y"]].to_numpy(), sp.instance.candidates[["x", "y"]].to_numpy(),
                         dtype=np.float32)
    dense_s = time.perf_counter() - t
    return {"k": k, "clients": int(sp.problem.n_clients), "options": int(sp.problem.n_options),
            "candidates": int(len(sp.instance.candidates)), "pairs": int(sp.sparsify["pairs"]),
            "arcs": int(len(arcs.arc_client)), "knn_s": knn_s, "knn_all_parcels_s": all_s,
            "knn_all_parcels_arcs": int(len(every[0])), "dense_shape": list(dense.shape),
            "dense_float32_s": dense_s, "dense_mb": dense.nbytes / 1e6}


def _measured(cmd: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``cmd`` under ``/usr/bin/time -v``: the process, its wall seconds and peak resident memory (MB)."""
    load = os.getloadavg()
    t = time.perf_counter()
    proc = subprocess.run([TIME, "-v", *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if proc.returncode != 0:
        msg = f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}"
        raise RuntimeError(msg)
    return proc, {"wall_s": wall, "peak_rss_mb": int(rss.group(1)) / 1024 if rss else None,
                  "load_avg_1m_before": load[0], "load_avg_1m_after": os.getloadavg()[0]}


def bench_knn(instance: str, k: int, runs: int) -> list[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-knn", "--instance", instance, "--k", str(k)]
    rows = []
    for run in range(runs):
        proc, meas = _measured(cmd)
        rows.append({"what": "knn", "instance": instance, "run": run, **json.loads(proc.stdout.splitlines()[-1]),
                     **meas, "command": " ".join(cmd)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def bench_solve(instance: str, runs: int, extra: tuple[str, ...] = ()) -> list[dict]:
    rows = []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = ["siting", "solve", instance, *extra, "--out", str(Path(tmp) / "out"), "--quiet"]
            _, meas = _measured(cmd)
            s = json.loads((Path(tmp) / "out" / "summary.json").read_text())
        sparse = s.get("sparsify") or {}
        rows.append({
            "what": "solve", "instance": instance, "run": run, "status": s["status"], "gap": s["gap"],
            "objective": s["objective"]["total"], "timings_s": s["timings_s"],
            "sparse": sparse.get("sparse"), "certified": sparse.get("certified"), "rounds": sparse.get("rounds"),
            "pairs": sparse.get("pairs"), "arcs_final": sparse.get("arcs_final"), "k_final": sparse.get("k_final"),
            "verified": s["verification"]["passed"], **meas,
            "command": " ".join(cmd[: 3 + len(extra)] + ["--out", "DIR"]),
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(float(r[key]) for r in rows)


def summary(knn: dict[int, list[dict]], solves: list[dict]) -> str:
    """The Markdown table of benchmarks/perf/README.md, from the runs' rows."""
    lines = ["| figure | median (runs) | target |", "|---|---|---|"]
    for k, rows in knn.items():
        r0 = rows[0]
        lines.append(f"| k-nearest arcs, {r0['clients']:,} points × {r0['options']:,} options ({r0['pairs']:,} allowed "
                     f"pairs), k = {k}: {r0['arcs']:,} arcs | {_median(rows, 'knn_s'):.3f} s, process peak "
                     f"{_median(rows, 'peak_rss_mb'):.0f} MB ({len(rows)}) | < 1 s, < 1 GB |")
        lines.append(f"| k-nearest, {r0['clients']:,} points × all {r0['candidates']:,} parcels (one tree), k = {k}: "
                     f"{r0['knn_all_parcels_arcs']:,} arcs | {_median(rows, 'knn_all_parcels_s'):.3f} s | < 1 s |")
    r0 = next(iter(knn.values()))[0]
    lines.append(f"| dense float32 straight-line matrix {r0['dense_shape'][0]:,} × {r0['dense_shape'][1]:,} "
                 f"({r0['dense_mb']:.0f} MB), for comparison | {_median(next(iter(knn.values())), 'dense_float32_s'):.3f} s | |")
    if solves:
        s0 = solves[0]
        t = {key: statistics.median(r["timings_s"].get(key, 0.0) for r in solves)
             for key in ("compile", "sparsify", "build", "heuristic", "bound", "solve", "verify", "export")}
        solver = t["heuristic"] + t["bound"] + t["solve"]
        worst_gap = max(float(r["gap"] or 0.0) for r in solves)
        if s0["sparse"]:
            cert = (f"{'certified' if all(r['certified'] for r in solves) else 'NOT certified'} in {s0['rounds']} "
                    f"rounds, {s0['pairs']:,} pairs → {s0['arcs_final']:,} arcs, k {s0['k_final']['min']}–"
                    f"{s0['k_final']['max']} (median {s0['k_final']['median']:g})")
        else:
            cert = f"dense ({s0['pairs']:,} pairs, below the sparsification threshold)"
        lines += [
            f"| `siting solve {s0['instance']}` wall clock, end to end | {_median(solves, 'wall_s'):.1f} s "
            f"({len(solves)}) | < 60 s |",
            f"| peak memory (Maximum resident set size) | {_median(solves, 'peak_rss_mb'):.0f} MB | < 4 GB |",
            f"| proven gap (worst run); arcs | {100 * worst_gap:.4f} %; {cert} | ≤ 0.1 %, proven = dense |",
            f"| stages: compile {t['compile']:.2f} s · sparsify {t['sparsify']:.2f} s · build {t['build']:.2f} s · "
            f"solver (heuristic + bound + HiGHS) {solver:.2f} s · verify {t['verify']:.2f} s · export "
            f"{t['export']:.2f} s | model build (compile + matrices) = "
            f"{100 * (t['compile'] + t['build']) / max(1e-9, t['compile'] + t['build'] + solver):.0f} % of build + "
            f"solver | build does not dominate |",
        ]
    loads = [r["load_avg_1m_before"] for rows in knn.values() for r in rows] + [r["load_avg_1m_before"] for r in solves]
    lines.append(f"\nLoad average (1 min) before the runs: {min(loads):.2f}–{max(loads):.2f}; "
                 f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instance", default="fine-10k-3k")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--k", type=int, nargs="*", default=[16, 64])
    parser.add_argument("--skip-solve", action="store_true")
    parser.add_argument("--dense", action="store_true", help="also solve with --set sparsify=off, for comparison")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fine.jsonl")
    parser.add_argument("--child-knn", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_knn:
        print(json.dumps(_child_knn(args.instance, args.k[0])))
        return
    print(f"command: python benchmarks/perf/run_fine.py {' '.join(sys.argv[1:])}; load average {os.getloadavg()}",
          flush=True)
    knn = {k: bench_knn(args.instance, k, args.runs) for k in args.k}
    solves = [] if args.skip_solve else bench_solve(args.instance, args.runs)
    dense = bench_solve(args.instance, args.runs, ("--set", "sparsify=off")) if args.dense else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as fh:
        for row in [r for rows in knn.values() for r in rows] + solves + dense:
            fh.write(json.dumps(row) + "\n")
    print(summary(knn, solves))
    if dense:
        print(f"| same instance dense (`--set sparsify=off`): wall clock | {_median(dense, 'wall_s'):.1f} s, peak "
              f"{_median(dense, 'peak_rss_mb'):.0f} MB, compile {statistics.median(r['timings_s']['compile'] for r in dense):.2f} s, "
              f"objective {'equal' if all(abs(r['objective'] - solves[0]['objective']) <= 1e-6 * abs(r['objective']) for r in dense) else 'DIFFERENT'} | |")


if __name__ == "__main__":
    main()
