"""The HiGHS adapter: the only module that talks to HiGHS (``highspy``), and it imports nothing above it.

It creates quiet ``Highs`` objects (:func:`new_highs`), passes column-wise arrays (:func:`pass_arrays`, a
:class:`MatrixModel` with :func:`make_highs`), runs LPs and MIPs (:func:`run_lp`, :func:`run_highs`) and maps
HiGHS' statuses to :class:`~optimizer.problem.Status` (:func:`status_of`). HiGHS is embedded (the ``highspy``
wheel), so no external solver binary is needed. Everything that decides *what* to solve lives above it:
:mod:`optimizer.solver.matrices` builds the formulation, the strategies choose the scheme.
"""

from __future__ import annotations

import io
import os
import sys
import time
from contextlib import redirect_stdout
from typing import TYPE_CHECKING

import highspy
import numpy as np

from optimizer.model.mip_arrays import CscArrays, MatrixModel  # noqa: F401 - the adapter's input, re-exported
from optimizer.problem import LocationProblem, Status
from optimizer.solver.options import SolveOptions, with_time_left

if TYPE_CHECKING:  # scipy is imported where a sparse matrix is built, not by every solve
    import scipy.sparse as sp

INF = highspy.kHighsInf
_BANNER_SHOWN = False  # HiGHS prints its banner at the first construction in a process, on the C-level stdout
_SCHEDULER_THREADS: int | None = None  # the thread count last asked of HiGHS' global scheduler in this process


def use_threads(threads: int | None) -> None:
    """Make HiGHS' process-wide scheduler run ``threads`` threads (``None``: whatever it runs now).

    HiGHS starts one global thread scheduler per process, at its first run, and refuses a later run that asks for
    another thread count (a MIP then ends without a solution, or worse with a poor one). In a sweep worker, a
    notebook or in-process tests, solves with different ``threads`` follow each other: the scheduler is reset
    whenever the count asked for changes. Call it before every run that sets the ``threads`` option.
    """
    global _SCHEDULER_THREADS
    if threads is None or threads == _SCHEDULER_THREADS:
        return
    highspy.Highs.resetGlobalScheduler(True)
    _SCHEDULER_THREADS = int(threads)


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


def run_lp(h: highspy.Highs) -> Status:
    """Solve a (re-)modified LP: ``Status.OPTIMAL``, ``INFEASIBLE`` or ``UNKNOWN``.

    After cost/bound changes HiGHS' warm-started simplex can end in ``kUnknown`` with a perfectly feasible LP
    (seen in the Lagrangian outer problem). Such an outcome proves nothing: it is retried once from scratch, and
    callers must treat a remaining ``UNKNOWN`` as "no bound" (−inf), never as infeasible (+inf).
    """
    for attempt in range(2):
        if attempt:
            h.clearSolver()
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return Status.OPTIMAL
        if status == highspy.HighsModelStatus.kInfeasible:
            return Status.INFEASIBLE
    return Status.UNKNOWN


def pass_arrays(
    h: highspy.Highs,
    cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    matrix: sp.spmatrix | CscArrays,
    integrality: np.ndarray | None = None,
) -> None:
    """``h.passModel`` of a minimisation ``row_lower ≤ matrix·v ≤ row_upper`` given column-wise (CSC)."""
    if isinstance(matrix, CscArrays):
        start, index, value, (n_rows, n_cols) = matrix.start, matrix.index, matrix.value, matrix.shape
    else:
        import scipy.sparse as sp

        a = sp.csc_matrix(matrix)
        start, index, value, (n_rows, n_cols) = a.indptr, a.indices, a.data, a.shape
    status = h.passModel(
        n_cols,
        n_rows,
        len(value),
        1,  # MatrixFormat.kColwise
        1,  # ObjSense.kMinimize
        0.0,
        np.asarray(cost, float),
        np.asarray(col_lower, float),
        np.asarray(col_upper, float),
        np.asarray(row_lower, float),
        np.asarray(row_upper, float),
        start.astype(np.int32),
        index.astype(np.int32),
        value.astype(float),
        np.zeros(n_cols, np.int32) if integrality is None else np.asarray(integrality, np.int32),
    )
    if status == highspy.HighsStatus.kError:
        msg = "HiGHS rejected the model built from the problem arrays"
        raise RuntimeError(msg)


def make_highs(model: MatrixModel, options: SolveOptions, *, relax: bool = False) -> highspy.Highs:
    """A ``highspy.Highs`` holding ``model`` with the time limit, gap, threads and log of ``options``.

    Parameters
    ----------
    model
        The matrices to pass.
    options
        Time limit in seconds, relative gap, threads and log.
    relax
        Pass the LP relaxation (all columns continuous).
    """
    h = new_highs(bool(options.log))
    if options.time_limit_s is not None:
        h.setOptionValue("time_limit", float(max(options.time_limit_s, 0.0)))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    if options.threads is not None:
        use_threads(options.threads)
        h.setOptionValue("threads", int(options.threads))
    integrality = np.zeros_like(model.integrality) if relax else model.integrality
    pass_arrays(h, model.col_cost, model.col_lower, model.col_upper, model.row_lower, model.row_upper, model.matrix, integrality)
    return h


def status_of(h: highspy.Highs) -> Status:
    """The :class:`~optimizer.problem.Status` of a MIP run: HiGHS' model status and whether it holds a solution."""
    ms = h.getModelStatus()
    has_incumbent = h.getInfo().primal_solution_status == highspy.kSolutionStatusFeasible
    if ms == highspy.HighsModelStatus.kOptimal:
        return Status.OPTIMAL
    if ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return Status.INFEASIBLE
    return Status.FEASIBLE if has_incumbent else Status.NO_SOLUTION


def run_highs(
    problem: LocationProblem,
    model: MatrixModel,
    options: SolveOptions,
    *,
    incumbent: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Status, np.ndarray, np.ndarray, float, str]:
    """Solve ``model`` (built from ``problem``) once; returns ``(status, y, x, bound, log)``.

    ``incumbent`` is an ``(open_options, arc_share)`` pair given to HiGHS with ``setSolution``. ``bound`` is HiGHS'
    ``mip_dual_bound`` (``-inf`` when it has none).

    Guard against a HiGHS 1.16 defect: with a MIP start, presolve can map the start into the reduced space with
    a wrong objective offset ("MIP start solution is feasible in the reduced space: objective value is …" below
    the start's true value) and then stop "optimal" on the start with a wrong objective and bound (seen on
    pmed30 after reduced-cost fixing; benchmarks/perf/README.md, "Notes"). The objective HiGHS reports is
    therefore compared with the cost of the values it returns; on a mismatch the model is solved again without
    the start, and a mismatch without a start demotes the result to ``feasible`` with no bound.
    """
    t0 = time.perf_counter()
    status, values, bound, log, consistent = _run_once(model, options, incumbent)
    if not consistent and incumbent is not None:
        log += "\nHiGHS objective disagrees with its solution after a MIP start: solved again without the start\n"
        status, values, bound, more, consistent = _run_once(model, with_time_left(options, time.perf_counter() - t0), None)
        log += more
    if not consistent and status.has_solution:
        status, bound = Status.FEASIBLE, float("-inf")
    return status, values[model.n_x :], values[: model.n_x], bound, log


def _run_once(model: MatrixModel, options: SolveOptions, incumbent: tuple[np.ndarray, np.ndarray] | None,
              ) -> tuple[Status, np.ndarray, float, str, bool]:
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
    if status.has_solution:
        values = np.asarray(h.getSolution().col_value)
        cost = float(model.col_cost @ values)
        reported = float(info.objective_function_value)
        consistent = abs(cost - reported) <= 1e-6 * max(1.0, abs(cost)) + 1e-6
    else:
        values = np.zeros(model.n_cols)
    return status, values, bound, buffer.getvalue(), consistent


def highs_version() -> str:
    """The embedded HiGHS version, e.g. ``1.16.0``."""
    return f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}"
