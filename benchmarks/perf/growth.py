"""Growth curve of the neighbourhood-resolution S1 instance: time, peak memory and pairs kept from 2,500 to 100,000
points (issue 18, item 4).

For every size a manifest like ``instances/fine-100k-10k.toml`` (demand over the 2,526 neighbourhoods, lognormal
parcels, seed 18) is written to a temporary folder and solved by ``siting solve`` as a whole process under
``/usr/bin/time -v`` (wall clock and maximum resident set size); ``summary.json`` gives status, gap, allowed pairs,
arcs kept and the stage timings. Sizes below 2,456 points are not possible at neighbourhood resolution (one point per
inhabited neighbourhood at least). ``--assignment any`` lets every point use any bank (the rows then interact and
the certificate's relaxation rounds run).

    python benchmarks/perf/growth.py [--sizes 2500:1000,5000:2000,...] [--assignment programme|any]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SIZES = "2500:1000,5000:2000,10000:3000,20000:5000,50000:7500,100000:10000"

MANIFEST = """[instance]
name = "growth-{n}-{m}"
title = "growth curve: {n} points, {m} parcels"

[generator]
kind = "fine"
demand_points = {n}
candidate_parcels = {m}
seed = 18
municipalities = "{roots}/flanders/municipalities.csv"
candidates = "{roots}/flanders/candidates.csv"
demand_units = "neighbourhoods"
neighbourhoods = "{roots}/flanders/neighbourhoods.csv"
parcel_sizes = "lognormal"

[programmes]
place = ["materialenbank"]

[parameters]
size_rule = "programme"
assignment = "{assignment}"
objective = "eur"
access_rules = "strict"
enforce_capacity = false
sparsify = "{sparsify}"
sparsify_k = 16
mip_gap = 0.001
time_limit_s = {limit}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=SIZES, help="points:parcels,...")
    parser.add_argument("--assignment", default="programme", choices=("programme", "any"))
    parser.add_argument("--limit", type=float, default=300.0)
    parser.add_argument("--sparsify", default="on", choices=("on", "auto", "off"),
                        help="on: the certificate at every size (auto: only above 1 million allowed pairs)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "growth.jsonl")
    args = parser.parse_args()
    siting = str(Path(sys.executable).parent / "siting")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, args.out.open("a") as out:
        for pair in args.sizes.split(","):
            n, m = (int(v) for v in pair.split(":"))
            manifest = Path(tmp) / f"growth-{n}-{m}.toml"
            manifest.write_text(MANIFEST.format(n=n, m=m, roots=ROOT / "instances", assignment=args.assignment,
                                                limit=args.limit, sparsify=args.sparsify))  # fmt: skip
            result = Path(tmp) / f"r-{n}-{m}"
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            proc = subprocess.run(["/usr/bin/time", "-v", siting, "solve", str(manifest), "--out", str(result), "--quiet"],
                                  capture_output=True, text=True)  # fmt: skip
            wall = time.perf_counter() - t0
            peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
            if proc.returncode != 0:
                print(f"{n} x {m}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[0]}", flush=True)
                continue
            s = json.loads((result / "summary.json").read_text())
            sparse = s.get("sparsify") or {}
            pairs = sparse.get("pairs")
            kept = sparse.get("arcs_final") if sparse.get("sparse") else pairs  # below the threshold: dense
            row = {"points": n, "parcels": m, "assignment": args.assignment, "sparsify": args.sparsify, "wall_s": wall, "peak_mb": peak_kb / 1024,
                   "status": s["status"], "gap": s["gap"], "pairs": pairs, "arcs_kept": kept,
                   "kept_share": (kept / pairs) if pairs and kept else None, "rounds": sparse.get("rounds"),
                   "timings": s["timings_s"], "load": load, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
            out.write(json.dumps(row) + "\n")
            out.flush()
            rows.append(row)
            share = f"{100 * row['kept_share']:.2f} %" if row["kept_share"] is not None else "–"
            print(f"{n:>7} x {m:>6}: {wall:6.1f} s, peak {row['peak_mb']:6.0f} MB, {s['status']}, gap "
                  f"{100 * s['gap']:.4f} %, pairs {pairs}, kept {kept} ({share}), load {load:.1f}", flush=True)
    if rows:
        print("| points | parcels | wall s | peak MB | status (gap) | allowed pairs | arcs kept (share) | load |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            share = f"{100 * r['kept_share']:.2f} %" if r["kept_share"] is not None else "–"
            print(f"| {r['points']:,} | {r['parcels']:,} | {r['wall_s']:.1f} | {r['peak_mb']:.0f} | {r['status']} "
                  f"({100 * r['gap']:.4f} %) | {r['pairs']} | {r['arcs_kept']} ({share}) | {r['load']:.1f} |")


if __name__ == "__main__":
    main()
