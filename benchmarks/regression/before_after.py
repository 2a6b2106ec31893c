"""What changed with real zones and networks (issue 12): every named instance before and after, side by side.

Two steps. ``collect`` solves every named instance with the code on ``sys.path`` (in process through the CLI, as
``benchmarks/regression/record.py`` does) and keeps, per instance, the objective, transport (t·km, EUR), land take,
the modal split (when the code reports one) and the facilities with their municipality and point. Run it once with the
code before the change and once after::

    PYTHONPATH=/path/to/old/checkout python benchmarks/regression/before_after.py collect --out before.json
    python benchmarks/regression/before_after.py collect --out after.json
    python benchmarks/regression/before_after.py table before.json after.json     # Markdown for docs/geography.md

``table`` reports per instance: the objective and transport before and after (and the change), the facilities that
moved to another municipality (after-facilities in a municipality where the programme had none before), the median
shift of a facility (km from each new facility point to the nearest old one of its programme) and the modal split of
the t·km after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(HERE.parents[1]))  # the checkout this script lives in, unless another is given


def collect(names: list[str] | None) -> dict:
    import click
    from click.testing import CliRunner

    import optimizer
    from optimizer.cli import app
    from optimizer.data.instance import list_instances

    if not isinstance(app, click.Command):  # a checkout from before the CLI was written on click: typer's own runner
        from typer.testing import CliRunner

    cases = {}
    for row in list_instances():
        name = row["name"]
        if names and name not in names:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        print(f"{name} …", end=" ", flush=True, file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="before-after-") as tmp:
            out = Path(tmp) / name
            res = CliRunner().invoke(app, ["solve", name, "--out", str(out), "--quiet"])
            if res.exit_code != 0:
                cases[name] = {"status": f"exit {res.exit_code}: {(res.stderr or res.output).strip()[-300:]}"}
                print(cases[name]["status"], file=sys.stderr)
                continue
            s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
            case = _case(s, out)
        case["seconds"] = round(time.perf_counter() - t0, 2)
        case["cpu_seconds"] = round(time.process_time() - c0, 2)
        case["load_after"] = round(os.getloadavg()[0], 2)
        cases[name] = case
        print(f"{case['status']}, {case['objective']:,.0f}, {case['seconds']} s", file=sys.stderr)
    return {"code": str(Path(optimizer.__file__).parents[1]), "recorded": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                       time.gmtime()),
            "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()), "cases": cases}


def _case(s: dict, out: Path) -> dict:
    """The figures of one result folder: single period (named, chain) or multi-period (``periods``,
    ``chain_periods``: the objective over the horizon, the last period's transport and facilities)."""
    import pandas as pd

    fac = pd.read_csv(out / "facilities.csv", dtype={"site_id": str, "nis": str})
    kind = s.get("kind", "chain" if "objective_eur_per_yr" in s else "named")
    last = s["periods"][-1] if kind in ("periods", "chain_periods") else None
    if last is not None and "period" in fac:
        fac = fac[fac["period"].astype(str) == last["period"]]
    if kind in ("chain", "chain_periods"):
        flows = pd.read_csv(out / "flows.csv")
        if last is not None:
            flows = flows[flows["period"].astype(str) == last["period"]]
        case = {"objective": s["objective"]["total"] if last is not None else s["objective_eur_per_yr"],
                "transport_tkm": float((flows["tonnes"] * flows["km"]).sum()),
                "land_take_ha": (last or s)["new_land_take_ha"],
                "facilities": [{"programme": r.echelon, "site_id": r.site_id, "existing": bool(r.existing),
                                "x": float(r.x), "y": float(r.y), "nis": _nis(r.site_id)} for r in fac.itertuples()]}
        if "modal_split" in s or {"road_tkm", "water_tkm", "rail_tkm"} <= set(flows.columns):
            case["modal_split"] = {"tkm": {m: float(flows[f"{m}_tkm"].sum()) for m in ("road", "water", "rail")
                                           if f"{m}_tkm" in flows}}
    else:
        case = {"objective": s["objective"]["total"], "transport_tkm": (last or s)["transport_tkm_per_yr"],
                "unit": s["objective"]["unit"], "land_take_ha": (last or s)["land_take_ha"],
                "modal_split": s.get("modal_split"),
                "facilities": [{"programme": r.programme, "site_id": r.site_id, "nis": str(r.nis),
                                "existing": str(r.size) == "existing", "x": float(r.x), "y": float(r.y),
                                "size": str(r.size)} for r in fac.itertuples()]}
    case.update({"status": s["status"], "gap": s.get("gap"), "kind": kind,
                 "last_period": last["period"] if last is not None else None})
    return case


def _nis(site_id: str) -> str:
    """Municipality of a chain site id (EZ-<nis>, Z<nis>-k, AGG-<nis>; PORT-* stays itself)."""
    sid = str(site_id).split(":")[-1]
    for prefix in ("EZ-", "AGG-", "RES-", "GF-"):
        if sid.startswith(prefix):
            return sid[len(prefix):]
    if sid.startswith("Z") and "-" in sid:
        return sid[1:].split("-")[0]
    return sid


def table(before: dict, after: dict) -> str:
    import numpy as np

    lines = [
        "| instance | objective before → after | Δ | transport t·km/yr before → after | Δ | moved to another "
        "municipality | median shift (km) | t·km road / water / rail after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, a in after["cases"].items():
        b = before["cases"].get(name)
        if b is None:
            what = f"{a['objective']:,.0f} ({a['status']})" if "objective" in a else a["status"].split(":")[0]
            lines.append(f"| `{name}` | not in the before run → {what} | | | | | | |")
            continue
        if "objective" not in a or "objective" not in b:
            left = f"{b['objective']:,.0f}" if "objective" in b else b["status"].split(":")[0]
            right = f"{a['objective']:,.0f}" if "objective" in a else "infeasible (" + a["status"].split(":")[0] + ")"
            lines.append(f"| `{name}` | {left} → {right} | | | | | | |")
            continue
        moved, total, shift = 0, 0, []
        for prog in sorted({f["programme"] for f in a["facilities"]}):
            old = [f for f in b["facilities"] if f["programme"] == prog and not f.get("existing")]
            new = [f for f in a["facilities"] if f["programme"] == prog and not f.get("existing")]
            old_nis = [f["nis"] for f in old]
            for f in new:
                total += 1
                if f["nis"] in old_nis:
                    old_nis.remove(f["nis"])
                else:
                    moved += 1
                if old:
                    shift.append(min(np.hypot(f["x"] - o["x"], f["y"] - o["y"]) for o in old) / 1000.0)
        split = a.get("modal_split") or {}
        tkm = split.get("tkm", {})
        share = " / ".join(f"{100 * tkm.get(m, 0.0) / max(sum(tkm.values()), 1e-9):.1f} %"
                           for m in ("road", "water", "rail")) if tkm else ""
        opt = "" if a.get("status") == "optimal" else f" ({a.get('status')}, gap {100 * (a.get('gap') or 0):.2f} %)"
        lines.append(
            f"| `{name}` | {b['objective']:,.0f} → {a['objective']:,.0f}{opt} | {_pct(b['objective'], a['objective'])} | "
            f"{b['transport_tkm']:,.0f} → {a['transport_tkm']:,.0f} | {_pct(b['transport_tkm'], a['transport_tkm'])} | "
            f"{moved} of {total} | {np.median(shift) if shift else float('nan'):.1f} | {share} |")
    return "\n".join(lines)


def _pct(a: float, b: float) -> str:
    return f"{100 * (b - a) / a:+.1f} %" if a else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="solve every named instance with the code on sys.path")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--only", nargs="*")
    t = sub.add_parser("table", help="Markdown table of two collections")
    t.add_argument("before", type=Path)
    t.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.cmd == "collect":
        doc = collect(args.only)
        args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(table(json.loads(args.before.read_text()), json.loads(args.after.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
