"""Matrix results: the tables of a solved matrix instance (no coordinates) and its part of the manifest.

The files keep the layout matrix results have always had (``facilities.csv``: every facility with ``open``;
``assignments.csv``: client, facility, share, cost); the :class:`~optimizer.output.result.Result` tables use the
column names of the other kinds where the meaning is the same (``facility_id``, ``load``, ``n_clients``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.problem import LocationProblem, Solution


def matrix_tables(problem: LocationProblem, solution: Solution) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """``(tables, csv)``: the result tables (open facilities, allocations) and the CSV files."""
    used = np.flatnonzero(solution.arc_share > 1e-9)
    share = solution.arc_share[used]
    a_client, a_option = problem.arc_client[used], problem.arc_option[used]
    assignments = pd.DataFrame({
        "client": problem.client_ids[a_client],
        "facility": problem.option_ids[a_option],
        "share": share,
        "cost": problem.arc_cost[used] * share,
    })
    load = np.bincount(a_option, weights=problem.demand[a_client] * share, minlength=problem.n_options)
    served = np.bincount(a_option, minlength=problem.n_options)
    capacity = np.where(np.isfinite(problem.capacity), problem.capacity, np.nan)
    every = pd.DataFrame({
        "facility": problem.option_ids, "open": np.asarray(solution.open_options, bool),
        "capacity": capacity, "fixed_cost": problem.fixed_cost, "load": load, "n_clients": served,
    })
    open_idx = np.flatnonzero(solution.open_options)
    facilities = every.iloc[open_idx].drop(columns="open").rename(columns={"facility": "facility_id"})
    facilities.insert(1, "programme", problem.option_programme[open_idx].astype(str))
    facilities.insert(2, "site_id", problem.site_ids[problem.option_site[open_idx]].astype(str))
    facilities["utilisation"] = facilities["load"] / facilities["capacity"]
    allocations = assignments.rename(columns={"facility": "facility_id"}).assign(
        demand=problem.demand[a_client] * share)
    return ({"facilities": facilities.reset_index(drop=True), "allocations": allocations},
            {"facilities.csv": every, "assignments.csv": assignments})


def matrix_extras(problem: LocationProblem, solution: Solution, objective_recomputed: float) -> dict:
    """The matrix kind's own keys of ``summary.json`` (the names matrix summaries have always had)."""
    return {
        "open_facilities": int(np.asarray(solution.open_options, bool).sum()),
        "objective_recomputed": float(objective_recomputed),
        "single_source": bool(problem.single_source),
        "source": str(problem.meta.get("source", "")),
    }
