"""The peer of ``siting solve DIR`` as a whole process: read a matrix-format instance, solve it with highspy.

A minimal script of the kind a modeller writes by hand (issue 18, "fixed costs per process"): pandas reads the
three CSV files of ``docs/matrix-format.md`` (dense costs), numpy builds the strong formulation column-wise
(assignment rows, ``x_ij ≤ y_j``, capacity rows, single- or multi-source as ``problem.toml`` says) and HiGHS
solves it with its default options and ``mip_rel_gap`` 1e-6. No verification, no output files: it prints the
objective. ``benchmarks/perf/fixed_costs.py`` times it against ``siting solve DIR``.

    python benchmarks/perf/minimal_highspy.py DIR
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import highspy
import numpy as np
import pandas as pd


def main(folder: Path) -> float:
    settings = tomllib.loads((folder / "problem.toml").read_text())["problem"]
    demand = pd.read_csv(folder / "demands.csv")["demand"].to_numpy(float)
    fac = pd.read_csv(folder / "facilities.csv")
    cost = pd.read_csv(folder / "costs.csv", index_col=0)[fac["id"].astype(str)].to_numpy(float)
    ci, fj = np.nonzero(np.isfinite(cost))
    return solve_strong(ci, fj, cost[ci, fj], demand, fac["capacity"].to_numpy(float),
                        fac["fixed_cost"].to_numpy(float), bool(settings.get("single_source")))


def solve_strong(ci: np.ndarray, fj: np.ndarray, arc_cost: np.ndarray, demand: np.ndarray, capacity: np.ndarray,
                 fixed: np.ndarray, single_source: bool) -> float:
    """The strong formulation of the allowed pairs ``(ci, fj)``, built column-wise with numpy and solved by HiGHS
    (defaults, gap 1e-6); the objective. Also ``fixed_costs.direct_strong``'s model, so both peers are one model."""
    n, m, k = len(demand), len(capacity), len(ci)
    # columns [x (allowed pairs) | y]; rows [assignment (n) | link (k) | capacity (m)]
    rows = np.concatenate([ci, n + np.arange(k), n + np.arange(k), n + k + fj, n + k + np.arange(m)])
    cols = np.concatenate([np.arange(k), np.arange(k), k + fj, np.arange(k), k + np.arange(m)])
    vals = np.concatenate([np.ones(k), np.ones(k), -np.ones(k), demand[ci], -np.where(np.isfinite(capacity), capacity, 0)])
    order = np.lexsort((rows, cols))
    start = np.searchsorted(cols[order], np.arange(k + m + 1))
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = k + m, n + k + m
    lp.col_cost_ = np.concatenate([arc_cost, fixed]).astype(float)
    lp.col_lower_ = np.zeros(k + m)
    lp.col_upper_ = np.ones(k + m)
    lp.row_lower_ = np.concatenate([np.ones(n), np.full(k + m, -inf)])
    cap_up = np.where(np.isfinite(capacity), 0.0, inf)
    lp.row_upper_ = np.concatenate([np.ones(n), np.zeros(k), cap_up])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = rows[order].astype(np.int32)
    lp.a_matrix_.value_ = vals[order]
    integer = highspy.HighsVarType.kInteger
    lp.integrality_ = [integer if single_source else highspy.HighsVarType.kContinuous] * k + [integer] * m
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.passModel(lp)
    h.run()
    return float(h.getInfo().objective_function_value)


if __name__ == "__main__":
    print(f"{main(Path(sys.argv[1])):.6f}")
