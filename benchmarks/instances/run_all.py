"""Solve every named instance from the CLI, as a planner would, and tabulate status, gap, land take and time.

Run from the project root::

    python benchmarks/instances/run_all.py [NAME ...] [--out benchmarks/instances/out]

For every instance of ``siting list`` (except ``fine-*``, maintained elsewhere) it runs ``siting solve NAME``
(which hands the multi-echelon plastics-chain instances to the chain model, as ``siting chain NAME`` does)
with the instance's own default time limit, then checks what a planner gets: exit code 0, a verified summary,
and a GeoPackage with its layers. It writes ``results.json`` next to the results and the table, the command, the
date and the load average into ``benchmarks/instances/README.md`` (the measured section is regenerated, the text
above it kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
sys.path.insert(0, str(PROJECT_ROOT))  # run as a script from any folder: import the project's package

from optimizer.data.instance import list_instances
from optimizer.data.programmes import load_programme

MARKER = "<!-- measured: everything below is written by run_all.py -->"
EXCLUDED_PREFIXES = ("fine-",)  # another engineer's instances, benchmarked separately


def named_instances(only: list[str] | None = None) -> list[dict]:
    """Instances of ``siting list`` with their kind (location or chain) and default time limit."""
    rows = []
    for row in list_instances():
        if row["name"].startswith(EXCLUDED_PREFIXES) or (only and row["name"] not in only):
            continue
        with open(row["path"], "rb") as fh:
            manifest = tomllib.load(fh)
        place = manifest.get("programmes", {}).get("place", [])
        kind = "chain" if any(load_programme(p).kind == "chain" for p in place) else "location"
        limit = float(manifest.get("parameters", {}).get("time_limit_s", 300.0))
        rows.append({"name": row["name"], "title": row["title"], "kind": kind, "time_limit_s": limit,
                     "source": manifest.get("instance", {}).get("source", "")})
    return rows


def _gpkg_layers(path: Path) -> list[str]:
    import pyogrio

    return [str(n) for n in pyogrio.list_layers(path)[:, 0]] if path.exists() else []


def solve_one(inst: dict, out_root: Path) -> dict:
    """Run the CLI on one instance and collect what it wrote."""
    out = out_root / inst["name"]
    command = "solve"
    args = [sys.executable, "-m", "optimizer.cli", command, inst["name"], "--out", str(out), "--json"]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=PROJECT_ROOT, check=False,
                          timeout=inst["time_limit_s"] * 2 + 300)
    wall = time.perf_counter() - t0
    row = {**inst, "command": f"siting {command} {inst['name']}", "exit": proc.returncode, "wall_s": round(wall, 1)}
    if proc.returncode != 0:
        row["error"] = (proc.stderr.strip().splitlines() or ["(no message)"])[-1][:300]
        return row
    s = json.loads(proc.stdout[proc.stdout.index("{"):])
    layers = _gpkg_layers(out / "result.gpkg")
    row.update({"status": s["status"], "gap": s.get("gap"), "gpkg_layers": layers})
    if s.get("kind") == "chain_periods":  # multi-period chain (docs/periods.md): land of the last period
        last = s["periods"][-1]
        row.update({"verified": s["verification"]["passed"], "objective": s["objective"]["total"],
                    "unit": s["objective"]["unit"], "land_take_ha": last["new_land_take_ha"],
                    "land_per_programme_ha": {}, "land_by_kind_ha": {},
                    "solver_s": round(sum(s["timings_s"].values()), 1)})
    elif inst["kind"] == "chain":
        row.update({"verified": s["verification"]["passed"], "objective": s["objective_eur_per_yr"],
                    "unit": "EUR/yr", "land_take_ha": s["new_land_take_ha"],
                    "land_per_programme_ha": {f"new {k}": v for k, v in s["land_take_per_echelon_ha"].items()},
                    "land_by_kind_ha": {}, "solver_s": round(sum(s["timings_s"].values()), 1)})
    else:
        row.update({"verified": s["verification"]["passed"], "objective": s["objective"]["total"],
                    "unit": s["objective"]["unit"], "land_take_ha": s["land_take_ha"],
                    "land_per_programme_ha": {k: v["land_take_ha"] for k, v in s["programmes"].items()},
                    "land_by_kind_ha": s.get("land_take_by_kind_ha", {}),
                    "solver_s": round(sum(v for k, v in s["timings_s"].items() if not k.startswith("total")), 1)})
    return row


def _fmt_gap(gap: float | None) -> str:
    return "–" if gap is None else f"{100 * gap:.4f} %"


def _fmt_land(row: dict) -> str:
    per = ", ".join(f"{k} {v:g}" for k, v in row.get("land_per_programme_ha", {}).items())
    kinds = {k: v for k, v in row.get("land_by_kind_ha", {}).items() if v and k != "existing_zone"}
    extra = "; " + ", ".join(f"on {k} {v:g}" for k, v in kinds.items()) if kinds else ""
    return per + extra


def markdown(rows: list[dict], started: str, load_before: tuple, load_after: tuple, total_s: float) -> str:
    """The measured section of the README."""
    lines = [
        MARKER,
        "",
        f"Measured {started} UTC on {platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average (1/5/15 min) {' / '.join(f'{x:.2f}' for x in load_before)} before and "
        f"{' / '.join(f'{x:.2f}' for x in load_after)} after (the cores were shared with other jobs, so the times "
        f"are upper bounds); total {total_s / 60:.1f} min. Command: `python benchmarks/instances/run_all.py`.",
        "",
        "| instance | command | exit | status | gap | verified | land take (ha) | per programme (ha) | wall s | limit s | GeoPackage layers |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["exit"] != 0:
            lines.append(f"| `{r['name']}` | `{r['command']}` | **{r['exit']}** | {r.get('error', '')} | | | | | "
                         f"{r['wall_s']} | {r['time_limit_s']:g} | |")
            continue
        lines.append(f"| `{r['name']}` | `{r['command']}` | 0 | {r['status']} | {_fmt_gap(r['gap'])} | "
                     f"{'yes' if r['verified'] else 'NO'} | {r['land_take_ha']:g} | {_fmt_land(r)} | {r['wall_s']} | "
                     f"{r['time_limit_s']:g} | {', '.join(r['gpkg_layers'])} |")
    lines += ["", "Wall time includes Python start-up, loading the networks, the solve, verification and export. "
              "Chain instances report *new* land only (the existing Indaver sites take none)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these instances (default: all of `siting list`)")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="result folders (git-ignored)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite README.md (a run over some "
                        "names never does: the table stays complete)")
    args = parser.parse_args()
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows = []
    for inst in named_instances(args.names or None):
        print(f"{inst['name']}: siting solve …", flush=True)
        row = solve_one(inst, args.out)
        rows.append(row)
        print(f"  exit {row['exit']}, {row.get('status', row.get('error'))}, gap {_fmt_gap(row.get('gap'))}, "
              f"land {row.get('land_take_ha', '–')} ha, {row['wall_s']} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2, default=str))
    if not args.no_readme and not args.names:
        readme = HERE / "README.md"
        head = readme.read_text().split(MARKER)[0] if readme.exists() else "# Named instances\n\n"
        readme.write_text(head + markdown(rows, started, load_before, os.getloadavg(), time.perf_counter() - t0))
    failed = [r["name"] for r in rows if r["exit"] != 0 or not r.get("verified")]
    if failed:
        print(f"failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
