"""Brute-force check of the matrix example: enumerate all 3^6 single-source assignments.

Run from the project root: ``python instances/matrix_example/brute_force.py`` (prints the optimum, 362.0).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def brute_force_optimum() -> tuple[float, tuple[str, ...]]:
    """Return the optimal cost and, per client, the facility serving it (read from the CSV files here)."""
    demands = pd.read_csv(HERE / "demands.csv")
    facilities = pd.read_csv(HERE / "facilities.csv")
    costs = pd.read_csv(HERE / "costs.csv", index_col="client")[facilities["id"]].to_numpy(float)
    costs = np.where(np.isnan(costs), np.inf, costs)  # blank = pair not allowed
    demand = demands["demand"].to_numpy(float)
    capacity = facilities["capacity"].fillna(np.inf).to_numpy(float)
    fixed = facilities["fixed_cost"].to_numpy(float)
    n, m = costs.shape
    assignments = np.array(list(itertools.product(range(m), repeat=n)))  # (m**n, n)
    load = np.stack([(demand * (assignments == j)).sum(axis=1) for j in range(m)], axis=1)
    used = np.stack([(assignments == j).any(axis=1) for j in range(m)], axis=1)
    total = costs[np.arange(n), assignments].sum(axis=1) + used @ fixed
    total[(load > capacity).any(axis=1)] = np.inf
    best = int(np.argmin(total))
    return float(total[best]), tuple(facilities["id"].to_numpy()[assignments[best]])


if __name__ == "__main__":
    value, plan = brute_force_optimum()
    print(value, plan)
