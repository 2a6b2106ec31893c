"""What a result says about its models: coverage per demand unit, the models' own objectives, counts per region.

Pure functions from the compiled problem, the result tables and the solved parts to columns and ``summary.json``
sections (:mod:`optimizer.output.tables` and the pipeline call them):

* :func:`coverage_flags` — per client of a coverage programme whether it is covered (an open facility of its
  programme within the service distance; p-center: served) and whether it is beyond reach (no candidate at all
  within the service distance: the demand unit is too coarse or too remote to be judged at that distance);
* :func:`model_section` — per programme its model, service distance (and the assumption that set it), the model's
  objective in its own unit, bound, gap, covered and beyond-reach demand;
* :func:`region_counts` — open facilities per programme and region (S3c: shops and hubs per centrumstad).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.model.coverage import OBJECTIVE_UNITS
from optimizer.problem import LocationProblem
from optimizer.solver.models import ModelSolution

if TYPE_CHECKING:
    from optimizer.model.formulation import SitingProblem


def nearest_candidate_km(problem: LocationProblem) -> np.ndarray:
    """Per client, the distance to its nearest candidate option over its arcs (``inf`` without arcs)."""
    nearest = np.full(problem.n_clients, np.inf)
    d = np.asarray(problem.arc_km if problem.arc_km is not None else problem.arc_cost, float)
    np.minimum.at(nearest, problem.arc_client, d)
    return nearest


def coverage_flags(nearest_km: np.ndarray, allocated_km: np.ndarray, model: str,
                   service_km: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Per client: covered, and beyond reach of every candidate.

    Parameters
    ----------
    nearest_km
        Distance from each client to its nearest candidate (:func:`nearest_candidate_km`).
    allocated_km
        Distance from each client to the facility it is allocated to (``inf`` when none): for LSCP and MCLP the
        nearest open one, so "covered" is ``allocated_km ≤ service_km``.
    model, service_km
        The programme's coverage model and service distance (km; p-center: an optional cap).
    """
    limit = np.inf if service_km is None else float(service_km)
    allocated_km = np.asarray(allocated_km, float)
    covered = np.isfinite(allocated_km) if model == "pcenter" else allocated_km <= limit
    return covered, np.asarray(nearest_km, float) > limit


def model_section(sp: SitingProblem, tables: object, models: ModelSolution | None) -> dict[str, dict]:
    """Per programme: ``name`` (model), and for a coverage model ``service_km``, ``service_assumption``, ``cover``,
    ``objective`` (in ``objective_unit``), ``bound``, ``gap``, ``status``, ``covered_demand``, ``covered_share``,
    ``beyond_reach_demand`` (in the programme's demand unit)."""
    parts = {pid: part for part in (models.parts if models else []) for pid in part.group.programmes}
    out: dict[str, dict] = {}
    demand = tables.demand
    for prog in sp.instance.programmes:
        entry: dict = {"name": prog.model, "demand_unit": prog.demand_unit, "objective_unit": sp.problem.cost_unit}
        part = parts.get(prog.id)
        if prog.is_coverage:
            covered = demand.get(f"{prog.id}_covered", pd.Series(False, index=demand.index)).astype(bool)
            beyond = demand.get(f"{prog.id}_beyond_reach", pd.Series(False, index=demand.index)).astype(bool)
            weight = demand["population"].astype(float) * sp.instance.assumption(prog.demand_per_inhabitant)
            total = float(weight.sum())
            entry.update({
                "service_km": prog.service_km, "service_assumption": prog.references.get("service_km"),
                "cover": prog.cover, "cover_zero_demand": prog.cover_zero_demand,
                "objective_unit": {"pcenter": "km (largest distance)", "mclp": f"covered {prog.demand_unit}"}.get(
                    prog.model, OBJECTIVE_UNITS.get(prog.model, sp.problem.cost_unit)),
                "covered_demand": float(weight[covered].sum()),
                "covered_share": float(weight[covered].sum() / total) if total > 0 else None,
                "beyond_reach_demand": float(weight[beyond].sum()),
            })
        if part is not None:
            shared = len(part.group.programmes) > 1
            entry.update({  # a group of several programmes has one objective: see summary.json's objective
                "objective": None if shared else _finite(part.solution.objective),
                "bound": None if shared else _finite(part.solution.bound),
                "gap": _finite(part.gap), "status": str(part.status),
                "solved_with": list(part.group.programmes),
            })
            if prog.model == "lscp" and not shared:
                entry["objective_unit"] = "facilities" if prog.lscp_objective == "count" else sp.problem.cost_unit
        out[prog.id] = entry
    return out


def region_counts(facilities: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Open facilities per programme and region: ``{programme: {region: count}}``."""
    if facilities.empty:
        return {}
    counts = facilities.groupby(["programme", "region"]).size()
    return {str(p): {str(r): int(n) for r, n in counts.loc[p].items()} for p in counts.index.unique(level=0)}


def _finite(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None
