"""Synthetic fine-grained instances for tests and benchmarks: generated points with access, and a p-median on them.

The tables come from :mod:`optimizer.data.generate` (seeded); this module adds what needs the layers above the
data: the networks' access attributes of the parcels and a :class:`~optimizer.problem.LocationProblem` with its
k-nearest arc source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data.generate import fine_points
from optimizer.model.arcs import PointArcSource
from optimizer.problem import CountRows, LocationProblem


def fine_instance(
    n_demand: int,
    n_candidates: int,
    *,
    seed: int = 0,
    boundaries: Path | None = None,
    with_access: bool = True,
    municipalities: pd.DataFrame | None = None,
    sites: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demand points and candidate parcels for all of Flanders (:func:`optimizer.data.generate.fine_points`).

    ``with_access`` adds the access attributes of :func:`optimizer.geo.access.access_attributes` to the parcels;
    the other parameters and the returned tables are those of :func:`~optimizer.data.generate.fine_points`.
    """
    demand, candidates = fine_points(n_demand, n_candidates, seed=seed, boundaries=boundaries,
                                     municipalities=municipalities, sites=sites)
    if with_access:
        from optimizer.geo.access import access_attributes
        from optimizer.geo.network_tables import load_network_tables
        from optimizer.geo.zones import load_seaport_areas

        xy = candidates[["x", "y"]].to_numpy(float)
        attrs = access_attributes(load_network_tables(), xy, seaport_areas=load_seaport_areas(), access_xy=xy)
        candidates = pd.concat([candidates, attrs.reset_index(drop=True)], axis=1)
    return demand, candidates


def fine_location_problem(
    demand: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    p: int,
    k: int,
    t_per_weight: float,
    eur_per_tkm: float,
    circuity: float,
    name: str = "fine-flanders",
) -> tuple[LocationProblem, PointArcSource]:
    """A single-programme p-median problem on generated tables, with k-nearest arcs and their cost source.

    Every demand point sends ``weight · t_per_weight`` t/yr to one of ``p`` facilities; the arc cost is
    tonnes × straight km × ``circuity`` × ``eur_per_tkm``. Only the ``k`` nearest candidates of each point get an
    arc. Solve it with :func:`optimizer.solver.sparsified.solve_sparsified` ``(problem, source)``, never as it is: with a
    small ``k`` and few facilities a point's ``k`` nearest candidates may all stay closed, so the fixed k-nearest
    problem can be infeasible or lose the optimum; the certificate grows ``k`` until neither can happen.

    Returns
    -------
    problem : LocationProblem
        The p-median with the first ``k`` nearest arcs per point.
    source : optimizer.model.arcs.PointArcSource
        The cost of every point × candidate pair (k-nearest by cKDTree, dense rows on demand).
    """
    n, m = len(demand), len(candidates)
    tonnes = demand["weight"].to_numpy(float) * t_per_weight
    source = PointArcSource(
        client_xy=demand[["x", "y"]].to_numpy(float),
        option_xy=candidates[["x", "y"]].to_numpy(float),
        client_group=np.zeros(n, np.int64),
        option_group=np.zeros(m, np.int64),
        cost_per_km=tonnes * eur_per_tkm,
        intrazonal_km=np.zeros(n),
        circuity=circuity,
    )
    arcs = source.nearest(k)
    problem = LocationProblem(
        name=name,
        client_ids=demand["point_id"].to_numpy(),
        demand=tonnes,
        site_ids=candidates["site_id"].to_numpy(),
        site_free_m2=np.full(m, np.inf),
        option_ids=candidates["site_id"].to_numpy(),
        option_site=np.arange(m),
        option_programme=np.full(m, "facility"),
        option_size=np.full(m, "single"),
        capacity=np.full(m, np.inf),
        fixed_cost=np.zeros(m),
        area_m2=np.zeros(m),
        arc_client=arcs.arc_client,
        arc_option=arcs.arc_option,
        arc_cost=arcs.arc_cost,
        arc_km=arcs.arc_km,
        counts=CountRows.from_groups([np.arange(m)], [p], [p], [f"exactly {p} facilities"], m),
        single_source=True,
        meta={"k": int(k)},
    )
    return problem, source
