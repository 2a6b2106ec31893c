"""The two pictures of ``siting sensitivity``: the tornado chart and the robust-site map (matplotlib Figures).

Both take plain tables (:func:`optimizer.studies.sensitivity.tornado_rows`,
:func:`optimizer.studies.sensitivity.robust_sites`) and return a Figure; the caller writes it (atomically).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from optimizer.settings import SENSITIVITY_RARE_SHARE, SENSITIVITY_ROBUST_SHARE

LOW_COLOUR, HIGH_COLOUR = "#3182bd", "#e6550d"
CLASS_STYLE = {  # robust-site classes: colour and label
    "robust": ("#1a9850", f"robust: chosen in ≥ {100 * SENSITIVITY_ROBUST_SHARE:.0f} % of the variants"),
    "often": ("#fdae61", f"chosen in {100 * SENSITIVITY_RARE_SHARE:.0f}–{100 * SENSITIVITY_ROBUST_SHARE:.0f} %"),
    "rare": ("#d73027", f"rare: chosen in < {100 * SENSITIVITY_RARE_SHARE:.0f} %"),
}
PROGRAMME_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_tornado(rows: pd.DataFrame, base: pd.DataFrame, title: str):  # noqa: ANN201 - matplotlib Figure
    """Objective (left) and land take (right) at each assumption's low and high value, against the base run.

    One horizontal band per assumption, largest objective swing on top; a bar runs from the base value to the
    variant's, blue for the low value of the assumption, orange for the high one, with the change written at its
    end. A variant that did not solve shows its status instead of a bar.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    n = max(len(rows), 1)
    fig = Figure(figsize=(12, 1.2 + 0.65 * n), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    unit = str(base["objective_unit"].iat[0]) if len(base) and pd.notna(base["objective_unit"].iat[0]) else ""
    panels = (("objective", f"objective ({unit})", "objective_total"), ("land_take", "land take (ha)", "land_take_ha"))
    labels = [f"{r.assumption}\n{r.low:g} … {r.high:g} {r.unit}".strip() for r in rows.itertuples()]
    y = np.arange(len(rows))[::-1]
    for ax, (key, xlabel, base_col) in zip(axes, panels, strict=True):
        centre = float(base[base_col].iat[0]) if len(base) and pd.notna(base[base_col].iat[0]) else math.nan
        cols = ("objective_low", "objective_high") if key == "objective" else ("land_take_low_ha", "land_take_high_ha")
        spread = np.nanmax(np.abs(rows[list(cols)].to_numpy(float) - centre)) if len(rows) else 0.0
        spread = spread if np.isfinite(spread) and spread > 0 else max(abs(centre) * 0.01, 1e-9)
        for yi, r in zip(y, rows.itertuples(), strict=True):
            for col, colour, status, dy in ((cols[0], LOW_COLOUR, r.status_low, 0.18),
                                            (cols[1], HIGH_COLOUR, r.status_high, -0.18)):
                value = getattr(r, col)
                if not np.isfinite(value) or not np.isfinite(centre):
                    ax.text(centre if np.isfinite(centre) else 0, yi + dy, f" {status or 'not solved'}",
                            va="center", fontsize=7, color="#a50f15")
                    continue
                ax.barh(yi + dy, value - centre, left=centre, height=0.34, color=colour)
                change = value - centre
                text = (f"{change:+,.0f}" if key == "objective" else f"{change:+,.2f}")
                if key == "objective" and centre:
                    text += f" ({100 * change / centre:+.1f} %)"
                ax.text(value + (0.02 * spread if change >= 0 else -0.02 * spread), yi + dy, text, va="center",
                        ha="left" if change >= 0 else "right", fontsize=7)
        if np.isfinite(centre):
            ax.axvline(centre, color="#333333", lw=1)
            ax.set_xlim(centre - 1.8 * spread, centre + 1.8 * spread)
        ax.set_xlabel(xlabel + (f"; base {centre:,.2f}" if np.isfinite(centre) else ""))
        ax.grid(True, axis="x", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"))
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[0].legend(handles=[Patch(color=LOW_COLOUR, label="assumption at its low value"),
                            Patch(color=HIGH_COLOUR, label="assumption at its high value")],
                   fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False)
    fig.suptitle(f"{title} — one at a time (tornado)", fontsize=11)
    return fig


def plot_robust_sites(robust: pd.DataFrame, outline, title: str):  # noqa: ANN001, ANN201 - shapely, Figure
    """Sites by how often the variants choose them, on the outline of Flanders (EPSG:31370).

    Colour: robust / often / rare (``settings.SENSITIVITY_ROBUST_SHARE``, ``SENSITIVITY_RARE_SHARE``); marker
    shape: the programme; marker size grows with the share of variants. Sites no variant chose are not drawn.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(12, 5), layout="constrained")
    ax = fig.add_subplot()
    if outline is not None:
        polys = getattr(outline, "geoms", [outline])
        for poly in polys:
            ax.fill(*poly.exterior.xy, facecolor="#f5f5f5", edgecolor="#969696", lw=0.8, zorder=1)
            for hole in poly.interiors:  # Brussels
                ax.fill(*hole.xy, facecolor="white", edgecolor="#969696", lw=0.6, zorder=1)
    programmes = list(dict.fromkeys(robust["programme"].astype(str)))
    handles = []
    for i, pid in enumerate(programmes):
        marker = PROGRAMME_MARKERS[i % len(PROGRAMME_MARKERS)]
        sel = robust[robust["programme"].astype(str) == pid]
        # a site several programmes share would hide one marker under the other: offset them slightly
        dx = (i - (len(programmes) - 1) / 2) * 1200.0
        ax.scatter(sel["x"] + dx, sel["y"], s=25 + 110 * sel["share"], marker=marker,
                   c=[CLASS_STYLE[c][0] for c in sel["class"]], edgecolors="black", linewidths=0.5, zorder=3)
        handles.append(Line2D([], [], marker=marker, color="white", markerfacecolor="#bdbdbd",
                              markeredgecolor="black", markersize=8, label=pid))
    for cls, (colour, label) in CLASS_STYLE.items():
        n = int((robust["class"] == cls).sum())
        handles.append(Line2D([], [], marker="o", color="white", markerfacecolor=colour, markeredgecolor="black",
                              markersize=8, label=f"{label} ({n})"))
    variants = int(robust["variants"].iat[0]) if len(robust) else 0
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0),
              title=f"{variants} solved variants", title_fontsize=8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{title} — robust sites", fontsize=11)
    ax.text(0.0, -0.02, "EPSG:31370 (Belgian Lambert 72); outline of Flanders simplified to 250 m "
            "(instances/flanders/build_outline.py)", transform=ax.transAxes, fontsize=7, color="#555555", va="top")
    return fig
