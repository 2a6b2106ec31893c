"""Equity figures of a result: how far demand lives from the facility that serves it.

Planners ask the same of every scenario ("how far is the farthest municipality from its bank?"), whatever model
produced it, so these figures take only distances and demands, not a model: the largest distance, the
demand-weighted 95th percentile and mean, and the share of demand within each of a set of distances (the run
parameter ``equity_within_km``, default :data:`optimizer.settings.EQUITY_WITHIN_KM`, plus the service distance of
every coverage programme). Every result kind carries them in ``summary.json`` under ``equity``: per programme of a
named instance, for the clients of a matrix instance (``all``), for the collection flows of a plastics chain
(``sorting``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.settings import EQUITY_WITHIN_KM


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Smallest value ``v`` such that at least a share ``q`` of the total weight lies at ``≤ v``.

    Parameters
    ----------
    values, weights
        Equal-length arrays; weights ≥ 0 with a positive total.
    q
        Share in ``[0, 1]``.
    """
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(np.asarray(weights, float)[order])
    total = cum[-1]
    k = int(np.searchsorted(cum, q * total - 1e-12 * total, side="left"))  # round-off must not skip a value
    return float(np.asarray(values, float)[order][min(k, len(order) - 1)])


def equity_figures(distance_km: np.ndarray, demand: np.ndarray,
                   within_km: tuple[float, ...] | list[float] = EQUITY_WITHIN_KM) -> dict:
    """Maximum, demand-weighted 95th percentile and mean distance, and the demand share within each distance.

    Parameters
    ----------
    distance_km
        Distance from each piece of demand (a client, or a client's share on one allocation) to the facility that
        serves it, in km (or the result's distance unit); ``inf`` = not served.
    demand
        Demand of each piece (t/yr, residents, ...), ≥ 0; pieces without demand do not count.
    within_km
        Distances for ``share_within``.

    Returns
    -------
    dict
        ``max_km`` (over pieces with demand), ``p95_km`` (95 % of the demand is served at most this far),
        ``mean_km`` (demand-weighted), ``unserved_share`` (demand no facility serves) and ``share_within``
        (``{"<km>": share}``). The distances are ``None`` when some demand is unserved and they would be infinite.
    """
    d = np.asarray(distance_km, float)
    w = np.asarray(demand, float)
    live = w > 0
    within = sorted({float(t) for t in within_km})
    total = float(w[live].sum())
    if total <= 0:
        return {"max_km": 0.0, "p95_km": 0.0, "mean_km": 0.0, "unserved_share": 0.0,
                "share_within": {f"{t:g}": 1.0 for t in within}}
    d, w = d[live], w[live]
    served = np.isfinite(d)

    def finite(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    return {
        "max_km": finite(d.max()),
        "p95_km": finite(weighted_quantile(d, w, 0.95)),
        "mean_km": finite(np.dot(d[served], w[served]) / total) if served.all() else None,
        "unserved_share": float(w[~served].sum() / total),
        "share_within": {f"{t:g}": float(w[d <= t].sum() / total) for t in within},
    }


def within_distances(parameters: dict, extra: list[float] | tuple[float, ...] = ()) -> list[float]:
    """The distances of ``share_within``: the run parameter ``equity_within_km`` (comma-separated km, or the
    settings' default) plus ``extra`` (the coverage programmes' service distances)."""
    text = parameters.get("equity_within_km")
    base = [float(v) for v in str(text).split(",") if v.strip()] if text else list(EQUITY_WITHIN_KM)
    return sorted({*base, *(float(e) for e in extra if e is not None)})


def allocation_equity(allocations: pd.DataFrame, demand_by_client: pd.Series, within: list[float]) -> dict:
    """Equity of one programme from its allocation rows (``demand_id``, ``km``, ``tonnes``) and the demand of every
    client (index: ``demand_id``): allocation rows weighted by the demand they carry, unserved clients at ``inf``."""
    served = allocations.groupby("demand_id")["tonnes"].sum()
    left = (demand_by_client - served.reindex(demand_by_client.index, fill_value=0.0)).clip(lower=0.0)
    left = left[left > 1e-9 * max(1.0, float(demand_by_client.max())) if len(left) else left > 0]
    distance = np.concatenate([allocations["km"].to_numpy(float), np.full(len(left), np.inf)])
    weight = np.concatenate([allocations["tonnes"].to_numpy(float), left.to_numpy(float)])
    return equity_figures(distance, weight, within)


def equity_lines(equity: dict) -> list[str]:
    """One line of text per programme: ``max, p95, mean km; share within each distance`` (terminal, Markdown)."""
    unit = equity.get("unit", "km")
    lines = []
    for name, e in (equity.get("by_programme") or {}).items():
        lines.append(f"{name}: max {_km(e.get('max_km'))}, p95 {_km(e.get('p95_km'))}, mean {_km(e.get('mean_km'))} "
                     f"{unit}; within " + ", ".join(f"{k} {unit} {100 * v:.0f} %" for k, v in
                                                   (e.get("share_within") or {}).items())
                     + (f"; unserved {100 * e['unserved_share']:.1f} %" if e.get("unserved_share") else ""))
    return lines


def _km(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"
