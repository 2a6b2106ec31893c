"""The lean chain MIP (optimizer.solver.chain_mip) against the reference rows and brute force.

* the echelon inflows the cover rows treat as constants are the inflows of every solution;
* its LP is a relaxation (never above the optimum: the derived rows cut no solution);
* lean and reference models reach the brute-force optimum on the tiny chains, verified.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies"))  # tests/studies: the tiny chains

from test_chain import COSTS, tiny_chain  # noqa: E402

from optimizer.check.chain import brute_force_chain, verify_chain  # noqa: E402
from optimizer.model.chain import build_matrix, echelon_inflow  # noqa: E402
from optimizer.solver.chain import solve_chain  # noqa: E402
from optimizer.solver.chain_mip import FLOW_SCALE, _highs, build_lean  # noqa: E402


def _lp(cost, matrix, row_lo, row_up, col_lo, col_up) -> float:  # noqa: ANN001
    import highspy

    h = _highs(cost, matrix, row_lo, row_up, col_lo, col_up, None, 30.0, 0.0)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(h.getInfo().objective_function_value)


@pytest.mark.parametrize("seed", range(6))
def test_echelon_inflow_is_every_solutions_inflow(seed: int) -> None:
    p, _ = tiny_chain(seed)
    s = solve_chain(p, time_limit_s=30, mip_gap=0.0, model="reference")
    if s.status != "optimal":
        return
    inflow = np.bincount(p.arc_to, weights=s.flow_t, minlength=p.n_fac)
    per_echelon = np.bincount(p.fac_echelon, weights=inflow, minlength=3)
    into_sorting, into_mech, into_chem = echelon_inflow(p)
    np.testing.assert_allclose(per_echelon, [into_sorting, into_mech, into_chem.sum()], rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_lean_lp_is_a_relaxation_and_both_models_reach_the_optimum(seed: int) -> None:
    p, coords = tiny_chain(seed)
    optimum = brute_force_chain(p)
    if not np.isfinite(optimum):
        return
    cost, a, lo, up, clo, cup, _ = build_matrix(p)
    reference = _lp(cost, sp.csr_matrix(a), lo, up, clo, cup)
    cost2, a2, lo2, up2, clo2, cup2, _ = build_lean(p)
    lean = _lp(cost2, a2, lo2, up2, clo2, cup2)
    assert lean <= optimum * (1 + 1e-7) + 1e-6
    # the lean model drops the per-arc links (weaker) but adds the echelon rows (stronger); both are relaxations
    assert reference <= optimum * (1 + 1e-7) + 1e-6
    for model in ("lean", "reference"):
        s = solve_chain(p, time_limit_s=30, mip_gap=0.0, model=model)
        assert s.status == "optimal"
        assert s.objective == pytest.approx(optimum, rel=1e-6, abs=1e-6)
        assert verify_chain(p, s, coords, COSTS) == []


def test_lean_flows_are_reported_in_tonnes() -> None:
    p, coords = tiny_chain(3)
    s = solve_chain(p, time_limit_s=30, mip_gap=0.0)
    collected = s.flow_t[p.arc_kind == "collect"].sum()
    assert collected == pytest.approx(p.supply_t.sum(), rel=1e-9)
    assert FLOW_SCALE > 1
    assert verify_chain(p, s, coords, COSTS) == []
