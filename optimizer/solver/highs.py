"""Vectorised highspy backend: the formulation of :mod:`optimizer.model` as sparse matrices, solved by HiGHS.

The model is assembled from whole index arrays (one block of rows per constraint family, stacked with
:func:`scipy.sparse.vstack`) and handed to ``highspy.Highs.passModel`` column-wise, never element by element.
Building the 1000 × 100 OR-Library ``capa`` model (100 100 columns, 101 100 rows) takes ~0.05 s.

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

:func:`solve_highspy` picks a scheme per problem class (:func:`choose_strategy`, measured in
``benchmarks/perf/README.md``): for uncapacitated problems a heuristic incumbent, the Lagrangian bound,
reduced-cost fixing and a Lagrangian tree (:mod:`optimizer.bounds`); for multi-source capacitated ones the
Lagrangian branch and bound of :mod:`optimizer.cflp_strong`; for single-source capacitated ones the strengthened
rows with a heuristic incumbent (:mod:`optimizer.heuristics`) passed with ``setSolution``. Every path ends in
:func:`finish`, which recomputes the objective from the cleaned arrays and reports the proven bound.

Time limits: all phases of one solve share a :class:`Deadline`; each phase takes a share of what is *left*, tree
nodes stop with it, and HiGHS gets the rest (it is not started when less than :data:`MIN_HIGHS_S` is left and an
incumbent exists). The bound returned at the limit is the best one known (Lagrangian, tree or HiGHS' dual bound).
"""

from __future__ import annotations

import io
import os
import sys
import time
from contextlib import redirect_stdout
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.problem import LocationProblem, Solution, objective_parts

INF = highspy.kHighsInf
SHARE_EPS = 1e-9  # shares below this are solver noise
MIN_HIGHS_S = 0.1  # below this much time left HiGHS is not started when an incumbent is already known
# HiGHS 1.16 does not check its time limit before the root LP: on the reduced pmed35 model (285,000 nonzeros,
# 3.5 s left, load 6) presolve ran 10.9 s, and with presolve off the MIP set-up ran 19 s without an LP iteration.
# With an incumbent in hand, HiGHS is not started with less time left than this many seconds per nonzero.
HIGHS_SETUP_S_PER_NNZ = 3e-5
_BANNER_SHOWN = False  # HiGHS prints its banner at the first construction in a process, on the C-level stdout


def run_lp(h: highspy.Highs) -> str:
    """Solve a (re-)modified LP: ``"optimal"``, ``"infeasible"`` or ``"unknown"``.

    After cost/bound changes HiGHS' warm-started simplex can end in ``kUnknown`` with a perfectly feasible LP
    (seen in the Lagrangian outer problem). Such an outcome proves nothing: it is retried once from scratch, and
    callers must treat a remaining ``"unknown"`` as "no bound" (−inf), never as infeasible (+inf).
    """
    for attempt in range(2):
        if attempt:
            h.clearSolver()
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return "optimal"
        if status == highspy.HighsModelStatus.kInfeasible:
            return "infeasible"
    return "unknown"


def new_highs(log: bool = False) -> highspy.Highs:
    """A ``highspy.Highs`` with console output off unless ``log``.

    HiGHS 1.16 writes "Running HiGHS …" to file descriptor 1 when the first instance of a process is constructed,
    before any option can be set, and Python's ``redirect_stdout`` does not see it. As in Pyomo's HiGHS interface
    (which captures the descriptor), the first construction runs with descriptor 1 pointed at ``/dev/null``
    unless the log is wanted.
    """
    global _BANNER_SHOWN  # once per process, as HiGHS' own flag
    if log or _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    _BANNER_SHOWN = True
    h.setOptionValue("output_flag", bool(log))
    return h


@dataclass(frozen=True)
class Deadline:
    """Wall-clock end of a solve (``perf_counter`` seconds; ``None``: no limit), shared by all its phases.

    Every phase (heuristics, subgradient, tree nodes, HiGHS) asks :meth:`left` instead of owning a fixed
    share of the limit, so the phases together stay within it and HiGHS only gets what is left.
    """

    end: float | None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.perf_counter() + max(float(seconds), 0.0))

    def left(self) -> float | None:
        """Seconds left (≥ 0), ``None`` without a limit."""
        return None if self.end is None else max(0.0, self.end - time.perf_counter())

    def share(self, fraction: float, cap: float | None = None) -> float | None:
        """``fraction`` of the time left, at most ``cap`` (``cap`` alone without a limit)."""
        left = self.left()
        if left is None:
            return cap
        return fraction * left if cap is None else min(cap, fraction * left)

    def expired(self, margin: float = 0.0) -> bool:
        """Whether at most ``margin`` seconds are left."""
        left = self.left()
        return left is not None and left <= margin

    def too_short_for(self, model: MatrixModel) -> bool:
        """Whether the time left cannot cover HiGHS' set-up of ``model`` (:data:`HIGHS_SETUP_S_PER_NNZ`), which
        ignores the limit; callers with an incumbent then skip HiGHS and keep their own bound."""
        return self.expired(max(MIN_HIGHS_S, HIGHS_SETUP_S_PER_NNZ * model.matrix.nnz))

    def options(self, options):  # noqa: ANN001, ANN201 - SolveOptions (import cycle)
        """``options`` with the time limit set to what is left (unchanged without a limit)."""
        left = self.left()
        if left is None:
            return options
        from dataclasses import replace

        return replace(options, time_limit_s=left)


@dataclass(frozen=True)
class MatrixModel:
    """A MIP ``min c·v  s.t.  row_lower ≤ A v ≤ row_upper, col_lower ≤ v ≤ col_upper`` in column-wise arrays.

    Attributes
    ----------
    matrix
        Constraint matrix ``A`` (CSC, rows × columns).
    integrality
        ``1`` for integer columns, ``0`` for continuous ones (int32, HiGHS convention).
    n_x, n_y
        Number of arc columns (first) and option columns (after them).
    row_blocks
        Row slice of each constraint family (``assign``, ``link``, ``capacity``, ``counts``, ``land``, ``cover``).
    """

    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    n_x: int
    n_y: int
    row_blocks: dict[str, slice]

    @property
    def n_cols(self) -> int:
        return self.n_x + self.n_y

    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]


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
    blocks: list[sp.coo_matrix] = []
    lowers: list[np.ndarray] = []
    uppers: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, lo, up) -> None:
        blocks.append(sp.coo_matrix((vals, (rows, cols)), shape=(n_rows, k + m)))
        lowers.append(np.broadcast_to(np.asarray(lo, float), (n_rows,)))
        uppers.append(np.broadcast_to(np.asarray(up, float), (n_rows,)))
        names.append(name)

    add("assign", ac, arcs, np.ones(k), n, 1.0, 1.0)

    link_coef = np.ones(k)
    if strengthen:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(arc_demand > 0, capacity[ao] / np.where(arc_demand > 0, arc_demand, 1.0), np.inf)
        link_coef = np.minimum(1.0, ratio)
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

    counts = problem.counts.matrix.tocoo()
    add(
        "counts",
        counts.row,
        k + counts.col,
        counts.data.astype(float),
        counts.shape[0],
        np.where(np.isfinite(problem.counts.lower), problem.counts.lower, -INF),
        np.where(np.isfinite(problem.counts.upper), problem.counts.upper, INF),
    )

    free = np.asarray(problem.site_free_m2, dtype=float)
    has_option = np.bincount(problem.option_site, minlength=len(free)) > 0
    limited = np.flatnonzero(np.isfinite(free) & has_option)
    site_row = np.full(len(free), -1)
    site_row[limited] = np.arange(len(limited))
    on_limited = np.flatnonzero(site_row[problem.option_site] >= 0)
    add(
        "land",
        site_row[problem.option_site[on_limited]],
        k + on_limited,
        np.asarray(problem.area_m2, float)[on_limited],
        len(limited),
        -INF,
        free[limited],
    )

    total_demand = float(demand.sum())
    if strengthen and len(capped) and total_demand > 0:
        cover = np.minimum(np.where(np.isfinite(capacity), capacity, total_demand), total_demand)
        nz = np.flatnonzero(cover > 0)
        add("cover", np.zeros(len(nz), dtype=np.int64), k + nz, cover[nz], 1, total_demand, INF)

    matrix = sp.vstack(blocks, format="csc")
    matrix.sum_duplicates()
    starts = np.cumsum([0] + [b.shape[0] for b in blocks])
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


def make_highs(model: MatrixModel, options, *, relax: bool = False) -> highspy.Highs:  # noqa: ANN001
    """A ``highspy.Highs`` holding ``model`` with the time limit, gap, threads and log of ``options``.

    Parameters
    ----------
    model
        The matrices to pass.
    options
        A :class:`~optimizer.solve.SolveOptions` (time limit in seconds, relative gap, threads, log).
    relax
        Pass the LP relaxation (all columns continuous).
    """
    h = new_highs(bool(getattr(options, "log", False)))
    if options.time_limit_s is not None:
        h.setOptionValue("time_limit", float(max(options.time_limit_s, 0.0)))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    if options.threads is not None:
        h.setOptionValue("threads", int(options.threads))
    integrality = np.zeros_like(model.integrality) if relax else model.integrality
    pass_arrays(h, model.col_cost, model.col_lower, model.col_upper, model.row_lower, model.row_upper, model.matrix, integrality)
    return h


def pass_arrays(
    h: highspy.Highs,
    cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    matrix: sp.spmatrix,
    integrality: np.ndarray | None = None,
) -> None:
    """``h.passModel`` of a minimisation ``row_lower ≤ matrix·v ≤ row_upper`` given column-wise (CSC)."""
    a = sp.csc_matrix(matrix)
    n_cols = a.shape[1]
    status = h.passModel(
        n_cols,
        a.shape[0],
        int(a.nnz),
        1,  # MatrixFormat.kColwise
        1,  # ObjSense.kMinimize
        0.0,
        np.asarray(cost, float),
        np.asarray(col_lower, float),
        np.asarray(col_upper, float),
        np.asarray(row_lower, float),
        np.asarray(row_upper, float),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(float),
        np.zeros(n_cols, np.int32) if integrality is None else np.asarray(integrality, np.int32),
    )
    if status == highspy.HighsStatus.kError:
        msg = "HiGHS rejected the model built from the problem arrays"
        raise RuntimeError(msg)


def clean_solution(problem: LocationProblem, y_value: np.ndarray, x_value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round solver values to a clean ``(open_options, arc_share)``: no noise, no share on closed options.

    Single-source shares become 0/1 (each client's largest share wins); multi-source shares are clipped, cleared
    below :data:`SHARE_EPS` and on closed options, and rescaled to sum to exactly 1 per client.
    """
    open_options = np.asarray(y_value) > 0.5
    x = np.clip(np.asarray(x_value, dtype=float), 0.0, 1.0)
    x[~open_options[problem.arc_option]] = 0.0
    n = problem.n_clients
    if problem.single_source:
        order = np.lexsort((-x, problem.arc_client))  # per client, largest share first
        first = np.ones(len(order), dtype=bool)
        first[1:] = problem.arc_client[order[1:]] != problem.arc_client[order[:-1]]
        keep = order[first & (x[order] > 0.5)]
        x = np.zeros_like(x)
        x[keep] = 1.0
        return open_options, x
    x[x < SHARE_EPS] = 0.0
    served = np.bincount(problem.arc_client, weights=x, minlength=n)
    scale = np.where(served > 0, 1.0 / np.where(served > 0, served, 1.0), 0.0)
    return open_options, x * scale[problem.arc_client]


def status_of(h: highspy.Highs) -> str:
    """Map HiGHS' model status and primal solution status to ``optimal/feasible/infeasible/no_solution``."""
    ms = h.getModelStatus()
    has_incumbent = h.getInfo().primal_solution_status == highspy.kSolutionStatusFeasible
    if ms == highspy.HighsModelStatus.kOptimal:
        return "optimal"
    if ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return "infeasible"
    return "feasible" if has_incumbent else "no_solution"


def run_highs(
    problem: LocationProblem,
    model: MatrixModel,
    options,  # noqa: ANN001 - SolveOptions (import cycle)
    *,
    incumbent: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[str, np.ndarray, np.ndarray, float, str]:
    """Solve ``model`` (built from ``problem``) once; returns ``(status, y, x, bound, log)``.

    ``incumbent`` is an ``(open_options, arc_share)`` pair given to HiGHS with ``setSolution``. ``bound`` is HiGHS'
    ``mip_dual_bound`` (``-inf`` when it has none).

    Guard against a HiGHS 1.16 defect: with a MIP start, presolve can map the start into the reduced space with
    a wrong objective offset ("MIP start solution is feasible in the reduced space: objective value is …" below
    the start's true value) and then stop "optimal" on the start with a wrong objective and bound (seen on
    pmed30 after reduced-cost fixing: 1977 reported, 1991 returned, 1989 optimal). The objective HiGHS reports is
    therefore compared with the cost of the values it returns; on a mismatch the model is solved again without
    the start, and a mismatch without a start demotes the result to ``feasible`` with no bound.
    """
    t0 = time.perf_counter()
    status, values, bound, log, consistent = _run_once(model, options, incumbent)
    if not consistent and incumbent is not None:
        log += "\nHiGHS objective disagrees with its solution after a MIP start: solved again without the start\n"
        status, values, bound, more, consistent = _run_once(model, _remaining(options, time.perf_counter() - t0), None)
        log += more
    if not consistent and status in ("optimal", "feasible"):
        status, bound = "feasible", float("-inf")
    return status, values[model.n_x :], values[: model.n_x], bound, log


def _run_once(model: MatrixModel, options, incumbent):  # noqa: ANN001, ANN202
    h = make_highs(model, options)
    if incumbent is not None:
        y0, x0 = incumbent
        h.setSolution(
            model.n_cols,
            np.arange(model.n_cols, dtype=np.int32),
            np.concatenate([np.asarray(x0, float), np.asarray(y0, float)]),
        )
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        h.run()
    status = status_of(h)
    info = h.getInfo()
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else float("-inf")
    consistent = True
    if status in ("optimal", "feasible"):
        values = np.asarray(h.getSolution().col_value)
        cost = float(model.col_cost @ values)
        reported = float(info.objective_function_value)
        consistent = abs(cost - reported) <= 1e-6 * max(1.0, abs(cost)) + 1e-6
    else:
        values = np.zeros(model.n_cols)
    return status, values, bound, buffer.getvalue(), consistent


def _highs_version() -> str:
    return f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}"


def finish(
    problem: LocationProblem,
    status: str,
    y: np.ndarray,
    x: np.ndarray,
    bound: float,
    *,
    solver: str,
    timings_s: dict[str, float],
    log: str = "",
    gap_tol: float = 1e-6,
) -> Solution:
    """Clean the values, recompute the objective from the arrays and settle status and bound.

    ``optimal`` means optimal within the requested relative gap ``max(gap_tol, 1e-6)`` (as HiGHS and the Pyomo
    backend report it); a wider gap gives ``feasible``. The bound is capped at the objective (a bound above it
    can only be round-off).
    """
    if status not in ("optimal", "feasible"):
        return Solution(
            open_options=np.zeros(problem.n_options, dtype=bool),
            arc_share=np.zeros(problem.n_arcs),
            objective=float("nan"),
            bound=bound if status != "infeasible" else float("inf"),
            status=status,
            solver=solver,
            timings_s=timings_s,
            log=log,
        )
    open_options, share = clean_solution(problem, y, x)
    objective = objective_parts(problem, open_options, share)["total"]
    bound = min(bound, objective) if np.isfinite(bound) else bound
    tol = max(gap_tol, 1e-6)
    closed = np.isfinite(bound) and objective - bound <= tol * max(1.0, abs(objective)) + 1e-9
    status = "optimal" if closed else "feasible"
    return Solution(open_options, share, objective, bound, status, solver, timings_s, log)


def solve_plain(problem: LocationProblem, options) -> Solution:  # noqa: ANN001 - SolveOptions
    """Default HiGHS on the plain extensive formulation (the Pyomo model's rows): the baseline of benchmarks."""
    t0 = time.perf_counter()
    model = build_matrices(problem, strengthen=False)
    t_build = time.perf_counter() - t0
    status, y, x, bound, log = run_highs(problem, model, options)
    t_solve = time.perf_counter() - t0 - t_build
    return finish(
        problem,
        status,
        y,
        x,
        bound,
        solver=f"HiGHS {_highs_version()} via highspy (plain)",
        timings_s={"build": t_build, "solve": t_solve},
        log=log,
        gap_tol=options.mip_gap,
    )


def solve_highspy(
    problem: LocationProblem,
    options,  # noqa: ANN001 - SolveOptions
    *,
    strategy: str = "auto",
) -> Solution:
    """Solve ``problem`` with the vectorised highspy build.

    Parameters
    ----------
    problem
        The array problem.
    options
        :class:`~optimizer.solve.SolveOptions`; ``time_limit_s`` covers heuristics, bounds and HiGHS together.
        ``warm_start`` (open-option mask), if set, is completed to an incumbent and passed with ``setSolution``.
    strategy
        ``"auto"`` (choose by problem class, see :func:`choose_strategy`), ``"plain"`` (default HiGHS on the
        plain formulation), ``"strong"`` (strengthened rows + heuristic incumbent), ``"lagrangian"`` (incumbent,
        Lagrangian bound, reduced-cost fixing and Lagrangian branching; uncapacitated problems only) or ``"cflp"``
        (the scheme of :mod:`optimizer.cflp_strong`; multi-source capacitated problems only). A scheme asked for
        outside its class falls back to ``"strong"``.

    Returns
    -------
    Solution
        With ``timings_s`` split into ``build`` (matrices), ``heuristic``, ``bound`` and ``solve`` (HiGHS) seconds.
    """
    if strategy == "auto":
        strategy = choose_strategy(problem)
    capacitated = bool(np.isfinite(problem.capacity).any())
    if (strategy == "lagrangian" and capacitated) or (strategy == "cflp" and (problem.single_source or not capacitated)):
        strategy = "strong"  # the scheme's fixing and heuristics assume its problem class
    if strategy == "plain":
        return solve_plain(problem, options)
    if strategy == "lagrangian":
        from optimizer.bounds import solve_with_fixing

        return solve_with_fixing(problem, options)
    if strategy == "cflp":
        from optimizer.cflp_strong import solve_cflp

        return solve_cflp(problem, options)
    if strategy != "strong":
        msg = f"unknown highspy strategy {strategy!r}; choose auto, plain, strong, lagrangian or cflp"
        raise ValueError(msg)
    return solve_strong(problem, options)


def solve_strong(problem: LocationProblem, options) -> Solution:  # noqa: ANN001 - SolveOptions
    """Strengthened formulation plus a heuristic (or the user's warm start) as HiGHS' first incumbent.

    With a time limit on a capacitated problem the Lagrangian bound of :mod:`optimizer.cflp_strong` (for
    single-source problems that of the multi-source relaxation, still valid) is computed first with a small share
    of the time: HiGHS may stop before its own root bound, and a time-limited result must still carry an honest,
    finite gap. The reported bound is the larger of the two.
    """
    from optimizer.heuristics import incumbent_for, solution_cost

    deadline = Deadline.after(options.time_limit_s)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    model = build_matrices(problem, strengthen=True)
    timings["build"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    start = incumbent_for(problem, warm_start=getattr(options, "warm_start", None), time_limit_s=deadline.share(0.1))
    timings["heuristic"] = time.perf_counter() - t1
    solver = f"HiGHS {_highs_version()} via highspy (strong)"
    t2 = time.perf_counter()
    lag_bound, log = float("-inf"), ""
    if options.time_limit_s is not None and np.isfinite(problem.capacity).any():
        from optimizer.cflp_strong import cflp_lagrangian

        ub = solution_cost(problem, *start) if start is not None else float("inf")
        lr = cflp_lagrangian(problem, upper_bound=ub, time_limit_s=deadline.share(0.15), heuristic_every=0)
        lag_bound = lr.bound
        log += f"lagrangian bound {lag_bound:.10g} after {lr.iterations} it\n"
        timings["bound"] = time.perf_counter() - t2
        if start is not None and lag_bound >= ub - max(options.mip_gap, 1e-6) * max(1.0, abs(ub)):
            timings["solve"] = 0.0
            return finish(problem, "optimal", *start, lag_bound, solver=solver, timings_s=timings, log=log,
                          gap_tol=options.mip_gap)  # fmt: skip
    t3 = time.perf_counter()
    if start is not None and deadline.too_short_for(model):
        status, (y, x), bound = "feasible", start, float("-inf")
    else:
        status, y, x, bound, hlog = run_highs(problem, model, deadline.options(options), incumbent=start)
        log += hlog
    timings["solve"] = time.perf_counter() - t3
    if status == "no_solution" and start is not None:  # HiGHS stopped before accepting the incumbent
        status, (y, x) = "feasible", start
    if status != "infeasible":
        bound = max(bound, lag_bound)
    return finish(problem, status, y, x, bound, solver=solver, timings_s=timings, log=log, gap_tol=options.mip_gap)


def choose_strategy(problem: LocationProblem) -> str:
    """Pick the scheme that measured fastest for the problem's class (see ``benchmarks/perf/README.md``).

    * uncapacitated (p-median, UFLP; any count rows, land and required options): ``"lagrangian"``;
    * multi-source with finite capacities: ``"cflp"``;
    * single-source capacitated: ``"strong"``.
    """
    capacitated = bool(np.isfinite(problem.capacity).any())
    if not capacitated:
        return "lagrangian"
    if not problem.single_source:
        return "cflp"
    return "strong"


def _share(options, fraction: float) -> float | None:  # noqa: ANN001
    return None if options.time_limit_s is None else fraction * float(options.time_limit_s)


def _remaining(options, elapsed_s: float):  # noqa: ANN001, ANN202
    """``options`` with the time limit reduced by ``elapsed_s`` (what is left, never negative)."""
    if options.time_limit_s is None:
        return options
    from dataclasses import replace

    return replace(options, time_limit_s=max(0.0, float(options.time_limit_s) - elapsed_s))
