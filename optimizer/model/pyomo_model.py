"""Formulation: a :class:`~optimizer.problem.LocationProblem` in, a Pyomo model out.

The Pyomo model is the readable reference formulation and the door to any solver Pyomo knows. Index sets are
plain integer ranges over the problem's arrays; per-client and per-option groupings are precomputed once with
numpy (CSR-style offsets), so building is linear in the number of arcs.

Formulation (strong linking, as in the facility-location literature)::

    min  Σ_a c_a x_a + Σ_j f_j y_j
    s.t. Σ_{a∈A(i)} x_a = 1                      every client fully served
         x_a ≤ y_{j(a)}                           serve only from open options
         Σ_{a∈A(j)} d_i x_a ≤ Q_j y_j             capacity (finite Q only)
         L_r ≤ Σ_{j∈R_r} y_j ≤ U_r                count rows
         Σ_{j∈S(s)} area_j y_j ≤ free_s           land per site (finite free land only)
         y_j = 1                                  required options
         x_a ∈ {0,1} (single source) or [0,1];  y_j ∈ {0,1}
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from optimizer.model.rows import land_rows
from optimizer.problem import LocationProblem


def group_offsets(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Order and offsets that list, for each group g, the positions where ``keys == g``.

    Returns ``(order, start)`` with ``order[start[g]:start[g+1]]`` the positions of group g.
    """
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(counts)])
    return order, start


def build_pyomo_model(problem: LocationProblem) -> pyo.ConcreteModel:
    """Build the Pyomo model of ``problem`` (see module docstring for the formulation)."""
    problem.check_shapes()
    n, m, k = problem.n_clients, problem.n_options, problem.n_arcs
    arc_cost = problem.arc_cost.tolist()
    option_cost = problem.option_cost().tolist()
    demand = problem.demand
    by_client, client_start = group_offsets(problem.arc_client, n)
    by_option, option_start = group_offsets(problem.arc_option, m)
    arc_option = problem.arc_option.tolist()

    model = pyo.ConcreteModel(name=problem.name)
    model.J = pyo.RangeSet(0, m - 1)
    model.A = pyo.RangeSet(0, k - 1)
    model.y = pyo.Var(model.J, within=pyo.Binary)
    model.x = pyo.Var(model.A, within=pyo.Binary if problem.single_source else pyo.UnitInterval)

    model.transport = pyo.Expression(expr=sum(arc_cost[a] * model.x[a] for a in range(k)))
    model.opening = pyo.Expression(expr=sum(option_cost[j] * model.y[j] for j in range(m)))
    model.objective = pyo.Objective(expr=model.transport + model.opening, sense=pyo.minimize)

    model.assign = pyo.Constraint(
        pyo.RangeSet(0, n - 1),
        rule=lambda mdl, i: sum(mdl.x[int(a)] for a in by_client[client_start[i] : client_start[i + 1]]) == 1,
    )
    model.link = pyo.Constraint(model.A, rule=lambda mdl, a: mdl.x[a] <= mdl.y[arc_option[a]])

    finite_cap = [j for j in range(m) if np.isfinite(problem.capacity[j])]
    arc_demand = demand[problem.arc_client]

    def capacity_rule(mdl: pyo.ConcreteModel, j: int) -> pyo.Expression:
        arcs = by_option[option_start[j] : option_start[j + 1]]
        load = sum(float(arc_demand[a]) * mdl.x[int(a)] for a in arcs)
        return load <= float(problem.capacity[j]) * mdl.y[j]

    model.capacity = pyo.Constraint(finite_cap, rule=capacity_rule)

    counts = problem.counts.matrix.tocsr()

    def count_rule(mdl: pyo.ConcreteModel, r: int) -> pyo.Expression:
        members = counts.indices[counts.indptr[r] : counts.indptr[r + 1]]
        total = sum(mdl.y[int(j)] for j in members)
        lo, up = problem.counts.lower[r], problem.counts.upper[r]
        if lo == up:
            return total == float(lo)
        return (float(lo) if np.isfinite(lo) else None, total, float(up) if np.isfinite(up) else None)

    model.count = pyo.Constraint(range(counts.shape[0]), rule=count_rule)

    land = land_rows(problem)
    row_of_site = {int(site): r for r, site in enumerate(land.sites)}

    def land_rule(mdl: pyo.ConcreteModel, s: int) -> pyo.Expression:
        r = row_of_site[s]
        members = land.matrix.indices[land.matrix.indptr[r] : land.matrix.indptr[r + 1]]
        used = sum(float(problem.area_m2[j]) * mdl.y[int(j)] for j in members)
        return used <= float(problem.site_free_m2[s])

    model.land = pyo.Constraint([int(s) for s in land.sites], rule=land_rule)

    for j in np.flatnonzero(problem.required_mask()):
        model.y[int(j)].fix(1)
    return model


def extract_solution(model: pyo.ConcreteModel, problem: LocationProblem) -> tuple[np.ndarray, np.ndarray]:
    """Read ``(open_options, arc_share)`` from a solved Pyomo model, rounding integer noise."""
    y = np.array([pyo.value(model.y[j], exception=False) or 0.0 for j in range(problem.n_options)])
    x = np.array([pyo.value(model.x[a], exception=False) or 0.0 for a in range(problem.n_arcs)])
    open_options = y > 0.5
    x = np.clip(x, 0.0, 1.0)
    if problem.single_source:
        x = np.where(x > 0.5, 1.0, 0.0)
    else:
        x[np.abs(x) < 1e-9] = 0.0
    return open_options, x
