"""The plastics-chain MIP in the form HiGHS closes fastest: scaled, without per-arc links, RINS/RENS off.

:func:`optimizer.model.chain.build_matrix` is the reference model (and the brute-force check's). Profiling the S5
instances (99 facilities, 8,842 arcs) showed where HiGHS loses its time: the objective is dominated by land
(3.7 of 4.25 M EUR/yr on ``s5-hub-ambition-mid``), so the LP opens mechanical plants by fractions and leaves a
6-12 % gap that the root cuts close only slowly; the matrix mixes tonnes (up to 10⁵) with 0/1 columns (HiGHS warns
that it is badly scaled); and the RINS/RENS sub-MIPs spend half the root on incumbents that are already found.
The reference rows now carry the echelon cover rows and their rounding
(:func:`optimizer.model.chain.cover_rows`, which lift the LP bound of ``-mid`` from 3.98 to 4.23 M, optimum 4.25 M).
This module solves the same rows with two changes, both exact:

* **Scaling.** Flows in kilotonnes, every row divided by its largest coefficient.
* **Lean links.** The per-arc links ``flow ≤ ub · y`` of the reference model add 9,800 rows for 0.1 % of LP
  bound here (capacity rows imply them for integer ``y``); without them HiGHS' root is several times faster
  (``-high``: 25 s to 0.01 % against not closed at 60 s, load 7). RINS and RENS are switched off.

The flows HiGHS returns for the chosen plants are re-optimised by an unscaled LP with the plants fixed, so the
verifier sees flows exact to the original rows' tolerance, and the objective is that LP's (never above the MIP's).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from optimizer.model.chain import ChainProblem, ChainSolution, build_matrix
from optimizer.problem import Status
from optimizer.solver.highs import new_highs, pass_arrays, status_of, use_threads

FLOW_SCALE = 1_000.0  # tonnes per flow unit in the scaled model


def build_lean(p: ChainProblem) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                         np.ndarray]:
    """Columns ``[y | flow (kt)]``: ``(cost, matrix, row_lower, row_upper, col_lower, col_upper, integer)`` of the
    reference rows without per-arc links, flows in kilotonnes and every row scaled to a largest coefficient of 1."""
    nf = p.n_fac
    cost, matrix, row_lo, row_up, col_lo, col_up, integer = build_matrix(p, links=False)
    col_scale = np.concatenate([np.ones(nf), np.full(matrix.shape[1] - nf, FLOW_SCALE)])
    matrix = sp.csr_matrix(matrix) @ sp.diags(col_scale)
    biggest = np.asarray(abs(matrix).max(axis=1).todense()).ravel()
    scale = np.where(biggest > 0, 1.0 / np.where(biggest > 0, biggest, 1.0), 1.0)
    matrix = sp.diags(scale) @ matrix
    return (cost * col_scale, sp.csr_matrix(matrix), row_lo * scale, row_up * scale, col_lo, col_up / col_scale,
            integer)  # fmt: skip


def _highs(cost, matrix, row_lo, row_up, col_lo, col_up, integer, time_limit_s, mip_gap,  # noqa: ANN001, ANN202
           threads=None):  # noqa: ANN001
    h = new_highs()
    if threads is not None:
        use_threads(threads)
        h.setOptionValue("threads", int(threads))
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(max(time_limit_s, 0.0)))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    pass_arrays(h, cost, col_lo, col_up, row_lo, row_up, matrix, None if integer is None else integer.astype(np.int32))
    return h


def solve_chain_mip(p: ChainProblem, time_limit_s: float | None = 300.0, mip_gap: float = 1e-6,
                    threads: int | None = None) -> ChainSolution:
    """Solve the chain with the lean model, then re-optimise the flows exactly for the plants chosen.

    Parameters
    ----------
    p
        The chain.
    time_limit_s, mip_gap, threads
        Limit for the whole solve (s; ``None``: none), HiGHS' relative gap and threads (``None``: its default).

    Returns
    -------
    ChainSolution
        Plants, flows (t/yr) from the unscaled flow LP, its objective, HiGHS' bound (EUR/yr), status, timings.
    """
    t0 = time.perf_counter()
    cost, matrix, row_lo, row_up, col_lo, col_up, integer = build_lean(p)
    h = _highs(cost, matrix, row_lo, row_up, col_lo, col_up, integer, time_limit_s, mip_gap, threads)
    h.setOptionValue("mip_heuristic_run_rins", False)
    h.setOptionValue("mip_heuristic_run_rens", False)
    t1 = time.perf_counter()
    h.run()
    st = status_of(h)
    info = h.getInfo()
    has = st.has_solution
    nf = p.n_fac
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else float("-inf")
    timings = {"build": t1 - t0, "solve": time.perf_counter() - t1}
    if not has:
        return ChainSolution(np.zeros(nf, bool), np.zeros(p.n_arcs), float("nan"), bound, st, timings)
    y = np.asarray(h.getSolution().col_value)[:nf] > 0.5
    t2 = time.perf_counter()
    flow, objective = _flows_for(p, y, threads)
    timings["flows"] = time.perf_counter() - t2
    if flow is None:  # cannot happen for a MIP-feasible y; keep the MIP's own flows rather than fail
        flow = np.maximum(np.asarray(h.getSolution().col_value)[nf:] * FLOW_SCALE, 0.0)
        objective = float(info.objective_function_value)
    return ChainSolution(y, flow, objective, min(bound, objective), st, timings)


def _flows_for(p: ChainProblem, y: np.ndarray, threads: int | None = None) -> tuple[np.ndarray | None, float]:
    """Cheapest flows for fixed plants ``y`` on the reference (unscaled) rows; ``(None, nan)`` if infeasible."""
    cost, matrix, row_lo, row_up, col_lo, col_up, _ = build_matrix(p, links=False)
    nf = p.n_fac
    col_lo, col_up = col_lo.copy(), col_up.copy()
    col_lo[:nf] = y
    col_up[:nf] = y
    h = _highs(cost, matrix, row_lo, row_up, col_lo, col_up, None, None, 0.0, threads)
    h.run()
    if status_of(h) != Status.OPTIMAL:
        return None, float("nan")
    values = np.asarray(h.getSolution().col_value)
    flow = np.maximum(values[nf:], 0.0)
    return flow, float(cost[:nf] @ y + cost[nf:] @ flow)
