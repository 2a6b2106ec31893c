"""Network cost matrix on the real networks: 10,000 demand points × 3,000 candidate points, time and peak memory.

What is measured (``optimizer.geo``; each stage in its own process under ``/usr/bin/time -v``, so the peak is that
process's "Maximum resident set size"; the 1-minute load average before each run is recorded):

* ``cold``: load the network tables (ETISplus road + water, Infrabel rail, OSM docks), then
  ``pair_costs(points, candidates, modes=...)`` without cache: road access of both sets, layered graph, one
  ``csgraph.dijkstra`` from the unique origin entry nodes, broadcast to the 30 M pairs (cost matrix float64,
  240 MB). Then the modal split (:meth:`PairCosts.km_by_mode`) of each point's cheapest candidate (10,000 pairs)
  and of its 10 cheapest (100,000 pairs), and the shares of the chains chosen.
* ``write``: the same with ``cache=True`` into an empty cache folder (compute + store).
* ``read``: the same call again in a fresh process: a cache hit (tables loaded and hashed, arrays memory-mapped).

Points: demand drawn uniformly in each municipality's equivalent-area disk in proportion to population (as
``optimizer/generate.py`` does without a boundaries file), candidates drawn uniformly inside the zone polygons of
``instances/flanders/zones`` in proportion to their free land (aggregate candidates at their point); seeded.

Usage::

    python benchmarks/perf/run_network_costs.py                       # 3 runs per stage, all modes
    python benchmarks/perf/run_network_costs.py --runs 1 --modes road  # road only

JSON lines go to ``benchmarks/perf/out/network_costs.jsonl`` (git-ignored). Benchmarks report figures; they are not
timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TIME = "/usr/bin/time"


def draw_points(n_demand: int, n_candidates: int, seed: int):  # noqa: ANN201 - (ndarray, ndarray)
    """Seeded demand points (municipal disks, by population) and candidates (inside zones, by free land)."""
    import numpy as np
    import pandas as pd
    import shapely

    from optimizer.geo.zones import load_zones

    rng = np.random.default_rng(seed)
    munis = pd.read_csv(ROOT / "instances" / "flanders" / "municipalities.csv")
    counts = _largest_remainder(munis["population"].to_numpy(float), n_demand)
    owner = np.repeat(np.arange(len(munis)), counts)
    radius = np.sqrt(munis["area_km2"].to_numpy() / np.pi)[owner] * 1000.0 * np.sqrt(rng.random(len(owner)))
    theta = rng.random(len(owner)) * 2 * np.pi
    demand = np.column_stack([munis["x"].to_numpy()[owner] + radius * np.cos(theta),
                              munis["y"].to_numpy()[owner] + radius * np.sin(theta)])
    zones = load_zones()
    zones = zones[zones["free_ha"] > 0].reset_index(drop=True)
    c = _largest_remainder(zones["free_ha"].to_numpy(float), n_candidates)
    poly = ~zones["aggregate"].to_numpy() & (c > 0)
    sampled = zones.geometry[poly].sample_points(size=c[poly], rng=rng)
    pts = [shapely.get_coordinates(sampled.to_numpy())]
    agg = zones["aggregate"].to_numpy() & (c > 0)
    pts.append(np.repeat(shapely.get_coordinates(zones.geometry.to_numpy()[agg]), c[agg], axis=0))
    return demand, np.vstack(pts)


def _largest_remainder(weights, total: int):  # noqa: ANN001, ANN202
    import numpy as np

    quota = weights / weights.sum() * total
    counts = np.floor(quota).astype(int)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def child(stage: str, modes: tuple[str, ...], n: int, m: int, seed: int, cache_dir: str | None) -> dict:
    """One measured stage (runs inside the child process)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from optimizer.geo.access_rules import AccessParameters
    from optimizer.geo.network_costs import pair_costs
    from optimizer.geo.network_tables import load_network_tables

    out: dict = {"stage": stage, "modes": list(modes), "n": n, "m": m, "seed": seed}
    t0 = time.perf_counter()
    tables = load_network_tables()
    out["load_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    _ = tables.fingerprint
    out["hash_s"] = time.perf_counter() - t
    demand, cand = draw_points(n, m, seed)
    out["n_candidates_drawn"] = len(cand)
    out["rss_before_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # imports, tables, points
    params = AccessParameters.from_toml()
    t = time.perf_counter()
    pc = pair_costs(demand, cand, tables, modes=modes, params=params, cache=stage != "cold", cache_dir=cache_dir)
    cost = np.asarray(pc.cost_eur_per_t)
    out["pair_costs_s"] = time.perf_counter() - t
    out["from_cache"] = pc.from_cache
    out["n_sources"] = int(len(pc.sources))
    out["cost_mean_eur_per_t"] = float(cost.mean())
    out["peak_after_pair_costs_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    best = cost.argmin(axis=1)
    km1 = pc.km_by_mode(np.arange(n), best)  # first call: sums the shortest-path trees of all sources
    out["split_10k_s"] = time.perf_counter() - t
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, n, 100_000), rng.integers(0, len(cand), 100_000)
    t = time.perf_counter()
    km_r = pc.km_by_mode(i, j)
    out["split_100k_s"] = time.perf_counter() - t
    for name, (ii, jj), km in (("cheapest", (np.arange(n), best), km1), ("random", (i, j), km_r)):
        labels, counts = np.unique(pc.chain(ii, jj), return_counts=True)
        out[f"chains_{name}"] = {str(k): int(v) for k, v in zip(labels, counts)}
        tot = km[:, :3].sum(axis=0)
        out[f"km_share_{name}"] = dict(zip(("road", "water", "rail"), (tot / tot.sum()).round(4).tolist()))
    out["total_s"] = time.perf_counter() - t0
    return out


def run_stage(stage: str, modes: tuple[str, ...], n: int, m: int, seed: int, cache_dir: str | None) -> dict:
    load = os.getloadavg()[0]
    cmd = [sys.executable, __file__, "--child", stage, "--modes", *modes, "--n", str(n), "--m", str(m),
           "--seed", str(seed)]
    if cache_dir:
        cmd += ["--cache-dir", cache_dir]
    proc = subprocess.run([TIME, "-v", *cmd], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    res["peak_mb"] = int(rss.group(1)) / 1024 if rss else None
    res["load_avg_1min"] = load
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=["road", "water", "rail"])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--m", type=int, default=3_000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--child")
    ap.add_argument("--cache-dir")
    args = ap.parse_args(argv)
    modes = tuple(args.modes)
    if args.child:
        print(json.dumps(child(args.child, modes, args.n, args.m, args.seed, args.cache_dir)))
        return 0
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    rows = []
    with open(out_dir / "network_costs.jsonl", "a") as log:
        meta = {"start": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": platform.python_version(),
                "machine": platform.machine(), "argv": sys.argv[1:]}
        log.write(json.dumps({"meta": meta}) + "\n")
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="siting-netcost-cache-") as cache:
                for stage in ("cold", "write", "read"):
                    res = run_stage(stage, modes, args.n, args.m, args.seed, None if stage == "cold" else cache)
                    rows.append(res)
                    log.write(json.dumps(res) + "\n")
                    log.flush()
                    print(f"{stage:5s} pair_costs {res['pair_costs_s']:.2f} s, load {res['load_s']:.2f} s, "
                          f"split 10k {res['split_10k_s']:.2f} s / 100k {res['split_100k_s']:.2f} s, "
                          f"peak {res['peak_mb']:.0f} MB, load avg {res['load_avg_1min']:.2f}", flush=True)
    for stage in ("cold", "write", "read"):
        sel = [r for r in rows if r["stage"] == stage]
        med = {k: statistics.median(r[k] for r in sel) for k in ("pair_costs_s", "load_s", "split_10k_s",
                                                                 "split_100k_s", "peak_after_pair_costs_mb",
                                                                 "peak_mb", "total_s")}
        print(f"median {stage}: " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()) + f" ({len(sel)} runs)")
    for name in ("cheapest", "random"):
        print(f"chains ({name} pairs):", rows[0][f"chains_{name}"], "km share", rows[0][f"km_share_{name}"])
    print("Dijkstra sources:", rows[0]["n_sources"], "load averages:", [round(r["load_avg_1min"], 2) for r in rows])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
