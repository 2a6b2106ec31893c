"""Multi-source capacitated facility location: Lagrangian bound, variable fixing and Lagrangian branch and bound.

The scheme of Görtz & Klose (2012, "A simple but usually fast branch-and-bound algorithm for the capacitated
facility location problem", INFORMS J. Comput. 24:597) on the relaxation of Cornuéjols, Sridharan & Thizy
(1991, EJOR 50:280), assembled from whole arrays:

1. **Relax the demand rows** ``Σ_{a∈A(i)} x_a = 1`` with multipliers ``λ_i``, keep the capacity rows, the
   strong links and the aggregated capacity row ``Σ_j Q_j y_j ≥ D``::

       L(λ) = Σ_i λ_i + min { Σ_j v_j(λ) y_j : Σ_j Q_j y_j ≥ D, counts, land, required },
       v_j(λ) = f_j + min { Σ_{a∈A(j)} (c_a − λ_i) x_a : Σ d_i x_a ≤ Q_j, 0 ≤ x_a ≤ 1 }.

   ``v_j`` is a continuous knapsack (greedy by ratio over the arcs with ``c_a < λ_i``, sorted only for the
   options whose capacity binds); the outer problem is a 0-1 covering knapsack solved exactly by dynamic
   programming over capacity (integer capacities divided by their gcd; otherwise rounded up on a coarser grid,
   which only weakens the bound). With count rows or binding land the outer problem is solved as an LP instead
   (a valid, weaker bound). Thanks to the integer knapsack ``max_λ L(λ)`` is above the LP bound of the strong
   formulation: within 0.5 % of the optimum on all twelve OR-Library ``capa/capb/capc`` variants.
2. **Subgradient optimisation** of ``λ`` with a Lagrangian heuristic: new open sets of the relaxation are
   completed by the transportation LP (HiGHS) into feasible solutions; the best one is the incumbent.
3. **Fixing**: ``L(λ | y_j = 1 − ȳ_j)`` is computed for every option by re-solving the knapsack with the item
   forced; options whose flip lifts the bound above the incumbent are fixed.
4. **Branch and bound** on the open-variables with the same bound at every node (``v_j`` does not depend on the
   branching, only the outer knapsack does), depth first, fixing by flip cost at every node.
5. Whatever the tree leaves open (time limit) goes to HiGHS on the strengthened formulation with the fixings
   (:mod:`optimizer.solver.strategy_cflp`).

The outer knapsack is :mod:`~optimizer.solver.lagrangian.cover`; the subgradient search, result types and branching
rules are the shared skeleton of :mod:`~optimizer.solver.lagrangian.common`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.model.rows import land_can_bind
from optimizer.problem import LocationProblem
from optimizer.solver.assign import ArcIndex, assign_transport
from optimizer.solver.heuristics import Feasibility, solution_cost
from optimizer.solver.lagrangian.common import (
    ActiveArcs,
    LagrangianBound,
    SubgradientSearch,
    TreeResult,
    branch_option,
    cheapest_arc_multipliers,
    fix_by_flip,
    smoothed,
)
from optimizer.solver.lagrangian.cover import CoverKnapsack, CoverLp
from optimizer.solver.options import time_left

# subgradient steps per tree node: fewer steps cost many more nodes, more steps save few (measured on capb6000:
# benchmarks/perf/README.md, "Constants behind the code")
NODE_ITER = 150


@dataclass(kw_only=True)
class CflpBound(LagrangianBound):
    """A CFLP Lagrangian bound (:class:`~optimizer.solver.lagrangian.common.LagrangianBound`, ``values`` = ``v_j(λ)``,
    never rounded: ``raw_bound`` = ``bound``) and what the Lagrangian heuristic found along the way.

    Attributes
    ----------
    kernel
        Options that were open in some relaxation along the way (the "kernel" of promising options).
    incumbent, upper_bound
        Best solution found by the Lagrangian heuristic so far, and its objective.
    """

    kernel: np.ndarray | None = None
    incumbent: tuple[np.ndarray, np.ndarray] | None = None
    upper_bound: float = float("inf")


class FacilityKnapsacks:
    """``v_j(λ)`` for all options at once: continuous knapsacks over the arcs with ``c_a < λ_i``."""

    def __init__(self, problem: LocationProblem, index: ArcIndex) -> None:
        self.problem = problem
        self.active = ActiveArcs(problem, index.order)
        self.demand = np.asarray(problem.demand, float)
        self.cap = np.asarray(problem.capacity, float)
        self.f = problem.option_cost().astype(float)

    def evaluate(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(v, arcs, share)``: facility values and, per active arc (original index), its knapsack share."""
        act = self.active
        m = self.problem.n_options
        pos = act.below(lam)
        cl, op = act.client[pos], act.option[pos]
        red = np.minimum(act.cost[pos] - lam[cl], 0.0)
        w = self.demand[cl]
        load = np.bincount(op, weights=w, minlength=m)
        binding = load > self.cap + 1e-12  # only these need the ratio order
        share = np.ones(len(pos))
        on = np.flatnonzero(binding[op])
        if len(on):
            r_on, w_on, op_on = red[on], w[on], op[on]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(w_on > 0, r_on / np.where(w_on > 0, w_on, 1.0), -np.inf)
            # one sort by option, then ratio: map ratio ∈ [-inf, 0] monotonically into (0, 1] after the option
            order = np.argsort(op_on + 1.0 / (1.0 - ratio))
            ws, ops = w_on[order], op_on[order]
            cw = np.cumsum(ws)
            start = np.searchsorted(ops, np.arange(m + 1))
            before = cw - ws - np.concatenate([[0.0], cw])[start[ops]]  # load of the items ahead in the option
            room = self.cap[ops] - before
            s = np.clip(np.where(ws > 0, room / np.where(ws > 0, ws, 1.0), 1.0), 0.0, 1.0)
            share[on[order]] = s
        v = self.f + np.bincount(op, weights=red * share, minlength=m)
        return v, act.order[pos], share


class CflpLagrangian:
    """The relaxation of one problem: facility knapsacks, outer knapsack and the subgradient loop."""

    def __init__(self, problem: LocationProblem, index: ArcIndex | None = None) -> None:
        self.problem = problem
        self.index = index or ArcIndex.of(problem)
        # the transportation-LP heuristic splits clients: no incumbents for a single-source problem (its bound,
        # that of the multi-source relaxation, stays valid)
        self.primal = not problem.single_source
        self.knap = FacilityKnapsacks(problem, self.index)
        rows = problem.counts.n_rows > 0
        self.outer = CoverLp(problem) if rows or land_can_bind(problem) else CoverKnapsack(problem)
        self.feasibility = Feasibility(problem)
        self.tried: set[bytes] = set()
        self.ub = float("inf")
        self.best_solution: tuple[np.ndarray, np.ndarray] | None = None

    def offer(self, y: np.ndarray) -> None:
        """Lagrangian heuristic: complete an open set with the transportation LP; keep it if it is better."""
        p = self.problem
        if not self.primal:
            return
        yb = np.asarray(y) > 0.5
        key = yb.tobytes()
        if key in self.tried:
            return
        self.tried.add(key)
        x = assign_transport(p, yb)
        if x is None:
            return
        used = np.bincount(p.arc_option, weights=x, minlength=p.n_options) > 0
        trimmed = (yb & used) | p.required_mask()
        for cand in (trimmed, yb):  # unused options only add fixed cost, unless the rows need them
            if self.feasibility.feasible(cand):
                cost = solution_cost(p, cand, x)
                if cost < self.ub:
                    self.ub, self.best_solution = cost, (cand, x)
                return

    def run(
        self,
        lam: np.ndarray,
        *,
        forced_open: np.ndarray | None = None,
        forced_closed: np.ndarray | None = None,
        max_iter: int = 2000,
        time_limit_s: float | None = None,
        patience: int = 25,
        theta: float = 2.0,
        stop_at: float = float("inf"),
        heuristic_every: int = 10,
    ) -> CflpBound:
        """Subgradient optimisation from ``lam`` at a node; see :func:`cflp_lagrangian`."""
        p = self.problem
        n, m = p.n_clients, p.n_options
        search = SubgradientSearch(lam, theta=theta, patience=patience, time_limit_s=time_limit_s)
        lam = search.lam
        kernel = np.zeros(m, dtype=bool)
        best = CflpBound(bound=-np.inf, raw_bound=-np.inf, multipliers=lam.copy(), y=np.zeros(m, dtype=bool),
                         values=np.zeros(m), flip_cost=np.zeros(m), kernel=kernel)
        y_mean = np.zeros(m)  # smoothed relaxed open sets: a primal estimate, as in the volume algorithm
        it = 0
        for it in range(1, max_iter + 1):
            v, arcs, share = self.knap.evaluate(lam)
            value, y, _ = self.outer.solve(v, forced_open, forced_closed)
            if not np.isfinite(value):  # no feasible open set at this node
                best = CflpBound(bound=np.inf, raw_bound=np.inf, multipliers=lam.copy(), y=np.zeros(m, dtype=bool),
                                 values=v, flip_cost=np.full(m, np.inf), kernel=kernel, iterations=it)
                break
            bound = float(lam.sum() + value)
            yb = np.asarray(y) > 0.5
            kernel |= yb
            y_mean = smoothed(y_mean, yb, it)
            if search.improves(bound, best.bound):
                best = CflpBound(bound=bound, raw_bound=bound, multipliers=lam.copy(), y=yb.copy(), values=v.copy(),
                                 flip_cost=np.zeros(m), kernel=kernel, iterations=it)
            if heuristic_every and (it == 1 or it % heuristic_every == 0 or not np.isfinite(self.ub)):
                self.offer(yb)
            if best.bound >= min(stop_at, self.ub * (1 - 1e-12)) or search.stalled or search.out_of_time():
                break
            served = np.bincount(p.arc_client[arcs], weights=share * yb[p.arc_option[arcs]], minlength=n)
            target = self.ub if np.isfinite(self.ub) else bound + abs(bound) * 0.05 + 1.0
            if not search.step(1.0 - served, target, bound):
                break
        best.iterations = it
        best.kernel = kernel
        best.y_mean = y_mean
        if np.isfinite(best.bound):
            best.flip_cost = self.outer.solve(best.values, forced_open, forced_closed, flips=True)[2]
            if time_limit_s is None or time.perf_counter() - search.t0 <= time_limit_s:  # a transportation LP: in time only
                self.offer(best.y)
        best.incumbent, best.upper_bound = self.best_solution, self.ub
        return best


def cflp_lagrangian(
    problem: LocationProblem,
    *,
    upper_bound: float = float("inf"),
    incumbent: tuple[np.ndarray, np.ndarray] | None = None,
    index: ArcIndex | None = None,
    max_iter: int = 2000,
    time_limit_s: float | None = None,
    patience: int = 25,
    heuristic_every: int = 10,
) -> CflpBound:
    """Subgradient optimisation of the CFLP Lagrangian bound, with a Lagrangian heuristic (module docstring).

    Parameters
    ----------
    problem
        A multi-source problem with finite capacities (single-source problems get the same, valid, bound).
    upper_bound, incumbent
        Best known objective and solution ``(open_options, arc_share)``; improved along the way.
    max_iter, time_limit_s, patience
        Iteration and time limits; the step factor halves after ``patience`` iterations without improvement.
    heuristic_every
        Complete the relaxed open set into a solution with the transportation LP every this many iterations
        (0: only the open set of the best bound, at the end).

    Returns
    -------
    CflpBound
        The bound, the multipliers, flip costs for fixing and the best incumbent found.
    """
    lag = CflpLagrangian(problem, index)
    lag.ub, lag.best_solution = upper_bound, incumbent
    return lag.run(
        start_multipliers(problem, incumbent), max_iter=max_iter, time_limit_s=time_limit_s, patience=patience,
        heuristic_every=heuristic_every,
    )  # fmt: skip


def start_multipliers(problem: LocationProblem, incumbent: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Each client's cheapest arc cost, raised to its cost at the incumbent when there is one."""
    n = problem.n_clients
    lam = cheapest_arc_multipliers(problem)
    if incumbent is not None:  # each client's cost at the incumbent: usually close
        lam = np.maximum(lam, np.bincount(problem.arc_client, weights=problem.arc_cost * incumbent[1], minlength=n))
    return lam


def cflp_branch_and_bound(
    problem: LocationProblem,
    root: CflpBound,
    *,
    lagrangian: CflpLagrangian | None = None,
    forced_open: np.ndarray | None = None,
    forced_closed: np.ndarray | None = None,
    gap: float = 0.0,
    node_iter: int = NODE_ITER,
    max_nodes: int = 5_000,
    time_limit_s: float | None = None,
    branching: str = "fractional",
) -> TreeResult:
    """Depth-first branch and bound on the open-variables with the CFLP Lagrangian bound at every node.

    Each node re-optimises ``λ`` from its parent's (at most ``node_iter`` steps), prunes at the incumbent,
    fixes options by flip cost, offers its relaxed open set to the transportation-LP heuristic, and branches on
    the open option of the relaxation with the largest flip cost ("open" child first).

    Returns
    -------
    TreeResult
        Incumbent, bounds (the smallest open-node bound when a limit stopped the search) and node count.
    """
    lag = lagrangian or CflpLagrangian(problem)
    required = problem.required_mask()
    m = problem.n_options
    fo0 = np.zeros(m, dtype=bool) if forced_open is None else forced_open.copy()
    fc0 = np.zeros(m, dtype=bool) if forced_closed is None else forced_closed.copy()
    stack = [(fo0, fc0, root.multipliers, root.bound)]
    nodes = 0
    t0 = time.perf_counter()

    def level() -> float:
        return lag.ub - max(gap, 1e-9) * max(1.0, abs(lag.ub))

    while stack:
        if nodes >= max_nodes or (time_limit_s is not None and time.perf_counter() - t0 > time_limit_s):
            open_bound = min(b for *_, b in stack)
            return TreeResult(lag.best_solution, lag.ub, min(open_bound, lag.ub), False, nodes)
        fo, fc, lam, parent_bound = stack.pop()
        if parent_bound >= level():
            continue
        nodes += 1
        node_limit = time_left(time_limit_s, time.perf_counter() - t0)
        res = lag.run(
            lam, forced_open=fo, forced_closed=fc, max_iter=node_iter, patience=max(5, node_iter // 8), theta=0.5,
            stop_at=level(), heuristic_every=0, time_limit_s=node_limit,
        )  # fmt: skip
        if res.bound >= level():
            continue
        chosen = np.asarray(res.y) > 0.5
        fo, fc, free = fix_by_flip(fo, fc, chosen, res, level(), required)
        if not free.any():
            continue  # every option fixed: its only open set was offered to the heuristic
        j, open_first = branch_option(res, chosen, free, branching)
        closed_child, open_child = fc.copy(), fo.copy()
        closed_child[j] = True
        open_child[j] = True
        children = [(fo, closed_child, res.multipliers, res.bound), (open_child, fc, res.multipliers, res.bound)]
        stack.extend(children if open_first else children[::-1])  # the last pushed is explored first
    return TreeResult(lag.best_solution, lag.ub, lag.ub, True, nodes)


def lagrangian_local_search(
    lag: CflpLagrangian, v: np.ndarray, *, n_swaps: int = 12, rounds: int = 6, time_limit_s: float | None = None
) -> None:
    """Improve ``lag``'s incumbent by drop, add and swap moves screened with the Lagrangian values ``v``.

    Moves are ranked by their Lagrangian estimate (``v_in − v_out``); the best ``n_swaps`` swaps, every drop and
    the best few adds that keep enough capacity are evaluated exactly with the transportation LP. Repeats while
    a round improves, at most ``rounds`` times.
    """
    p = lag.problem
    demand = float(p.demand.sum())
    cap = np.where(np.isfinite(p.capacity), np.minimum(p.capacity, demand), demand)  # finite: no inf − inf
    required = p.required_mask()
    t0 = time.perf_counter()
    for _ in range(rounds):
        if lag.best_solution is None:
            return
        before = lag.ub
        y = np.asarray(lag.best_solution[0], dtype=bool)
        opened, closed = np.flatnonzero(y & ~required), np.flatnonzero(~y)
        have = float(cap[y].sum())
        moves: list[np.ndarray] = []
        for j in opened:  # drops
            if have - cap[j] >= demand:
                cand = y.copy()
                cand[j] = False
                moves.append(cand)
        for j in closed[np.argsort(v[closed])][:3]:  # adds
            cand = y.copy()
            cand[j] = True
            moves.append(cand)
        if len(opened) and len(closed):
            est = v[closed][:, None] - v[opened][None, :]
            ok = have - cap[opened][None, :] + cap[closed][:, None] >= demand
            est[~ok] = np.inf
            for flat in np.argsort(est, axis=None)[:n_swaps]:
                u, w = np.unravel_index(flat, est.shape)
                if not np.isfinite(est[u, w]):
                    break
                cand = y.copy()
                cand[closed[u]], cand[opened[w]] = True, False
                moves.append(cand)
        for cand in moves:
            lag.offer(cand)
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                return
        if lag.ub >= before:
            return
