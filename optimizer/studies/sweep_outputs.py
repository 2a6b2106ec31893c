"""The sweep's outputs: the comparison table (one row per scenario), its two plots, ``sweep.json`` and the
terminal table. Every file is written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from optimizer.atomic import SWEEP_FORMAT, write_atomic

if TYPE_CHECKING:
    from optimizer.studies.sweep import SweepResult
    from optimizer.studies.sweep_spec import Sweep

SCENARIOS_DIR = "scenarios"
TABLE_CSV, TABLE_PARQUET, MANIFEST = "comparison.csv", "comparison.parquet", "sweep.json"
PLOT_TRADEOFF, PLOT_FACILITIES = "land_take_vs_transport.png", "facilities_per_programme.png"
# Columns that describe how a scenario was executed, not what it found: they differ between runs and worker
# counts and are left out when two sweeps' tables are compared (see comparable()).
EXECUTION_COLUMNS = ("time_s", "solve_s", "resumed", "threads", "worker")


def comparison_table(records: list[dict]) -> pd.DataFrame:
    """One row per scenario, in sweep order: what was set, what it cost, the land it took, how it ended.

    Columns: ``order``, ``scenario``, ``instance``, ``overrides``, ``set.KEY`` (the value each scenario gives to
    every key any scenario sets; blank: the instance's own value), ``status``, ``error``, ``objective_total``,
    ``objective_unit``, ``transport_eur_per_yr``, ``transport_tkm_per_yr``, ``land_take_ha``, per programme P
    ``facilities.P``, ``count.P.SIZE``, ``land_take_ha.P``, ``tkm_per_yr.P``, then ``gap``, ``instance_hash``,
    ``result_dir`` and the execution columns ``time_s`` (seconds the scenario took to solve), ``solve_s``,
    ``resumed``, ``threads``, ``worker`` (see :data:`EXECUTION_COLUMNS`).
    """
    records = sorted(records, key=lambda r: r["order"])
    set_keys = list(dict.fromkeys(k for r in records for k in r["overrides"]))
    programmes: dict[str, list[str]] = {}
    for r in records:
        for pid, p in ((r["summary"] or {}).get("programmes") or {}).items():
            sizes = programmes.setdefault(pid, [])
            sizes += [s for s in p["count_per_size"] if s not in sizes]
    rows = []
    for r in records:
        s = r["summary"]
        row: dict[str, object] = {
            "order": r["order"], "scenario": r["scenario"], "instance": r["instance"],
            "overrides": ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "(instance as is)",
        }
        row.update({f"set.{k}": r["overrides"].get(k) for k in set_keys})
        row.update(status=r["status"], error=r["error"] or None)
        obj = (s or {}).get("objective") or {}
        row.update(objective_total=obj.get("total"), objective_unit=obj.get("unit"),
                   transport_eur_per_yr=(s or {}).get("transport_eur_per_yr"),
                   transport_tkm_per_yr=(s or {}).get("transport_tkm_per_yr"),
                   land_take_ha=(s or {}).get("land_take_ha"))
        progs = (s or {}).get("programmes") or {}
        for pid, sizes in programmes.items():
            p = progs.get(pid)
            row[f"facilities.{pid}"] = None if p is None else p["facilities"]
            for size in sizes:
                row[f"count.{pid}.{size}"] = None if p is None else p["count_per_size"].get(size, 0)
            row[f"land_take_ha.{pid}"] = None if p is None else p["land_take_ha"]
            row[f"tkm_per_yr.{pid}"] = None if p is None else p["tkm_per_yr"]
        timings = (s or {}).get("timings_s") or {}
        row.update(gap=(s or {}).get("gap"), instance_hash=(s or {}).get("instance_hash"),
                   result_dir=f"{SCENARIOS_DIR}/{r['scenario']}" if s else None)
        solved_s = (timings.get("total_before_export") or 0) + (timings.get("export") or 0)
        row.update(time_s=solved_s if s else r.get("time_s"), solve_s=timings.get("solve"),
                   resumed=bool(r["resumed"]), threads=r["threads"], worker=r["worker"])
        rows.append(row)
    table = pd.DataFrame(rows)
    for col in table.columns:
        if col.startswith(("facilities.", "count.")) or col in ("order", "threads"):
            table[col] = table[col].astype("Int64")
        elif col.startswith(("land_take_ha", "tkm_per_yr.", "objective_total", "transport_", "gap", "time_s",
                             "solve_s")):
            table[col] = table[col].astype("float64")
        elif col not in ("resumed",):
            table[col] = table[col].astype("string")
    return table


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The table without its execution columns: equal for the same sweep, whatever the workers or resumes."""
    return table.drop(columns=[c for c in EXECUTION_COLUMNS if c in table.columns]).reset_index(drop=True)


def write_outputs(result: SweepResult) -> dict[str, Path]:
    """Write the comparison table (CSV, Parquet), the two plots and ``sweep.json``; each file atomically."""
    out = result.out_dir
    files = {"csv": out / TABLE_CSV, "parquet": out / TABLE_PARQUET, "tradeoff_png": out / PLOT_TRADEOFF,
             "facilities_png": out / PLOT_FACILITIES, "manifest": out / MANIFEST}
    table = result.table
    write_atomic(files["csv"], lambda p: table.to_csv(p, index=False))
    write_atomic(files["parquet"], lambda p: table.to_parquet(p, index=False))
    write_atomic(files["tradeoff_png"], lambda p: plot_tradeoff(table, result.sweep).savefig(p, dpi=150))
    write_atomic(files["facilities_png"], lambda p: plot_facilities(table, result.sweep).savefig(p, dpi=150))
    manifest = {
        "format": SWEEP_FORMAT, "format_version": 1, "status": "interrupted" if result.interrupted else "done",
        "sweep": result.sweep.name, "title": result.sweep.title, "file": str(result.sweep.path),
        "file_sha256": result.sweep.file_sha256, "mode": result.mode, "workers": result.workers,
        "threads_per_scenario": result.threads_per_scenario, "wall_s": round(result.wall_s, 3),
        "interrupted": result.interrupted, "scenarios": len(table),
        "solved": int(table["result_dir"].notna().sum()), "resumed": int(table["resumed"].sum()),
        "failed": table.loc[table["result_dir"].isna(), ["scenario", "status", "error"]].to_dict("records"),
    }
    write_atomic(files["manifest"], lambda p: p.write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                                          encoding="utf-8"))
    return files


def _transport_axis(table: pd.DataFrame) -> tuple[str, str, float]:
    """EUR/yr when every solved scenario has it, else t·km/yr (an objective = tkm scenario has no EUR)."""
    solved = table[table["result_dir"].notna()]
    if len(solved) and solved["transport_eur_per_yr"].notna().all():
        return "transport_eur_per_yr", "transport cost (thousand EUR/yr)", 1e3
    return "transport_tkm_per_yr", "transport (million t·km/yr)", 1e6


def plot_tradeoff(table: pd.DataFrame, sweep: Sweep):  # noqa: ANN201 - matplotlib Figure
    """Land take (ha) against transport cost per scenario.

    Each point carries the number(s) of its scenario(s) (scenarios with the same result share a point); the key on
    the right gives the names, failed scenarios with their status.
    """
    from matplotlib.figure import Figure

    col, xlabel, scale = _transport_axis(table)
    solved = table[table["result_dir"].notna()]
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax = fig.add_subplot()
    groups: dict[tuple[float, float], list[int]] = {}
    for _, r in solved.iterrows():
        key = (round(float(r[col]) / scale, 6), round(float(r["land_take_ha"]), 6))
        groups.setdefault(key, []).append(int(r["order"]))
    for (x, y), orders in groups.items():
        ax.scatter([x], [y], s=40 + 15 * (len(orders) - 1), color="#1f77b4", zorder=3)
        ax.annotate(",".join(map(str, orders)), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=8,
                    fontweight="bold")
    xs, ys = [k[0] for k in groups], [k[1] for k in groups]
    if xs and min(xs) > 0 and max(xs) / min(xs) > 30:  # scenarios of very different programmes: log axes
        ax.set_xscale("log")
        if min(ys) > 0 and max(ys) / min(ys) > 30:
            ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("land take (ha)")
    ax.grid(True, alpha=0.3)
    ax.margins(x=0.12, y=0.12)
    ax.set_title(f"{sweep.title or sweep.name}: land take vs transport", fontsize=10)
    key_lines = [f"{int(r.order):>2}  {r.scenario}" + ("" if pd.notna(r.result_dir) else f"  ({r.status})")
                 for r in table.itertuples()]
    ax.text(1.02, 1.0, "\n".join(key_lines), transform=ax.transAxes, fontsize=8, va="top", ha="left",
            family="monospace")
    return fig


def plot_facilities(table: pd.DataFrame, sweep: Sweep):  # noqa: ANN201 - matplotlib Figure
    """Facilities per programme per scenario: bars grouped per scenario (one per programme it places), stacked by
    size, with the counts written on the bars; a failed scenario shows its status instead."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    programmes = [c.removeprefix("facilities.") for c in table.columns if c.startswith("facilities.")]
    sizes = {pid: [c.split(".", 2)[2] for c in table.columns if c.startswith(f"count.{pid}.")] for pid in programmes}
    n = len(table)
    fig = Figure(figsize=(max(6.0, 0.9 * n + 3), 5.5), layout="constrained")
    ax = fig.add_subplot()
    palette = colormaps["tab10"]
    labelled: set[str] = set()
    for i, (_, r) in enumerate(table.iterrows()):
        if pd.isna(r["result_dir"]):
            ax.text(i, 0, str(r["status"]), rotation=90, ha="center", va="bottom", fontsize=8, color="#a00")
            continue
        present = [pid for pid in programmes if pd.notna(r[f"facilities.{pid}"])]
        width = 0.8 / max(1, len(present))
        for j, pid in enumerate(present):
            x = i + (j - (len(present) - 1) / 2) * width
            bottom = 0.0
            colour = palette(programmes.index(pid) % 10)
            for k, size in enumerate(sizes[pid]):
                count = float(r[f"count.{pid}.{size}"])
                if count <= 0:
                    continue
                shade = 1.0 - 0.55 * k / max(1, len(sizes[pid]) - 1)
                label = f"{pid}: {size}"
                ax.bar(x, count, width, bottom=bottom, color=colour, alpha=shade, edgecolor="white",
                       label=None if label in labelled else label)
                labelled.add(label)
                ax.text(x, bottom + count / 2, f"{count:.0f}", ha="center", va="center", fontsize=7)
                bottom += count
    ax.set_xticks(np.arange(n), table["scenario"].astype(str), rotation=35, ha="right", fontsize=8)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylabel("facilities")
    ax.set_title(f"{sweep.title or sweep.name}: facilities per programme and size", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    if labelled:
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda q: (programmes.index(labels[q].split(":")[0]), labels[q]))
        ax.legend([handles[q] for q in order], [labels[q] for q in order], fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
    return fig


def render_table(result: SweepResult):  # noqa: ANN201 - rich Table
    """A terminal summary of the comparison table (the CSV/Parquet hold every column)."""
    from rich.table import Table

    table = result.table
    col, label, scale = _transport_axis(table)
    out = Table(title=f"sweep {result.sweep.name} — {len(table)} scenarios, {result.mode}, "
                      f"{result.workers} workers × {result.threads_per_scenario} solver threads, "
                      f"{result.wall_s:.1f} s")
    for name in ("scenario", "status", label, "land take (ha)", "facilities", "gap", "time (s)", "note"):
        out.add_column(name, justify="right" if name not in ("scenario", "status", "note", "facilities") else "left")
    programmes = [c.removeprefix("facilities.") for c in table.columns if c.startswith("facilities.")]
    for _, r in table.iterrows():
        solved = pd.notna(r["result_dir"])
        counts = []
        for pid in programmes:
            if solved and pd.notna(r[f"facilities.{pid}"]):
                sizes = [c for c in table.columns if c.startswith(f"count.{pid}.")]
                per = " + ".join(f"{int(r[c])} {c.split('.', 2)[2]}" for c in sizes if pd.notna(r[c]) and r[c] > 0)
                counts.append(f"{pid} {int(r[f'facilities.{pid}'])}" + (f" ({per})" if per else ""))
        note = "resumed" if r["resumed"] else ""
        if not solved:
            note = str(r["error"])
        out.add_row(str(r["scenario"]), str(r["status"]),
                    f"{r[col] / scale:,.1f}" if solved else "", f"{r['land_take_ha']:.1f}" if solved else "",
                    "; ".join(counts), "" if pd.isna(r["gap"]) else f"{100 * r['gap']:.3f}%",
                    "" if pd.isna(r["time_s"]) else f"{r['time_s']:.1f}", note)
    return out
