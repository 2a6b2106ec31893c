"""Seeded synthetic instances of the performance benchmarks (shared with the spopt comparison)."""

from __future__ import annotations

import numpy as np

from optimizer.data.matrix import matrix_problem
from optimizer.problem import LocationProblem


def pmedian_2000x200(seed: int = 0, *, p: int = 20) -> tuple[LocationProblem, dict[str, np.ndarray]]:
    """p-median with 2,000 clients and 200 candidate sites, uniform in a 100 km × 100 km square.

    Demand is an integer weight in 1..100 per client (``rng.integers(1, 101)``); the cost of serving a client's
    whole demand from a site is ``weight × Euclidean distance in km``. The same seed gives the same arrays, so
    spopt's ``PMedian.from_cost_matrix(cost_km, weights, p_facilities=p)`` solves exactly this problem.

    Returns
    -------
    (LocationProblem, dict)
        The problem, and the raw arrays ``clients_km``, ``sites_km``, ``weights``, ``cost_km`` (distance only).
    """
    rng = np.random.default_rng(seed)
    clients = rng.random((2000, 2)) * 100.0
    sites = rng.random((200, 2)) * 100.0
    weights = rng.integers(1, 101, size=2000).astype(float)
    dist = np.sqrt(((clients[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
    problem = matrix_problem(
        weights, None, np.zeros(200), dist * weights[:, None], p=p, name=f"pmedian2000x200-p{p}-s{seed}",
        cost_unit="weight·km",
    )
    return problem, {"clients_km": clients, "sites_km": sites, "weights": weights, "cost_km": dist}


def flanders_pmedian(p: int = 10) -> LocationProblem:
    """The Flanders p-median of the quick suite: 285 municipalities (demand = population 2020) × the 289 shipped
    candidate economic-zone sites, cost = population × straight-line km between Lambert-72 centroids (EPSG:31370),
    exactly ``p`` sites open. Built from ``instances/flanders/municipalities.csv`` and ``candidates.csv``."""
    from pathlib import Path

    import pandas as pd

    root = Path(__file__).resolve().parents[2] / "instances" / "flanders"
    towns = pd.read_csv(root / "municipalities.csv")
    sites = pd.read_csv(root / "candidates.csv")
    a = towns[["x", "y"]].to_numpy(float)
    b = sites[["x", "y"]].to_numpy(float)
    km = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)) / 1000.0
    people = towns["population"].to_numpy(float)
    return matrix_problem(people, None, np.zeros(len(b)), km * people[:, None], p=p, name=f"flanders-pmedian-p{p}",
                          cost_unit="inhabitant·km", client_ids=towns["nis"].astype(str).to_numpy(),
                          facility_ids=sites["site_id"].astype(str).to_numpy())
