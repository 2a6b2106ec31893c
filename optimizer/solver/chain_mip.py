"""The plastics-chain MIP in the form HiGHS closes fastest: echelon cover and count rows, scaled, lean links.

:func:`optimizer.chain.build_matrix` is the reference model (and the brute-force check's). Profiling the S5
instances (99 facilities, 8,842 arcs) showed where HiGHS loses its time: the objective is dominated by land
(3.7 of 4.25 M EUR/yr on ``s5-hub-ambition-mid``), so the LP opens mechanical plants by fractions and leaves a
6-12 % gap that the root cuts close only slowly; the matrix mixes tonnes (up to 10⁵) with 0/1 columns (HiGHS warns
that it is badly scaled); and the RINS/RENS sub-MIPs spend half the root on incumbents that are already found.
This module builds the same model with three changes, all exact:

* **Echelon rows.** Every tonne entering echelon ``e`` is known beforehand — all collected PMD is sorted, the
  yields are equalities, the gateways' volumes are fixed — so ``D_e = Σ inflow`` is a constant and
  ``Σ_{f∈e} min(Q_f, D_e) y_f ≥ D_e`` (aggregated capacity) and ``Σ_{new f∈e} y_f ≥ ⌈(D_e − Q_existing,e) /
  max_{new f∈e} Q_f⌉`` (the fewest new plants that can hold it, folded into the count row's lower bound) are
  valid. On ``s5-hub-ambition-mid`` they lift the LP bound from 3.98 to 4.23 M (optimum 4.25 M).
* **Scaling.** Flows in kilotonnes, every row divided by its largest coefficient.
* **Lean links.** The per-arc links ``flow ≤ ub · y`` of the reference model add 9,800 rows for 0.1 % of LP
  bound here; without them HiGHS' root is several times faster (``-high``: 25 s to 0.01 % against not closed
  at 60 s, load 7). RINS and RENS are switched off.

The flows HiGHS returns for the chosen plants are re-optimised by an unscaled LP with the plants fixed, so the
verifier sees flows exact to the original rows' tolerance, and the objective is that LP's (never above the MIP's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

FLOW_SCALE = 1_000.0  # tonnes per flow unit in the scaled model


@dataclass
class ChainMipResult:
    """Plants, flows (t/yr), objective, proven bound (EUR/yr), status and timings of one solve."""

    open_fac: np.ndarray
    flow_t: np.ndarray
    objective: float
    bound: float
    status: str
    timings_s: dict


def echelon_inflow(p) -> np.ndarray:  # noqa: ANN001 - optimizer.chain.ChainProblem (no import upwards)
    """Tonnes entering each echelon (sorting, mechanical, chemical): constants of every feasible solution."""
    imports = np.zeros(3)
    imp = np.flatnonzero(p.arc_kind == "import")
    for g in range(len(p.gw_ids)):
        to = p.arc_to[imp[p.arc_from[imp] == g]]
        if len(to):
            imports[int(p.fac_echelon[to[0]])] += p.gw_supply_t[g]
    d = np.zeros(3)
    d[0] = float(p.supply_t.sum()) + imports[0]
    d[1] = d[0] * float(p.yields[0]) + imports[1]
    d[2] = d[1] * float(p.yields[1]) + imports[2]
    return d


def build_lean(p):  # noqa: ANN001, ANN201 - ChainProblem in, matrices out
    """Columns ``[y | flow (kt)]``: ``(cost, matrix, row_lower, row_upper, col_lower, col_upper, integer)`` of the
    scaled model with the echelon rows and without per-arc links (module docstring)."""
    nf, na = p.n_fac, p.n_arcs
    s = FLOW_SCALE
    cost = np.concatenate([np.where(p.fac_existing, 0.0, p.land_cost_per_m2 * p.fac_area_m2),
                           p.arc_cost_per_t * s])  # fmt: skip
    in_m = sp.csr_matrix((np.ones(na), (p.arc_to, np.arange(na))), shape=(nf, na))
    link = np.flatnonzero(p.arc_kind == "link")
    out_m = sp.csr_matrix((np.ones(len(link)), (p.arc_from[link], link)), shape=(nf, na))
    blocks, lo, up = [], [], []
    for kind, n, supply in (("collect", len(p.client_ids), p.supply_t), ("import", len(p.gw_ids), p.gw_supply_t)):
        arcs = np.flatnonzero(p.arc_kind == kind)
        a = sp.csr_matrix((np.ones(len(arcs)), (p.arc_from[arcs], arcs)), shape=(n, na))
        blocks.append(sp.hstack([sp.csr_matrix((n, nf)), a]))
        lo.append(supply / s)
        up.append(supply / s)
    blocks.append(sp.hstack([sp.diags(-p.fac_capacity_t / s), in_m]))  # inflow ≤ capacity · y
    lo.append(np.full(nf, -np.inf))
    up.append(np.zeros(nf))
    passes = np.flatnonzero(p.fac_echelon < 2)
    bal = (out_m - sp.diags(p.yields[p.fac_echelon]) @ in_m)[passes]
    blocks.append(sp.hstack([sp.csr_matrix((len(passes), nf)), bal]))
    lo.append(np.zeros(len(passes)))
    up.append(np.zeros(len(passes)))
    new = ~p.fac_existing
    demand = echelon_inflow(p)
    fewest = np.zeros(3)
    for e in range(3):
        mine = p.fac_echelon == e
        need = demand[e] - float(p.fac_capacity_t[mine & p.fac_existing].sum())
        cap_new = p.fac_capacity_t[mine & new]
        if need > 0 and len(cap_new) and cap_new.max() > 0:
            fewest[e] = np.ceil(need / cap_new.max() - 1e-9)
    rows = [np.flatnonzero(new & (p.fac_echelon == e)) for e in range(3)]
    count = sp.csr_matrix((np.ones(sum(len(r) for r in rows)), (np.repeat(np.arange(3), [len(r) for r in rows]),
                                                               np.concatenate(rows))), shape=(3, nf))  # fmt: skip
    blocks.append(sp.hstack([count, sp.csr_matrix((3, na))]))
    lo.append(np.maximum(p.new_count[:, 0], fewest))
    up.append(p.new_count[:, 1])
    cover = sp.csr_matrix((np.minimum(p.fac_capacity_t, demand[p.fac_echelon]) / s, (p.fac_echelon, np.arange(nf))),
                          shape=(3, nf))  # fmt: skip
    blocks.append(sp.hstack([cover, sp.csr_matrix((3, na))]))
    lo.append(demand / s)
    up.append(np.full(3, np.inf))
    nn = np.flatnonzero(new)
    land = sp.csr_matrix((p.fac_area_m2[nn], (p.fac_site[nn], nn)), shape=(len(p.site_ids), nf))
    blocks.append(sp.hstack([land, sp.csr_matrix((len(p.site_ids), na))]))
    lo.append(np.full(len(p.site_ids), -np.inf))
    up.append(p.site_free_m2)
    matrix = sp.vstack(blocks).tocsr()
    row_lo, row_up = np.concatenate(lo), np.concatenate(up)
    biggest = np.asarray(abs(matrix).max(axis=1).todense()).ravel()
    scale = np.where(biggest > 0, 1.0 / np.where(biggest > 0, biggest, 1.0), 1.0)
    matrix = sp.diags(scale) @ matrix
    col_lo = np.concatenate([np.where(p.fac_existing, 1.0, 0.0), np.zeros(na)])
    col_up = np.concatenate([np.ones(nf), np.full(na, np.inf)])
    integer = np.concatenate([np.ones(nf, dtype=bool), np.zeros(na, dtype=bool)])
    return cost, matrix.tocsr(), row_lo * scale, row_up * scale, col_lo, col_up, integer


def _highs(cost, matrix, row_lo, row_up, col_lo, col_up, integer, time_limit_s, mip_gap):  # noqa: ANN001, ANN202
    import highspy

    inf = highspy.kHighsInf
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(max(time_limit_s, 0.0)))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_ = np.asarray(cost, float)
    lp.col_lower_, lp.col_upper_ = np.asarray(col_lo, float), np.where(np.isfinite(col_up), col_up, inf)
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_up), row_up, inf)
    csc = sp.csc_matrix(matrix)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr
    lp.a_matrix_.index_ = csc.indices
    lp.a_matrix_.value_ = csc.data
    if integer is not None:
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    h.passModel(lp)
    return h


def solve_chain_mip(p, time_limit_s: float | None = 300.0, mip_gap: float = 1e-6,  # noqa: ANN001
                    reference=None) -> ChainMipResult:  # noqa: ANN001 - the reference model's builder
    """Solve the chain with the lean model, then re-optimise the flows exactly for the plants chosen.

    Parameters
    ----------
    p
        An :class:`optimizer.chain.ChainProblem`.
    time_limit_s, mip_gap
        Limit for the whole solve (s) and HiGHS' relative gap.
    reference
        :func:`optimizer.chain.build_matrix` (the unscaled reference rows the final flow LP uses).
    """
    import highspy

    t0 = time.perf_counter()
    cost, matrix, row_lo, row_up, col_lo, col_up, integer = build_lean(p)
    h = _highs(cost, matrix, row_lo, row_up, col_lo, col_up, integer, time_limit_s, mip_gap)
    h.setOptionValue("mip_heuristic_run_rins", False)
    h.setOptionValue("mip_heuristic_run_rens", False)
    t1 = time.perf_counter()
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    has = info.primal_solution_status == highspy.kSolutionStatusFeasible
    if status == highspy.HighsModelStatus.kOptimal:
        st = "optimal"
    elif status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        st = "infeasible"
    else:
        st = "feasible" if has else "no_solution"
    nf = p.n_fac
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else float("-inf")
    timings = {"build": t1 - t0, "solve": time.perf_counter() - t1}
    if not has:
        return ChainMipResult(np.zeros(nf, bool), np.zeros(p.n_arcs), float("nan"), bound, st, timings)
    y = np.asarray(h.getSolution().col_value)[:nf] > 0.5
    t2 = time.perf_counter()
    flow, objective = _flows_for(p, y, reference)
    timings["flows"] = time.perf_counter() - t2
    if flow is None:  # cannot happen for a MIP-feasible y; keep the MIP's own flows rather than fail
        flow = np.maximum(np.asarray(h.getSolution().col_value)[nf:] * FLOW_SCALE, 0.0)
        objective = float(info.objective_function_value)
    return ChainMipResult(y, flow, objective, min(bound, objective), st, timings)


def _flows_for(p, y: np.ndarray, reference) -> tuple[np.ndarray | None, float]:  # noqa: ANN001
    """Cheapest flows for fixed plants ``y`` on the reference (unscaled) rows; ``(None, nan)`` if infeasible."""
    import highspy

    cost, matrix, row_lo, row_up, col_lo, col_up, _ = reference(p)
    nf = p.n_fac
    col_lo, col_up = col_lo.copy(), col_up.copy()
    col_lo[:nf] = y
    col_up[:nf] = y
    h = _highs(cost, matrix, row_lo, row_up, col_lo, col_up, None, None, 0.0)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None, float("nan")
    values = np.asarray(h.getSolution().col_value)
    flow = np.maximum(values[nf:], 0.0)
    return flow, float(cost[:nf] @ y + cost[nf:] @ flow)
