"""The formulation of :mod:`optimizer.model.pyomo_model` as sparse matrices, for HiGHS (vectorised).

The model is assembled from whole index arrays (one block of rows per constraint family, stacked as triplets and
sorted into column-wise arrays with numpy, :class:`~optimizer.model.mip_arrays.CscArrays`; land, count and link rows from
:mod:`optimizer.model.rows`) and handed to HiGHS column-wise (:func:`optimizer.solver.highs.make_highs`), never
element by element (build times: ``benchmarks/perf/README.md``). No scipy: a small solve would pay more for
importing it than for building and solving the model (``matrix.tocsc()`` gives the scipy matrix where one is wanted).

Columns are ``[x_0 … x_{k-1}, y_0 … y_{m-1}]`` (arc shares, then option open-variables). Rows, in order::

    assign    Σ_{a∈A(i)} x_a = 1                                  n rows
    link      x_a − min(1, Q_j/d_i)·y_j ≤ 0                        k rows  (strong linking)
    capacity  Σ_{a∈A(j)} d_i x_a − Q_j y_j ≤ 0                     finite Q_j only
    counts    L_r ≤ Σ_{j∈R_r} y_j ≤ U_r
    land      Σ_{j∈S(s)} area_j y_j ≤ free_s                       finite free land only
    cover     Σ_j min(Q_j, D) y_j ≥ D,  D = Σ_i d_i                 aggregated capacity (capacitated only)

``min(1, Q_j/d_i)`` and the aggregated capacity row are valid strengthenings (they cut no integer solution); with
``strengthen=False`` the link coefficient is 1 and the cover row is omitted, which is exactly the Pyomo reference
model. Required options get the column bound ``y_j = 1``.
"""

from __future__ import annotations

import numpy as np

from optimizer.model.rows import count_bounds, land_rows, link_coefficients
from optimizer.problem import LocationProblem
from optimizer.solver.highs import INF, CscArrays, MatrixModel


def build_matrices(problem: LocationProblem, *, strengthen: bool = True) -> MatrixModel:
    """Assemble the formulation of ``problem`` as a :class:`MatrixModel` (see the module docstring).

    Parameters
    ----------
    problem
        The array problem; costs in ``problem.cost_unit``, demand in flow units, areas in m².
    strengthen
        Use the link coefficient ``min(1, Q_j/d_i)`` and add the aggregated capacity row.

    Returns
    -------
    MatrixModel
        Column-wise arrays with ``n_x = problem.n_arcs`` arc columns followed by ``problem.n_options`` columns.
    """
    problem.check_shapes()
    n, m, k = problem.n_clients, problem.n_options, problem.n_arcs
    ac = np.asarray(problem.arc_client, dtype=np.int64)
    ao = np.asarray(problem.arc_option, dtype=np.int64)
    demand = np.asarray(problem.demand, dtype=float)
    capacity = np.asarray(problem.capacity, dtype=float)
    arc_demand = demand[ac]
    arcs = np.arange(k)
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []  # (rows, columns, values, n_rows) per family
    lowers: list[np.ndarray] = []
    uppers: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, lo, up) -> None:
        blocks.append((np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(vals, float), int(n_rows)))
        lowers.append(np.broadcast_to(np.asarray(lo, float), (n_rows,)))
        uppers.append(np.broadcast_to(np.asarray(up, float), (n_rows,)))
        names.append(name)

    add("assign", ac, arcs, np.ones(k), n, 1.0, 1.0)

    link_coef = link_coefficients(problem, strengthen=strengthen)
    add(
        "link",
        np.concatenate([arcs, arcs]),
        np.concatenate([arcs, k + ao]),
        np.concatenate([np.ones(k), -link_coef]),
        k,
        -INF,
        0.0,
    )

    capped = np.flatnonzero(np.isfinite(capacity))
    row_of = np.full(m, -1)
    row_of[capped] = np.arange(len(capped))
    on_capped = row_of[ao] >= 0
    add(
        "capacity",
        np.concatenate([row_of[ao[on_capped]], np.arange(len(capped))]),
        np.concatenate([arcs[on_capped], k + capped]),
        np.concatenate([arc_demand[on_capped], -capacity[capped]]),
        len(capped),
        -INF,
        0.0,
    )

    counts = problem.counts
    add("counts", counts.row, k + counts.col, counts.value.astype(float), counts.n_rows, *count_bounds(problem, INF))

    land = land_rows(problem)
    add("land", land.row, k + land.col, land.value, len(land.sites), -INF, land.free_m2)

    total_demand = float(demand.sum())
    if strengthen and len(capped) and total_demand > 0:
        cover = np.minimum(np.where(np.isfinite(capacity), capacity, total_demand), total_demand)
        nz = np.flatnonzero(cover > 0)
        add("cover", np.zeros(len(nz), dtype=np.int64), k + nz, cover[nz], 1, total_demand, INF)

    starts = np.cumsum([0] + [b[3] for b in blocks])
    matrix = CscArrays.from_triplets(np.concatenate([b[0] + starts[i] for i, b in enumerate(blocks)]),
                                     np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks]),
                                     (int(starts[-1]), k + m))
    row_blocks = {name: slice(int(starts[i]), int(starts[i + 1])) for i, name in enumerate(names)}

    col_lower = np.zeros(k + m)
    col_lower[k + np.flatnonzero(problem.required_mask())] = 1.0
    integrality = np.zeros(k + m, dtype=np.int32)
    integrality[k:] = 1
    if problem.single_source:
        integrality[:k] = 1
    return MatrixModel(
        col_cost=np.concatenate([np.asarray(problem.arc_cost, float), problem.option_cost().astype(float)]),
        col_lower=col_lower,
        col_upper=np.ones(k + m),
        integrality=integrality,
        matrix=matrix,
        row_lower=np.concatenate(lowers),
        row_upper=np.concatenate(uppers),
        n_x=k,
        n_y=m,
        row_blocks=row_blocks,
    )
