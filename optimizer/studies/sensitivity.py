"""Sensitivity of a result to its named assumptions (``siting sensitivity``): a tornado chart and robust sites.

The study gives sizes and counts but no tonnages, capacities or transport costs (digest A8); those are named
assumptions (``models/``). This study varies them and shows what moves:

* **one at a time** (the tornado): each varied assumption at its low and at its high value, all others at their
  values in the run (``base``);
* optionally a **joint sample** (``samples`` > 0): a Latin hypercube over every varied assumption at once (seeded);
* every variant is an ordinary scenario of a sweep (:mod:`optimizer.studies.sweep`): solved and verified by
  :func:`optimizer.pipeline.run` on Dask or in-process, its result folder kept, and skipped on a rerun when it is
  already solved with the same inputs (resume). The generated sweep definition is written as
  ``sensitivity.toml`` next to the results, so the run can be read and repeated with ``siting sweep``.

Outputs (:func:`write_outputs`): ``sensitivity.csv`` (one row per variant: the values used, objective, land take
and their change against ``base``), ``tornado.png`` (objective and land take per assumption, low vs high),
``robust_sites.csv`` / ``robust_sites.png`` (how often each site is chosen over the solved variants, drawn on the
outline of Flanders) and ``sensitivity.json`` (what was varied, how it went, the files).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.atomic import check_destination, write_atomic
from optimizer.data.instance import Instance
from optimizer.errors import InputError
from optimizer.settings import SENSITIVITY_DEFAULT_RANGE, SENSITIVITY_RARE_SHARE, SENSITIVITY_ROBUST_SHARE
from optimizer.studies.sweep import SweepResult, mark_sweep_folder, run_sweep
from optimizer.studies.sweep_spec import load_sweep

SPEC_TOML, TABLE_CSV, MANIFEST = "sensitivity.toml", "sensitivity.csv", "sensitivity.json"
TORNADO_PNG, ROBUST_CSV, ROBUST_PNG = "tornado.png", "robust_sites.csv", "robust_sites.png"
BASE = "base"
_VALUE = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Variation:
    """One assumption to vary: its value in the run (``base``) and the low and high values to try."""

    name: str
    base: float
    low: float
    high: float
    unit: str = ""


@dataclass(frozen=True)
class SensitivitySpec:
    """What to vary around which run."""

    instance: str  # an instance name or an absolute manifest path
    instance_name: str
    base_set: dict[str, str]  # --set overrides of the base run (parameters and assumptions)
    variations: tuple[Variation, ...]
    samples: int = 0  # joint Latin-hypercube variants (0: one at a time only)
    seed: int = 0


@dataclass
class SensitivityResult:
    """A finished sensitivity study: the per-variant table, the robust-site table and where they were written."""

    spec: SensitivitySpec
    sweep: SweepResult
    table: pd.DataFrame
    robust: pd.DataFrame
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    wall_s: float = 0.0


# ---------------------------------------------------------------------------------------------------------------
# What to vary
# ---------------------------------------------------------------------------------------------------------------
def default_variations(instance: Instance, share: float = SENSITIVITY_DEFAULT_RANGE) -> list[Variation]:
    """The preset: each programme's tonnage per inhabitant and throughput per m², and the road cost per t·km,
    at ``share`` below and above their values (``settings.SENSITIVITY_DEFAULT_RANGE``)."""
    names: list[str] = []
    for prog in instance.programmes:
        names += [a for a in (prog.demand_per_inhabitant, prog.capacity_per_m2) if a and a not in names]
    names.append("cost_road_eur_per_tkm")
    out = []
    for name in names:
        base = instance.assumption(name)
        out.append(Variation(name, base, _round(base * (1 - share)), _round(base * (1 + share)),
                             instance.assumptions[name].unit))
    return out


def parse_vary(items: list[str], instance: Instance) -> list[Variation]:
    """``--vary NAME=LOW:HIGH`` (values, or ``-25%:+25%`` relative to the run's value) into :class:`Variation` s."""
    out: list[Variation] = []
    for item in items:
        if "=" not in item or ":" not in item.split("=", 1)[1]:
            raise InputError(f"--vary takes NAME=LOW:HIGH (e.g. cost_road_eur_per_tkm=0.08:0.12 or "
                             f"pmd_t_per_inhabitant_yr=-20%:+20%), got {item!r}", field="--vary")
        name, values = item.split("=", 1)
        name = name.strip().removeprefix("assumption.")
        if name not in instance.assumptions:
            import difflib

            close = difflib.get_close_matches(name, list(instance.assumptions), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; `siting show NAME` lists the assumptions"
            raise InputError(f"unknown assumption {name!r}{hint}", field=f"--vary {item}")
        if isinstance(instance.assumptions[name].value, str):
            raise InputError(f"assumption {name!r} is not a number and cannot be varied", field=f"--vary {item}")
        if any(v.name == name for v in out):
            raise InputError(f"assumption {name!r} is varied twice", field=f"--vary {item}")
        base = instance.assumption(name)
        low_text, high_text = values.split(":", 1)
        low, high = (_value(t, base, item) for t in (low_text, high_text))
        if low == high:
            raise InputError("low and high are the same value: nothing would vary", field=f"--vary {item}")
        out.append(Variation(name, base, min(low, high), max(low, high), instance.assumptions[name].unit))
    return out


def _value(text: str, base: float, item: str) -> float:
    m = _VALUE.match(text)
    if m is None:
        raise InputError(f"{text!r} is not a number or a percentage such as -25%", field=f"--vary {item}")
    number = float(m.group(1))
    return _round(base * (1 + number / 100.0)) if m.group(2) else number


def _round(x: float) -> float:
    """Six significant digits: readable scenario values, no float noise in folder names or tables."""
    return float(f"{x:.6g}")


# ---------------------------------------------------------------------------------------------------------------
# The variants as a sweep
# ---------------------------------------------------------------------------------------------------------------
def design(spec: SensitivitySpec) -> pd.DataFrame:
    """One row per variant: ``scenario``, ``level`` (base, low, high, joint), ``assumption`` (the one varied; blank
    for base and joint) and ``value.NAME`` for every varied assumption (its value in that variant)."""
    base_values = {v.name: v.base for v in spec.variations}
    rows = [{"scenario": BASE, "level": BASE, "assumption": "", **base_values}]
    for v in spec.variations:
        for level in ("low", "high"):
            rows.append({"scenario": f"{v.name}-{level}", "level": level, "assumption": v.name,
                         **{**base_values, v.name: getattr(v, level)}})
    if spec.samples > 0 and spec.variations:
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(spec.variations), seed=spec.seed).random(spec.samples)
        low = np.array([v.low for v in spec.variations])
        high = np.array([v.high for v in spec.variations])
        for i, point in enumerate(low + unit * (high - low), start=1):
            rows.append({"scenario": f"joint-{i:03d}", "level": "joint", "assumption": "",
                         **{v.name: _round(x) for v, x in zip(spec.variations, point, strict=True)}})
    frame = pd.DataFrame(rows)
    return frame.rename(columns={v.name: f"value.{v.name}" for v in spec.variations})


def sweep_toml(spec: SensitivitySpec, frame: pd.DataFrame) -> str:
    """The variants as a sweep definition (``siting sweep`` reads it too)."""
    def literal(value: object) -> str:
        return repr(float(value)) if isinstance(value, (int, float, np.floating)) else json.dumps(str(value))

    def table(values: dict[str, object]) -> str:
        return "{ " + ", ".join(f"{json.dumps(k)} = {literal(v)}" for k, v in values.items()) + " }"

    varied = ", ".join(f"{v.name} {v.low:g}..{v.high:g}" for v in spec.variations)
    lines = [f"# Generated by `siting sensitivity {spec.instance_name}`: the variants as a sweep (resume: rerun the "
             "same command).", "[sweep]", f"name = {json.dumps('sensitivity-' + spec.instance_name)}",
             f"title = {json.dumps(f'Sensitivity of {spec.instance_name}')}",
             f"description = {json.dumps(f'One at a time (and {spec.samples} joint samples, seed {spec.seed}): {varied}')}",
             f"instance = {json.dumps(spec.instance)}"]
    if spec.base_set:
        lines.append(f"set = {table(spec.base_set)}")
    for row in frame.to_dict("records"):
        lines += ["", "[[scenario]]", f"name = {json.dumps(row['scenario'])}"]
        values = {f"assumption.{v.name}": row[f"value.{v.name}"] for v in spec.variations
                  if row["level"] != BASE and row[f"value.{v.name}"] != v.base}
        if values:
            lines.append(f"set = {table(values)}")
    return "\n".join(lines) + "\n"


def run_sensitivity(spec: SensitivitySpec, out_dir: Path, *, workers: int | None = None,
                    scheduler: str | None = None, threads_per_scenario: int | None = None,
                    console: object | None = None) -> SensitivityResult:
    """Solve every variant through the sweep machinery and write the table, tornado chart and robust-site map.

    Parameters
    ----------
    spec
        What to vary (:func:`parse_vary` or :func:`default_variations`).
    out_dir
        The study's folder: ``sensitivity.toml``, the sweep's ``scenarios/NAME`` results and tables, and this
        study's outputs (see module docstring).
    workers, scheduler, threads_per_scenario, console
        As :func:`optimizer.studies.sweep.run_sweep` (``workers=0``: in-process).

    Returns
    -------
    SensitivityResult
        On Ctrl-C the sweep's ``KeyboardInterrupt`` propagates; the finished variants are kept for a resume.
    """
    if not spec.variations:
        raise InputError("nothing to vary: give --vary NAME=LOW:HIGH", field="--vary")
    t0 = time.perf_counter()
    out_dir = check_destination(Path(out_dir), kind="sweep", need_bytes=0)  # a sweep folder: new, empty or a sweep's
    mark_sweep_folder(out_dir, f"{spec.instance_name}-sensitivity")  # before the spec is written into it
    frame = design(spec)
    spec_path = out_dir / SPEC_TOML
    text = sweep_toml(spec, frame)
    write_atomic(spec_path, lambda p: p.write_text(text, encoding="utf-8"))
    sweep = run_sweep(load_sweep(spec_path), out_dir, workers=workers, scheduler=scheduler,
                      threads_per_scenario=threads_per_scenario, console=console)
    table = sensitivity_table(frame, sweep.table)
    robust = robust_sites(out_dir, sweep.table)
    result = SensitivityResult(spec, sweep, table, robust, out_dir, wall_s=time.perf_counter() - t0)
    result.files = write_outputs(result)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------
def sensitivity_table(frame: pd.DataFrame, comparison: pd.DataFrame) -> pd.DataFrame:
    """The design joined with each variant's outcome, and the change of objective and land take against base."""
    keep = ["scenario", "status", "error", "objective_total", "objective_unit", "land_take_ha", "result_dir"]
    table = frame.merge(comparison[keep], on="scenario", how="left")
    base = table.loc[table["scenario"] == BASE].iloc[0] if (table["scenario"] == BASE).any() else None
    base_obj = float(base["objective_total"]) if base is not None and pd.notna(base["objective_total"]) else math.nan
    base_land = float(base["land_take_ha"]) if base is not None and pd.notna(base["land_take_ha"]) else math.nan
    table["objective_change"] = table["objective_total"] - base_obj
    table["objective_change_pct"] = 100.0 * table["objective_change"] / base_obj if base_obj else math.nan
    table["land_take_change_ha"] = table["land_take_ha"] - base_land
    return table


def robust_sites(out_dir: Path, comparison: pd.DataFrame) -> pd.DataFrame:
    """How often each (programme, site) is chosen over the solved variants.

    Returns
    -------
    DataFrame
        ``programme``, ``site_id``, ``site_name``, ``x``, ``y`` (EPSG:31370), ``sizes`` (the sizes it took),
        ``chosen_in`` (variants), ``variants`` (solved variants), ``share`` and ``class``: ``robust`` (chosen in
        at least ``settings.SENSITIVITY_ROBUST_SHARE`` of the variants), ``rare`` (fewer than
        ``SENSITIVITY_RARE_SHARE``) or ``often`` (between).
    """
    solved = comparison[comparison["result_dir"].notna()]
    frames = []
    for r in solved.itertuples():
        fac = pd.read_csv(Path(out_dir) / str(r.result_dir) / "facilities.csv")
        frames.append(fac[["programme", "site_id", "site_name", "size", "x", "y"]].assign(scenario=r.scenario))
    cols = ["programme", "site_id", "site_name", "x", "y", "sizes", "chosen_in", "variants", "share", "class"]
    if not frames:
        return pd.DataFrame(columns=cols)
    chosen = pd.concat(frames, ignore_index=True)
    grouped = chosen.groupby(["programme", "site_id"], sort=True).agg(
        site_name=("site_name", "first"), x=("x", "first"), y=("y", "first"),
        sizes=("size", lambda s: ",".join(sorted(set(map(str, s))))), chosen_in=("scenario", "nunique"))
    grouped = grouped.reset_index()
    grouped["variants"] = len(solved)
    grouped["share"] = grouped["chosen_in"] / len(solved)
    grouped["class"] = np.where(grouped["share"] >= SENSITIVITY_ROBUST_SHARE - 1e-12, "robust",
                                np.where(grouped["share"] < SENSITIVITY_RARE_SHARE, "rare", "often"))
    return grouped.sort_values(["programme", "share", "site_id"], ascending=[True, False, True])[cols]


def tornado_rows(result_table: pd.DataFrame, variations: tuple[Variation, ...]) -> pd.DataFrame:
    """One row per varied assumption: its low/high values and the objective and land take at each, sorted by the
    objective's swing (largest first)."""
    rows = []
    for v in variations:
        lo = result_table[(result_table["assumption"] == v.name) & (result_table["level"] == "low")]
        hi = result_table[(result_table["assumption"] == v.name) & (result_table["level"] == "high")]
        get = (lambda f, col: float(f[col].iat[0]) if len(f) and pd.notna(f[col].iat[0]) else math.nan)
        rows.append({"assumption": v.name, "unit": v.unit, "base": v.base, "low": v.low, "high": v.high,
                     "objective_low": get(lo, "objective_total"), "objective_high": get(hi, "objective_total"),
                     "land_take_low_ha": get(lo, "land_take_ha"), "land_take_high_ha": get(hi, "land_take_ha"),
                     "status_low": str(lo["status"].iat[0]) if len(lo) else "",
                     "status_high": str(hi["status"].iat[0]) if len(hi) else ""})
    frame = pd.DataFrame(rows)
    swing = (frame["objective_high"] - frame["objective_low"]).abs().fillna(np.inf)
    return frame.assign(_swing=swing).sort_values("_swing", ascending=False).drop(columns="_swing")


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------
def write_outputs(result: SensitivityResult) -> dict[str, Path]:
    """Write the table, the tornado chart, the robust-site table and map, and the manifest; each atomically."""
    from optimizer.data.outline import flanders_outline
    from optimizer.studies.sensitivity_plots import plot_robust_sites, plot_tornado

    out, spec = result.out_dir, result.spec
    files = {"spec": out / SPEC_TOML, "csv": out / TABLE_CSV, "tornado_png": out / TORNADO_PNG,
             "robust_csv": out / ROBUST_CSV, "robust_png": out / ROBUST_PNG, "manifest": out / MANIFEST}
    rows = tornado_rows(result.table, spec.variations)
    base = result.table[result.table["scenario"] == BASE]
    title = f"{spec.instance_name}: sensitivity to {len(spec.variations)} assumption(s)"
    write_atomic(files["csv"], lambda p: result.table.to_csv(p, index=False))
    write_atomic(files["robust_csv"], lambda p: result.robust.to_csv(p, index=False))
    write_atomic(files["tornado_png"], lambda p: plot_tornado(rows, base, title).savefig(p, dpi=150))
    write_atomic(files["robust_png"], lambda p: plot_robust_sites(result.robust, flanders_outline(), title).savefig(
        p, dpi=150))
    solved = result.table["result_dir"].notna()
    manifest = {
        "instance": spec.instance_name, "base_set": spec.base_set, "samples": spec.samples, "seed": spec.seed,
        "variations": [v.__dict__ for v in spec.variations],
        "variants": int(len(result.table)), "solved": int(solved.sum()),
        "failed": result.table.loc[~solved, ["scenario", "status", "error"]].to_dict("records"),
        "tornado": rows.to_dict("records"),
        "robust": {k: int((result.robust["class"] == k).sum()) for k in ("robust", "often", "rare")},
        "robust_share": SENSITIVITY_ROBUST_SHARE, "rare_share": SENSITIVITY_RARE_SHARE,
        "wall_s": round(result.wall_s, 3), "sweep": {"mode": result.sweep.mode, "workers": result.sweep.workers,
                                                   "resumed": int(result.sweep.table["resumed"].sum())},
        "files": {k: str(v) for k, v in files.items()},
    }
    write_atomic(files["manifest"], lambda p: p.write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                                          encoding="utf-8"))
    return files
