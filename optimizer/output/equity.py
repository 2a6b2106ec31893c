"""Equity figures of a result: how far demand lives from the facility that serves it.

Planners ask the same of every scenario ("how far is the farthest municipality from its bank?"), whatever model
produced it, so these figures take only per-client distances and demands, not a model.
"""

from __future__ import annotations

import numpy as np

DEFAULT_WITHIN_KM: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0)


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


def equity_figures(
    distance_km: np.ndarray,
    demand: np.ndarray,
    within_km: tuple[float, ...] = DEFAULT_WITHIN_KM,
) -> dict[str, float]:
    """Maximum, demand-weighted 95th percentile and mean distance, and the demand share within each threshold.

    Parameters
    ----------
    distance_km
        Distance from each client to the facility that serves it (km; ``inf`` = not served).
    demand
        Demand (or population) of each client, ≥ 0.
    within_km
        Thresholds (km) for ``share_within_<t>km``.

    Returns
    -------
    dict
        ``max_km`` (over clients with positive demand), ``p95_km`` (95 % of demand lives at most this far),
        ``mean_km`` (demand-weighted), ``unserved_share`` and ``share_within_<t>km`` per threshold. Distances are
        ``inf`` when some demand is unserved.
    """
    d = np.asarray(distance_km, float)
    w = np.asarray(demand, float)
    live = w > 0
    total = float(w[live].sum())
    out: dict[str, float] = {}
    if total <= 0:
        out.update(max_km=0.0, p95_km=0.0, mean_km=0.0, unserved_share=0.0)
        out.update({f"share_within_{t:g}km": 1.0 for t in within_km})
        return out
    d, w = d[live], w[live]
    served = np.isfinite(d)
    out["max_km"] = float(d.max())
    out["p95_km"] = weighted_quantile(d, w, 0.95)
    out["mean_km"] = float(np.dot(d[served], w[served]) / total) if served.all() else float("inf")
    out["unserved_share"] = float(w[~served].sum() / total)
    for t in within_km:
        out[f"share_within_{t:g}km"] = float(w[d <= t].sum() / total)
    return out
