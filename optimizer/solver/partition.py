"""Problems where every option belongs to exactly one "exactly one" count row ("one bank per arrondissement").

With any-assignment the regions are coupled only through the clients that a neighbouring region's bank serves
more cheaply; the open set is one choice per region. :func:`region_descent` improves such a choice one region
at a time: for region ``r`` every option is scored with the other regions fixed (each client's cost is the
cheaper of that option and its best other open option), and the best replaces the current one; sweeps repeat
until none improves. Costs come column-wise (clients × the region's options), so a cost source that computes
them from coordinates never forms the dense matrix: ``fine-10k-3k --set assignment=any`` (10,000 × 2,589)
costs one 10,000 × (options of the region) block per region and sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from optimizer.problem import LocationProblem

Columns = Callable[[np.ndarray], np.ndarray]
"""``columns(options) -> costs``: every client's cost from each of ``options``, shape ``(n, len(options))``
(``inf``: forbidden)."""


def partition_groups(problem: LocationProblem) -> list[np.ndarray] | None:
    """The option groups when the count rows are exactly-one rows partitioning the options, else ``None``
    (required options, other rows or land that can bind break the structure)."""
    counts = problem.counts
    if counts.n_rows == 0 or problem.required_mask().any():
        return None
    if not (np.all(counts.lower == 1) and np.all(counts.upper == 1)):
        return None
    a = counts.matrix.tocsc()
    if a.nnz != problem.n_options or np.any(np.diff(a.indptr) != 1):
        return None
    free = np.asarray(problem.site_free_m2, float)
    per_site = np.bincount(problem.option_site, weights=problem.area_m2, minlength=len(free))
    if np.any(per_site > free + 1e-9):  # land could bind between options of different rows
        return None
    rows = a.tocsr()
    return [rows.indices[rows.indptr[r] : rows.indptr[r + 1]] for r in range(rows.shape[0])]


def source_columns(source) -> Columns:  # noqa: ANN001 - optimizer.model.arcs.PointArcSource
    """:data:`Columns` of a point source (its cost formula on straight-line km, per block of options)."""
    from optimizer.geo.distances import block_km

    everyone = np.arange(len(source.client_xy))

    def columns(options: np.ndarray) -> np.ndarray:
        km = block_km(source.client_xy, source.option_xy[options], origin_group=source.client_group,
                      dest_group=source.option_group[options]).astype(np.float64)  # fmt: skip
        r = source.intrazonal_km[everyone][:, None]
        road = source.circuity * np.sqrt(km * km + r * r)
        return source.cost_per_km[:, None] * road

    return columns


def arc_columns(problem: LocationProblem) -> Columns:
    """:data:`Columns` of a problem's own arcs (missing arcs are forbidden)."""
    import scipy.sparse as sp

    matrix = sp.csc_matrix((problem.arc_cost.astype(float) + 0.0, (problem.arc_client, problem.arc_option)),
                           shape=(problem.n_clients, problem.n_options))  # fmt: skip
    present = sp.csc_matrix((np.ones(problem.n_arcs), (problem.arc_client, problem.arc_option)),
                            shape=matrix.shape)  # fmt: skip

    def columns(options: np.ndarray) -> np.ndarray:
        values = matrix[:, options].toarray()
        values[present[:, options].toarray() == 0] = np.inf
        return values

    return columns


def region_descent(
    columns: Columns,
    groups: list[np.ndarray],
    option_cost: np.ndarray,
    open_options: np.ndarray,
    *,
    time_limit_s: float | None = None,
    max_sweeps: int = 20,
) -> tuple[np.ndarray, float]:
    """Improve a one-per-group open set by best-response moves, one group at a time (module docstring).

    Parameters
    ----------
    columns
        Cost source by option columns.
    groups
        Option indices of each exactly-one row.
    option_cost
        Opening cost per option (cost units).
    open_options
        A feasible open mask (exactly one option per group).
    time_limit_s, max_sweeps
        Stop after this many seconds (checked after each group) or sweeps.

    Returns
    -------
    (open_options, cost)
        The improved mask and its objective (each client served by its cheapest open option).
    """
    t0 = time.perf_counter()
    f = np.asarray(option_cost, float)
    chosen = np.array([int(g[np.flatnonzero(open_options[g])[0]]) for g in groups])
    current = columns(chosen)  # n × groups: each client's cost from each group's open option
    best = float(current.min(axis=1).sum() + f[chosen].sum())
    for _ in range(max_sweeps):
        improved = False
        for r, g in enumerate(groups):
            if len(g) < 2:
                continue
            others = np.delete(current, r, axis=1).min(axis=1) if len(groups) > 1 else np.full(len(current), np.inf)
            cand = columns(g)
            value = np.minimum(cand, others[:, None]).sum(axis=0) + f[g] + (f[chosen].sum() - f[chosen[r]])
            k = int(np.argmin(value))
            if value[k] < best - 1e-9 * max(1.0, abs(best)) and g[k] != chosen[r]:
                best, chosen[r] = float(value[k]), int(g[k])
                current[:, r] = cand[:, k]
                improved = True
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                return _mask(chosen, len(open_options)), best
        if not improved:
            break
    return _mask(chosen, len(open_options)), best


def _mask(chosen: np.ndarray, m: int) -> np.ndarray:
    y = np.zeros(m, dtype=bool)
    y[chosen] = True
    return y


def separate_regions(source, groups: list[np.ndarray]) -> list[np.ndarray] | None:  # noqa: ANN001 - PointArcSource
    """The clients of each exactly-one row when the rows do not interact, else ``None``.

    With a point source whose allowed pairs are "same group" (a programme's own region), the problem separates
    when every row's options lie in one source group and every source group with clients has exactly one row: each
    client can then only be served by its own row's choice, and the rows are independent 1-medians.
    """
    if not hasattr(source, "option_group") or not hasattr(source, "client_group"):
        return None
    option_group, client_group = np.asarray(source.option_group), np.asarray(source.client_group)
    row_of_group: dict[int, int] = {}
    for r, g in enumerate(groups):
        labels = np.unique(option_group[g])
        if len(labels) != 1 or int(labels[0]) in row_of_group:
            return None
        row_of_group[int(labels[0])] = r
    clients: list[list[np.ndarray]] = [[] for _ in groups]
    order = np.argsort(client_group, kind="stable")
    labels, starts = np.unique(client_group[order], return_index=True)
    bounds = np.append(starts, len(order))
    for label, lo, hi in zip(labels, bounds[:-1], bounds[1:]):
        r = row_of_group.get(int(label))
        if r is None:  # clients without a row of their own: not this structure (the problem may be infeasible)
            return None
        clients[r].append(order[lo:hi])
    return [np.concatenate(c) if c else np.zeros(0, np.int64) for c in clients]


SEPARATE_BLOCK = 4_000_000  # client × option pairs evaluated per block (float64: 32 MB)


def solve_separate_regions(source, groups: list[np.ndarray], clients: list[np.ndarray],  # noqa: ANN001
                           option_cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The exact optimum of independent one-per-row choices by evaluating every allowed pair once.

    For row ``r`` with clients ``C_r`` and options ``O_r`` the cost of opening ``j`` is ``f_j + Σ_{i∈C_r} c_ij``
    (each client of the row can only use ``j``); the cheapest ``j`` is optimal, and since every option's cost is
    computed, the optimum is proven without keeping any pair but the assignment. Costs in float64 with the
    source's formula (:meth:`optimizer.model.arcs.PointArcSource.road_km`), summed in client blocks of at most
    :data:`SEPARATE_BLOCK` pairs.

    Returns
    -------
    (chosen, client_option, client_cost, pairs)
        The option chosen per row, each client's option and cost, and how many pairs were evaluated.
    """
    n = len(source.client_group)
    chosen = np.zeros(len(groups), dtype=np.int64)
    client_option = np.full(n, -1, dtype=np.int64)
    client_cost = np.full(n, np.inf)
    pairs = 0
    f = np.asarray(option_cost, float)
    for r, (opts, mine) in enumerate(zip(groups, clients)):
        total = f[opts].copy()
        step = max(1, SEPARATE_BLOCK // max(len(opts), 1))
        for lo in range(0, len(mine), step):
            block = mine[lo : lo + step]
            total += _block(source, block, opts).sum(axis=0)
            pairs += len(block) * len(opts)
        best = int(np.argmin(total))
        chosen[r] = opts[best]
        if len(mine):
            client_option[mine] = opts[best]
            client_cost[mine] = _block(source, mine, opts[best : best + 1])[:, 0]
    return chosen, client_option, client_cost, pairs


def _block(source, clients: np.ndarray, options: np.ndarray) -> np.ndarray:  # noqa: ANN001 - an arc source
    """Cost of clients × options from the source: its own ``block`` (network pair costs:
    :class:`optimizer.model.geography.NetworkArcSource`) or a point source's straight-line formula."""
    if hasattr(source, "block"):
        return np.asarray(source.block(clients, options), float)
    return _pair_costs(source, clients, np.asarray(source.option_xy, float)[options])


def _pair_costs(source, clients: np.ndarray, option_xy: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """``cost_per_km[i] · road_km`` of each client × option pair, float64 (EPSG:31370 metres in, km out)."""
    cxy = np.asarray(source.client_xy, float)[clients]
    km = np.hypot(cxy[:, :1] - option_xy[None, :, 0], cxy[:, 1:2] - option_xy[None, :, 1]) / 1000.0
    r = np.asarray(source.intrazonal_km, float)[clients][:, None]
    return np.asarray(source.cost_per_km, float)[clients][:, None] * source.circuity * np.sqrt(km * km + r * r)
