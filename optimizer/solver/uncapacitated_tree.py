"""Lagrangian branch and bound for uncapacitated problems with node-level arc reduction and row branching.

The bound at every node is the Lagrangian of :mod:`optimizer.solver.lagrangian.uflp` (assignment rows relaxed, the open-variable
subproblem with count rows, land and required options kept). Two things make it faster than a plain Lagrangian
tree (one relaxation of the whole problem at every node, one option per branch):

* **Each node works on its own arcs.** Deep in the tree most options are fixed closed by flip costs (pmed36: a
  median of 756 of 800), yet every subgradient step still lists their arcs. A node drops the arcs of its closed
  options and the arcs whose forced use lifts its bound above the incumbent (``L + max(0, c_a − λ_i) + flip_j⁺``,
  valid in its whole subtree), and its children start from that smaller problem. The bound is unchanged (arcs of
  closed options never enter it); each step costs what the node's own arcs cost.
* **Branching on a count row** (``"row"``): where options are grouped in exactly-one rows ("one bank per
  arrondissement"), branching on one option fixes the whole row in one child and removes a single option in the
  other, so a depth-first search nearly enumerates. Splitting the row's free options in two halves by their
  smoothed relaxed value (the likelier half first) halves the row's choice set in both children.

Fixing by flip cost and the choice of the branching option are those of the capacitated tree
(:func:`~optimizer.solver.lagrangian.common.fix_by_flip`, :func:`~optimizer.solver.lagrangian.common.branch_option`).
Every node tries its relaxed open set as a solution (each client to its nearest open option). The bound returned
at a limit is the smallest bound of an open node, rounded up for integer costs.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, replace

import numpy as np

from optimizer.problem import LocationProblem
from optimizer.solver.assign import ArcIndex
from optimizer.solver.heuristics import Feasibility
from optimizer.solver.lagrangian.common import (
    VOLUME_ALPHA,
    ActiveArcs,
    LagrangianBound,
    TreeResult,
    branch_option,
    fix_by_flip,
)
from optimizer.solver.lagrangian.uflp import UflLagrangian

DENSE_MAX_CELLS = 400_000  # clients × options of a node below which its steps use a dense cost matrix
EARLY_EVERY = 10  # steps between the checks of a node's early stop
SHRINK = 0.7  # a node rebuilds its relaxation when it keeps less than this share of its parent's arcs


@dataclass
class _Node:
    """A node's relaxation: its problem (the root's options, a subset of the root's arcs) and where they came from."""

    problem: LocationProblem
    lag: UflLagrangian
    arcs: np.ndarray  # indices into the root problem's arcs
    dense: tuple[np.ndarray, np.ndarray] | None = None  # (options with arcs, those options × clients costs; inf)


def _dense(problem: LocationProblem) -> tuple[np.ndarray, np.ndarray] | None:
    """The node's costs as a dense options × clients matrix when it is small (:data:`DENSE_MAX_CELLS`): one
    subgradient step is then a handful of whole-matrix operations instead of listing the active arcs by binary
    search (pmed36: 800 clients × ~50 options left at a typical node)."""
    opts = np.unique(problem.arc_option)
    if problem.n_clients * len(opts) > DENSE_MAX_CELLS:
        return None
    row = np.full(problem.n_options, -1)
    row[opts] = np.arange(len(opts))
    costs_t = np.full((len(opts), problem.n_clients), np.inf)  # options × clients: an option's row is contiguous
    costs_t[row[problem.arc_option], problem.arc_client] = problem.arc_cost
    return opts, costs_t


def _run_node(
    lag: UflLagrangian,
    lam: np.ndarray,
    upper_bound: float,
    forced_open: np.ndarray,
    forced_closed: np.ndarray,
    *,
    max_iter: int,
    patience: int,
    theta: float,
    stop_at: float,
    time_limit_s: float | None,
    early: bool = True,
    dense: tuple[np.ndarray, np.ndarray] | None = None,
) -> LagrangianBound:
    """:meth:`optimizer.solver.lagrangian.uflp.UflLagrangian.run` with an early stop: a node that is going to branch anyway does not
    need its bound polished (its children continue from its ``λ``), so the steps stop once the recent rate of
    improvement cannot reach ``stop_at`` in the steps left (checked every :data:`EARLY_EVERY` steps)."""
    p = lag.problem
    m = p.n_options
    lam = np.asarray(lam, float).copy()
    best = LagrangianBound(bound=-np.inf, raw_bound=-np.inf, multipliers=lam.copy(), y=np.zeros(m), values=lag.f.copy(),
                           flip_cost=np.zeros(m))
    since = it = 0
    t0 = time.perf_counter()
    solve_y = lag.sub.prepare(forced_open, forced_closed)
    y_mean = np.zeros(m)
    history = []
    if dense is not None:
        opts, costs_t = dense
        if forced_closed is not None and forced_closed[opts].any():
            live = ~forced_closed[opts]  # closed options' rows never enter the bound: drop them once
            opts, costs_t = opts[live], costs_t[live]
        red_m = np.empty_like(costs_t)  # options × clients, reused by every step
    inc = lag.incremental() if dense is None else None
    for it in range(1, max_iter + 1):
        if dense is not None:
            np.subtract(costs_t, lam, out=red_m)
            np.minimum(red_m, 0.0, out=red_m)
            rho = lag.f.copy()
            rho[opts] += red_m.sum(axis=1)
            value, y, flip = solve_y(rho, False)
        else:
            rho, value, y, served = lag.step_values(lam, solve_y, inc)
            flip = np.zeros(m) if np.isfinite(value) else np.full(m, np.inf)
        if not np.isfinite(value):
            best = LagrangianBound(bound=np.inf, raw_bound=np.inf, multipliers=lam.copy(), y=y, values=rho, flip_cost=flip,
                                  iterations=it)
            break
        bound = float(lam.sum() + value)
        y_mean = y.astype(float) if it == 1 else (1 - VOLUME_ALPHA) * y_mean + VOLUME_ALPHA * y
        if dense is not None:  # only the open options' rows (p of them; weighted when the LP y is fractional)
            y_opts = np.asarray(y, float)[opts]
            rows = np.flatnonzero(y_opts)
            served = y_opts[rows] @ (red_m[rows] < 0)
        g = 1.0 - served
        if bound > best.raw_bound + 1e-12 * max(1.0, abs(bound)):
            best = LagrangianBound(bound=bound, raw_bound=bound, multipliers=lam.copy(), y=y.copy(), values=rho,
                                  flip_cost=flip, iterations=it, feasible=bool(np.all(g == 0)))
            since = 0
        else:
            since += 1
            if since >= patience:
                theta, since = theta / 2.0, 0
        history.append(best.raw_bound)
        if best.raw_bound >= stop_at or theta < 1e-4:
            break
        if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
            break
        if early and it >= 2 * EARLY_EVERY and it % EARLY_EVERY == 0:
            rate = (history[-1] - history[-1 - EARLY_EVERY]) / EARLY_EVERY
            if history[-1] + rate * (max_iter - it) < stop_at:
                break
        norm = float(g @ g)
        if norm < 1e-12:
            break
        lam += theta * max(upper_bound - bound, 1e-9 * max(1.0, abs(bound))) / norm * g
    return lag.finish(best, it, y_mean, solve_y, inc)


def _restricted(parent: _Node, keep: np.ndarray) -> _Node:
    """The parent's problem with only the ``keep`` arcs (a mask over its arcs); sorted order is preserved."""
    p = parent.problem
    order = parent.lag.index.order
    keep_sorted = order[keep[order]]  # positions, in (client, cost) order
    sub = replace(p, arc_client=p.arc_client[keep_sorted], arc_option=p.arc_option[keep_sorted],
                  arc_cost=p.arc_cost[keep_sorted], arc_km=None)  # fmt: skip
    index = ArcIndex(sub, np.arange(len(keep_sorted)), parent.lag.index.penalty)
    lag = UflLagrangian.__new__(UflLagrangian)  # the parent's relaxation on fewer arcs: no new y subproblem
    lag.problem, lag.index, lag.act = sub, index, ActiveArcs(sub, index.order)
    lag.sub, lag.f, lag.integral = parent.lag.sub, parent.lag.f, parent.lag.integral
    return _Node(sub, lag, parent.arcs[keep_sorted], _dense(sub))


def _node_arcs(node: _Node, res: LagrangianBound, fc: np.ndarray, level: float) -> np.ndarray:
    """Mask of the node's arcs that may still be in a solution below ``level`` in its subtree."""
    p = node.problem
    red = p.arc_cost - res.multipliers[p.arc_client]
    chosen = np.asarray(res.y) > 1 - 1e-9
    extra = np.where(chosen, 0.0, res.flip_cost)[p.arc_option]
    return ~fc[p.arc_option] & (res.raw_bound + np.maximum(red, 0.0) + extra <= level)


def _row_split(problem: LocationProblem, free: np.ndarray, y_mean: np.ndarray, rho: np.ndarray):  # noqa: ANN202
    """The exactly-one count row whose free options are most evenly weighted in ``y_mean``, split in two halves
    (options ranked by ``y_mean``, then ``ρ``); ``None`` when no such row has two free options."""
    a = problem.counts.matrix.tocsr()
    exact_one = np.flatnonzero((problem.counts.lower == 1) & (problem.counts.upper == 1))
    best, best_score = None, -1.0
    for r in exact_one:
        opts = a.indices[a.indptr[r] : a.indptr[r + 1]]
        opts = opts[free[opts]]
        if len(opts) < 2:
            continue
        w = y_mean[opts]
        score = 1.0 - float(w.max()) if w.sum() > 0 else 0.0  # mass outside the favourite: how undecided
        if score > best_score:
            best, best_score = (r, opts), score
    if best is None:
        return None
    _, opts = best
    order = np.lexsort((rho[opts], -y_mean[opts]))
    ranked = opts[order]
    # first half: the favourites, holding at least half the relaxed mass (at least one option)
    mass = np.cumsum(y_mean[ranked])
    cut = int(np.searchsorted(mass, 0.5 * mass[-1])) + 1 if mass[-1] > 0 else len(ranked) // 2
    cut = min(max(cut, 1), len(ranked) - 1)
    return ranked[:cut], ranked[cut:]


def branch_and_bound(
    problem: LocationProblem,
    incumbent: tuple[np.ndarray, np.ndarray],
    multipliers: np.ndarray,
    *,
    forced_open: np.ndarray | None = None,
    forced_closed: np.ndarray | None = None,
    index: ArcIndex | None = None,
    gap: float = 0.0,
    node_iter: int = 120,
    max_nodes: int = 1_000_000,
    time_limit_s: float | None = None,
    branching: str = "auto",
    search: str = "depth",
    early: bool = True,
) -> TreeResult:
    """Lagrangian branch and bound with node-level arc reduction (module docstring).

    Parameters
    ----------
    problem
        Uncapacitated problem (usually already reduced by :func:`optimizer.solver.lagrangian.uflp.reduced_cost_fixing`).
    incumbent
        A feasible ``(open_options, arc_share)`` of ``problem``.
    multipliers
        Root ``λ``.
    forced_open, forced_closed
        Root fixings.
    gap
        Relative gap at which a node is pruned.
    node_iter, max_nodes, time_limit_s
        Subgradient steps per node and limits; when a limit stops the search, ``finished`` is ``False``.
    branching
        ``"flip"`` (the open option of the relaxation whose closing costs most, "open" child first),
        ``"fractional"`` (the option with the most fractional smoothed value, likelier side first), ``"row"``
        (halve the choice set of an exactly-one count row, else ``"flip"``) or ``"auto"`` (``"flip"`` when every
        option lies in an exactly-one row, else ``"fractional"``: pmed36 with its optimum known, 2,117 nodes in
        57.6 s against 2,425 in 67.7 s by ``"flip"``, load 8).
    search
        ``"depth"`` (depth first: little memory, incumbents early) or ``"best"`` (the open node with the smallest
        bound first: the proven bound rises as fast as the bound allows; for gaps that a depth-first search cannot
        close in time).

    Returns
    -------
    TreeResult
        Incumbent (in ``problem``'s arcs), upper bound, proven bound, whether the search finished, nodes.
    """
    m = problem.n_options
    index = index or ArcIndex.of(problem)
    root_lag = UflLagrangian(problem, index)
    root = _Node(problem, root_lag, np.arange(problem.n_arcs), _dense(problem))
    feas = Feasibility(problem)
    required = problem.required_mask()
    f = problem.option_cost().astype(float)
    if branching == "auto":
        a = problem.counts.matrix.tocsc()
        one = (problem.counts.lower == 1) & (problem.counts.upper == 1)
        in_one = np.asarray(a[one].sum(axis=0)).ravel() > 0 if one.any() else np.zeros(m, bool)
        # exactly-one rows: "flip" (row halving found worse incumbents on fine-2k-500 any: 121,934 against
        # 121,792 in 60 s, the bound unchanged); otherwise "fractional"
        branching = "flip" if one.any() and in_one.all() else "fractional"
    y_best, x_best = np.asarray(incumbent[0], dtype=bool), np.asarray(incumbent[1], float)
    d1, _, _, _ = index.nearest_two(y_best)
    ub = float(d1.sum() + f[y_best].sum())
    fo0 = np.zeros(m, dtype=bool) if forced_open is None else np.asarray(forced_open, dtype=bool).copy()
    fc0 = np.zeros(m, dtype=bool) if forced_closed is None else np.asarray(forced_closed, dtype=bool).copy()
    stack: list = [(fo0, fc0, np.asarray(multipliers, float), -np.inf, 2.0, root)]
    heap: list = []
    counter = itertools.count()
    best_first = search == "best"

    def push(entries: list) -> None:
        if best_first:
            for e in entries:
                heapq.heappush(heap, (e[3], next(counter), e))
        else:
            stack.extend(entries)

    def pop():  # noqa: ANN202
        return heapq.heappop(heap)[2] if best_first else stack.pop()

    def pending() -> list:
        return [h[2] for h in heap] if best_first else stack

    if best_first:
        push([stack.pop()])
    nodes = 0
    t0 = time.perf_counter()

    def left() -> float | None:
        return None if time_limit_s is None else max(0.0, time_limit_s - (time.perf_counter() - t0))

    while heap or stack:
        if nodes >= max_nodes or (time_limit_s is not None and left() <= 0.0):
            open_bound = min(entry[3] for entry in pending())
            return TreeResult((y_best, x_best), ub, root_lag.rounded(min(open_bound, ub)), False, nodes)
        fo, fc, lam, parent_bound, theta, node = pop()
        level = root_lag.prune_level(ub, gap)
        if parent_bound >= level:
            continue
        nodes += 1
        served = np.bincount(node.problem.arc_client, minlength=problem.n_clients) > 0
        if not served.all():  # a client lost every arc: nothing below the incumbent in this subtree
            continue
        res = _run_node(node.lag, lam, ub, fo, fc, max_iter=node_iter, patience=max(5, node_iter // 8),
                        theta=theta, stop_at=level, time_limit_s=left(), early=early, dense=node.dense)  # fmt: skip
        if res.raw_bound >= level:
            continue
        chosen = np.asarray(res.y) > 0.5
        if feas.feasible(chosen):  # each client to its nearest open option, in the full problem
            d1, arc1, _, _ = index.nearest_two(chosen)
            if np.all(arc1 >= 0):
                cost = float(d1.sum() + f[chosen].sum())
                if cost < ub - 1e-9 * max(1.0, abs(ub)):
                    x = np.zeros(problem.n_arcs)
                    x[arc1] = 1.0
                    y_best, x_best, ub = chosen, x, cost
                    level = root_lag.prune_level(ub, gap)
                    if res.raw_bound >= level:
                        continue
        if res.feasible:  # the relaxed solution serves every client once: this node's optimum (tried above)
            continue
        fo, fc, free = fix_by_flip(fo, fc, chosen, res, level, required)
        if not free.any():
            continue  # every option fixed: the node's only open set was tried above
        keep = _node_arcs(node, res, fc, level)
        child_node = _restricted(node, keep) if keep.sum() < SHRINK * len(keep) else node
        ym = res.y_mean if res.y_mean is not None else chosen.astype(float)
        split = _row_split(problem, free, ym, res.values) if branching == "row" else None
        if split is not None:
            first, second = split
            a_fc, b_fc = fc.copy(), fc.copy()
            a_fc[second] = True  # child A: the choice lies in the first half
            b_fc[first] = True  # child B: in the second half
            children = [(fo, b_fc, res.multipliers, res.raw_bound, 0.5, child_node),
                        (fo, a_fc, res.multipliers, res.raw_bound, 0.5, child_node)]  # fmt: skip
            push(children)  # depth first: A (the favourites) explored first
            continue
        j, open_first = branch_option(res, chosen, free, branching, y_mean=ym)
        closed_child, open_child = fc.copy(), fo.copy()
        closed_child[j] = True
        open_child[j] = True
        children = [(fo, closed_child, res.multipliers, res.raw_bound, 0.5, child_node),
                    (open_child, fc, res.multipliers, res.raw_bound, 0.5, child_node)]  # fmt: skip
        push(children if open_first else children[::-1])  # depth first: the last pushed is explored first
    # finished: every pruned node's bound reached the level of its time, which only fell as the incumbent improved,
    # so what is proven is the final level (the incumbent itself when no gap was asked for)
    return TreeResult((y_best, x_best), ub, root_lag.rounded(min(ub, root_lag.prune_level(ub, gap))), True, nodes)
