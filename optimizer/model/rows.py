"""The rows every solver path shares, built once from a :class:`~optimizer.problem.LocationProblem`.

The extensive formulation (:mod:`optimizer.solver.matrices`), the Lagrangian outer LPs
(:mod:`optimizer.solver.lagrangian`), the heuristics' move masks (:mod:`optimizer.solver.heuristics`), the Pyomo
reference model (:mod:`optimizer.model.pyomo_model`) and the infeasibility analysis (:mod:`optimizer.check.diagnose`)
take their land, count and link rows from here, so a rule means the same thing on every path. The verifier
(:mod:`optimizer.check.verify`) deliberately does not: it recomputes every constraint on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from optimizer.problem import LocationProblem

if TYPE_CHECKING:  # scipy is imported where a sparse matrix is built, not by every solve
    import scipy.sparse as sp


@dataclass(frozen=True)
class LandRows:
    """``Σ_{j at site s} area_j · y_j ≤ free_s`` for every site with finite free land and at least one option.

    Attributes
    ----------
    free_m2
        Free land of each row's site in m² (the row's upper bound).
    sites
        Site index of each row.
    row, col, value
        The entries of the rows: row, option and area in m²; :attr:`matrix` gives them as a CSR matrix
        (rows × options, row ``r`` holding the options of site ``sites[r]``), importing scipy on first use.
    """

    free_m2: np.ndarray
    sites: np.ndarray
    row: np.ndarray
    col: np.ndarray
    value: np.ndarray
    n_options: int

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """Areas in m², shape (rows, options), CSR."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.value, (self.row, self.col)), shape=(len(self.sites), self.n_options))


def land_rows(problem: LocationProblem) -> LandRows:
    """The land rows of ``problem`` (sites without a limit or without options need none)."""
    free = np.asarray(problem.site_free_m2, dtype=float)
    site = np.asarray(problem.option_site)
    has_option = np.bincount(site, minlength=len(free)) > 0
    sites = np.flatnonzero(np.isfinite(free) & has_option)
    row_of_site = np.full(len(free), -1)
    row_of_site[sites] = np.arange(len(sites))
    on = np.flatnonzero(row_of_site[site] >= 0)
    return LandRows(free[sites], sites, row_of_site[site[on]], on, np.asarray(problem.area_m2, float)[on],
                    problem.n_options)


def land_used_m2(problem: LocationProblem, open_options: np.ndarray) -> np.ndarray:
    """Land taken at every site (m²) by the open options (one entry per site, in site order)."""
    y = np.asarray(open_options, dtype=float)
    return np.bincount(problem.option_site, weights=problem.area_m2 * y, minlength=len(problem.site_ids))


def land_can_bind(problem: LocationProblem) -> bool:
    """Whether some site's options together need more land than it has (otherwise the land rows never bind)."""
    free = np.asarray(problem.site_free_m2, float)
    total = np.bincount(problem.option_site, weights=problem.area_m2, minlength=len(free))
    return bool(np.any(total > free + 1e-9))


def count_bounds(problem: LocationProblem, inf: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the count rows with a missing bound as ``∓inf`` (a solver's infinity)."""
    counts = problem.counts
    return (np.where(np.isfinite(counts.lower), counts.lower, -inf),
            np.where(np.isfinite(counts.upper), counts.upper, inf))


def link_coefficients(problem: LocationProblem, *, strengthen: bool) -> np.ndarray:
    """Coefficient of ``y_j`` in each arc's link row ``x_a ≤ coef_a · y_j``.

    ``strengthen`` gives ``min(1, Q_j / d_i)``: a client larger than its option's capacity can send at most that
    share, a valid cut of the LP relaxation (it removes no integer solution); otherwise 1.
    """
    if not strengthen:
        return np.ones(problem.n_arcs)
    demand = np.asarray(problem.demand, dtype=float)[problem.arc_client]
    capacity = np.asarray(problem.capacity, dtype=float)[problem.arc_option]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(demand > 0, capacity / np.where(demand > 0, demand, 1.0), np.inf)
    return np.minimum(1.0, ratio)
