"""Benchmark results as tables: Markdown per instance, a summary per set, CSV + Markdown files, provenance."""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.bench.baselines import BASELINE_LABELS, BASELINES


def _fmt(value: object, digits: int = 12) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.{digits}g}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """The results as a Markdown table: one row per instance, ours then each baseline's time and ratio."""
    present = [b for b in BASELINES if f"{b}_time_s" in frame.columns]
    head = ["instance", "n×m", "known", "ours", "gap", "status", "time s", "match"]
    for b in present:
        head += [f"{b} s", f"{b} status", f"{b}/ours"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in frame.to_dict("records"):
        known = _fmt(r["known"]) + ("" if r.get("known_kind") == "optimal" else " (ub)")
        cells = [str(r["instance"]), f"{r['n_clients']}×{r['n_facilities']}", known, _fmt(r["objective"]),
                 f"{r['gap']:.2e}" if math.isfinite(r["gap"]) else "inf", str(r["status"]), f"{r['time_s']:.2f}",
                 f"**{r['match']}**" if str(r["match"]).startswith("MISMATCH") else str(r["match"])]
        for b in present:
            t = r.get(f"{b}_time_s")
            ok = isinstance(t, float) and math.isfinite(t)
            status = r.get(f"{b}_status")
            ratio = r.get(f"{b}_ratio")
            cells += [f"{t:.2f}" if ok else "", status if isinstance(status, str) else "",
                      f"{ratio:.2f}" if ok and isinstance(ratio, float) and math.isfinite(ratio) else ""]
        lines.append("| " + " | ".join(c.replace("|", "/") if isinstance(c, str) else c for c in cells) + " |")
    return "\n".join(lines) + "\n"


def summary(frame: pd.DataFrame) -> dict:
    """Counts and totals of one results table (matches, open instances, worst gap, times, baseline ratios)."""
    match = frame["match"].astype(str)
    out = {
        "instances": len(frame),
        "match": int((match == "yes").sum()),
        "better": int((match == "better").sum()),
        "open": int((match == "open").sum()),
        "mismatch": int(match.str.startswith("MISMATCH").sum()),
        "optimal": int((frame["status"] == "optimal").sum()),
        "max_gap": float(frame["gap"].replace(np.inf, np.nan).max()) if len(frame) else math.nan,
        "time_s": float(frame["time_s"].sum()),
    }
    for b in BASELINES:
        if f"{b}_time_s" not in frame.columns:
            continue
        ran = frame[f"{b}_time_s"].notna()
        if not ran.any():
            continue
        ratio = frame.loc[ran, f"{b}_ratio"].astype(float)
        bmatch = frame.loc[ran, f"{b}_match"].astype(str)
        out[b] = {
            "instances": int(ran.sum()),
            "optimal": int((frame.loc[ran, f"{b}_status"] == "optimal").sum()),
            "match": int((bmatch == "yes").sum()),
            "mismatch": int(bmatch.str.startswith("MISMATCH").sum()),
            "time_s": float(frame.loc[ran, f"{b}_time_s"].sum()),
            "ours_time_s": float(frame.loc[ran, "time_s"].sum()),
            "ratio_geomean": float(np.exp(np.log(ratio.clip(lower=1e-9)).mean())),
            "ratio_median": float(ratio.median()),
            "ratio_total": float(frame.loc[ran, f"{b}_time_s"].sum() / max(frame.loc[ran, "time_s"].sum(), 1e-9)),
        }
    return out


def summary_markdown(frame: pd.DataFrame, title: str) -> str:
    """A short Markdown paragraph summarising :func:`summary`."""
    s = summary(frame)
    parts = [f"**{title}**: {s['instances']} instances; {s['optimal']} proven optimal; "
             f"{s['match']} equal the published value" + (f", {s['better']} better than the best known" if s["better"]
                                                         else "")
             + f"; {s['open']} not closed in the time limit (max gap {_fmt(s['max_gap'], 3)}); "
             f"**{s['mismatch']} mismatches**; our total time {s['time_s']:.1f} s."]
    for b in BASELINES:
        if b in s:
            t = s[b]
            parts.append(f"  - {BASELINE_LABELS[b]} on {t['instances']} instances: {t['optimal']} optimal, "
                         f"{t['match']} equal the published value, {t['mismatch']} mismatches; "
                         f"total {t['time_s']:.1f} s "
                         f"vs ours {t['ours_time_s']:.1f} s on the same instances; time ratio baseline/ours: "
                         f"geometric mean {t['ratio_geomean']:.2f}, median {t['ratio_median']:.2f}, "
                         f"total {t['ratio_total']:.2f}.")
    return "\n".join(parts) + "\n"


def write_results(frame: pd.DataFrame, csv_path: Path, title: str | None = None) -> tuple[Path, Path]:
    """Write ``frame`` as CSV and, beside it, a Markdown table (``.md``) with its summary."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(csv_path, index=False)
    return csv_path, write_markdown(frame, csv_path.with_suffix(".md"), title or csv_path.stem)


def write_markdown(frame: pd.DataFrame, md_path: Path, title: str) -> Path:
    """Write the summary and the Markdown table of ``frame`` to ``md_path``."""
    md_path = Path(md_path)
    md_path.write_text(f"# {title}\n\n" + summary_markdown(frame, title) + "\n" + markdown_table(frame))
    return md_path


def environment() -> dict[str, str]:
    """Machine and package versions for the results' provenance."""
    import importlib.metadata as md

    info = {"python": platform.python_version(), "nproc": str(os.cpu_count())}
    for pkg in ("highspy", "pyomo", "pulp", "spopt", "numpy", "scipy", "pandas"):
        try:
            info[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            info[pkg] = "absent"
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), platform.processor())
        mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal"))
        info |= {"cpu": cpu, "ram_gib": f"{mem_kb / 2**20:.1f}"}
    except (OSError, StopIteration):
        info |= {"cpu": platform.processor(), "ram_gib": "?"}
    return info


def result_columns() -> list[str]:
    """Main result columns (baseline columns ``{name}_objective|status|gap|time_s|ratio|match`` follow)."""
    return ["set", "instance", "kind", "n_clients", "n_facilities", "n_arcs", "known", "known_kind", "objective",
            "bound", "gap", "status", "time_s", "match", "verified", "solver"]
