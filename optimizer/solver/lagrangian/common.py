"""The skeleton both Lagrangian relaxations share: active arcs, the subgradient step rule, the result types and
the branching rules of the Lagrangian trees.

Subgradient optimisation (Held, Wolfe & Crowder 1974): from multipliers ``λ``, evaluate the relaxation, then step
``λ += θ · (target − L(λ)) / ‖g‖² · g`` along the subgradient ``g`` towards a target (the incumbent's objective,
Polyak's rule), halving ``θ`` after ``patience`` iterations without a better bound and stopping when ``θ`` falls
below :data:`MIN_THETA`. What differs between the relaxations is only how ``L(λ)`` and ``g`` are evaluated
(:mod:`~optimizer.solver.lagrangian.uflp`, :mod:`~optimizer.solver.lagrangian.cflp`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.problem import LocationProblem

VOLUME_ALPHA = 0.1  # smoothing of the relaxed open sets into the primal estimate that guides branching
FIX_TOL = 1e-9  # relative margin by which a forced bound must exceed the incumbent before fixing
MIN_THETA = 1e-4  # the search stops when the step factor has been halved below this
IMPROVE_REL = 1e-12  # a bound counts as better when it beats the best by more than this (relative)
MIN_NORM = 1e-12  # a subgradient this small means the relaxed solution serves every client once


@dataclass(kw_only=True)
class LagrangianBound:
    """A Lagrangian bound at one node and what fixing and branching need.

    Attributes
    ----------
    bound
        Best valid lower bound found (cost units; rounded up for integer costs where the relaxation allows).
    raw_bound
        The same bound before rounding.
    multipliers
        The ``λ`` (one per client) that gave it.
    y
        The relaxed open set at those multipliers (fractional when the outer problem is an LP).
    values
        The option values at those multipliers (``ρ_j`` of the uncapacitated relaxation, ``v_j`` of the CFLP one).
    flip_cost
        Increase of the bound when ``y_j`` is forced to the other value (``inf``: not allowed or infeasible).
    iterations
        Subgradient iterations done.
    y_mean
        Exponentially smoothed relaxed open sets (a primal estimate, as in the volume algorithm).
    feasible
        Whether the relaxed solution serves every client exactly once (then it is optimal for the node).
    """

    bound: float
    raw_bound: float
    multipliers: np.ndarray
    y: np.ndarray
    values: np.ndarray
    flip_cost: np.ndarray
    iterations: int = 0
    y_mean: np.ndarray | None = None
    feasible: bool = False


@dataclass
class TreeResult:
    """Outcome of a Lagrangian branch and bound.

    Attributes
    ----------
    incumbent
        Best ``(open_options, arc_share)`` found (``None`` when there is none).
    upper_bound
        Its objective.
    bound
        Valid lower bound: the upper bound when the search finished, else the smallest bound of an open node.
    finished
        Whether the tree was fully explored (then the incumbent is optimal).
    nodes
        Nodes evaluated.
    """

    incumbent: tuple[np.ndarray, np.ndarray] | None
    upper_bound: float
    bound: float
    finished: bool
    nodes: int


class ActiveArcs:
    """Arcs sorted by client then cost, to list the arcs with ``c_a < λ_i`` by binary search.

    Only those arcs enter a Lagrangian relaxation of the assignment rows, so an iteration costs
    O(active arcs + n log k) rather than O(arcs).
    """

    def __init__(self, problem: LocationProblem, order: np.ndarray) -> None:
        self.problem = problem
        self.order = order
        self.cost = problem.arc_cost[order].astype(float)
        self.client = problem.arc_client[order]
        self.option = problem.arc_option[order]
        n = problem.n_clients
        self.start = np.searchsorted(self.client, np.arange(n + 1))
        lo, hi = (float(self.cost.min()), float(self.cost.max())) if len(self.cost) else (0.0, 0.0)
        self.offset = lo
        self.stride = (hi - lo) * 2.0 + 1.0
        self.key = (self.cost - lo) + self.client * self.stride

    def below(self, lam: np.ndarray, clients: np.ndarray | None = None) -> np.ndarray:
        """Positions (in sorted order) of arcs with ``c_a < λ_i``: of every client, or of ``clients`` (then
        ``lam`` holds their thresholds, in that order). The count per client is left in ``last_counts``."""
        n = len(self.start) - 1
        who = np.arange(n) if clients is None else np.asarray(clients)
        # a small margin upwards: an arc with c_a ≈ λ_i is listed rather than lost to round-off (its min(0, ·) is 0)
        margin = 1e-12 * self.stride * max(n, 1)
        target = np.clip(lam - self.offset + margin, -0.5, self.stride / 2.0) + who * self.stride
        lo, hi = self.start[who], self.start[who + 1]
        end = np.clip(np.searchsorted(self.key, target, side="left"), lo, hi)
        cnt = end - lo
        self.last_counts = cnt
        total = int(cnt.sum())
        first = np.repeat(lo - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
        return np.arange(total) + first


class SubgradientSearch:
    """The step rule: multipliers, the step factor ``θ`` with its patience, and the time limit of one search."""

    def __init__(self, lam: np.ndarray, *, theta: float, patience: int, time_limit_s: float | None) -> None:
        self.lam = np.asarray(lam, float).copy()
        self.theta = theta
        self.patience = patience
        self.time_limit_s = time_limit_s
        self.since = 0
        self.t0 = time.perf_counter()

    def improves(self, bound: float, best: float) -> bool:
        """Whether ``bound`` beats ``best``; otherwise count towards halving ``θ``."""
        if bound > best + IMPROVE_REL * max(1.0, abs(bound)):
            self.since = 0
            return True
        self.since += 1
        if self.since >= self.patience:
            self.theta, self.since = self.theta / 2.0, 0
        return False

    @property
    def stalled(self) -> bool:
        return self.theta < MIN_THETA

    def out_of_time(self) -> bool:
        return self.time_limit_s is not None and time.perf_counter() - self.t0 > self.time_limit_s

    def step(self, g: np.ndarray, target: float, bound: float) -> bool:
        """Polyak step towards ``target``; ``False`` (no step) when the subgradient vanishes."""
        norm = float(g @ g)
        if norm < MIN_NORM:
            return False
        self.lam += self.theta * max(target - bound, 1e-9 * max(1.0, abs(bound))) / norm * g
        return True


def smoothed(y_mean: np.ndarray, y: np.ndarray, iteration: int) -> np.ndarray:
    """The volume algorithm's primal estimate: the first open set, then an exponential average."""
    return y.astype(float) if iteration == 1 else (1 - VOLUME_ALPHA) * y_mean + VOLUME_ALPHA * y


def cheapest_arc_multipliers(problem: LocationProblem) -> np.ndarray:
    """Each client's cheapest arc cost (0 without arcs): the usual start of the multipliers."""
    lam = np.full(problem.n_clients, np.inf)
    np.minimum.at(lam, problem.arc_client, problem.arc_cost)
    return np.where(np.isfinite(lam), lam, 0.0)


def fix_by_flip(forced_open: np.ndarray, forced_closed: np.ndarray, chosen: np.ndarray, node: LagrangianBound,
                level: float, required: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fix the options whose flip lifts the node's bound to ``level``; return the fixings and the free options."""
    free = ~forced_open & ~forced_closed
    over = node.raw_bound + node.flip_cost >= level  # flipping these cannot lead below the incumbent
    forced_open = forced_open | (free & chosen & over)
    forced_closed = forced_closed | (free & ~chosen & over)
    return forced_open, forced_closed, ~forced_open & ~forced_closed & ~required


def branch_option(node: LagrangianBound, chosen: np.ndarray, free: np.ndarray, branching: str,
                  y_mean: np.ndarray | None = None) -> tuple[int, bool]:
    """The option to branch on and whether its "open" child goes first.

    ``"fractional"``: the most fractional primal estimate (``y_mean``, default ``node.y_mean``), its likelier side
    first. ``"flip"``: the open option of the relaxation whose closing costs most (else the free option whose
    opening costs least), "open" first.
    """
    if branching == "fractional":
        ym = node.y_mean if y_mean is None else y_mean
        cand = np.flatnonzero(free)
        j = int(cand[np.argmin(np.abs(ym[cand] - 0.5))])
        return j, bool(ym[j] >= 0.5)
    cand = np.flatnonzero(chosen & free)
    if len(cand):
        j = int(cand[np.argmax(np.where(np.isfinite(node.flip_cost[cand]), node.flip_cost[cand], -1.0))])
    else:
        cand = np.flatnonzero(free)
        j = int(cand[np.argmin(node.flip_cost[cand])])
    return j, True
