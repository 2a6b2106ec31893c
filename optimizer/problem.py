"""Generic facility-location problem in array form: the contract between instances, models and the verifier.

Every instance, whatever it came from (a named Flanders instance, a user's matrix, an OR-Library file), is
compiled into one :class:`LocationProblem`: whole numpy arrays and sparse matrices, never Python objects per
pair. The model builders (:mod:`optimizer.model`), the solvers (:mod:`optimizer.solver`) and the verifier
(:mod:`optimizer.check.verify`) only read this.

Vocabulary
----------
client
    A demand unit (municipality, demand point, benchmark customer) with a demand in flow units (t/yr).
site
    A place where facilities may be built (candidate economic zone); it has a land budget in m².
option
    One facility that may be opened: a (site, programme, size) triple with a capacity, fixed cost and area.
arc
    An allowed client → option assignment. Arcs are sparse (COO): eligibility and "serve only inside the
    arrondissement" rules are expressed by which arcs exist. ``arc_cost`` is the cost of sending the client's
    *whole* demand along the arc (the OR-Library convention), so the transport term is ``Σ arc_cost · share``.
count row
    A linear row ``lower ≤ Σ_{j in row} y_j ≤ upper`` over open options: "one bank per arrondissement",
    "exactly p facilities", "at most one size per site".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy is imported where a sparse matrix is wanted (CountRows.matrix), not by every solve
    import scipy.sparse as sp


class Status(str, Enum):
    """How a solve ended. A ``str``: it equals, prints and serialises (JSON, CSV) as its value.

    ``OPTIMAL``: optimal within the requested gap; ``FEASIBLE``: a solution with a proven gap (time limit);
    ``INFEASIBLE``: proven to have no solution; ``NO_SOLUTION``: the time limit came before any solution;
    ``UNKNOWN``: an LP that proved nothing (HiGHS' warm start can end so; never read as infeasible).
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no_solution"
    UNKNOWN = "unknown"

    __str__ = str.__str__  # "optimal", not "Status.OPTIMAL", in messages, tables and files
    __format__ = str.__format__

    @property
    def has_solution(self) -> bool:
        """Whether a solution comes with this status (optimal or feasible)."""
        return self in (Status.OPTIMAL, Status.FEASIBLE)


@dataclass(frozen=True)
class CountRows:
    """Rows ``lower ≤ A @ y ≤ upper`` over option open-variables ``y`` (A is 0/1, shape rows × options).

    ``A`` is kept as its entries (``row``, ``col``, ``value``; a repeated entry adds up) and :attr:`matrix` gives it
    as a ``scipy.sparse`` CSR matrix on first use: a problem without count rows (most matrix instances) never
    imports scipy, which costs a whole-process solve more than the solve itself.
    """

    lower: np.ndarray
    upper: np.ndarray
    names: tuple[str, ...]
    row: np.ndarray
    col: np.ndarray
    value: np.ndarray
    n_options: int

    @classmethod
    def empty(cls, n_options: int) -> "CountRows":
        none = np.zeros(0, dtype=np.int64)
        return cls(np.zeros(0), np.zeros(0), (), none, none, np.zeros(0), int(n_options))

    @classmethod
    def from_groups(
        cls,
        groups: list[np.ndarray],
        lower: np.ndarray | list[float],
        upper: np.ndarray | list[float],
        names: list[str],
        n_options: int,
    ) -> "CountRows":
        """Build rows from lists of option indices (one list per row)."""
        rows = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        cols = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
        return cls(np.asarray(lower, float), np.asarray(upper, float), tuple(names), rows, np.asarray(cols),
                   np.ones(len(cols)), int(n_options))

    @classmethod
    def from_matrix(cls, matrix: sp.spmatrix, lower: np.ndarray, upper: np.ndarray,
                    names: tuple[str, ...] | list[str]) -> "CountRows":
        """Rows given as a sparse matrix (rows × options) with their bounds and names."""
        coo = matrix.tocoo()
        rows = cls(np.asarray(lower, float), np.asarray(upper, float), tuple(names), coo.row, coo.col, coo.data,
                   int(matrix.shape[1]))
        rows.__dict__["matrix"] = matrix.tocsr()  # the matrix given, as CSR (what :attr:`matrix` would build)
        return rows

    @property
    def n_rows(self) -> int:
        return len(self.lower)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """``A`` as a CSR matrix (rows × options); scipy is imported here, on first use."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.value, (self.row, self.col)), shape=(self.n_rows, self.n_options))

    def dot(self, y: np.ndarray) -> np.ndarray:
        """``A @ y``: the left-hand side of every row for the option values ``y`` (numpy, no scipy)."""
        y = np.asarray(y, dtype=float)
        return np.bincount(self.row, weights=self.value * y[self.col], minlength=self.n_rows).astype(float)

    def dense(self) -> np.ndarray:
        """``A`` as a dense array (``matrix.toarray()`` without scipy; repeated entries add up)."""
        a = np.zeros((self.n_rows, self.n_options), dtype=self.value.dtype)
        np.add.at(a, (self.row, self.col), self.value)
        return a

    def stack(self, other: "CountRows") -> "CountRows":
        import scipy.sparse as sp

        return CountRows.from_matrix(
            sp.vstack([self.matrix, other.matrix]).tocsr(),
            np.concatenate([self.lower, other.lower]),
            np.concatenate([self.upper, other.upper]),
            self.names + other.names,
        )


@dataclass(frozen=True)
class LocationProblem:
    """A (capacitated, possibly single-source) facility-location problem as arrays.

    Objective (minimised)::

        Σ_arcs arc_cost·share + Σ_options (fixed_cost + land_cost_per_m2·area_m2)·y

    Constraints: every client's shares sum to 1; share ≤ y of its option; Σ demand·share ≤ capacity·y per
    option; count rows; Σ area·y ≤ free land per site; ``required`` options are open.
    """

    name: str
    client_ids: np.ndarray
    demand: np.ndarray
    site_ids: np.ndarray
    site_free_m2: np.ndarray
    option_ids: np.ndarray
    option_site: np.ndarray
    option_programme: np.ndarray
    option_size: np.ndarray
    capacity: np.ndarray
    fixed_cost: np.ndarray
    area_m2: np.ndarray
    arc_client: np.ndarray
    arc_option: np.ndarray
    arc_cost: np.ndarray
    counts: CountRows
    single_source: bool = True
    land_cost_per_m2: float = 0.0
    required: np.ndarray | None = None
    arc_km: np.ndarray | None = None
    cost_unit: str = "EUR/yr"
    meta: dict = field(default_factory=dict)

    @property
    def n_clients(self) -> int:
        return len(self.client_ids)

    @property
    def n_options(self) -> int:
        return len(self.option_ids)

    @property
    def n_arcs(self) -> int:
        return len(self.arc_client)

    def required_mask(self) -> np.ndarray:
        if self.required is None:
            return np.zeros(self.n_options, dtype=bool)
        return np.asarray(self.required, dtype=bool)

    def option_cost(self) -> np.ndarray:
        """Cost of opening each option: fixed cost plus priced land take."""
        return self.fixed_cost + self.land_cost_per_m2 * self.area_m2

    def check_shapes(self) -> None:
        """Fail fast on an inconsistent problem (a programming error, not a user error)."""
        n, m, s, k = self.n_clients, self.n_options, len(self.site_ids), self.n_arcs
        expect = {
            "demand": (self.demand, n),
            "site_free_m2": (self.site_free_m2, s),
            "option_site": (self.option_site, m),
            "capacity": (self.capacity, m),
            "fixed_cost": (self.fixed_cost, m),
            "area_m2": (self.area_m2, m),
            "arc_option": (self.arc_option, k),
            "arc_cost": (self.arc_cost, k),
        }
        for name, (arr, size) in expect.items():
            if len(arr) != size:
                msg = f"LocationProblem.{name} has length {len(arr)}, expected {size}"
                raise ValueError(msg)
        if k and (self.arc_client.max() >= n or self.arc_option.max() >= m):
            msg = "LocationProblem arcs index outside the client/option ranges"
            raise ValueError(msg)
        if self.counts.n_options != m:
            msg = "LocationProblem count rows do not match the number of options"
            raise ValueError(msg)


@dataclass
class Solution:
    """A solution of a :class:`LocationProblem` plus how it was obtained.

    ``status`` is a :class:`Status`: optimal, feasible (time limit or gap reached with an incumbent), infeasible,
    no_solution (time limit before any incumbent).
    """

    open_options: np.ndarray
    arc_share: np.ndarray
    objective: float
    bound: float
    status: Status
    solver: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)
    log: str = ""

    @property
    def gap(self) -> float:
        """Relative gap between objective and proven bound (0 when optimal; see :func:`relative_gap`)."""
        return relative_gap(self.objective, self.bound)

    @property
    def has_solution(self) -> bool:
        return Status(self.status).has_solution


def relative_gap(objective: float, bound: float) -> float:
    """``(objective - bound) / |objective|`` (at least 0), ``inf`` without a finite objective and bound.

    The one gap of every solve and every instance kind (a minimisation: the bound is below the objective).
    """
    if not np.isfinite(objective) or not np.isfinite(bound):
        return float("inf")
    return max(0.0, (objective - bound) / max(abs(objective), 1e-9))


def objective_parts(problem: LocationProblem, open_options: np.ndarray, arc_share: np.ndarray) -> dict[str, float]:
    """Objective split into transport, fixed and land terms (same formula the model uses)."""
    y = np.asarray(open_options, dtype=float)
    transport = float(np.dot(problem.arc_cost, arc_share))
    fixed = float(np.dot(problem.fixed_cost, y))
    land = float(problem.land_cost_per_m2 * np.dot(problem.area_m2, y))
    return {"transport": transport, "fixed": fixed, "land": land, "total": transport + fixed + land}
