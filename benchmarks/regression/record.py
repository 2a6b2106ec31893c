"""Regression baseline: what every named instance and a fixed benchmark sample solve to, before and after a change.

Run from the project root::

    python benchmarks/regression/record.py                      # record tests/regression/baseline.json
    python benchmarks/regression/record.py --compare            # re-solve every case, print before / after
    python benchmarks/regression/record.py --compare --only materialenbanken cap41

A case is either a named instance (every one of ``siting list``, chain instances included), solved in process
through the CLI (``siting solve NAME --out TMP``) exactly as a planner runs it, or a benchmark instance from
``../shared/benchmarks`` (a set is skipped when its data are absent), solved through the solver entry point a
matrix instance uses. Per case it keeps the objective, the land take per programme (ha), the chosen sites
(site id, programme, size) and the status; ``--compare`` checks the objective to a relative 1e-9 and the land
take and sites exactly. ``tests/test_regression.py`` re-solves the cases listed in :data:`FAST_CASES`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
sys.path.insert(0, str(PROJECT_ROOT))  # run as a script from any folder: import the project's package

BASELINE = PROJECT_ROOT / "tests" / "regression" / "baseline.json"
BENCH_TIME_LIMIT_S = 120.0  # every sampled benchmark case is proven optimal well within this on this machine
OBJECTIVE_REL_TOL = 1e-9
# A fixed sample of the public benchmark sets: each solver strategy (uncapacitated Lagrangian, multi-source CFLP,
# single-source strong) on small and larger instances.
BENCH_SAMPLE: dict[str, tuple[str, ...]] = {
    "orlib-cflp": ("cap41", "cap71", "cap101", "cap131"),
    "orlib-uflp": ("cap71", "cap131"),
    "orlib-capabc": ("capa8000",),
    "pmed": ("pmed1", "pmed2", "pmed3", "pmed4", "pmed5"),
    "holmberg": ("p1", "p5", "p11", "p25", "p41"),
}
# Cases the regression test re-solves: each takes a few seconds at most (see the baseline's "seconds").
FAST_CASES = (
    "named:materialenbanken", "named:s1d-materialenbanken-per-city", "named:s1e-materialenbank-central",
    "named:s2-sorteercentra", "named:s3-clusters", "named:s4-integrated", "named:s9-loose-access",
    "named:fine-2k-500",
    "bench:orlib-cflp/cap41", "bench:orlib-cflp/cap131", "bench:orlib-uflp/cap71", "bench:pmed/pmed1",
    "bench:pmed/pmed5", "bench:holmberg/p1", "bench:holmberg/p11", "bench:holmberg/p41",
)


# ------------------------------------------------------------------------------------------------------------------
# Solving one case
# ------------------------------------------------------------------------------------------------------------------
def named_cases() -> list[str]:
    """Every named instance of ``siting list``."""
    from optimizer.data.instance import list_instances

    return [f"named:{row['name']}" for row in list_instances()]


def bench_cases() -> list[str]:
    """The benchmark sample whose data are present."""
    from optimizer.bench.readers import benchmark_sets

    sets = benchmark_sets()
    cases = []
    for set_name, names in BENCH_SAMPLE.items():
        present = {c.name for c in sets.get(set_name, [])}
        cases += [f"bench:{set_name}/{n}" for n in names if n in present]
    return cases


def solve_case(case: str) -> dict:
    """Solve one case and return its figures (objective, land take per programme, sites, status, seconds)."""
    t0 = time.perf_counter()
    kind, _, name = case.partition(":")
    result = _solve_named(name) if kind == "named" else _solve_bench(name)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def _solve_named(name: str) -> dict:
    """``siting solve NAME --out TMP`` in process; the figures are read back from what it wrote."""
    from click.testing import CliRunner

    from optimizer.cli import app

    with tempfile.TemporaryDirectory(prefix="regression-") as tmp:
        out = Path(tmp) / name
        res = CliRunner().invoke(app, ["solve", name, "--out", str(out), "--quiet"])
        if res.exit_code != 0:
            return {"status": f"exit {res.exit_code}: {(res.stderr or res.output).strip()[-300:]}",
                    "objective": None, "land_take_ha": {}, "sites": []}
        return named_figures(out)


def named_figures(out: Path) -> dict:
    """The figures of a named instance's result folder: status, objective, land take per programme, sites."""
    import pandas as pd

    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    fac = pd.read_csv(out / "facilities.csv", dtype={"site_id": str})
    if s.get("kind") == "chain_periods":  # a multi-period chain: its facilities per period, the horizon's objective
        sites = [[r.site_id, r.echelon, f"{'existing' if r.existing else 'new'} {r.area_m2:g} m2", str(r.period)]
                 for r in fac.itertuples()]
        return {"status": s["status"], "objective": s["objective"]["total"],
                "land_take_ha": {f"new {k}": v for k, v in (s.get("new_land_take_ha_by_period") or {}).items()},
                "sites": sorted(sites)}
    if "objective_eur_per_yr" in s:  # a plastics-chain result: echelons are its programmes, existing sites fixed
        sites = [[r.site_id, r.echelon, f"{'existing' if r.existing else 'new'} {r.area_m2:g} m2"]
                 for r in fac.itertuples()]
        return {"status": s["status"], "objective": s["objective_eur_per_yr"],
                "land_take_ha": {f"new {k}": v for k, v in s["land_take_per_echelon_ha"].items()},
                "sites": sorted(sites)}
    sites = [[r.site_id, r.programme, str(r.size)] for r in fac.itertuples()]
    return {"status": s["status"], "objective": s["objective"]["total"],
            "land_take_ha": {k: v["land_take_ha"] for k, v in s["programmes"].items()}, "sites": sorted(sites)}


def _solve_bench(name: str) -> dict:
    """Read the benchmark file and solve it as ``siting solve`` solves a matrix instance."""
    import numpy as np

    from optimizer.bench.readers import benchmark_set
    from optimizer.solver.options import SolveOptions
    from optimizer.solver.solve import solve_problem

    set_name, _, instance = name.partition("/")
    case = next(c for c in benchmark_set(set_name) if c.name == instance)
    problem = case.load()
    sol = solve_problem(problem, SolveOptions(time_limit_s=BENCH_TIME_LIMIT_S))
    opened = np.flatnonzero(sol.open_options)
    sites = [[str(problem.site_ids[problem.option_site[j]]), str(problem.option_programme[j]),
              str(problem.option_size[j])] for j in opened]
    land: dict[str, float] = {}
    for j in opened:
        land[str(problem.option_programme[j])] = land.get(str(problem.option_programme[j]), 0.0) + float(
            problem.area_m2[j]) / 10_000.0
    return {"status": sol.status, "objective": float(sol.objective), "land_take_ha": land, "sites": sorted(sites)}


# ------------------------------------------------------------------------------------------------------------------
# Comparing
# ------------------------------------------------------------------------------------------------------------------
def differences(before: dict, after: dict) -> list[str]:
    """What differs between two records of one case (empty when identical)."""
    out = []
    if before["status"] != after["status"]:
        out.append(f"status {before['status']} → {after['status']}")
    a, b = before["objective"], after["objective"]
    if (a is None) != (b is None) or (a is not None and not math.isclose(a, b, rel_tol=OBJECTIVE_REL_TOL, abs_tol=0.0)):
        out.append(f"objective {a!r} → {b!r}")
    if before["land_take_ha"] != after["land_take_ha"]:
        out.append(f"land take {before['land_take_ha']} → {after['land_take_ha']}")
    if before["sites"] != after["sites"]:
        gone = [s for s in before["sites"] if s not in after["sites"]]
        new = [s for s in after["sites"] if s not in before["sites"]]
        out.append(f"sites: {len(gone)} closed {gone[:3]}, {len(new)} opened {new[:3]}")
    return out


def _load_text() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="re-solve and compare with the baseline")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="baseline JSON (read or written)")
    parser.add_argument("--only", nargs="*", help="only cases whose name contains one of these")
    parser.add_argument("--markdown", type=Path, help="with --compare: also write the table as Markdown")
    args = parser.parse_args()

    if args.compare:
        baseline = json.loads(args.baseline.read_text(encoding="utf-8"))["cases"]
        cases = list(baseline)
    else:
        cases = named_cases() + bench_cases()
    if args.only:
        cases = [c for c in cases if any(o in c for o in args.only)]
    load_before = _load_text()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    records = {}
    for case in cases:
        print(f"{case} …", end=" ", flush=True, file=sys.stderr)
        records[case] = solve_case(case)
        print(f"{records[case]['status']}, {records[case]['objective']}, {records[case]['seconds']} s",
              flush=True, file=sys.stderr)
    load_after = _load_text()

    if not args.compare:
        args.baseline.parent.mkdir(parents=True, exist_ok=True)
        doc = {"recorded": started, "load_before": load_before, "load_after": load_after,
               "command": "python benchmarks/regression/record.py", "cases": records}
        text = json.dumps(doc, indent=1)
        text = re.sub(r'\[\s+("[^"]*"),\s+("[^"]*"),\s+("[^"]*")\s+\]', r"[\1, \2, \3]", text)  # a site per line
        args.baseline.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.baseline} ({len(records)} cases)")
        return

    lines = [f"Compared {started}; load average (1/5/15 min) {load_before} before, {load_after} after. "
             "Command: `python benchmarks/regression/record.py --compare`.", "",
             "| case | status | objective before | objective after | sites | land take (ha) | s before | s after | identical? |",
             "|---|---|---|---|---|---|---|---|---|"]
    failed = []
    for case, after in records.items():
        before = baseline[case]
        diff = differences(before, after)
        if diff:
            failed.append(case)
        land = ", ".join(f"{k} {v:g}" for k, v in after["land_take_ha"].items())
        lines.append(f"| `{case}` | {after['status']} | {before['objective']!r} | {after['objective']!r} | "
                     f"{len(after['sites'])} | {land} | {before['seconds']} | {after['seconds']} | "
                     f"{'yes' if not diff else 'NO: ' + '; '.join(diff)} |")
    lines += ["", f"{len(records) - len(failed)} of {len(records)} cases identical."]
    table = "\n".join(lines) + "\n"
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
