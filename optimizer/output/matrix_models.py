"""A matrix instance's model, coverage and equity: the ``clients.csv`` table and the ``model`` and ``equity`` sections.

A matrix instance has no coordinates: the distance of a pair is its cost (``docs/matrix-format.md``; a coverage
model reads the costs as distances, as spopt's ``from_cost_matrix`` does), unless the problem carries ``arc_km``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.model.coverage import OBJECTIVE_UNITS
from optimizer.output.equity import equity_figures
from optimizer.problem import LocationProblem
from optimizer.solver.models import GroupResult


def matrix_model_tables(problem: LocationProblem, part: GroupResult, report: object,
                        ) -> tuple[pd.DataFrame, dict, dict]:
    """``(clients, equity, model)`` of a solved matrix instance.

    ``clients``: one row per client — ``client``, ``demand``, ``facility`` (its largest share; empty when none
    serves it), ``distance``, ``served`` and, for a coverage model, ``covered``. ``equity``: the figures of
    :func:`optimizer.output.equity.equity_figures` over the clients (distance in the costs' unit; ``within`` the
    ``[problem] equity_within`` values and the service distance). ``model``: name, service distance, the model's
    objective, unit, bound and gap as solved and as recomputed by the verifier (``report``: its
    ``objective``, and for a coverage model its recomputed ``covered`` mask).
    """
    settings = problem.meta.get("model") or {}
    share = np.asarray(part.solution.arc_share, float)
    distance = np.asarray(problem.arc_km if problem.arc_km is not None else problem.arc_cost, float)
    order = np.lexsort((-share, problem.arc_client))  # per client, largest share first
    first = np.ones(len(order), bool)
    first[1:] = problem.arc_client[order[1:]] != problem.arc_client[order[:-1]]
    top = order[first & (share[order] > 1e-9)]
    facility = np.full(problem.n_clients, "", dtype=object)
    dist = np.full(problem.n_clients, np.inf)
    facility[problem.arc_client[top]] = problem.option_ids[problem.arc_option[top]]
    dist[problem.arc_client[top]] = distance[top]
    clients = pd.DataFrame({"client": problem.client_ids, "demand": problem.demand, "facility": facility,
                            "distance": np.where(np.isfinite(dist), dist, np.nan), "served": np.isfinite(dist)})
    spec = part.group.spec
    service = None if spec is None else spec.service_km
    if part.coverage is not None:
        clients["covered"] = np.asarray(getattr(report, "covered", part.coverage.covered), bool)
    unit = "km" if problem.arc_km is not None else problem.cost_unit
    within = sorted({*map(float, settings.get("equity_within") or []), *([service] if service is not None else [])})
    equity = {"unit": unit, "weight": "demand", "within_km": within,
              "by_programme": {"all": equity_figures(dist, problem.demand, within)}}
    if problem.arc_km is None and spec is None:
        equity["note"] = ("the matrix has no distances: the figures are each client's cost of service (its whole "
                          "demand), in the cost unit")
    model = {"name": part.group.model, "service": service,
             "objective_unit": OBJECTIVE_UNITS.get(part.group.model, problem.cost_unit) if spec is not None
             else problem.cost_unit,
             "objective": _finite(part.solution.objective), "objective_recomputed": _finite(report.objective),
             "bound": _finite(part.solution.bound), "gap": _finite(part.gap)}
    if spec is not None:
        model.update({"cover": spec.cover, "cover_zero_demand": spec.cover_zero_demand,
                      "covered_demand": float(problem.demand[clients["covered"].to_numpy(bool)].sum())})
        if spec.model == "lscp" and spec.lscp_objective == "cost":
            model["objective_unit"] = problem.cost_unit
    return clients, equity, model


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None
