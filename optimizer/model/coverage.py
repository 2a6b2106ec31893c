"""Coverage and equity formulations (LSCP, MCLP, p-center, p-median with a service distance) as whole sparse arrays.

No I/O and no solver calls: every builder takes a :class:`~optimizer.problem.LocationProblem` plus a
:class:`CoverageSpec` and returns a :class:`CoverageArrays` (the column-wise MIP the HiGHS adapter takes, see
:mod:`optimizer.solver.coverage`). The count and land rows come from :mod:`optimizer.model.rows`, so a region or
land rule means the same here as in the p-median/CFLP formulation.

Definitions (the same ones PySAL spopt uses, so that results can be compared with its ``LSCP``, ``MCLP`` and
``PCenter``):

distance of an arc
    ``problem.arc_km`` when the problem has it (km), else ``problem.arc_cost`` (whatever unit the matrix is in, as
    spopt's ``from_cost_matrix``). See :func:`arc_distance`.
covered
    client ``i`` is covered by option ``j`` when an arc ``i → j`` exists and its distance is ``≤ service_km``
    (inclusive, as spopt's ``cost_matrix <= service_radius``).
LSCP (Toregas et al. 1971)
    open options of least total ``count`` (number of facilities, spopt's objective) or ``cost`` (opening cost +
    priced land) so that every client to cover is covered; count rows, land per site and required options hold.
MCLP (Church & ReVelle 1974)
    open ``p`` options (and/or the count rows) to maximise the demand of covered clients.
p-center
    open ``p`` options to minimise the largest distance from a client to the facility that serves it; every client
    is served; with finite capacities the serving facility is an assignment that respects them.
p-median with a maximum service distance
    the usual p-median (``Σ arc_cost · share + opening cost``) over the arcs within the service distance only.

Which clients must be covered is the programme's *covered-demand definition* (``models/*.toml``, see
``docs/programmes.md``): ``cover_zero_demand`` (spopt: yes) and ``cover`` — ``"all"`` (a client no candidate can
reach within the service distance makes LSCP infeasible) or ``"reachable"`` (such clients are left out of the cover
rows and reported as beyond reach: the demand unit is too coarse, or too remote, to be judged at that distance).

p-center is solved as a sequence of set-covering feasibility problems over the sorted distinct arc distances
(Minieka 1970, "The m-center problem", SIAM Review 12(1)): radius ``D`` is feasible when ``p`` options can be opened
so that every client has an open option within ``D``. The classic assignment formulation (``Σ d_ij x_ij ≤ r``) has
an LP bound near zero and needs ``n·m`` assignment columns; the radius formulation of Elloumi, Labbé & Pochet (2004)
is strong but has one row per client and distinct distance (``n·K`` rows, ``K`` up to ``n·m``). A bisection over the
``K`` distances needs ``⌈log2 K⌉`` set-cover problems of ``n`` rows × ``m`` columns each, whose LP relaxations are
tight in practice; each feasible answer also lowers the upper end to the radius the answer actually reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from optimizer.model.mip_arrays import MatrixModel
from optimizer.model.rows import count_bounds, land_rows
from optimizer.problem import LocationProblem

if TYPE_CHECKING:  # scipy is imported where a sparse matrix is built, not by every solve
    import scipy.sparse as sp

INF = float("inf")
ModelName = Literal["lscp", "mclp", "pcenter", "pmedian_max"]
MODELS: tuple[str, ...] = ("lscp", "mclp", "pcenter", "pmedian_max")
COVER_RULES: tuple[str, ...] = ("all", "reachable")
OBJECTIVE_UNITS = {"lscp": "facilities", "mclp": "covered demand", "pcenter": "largest distance"}


@dataclass(frozen=True)
class CoverageSpec:
    """What to solve: the coverage model and its parameters (per programme in ``models/*.toml``).

    Parameters
    ----------
    model
        ``"lscp"``, ``"mclp"``, ``"pcenter"`` or ``"pmedian_max"``.
    service_km
        Service distance in the unit of :func:`arc_distance` (km when the problem has ``arc_km``). Required for
        ``lscp``, ``mclp`` and ``pmedian_max``; for ``pcenter`` an optional cap on the arcs considered.
    p
        Number of facilities to open (exactly); ``None``: only the problem's count rows limit it. Required for
        ``mclp`` and ``pcenter`` unless the count rows fix the number.
    lscp_objective
        ``"count"`` (fewest facilities, as spopt) or ``"cost"`` (least opening cost incl. priced land).
    cover_zero_demand
        Whether clients with zero demand must be covered too (spopt: yes). With ``False`` only clients with
        positive demand count for LSCP coverage and p-center distances.
    cover
        ``"all"``: every client to cover must be reachable; ``"reachable"``: clients with no arc within the service
        distance are left out (see the module docstring).
    """

    model: ModelName
    service_km: float | None = None
    p: int | None = None
    lscp_objective: Literal["count", "cost"] = "count"
    cover_zero_demand: bool = True
    cover: Literal["all", "reachable"] = "all"

    def check(self) -> None:
        """Raise ``ValueError`` on a spec that cannot be solved (a programming error: files are checked on load)."""
        if self.model not in MODELS:
            msg = f"unknown coverage model {self.model!r}; choose one of {', '.join(MODELS)}"
            raise ValueError(msg)
        if self.model in ("lscp", "mclp", "pmedian_max") and self.service_km is None:
            msg = f"model {self.model!r} needs a service distance (service_km)"
            raise ValueError(msg)
        if self.service_km is not None and not (np.isfinite(self.service_km) and self.service_km >= 0):
            msg = f"service_km must be a finite number >= 0, got {self.service_km!r}"
            raise ValueError(msg)
        if self.p is not None and (int(self.p) != self.p or self.p < 1):
            msg = f"p must be an integer >= 1, got {self.p!r}"
            raise ValueError(msg)
        if self.lscp_objective not in ("count", "cost"):
            msg = f"lscp_objective must be 'count' or 'cost', got {self.lscp_objective!r}"
            raise ValueError(msg)
        if self.cover not in COVER_RULES:
            msg = f"cover must be one of {', '.join(COVER_RULES)}, got {self.cover!r}"
            raise ValueError(msg)

    @property
    def sense(self) -> Literal["min", "max"]:
        """``"max"`` for MCLP (covered demand), ``"min"`` for the others."""
        return "max" if self.model == "mclp" else "min"

    @property
    def objective_unit(self) -> str:
        """What the model's objective counts (``pmedian_max``: the problem's cost unit)."""
        return OBJECTIVE_UNITS.get(self.model, "cost")


@dataclass(frozen=True)
class CoverageArrays(MatrixModel):
    """A coverage model as a :class:`~optimizer.model.mip_arrays.MatrixModel` (the arrays HiGHS takes).

    The model's own ``n_x`` columns first (``z`` per client group for MCLP, ``x`` per kept arc for the assignment
    models, none for LSCP), then ``y`` per option. ``objective_scale`` maps the minimised value back to the model's
    objective (``-1`` for MCLP, which maximises covered demand); ``arcs`` is the problem arc of each ``x`` column
    (assignment models).
    """

    objective_scale: float = 1.0
    arcs: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def arc_distance(problem: LocationProblem) -> np.ndarray:
    """Distance of every arc used for coverage: ``arc_km`` (km) if the problem has it, else ``arc_cost``."""
    source = problem.arc_km if problem.arc_km is not None else problem.arc_cost
    return np.asarray(source, dtype=float)


def nearest_arc_distance(problem: LocationProblem, distance: np.ndarray | None = None) -> np.ndarray:
    """Per client, the shortest arc distance to any option (``inf`` for a client without arcs)."""
    d = arc_distance(problem) if distance is None else distance
    nearest = np.full(problem.n_clients, INF)
    np.minimum.at(nearest, problem.arc_client, d)
    return nearest


def clients_to_cover(problem: LocationProblem, spec: CoverageSpec, radius: float | None = None) -> np.ndarray:
    """Boolean mask of the clients that must be covered (LSCP) or reached (p-center, assignment models).

    ``radius`` (default the service distance) decides reachability under ``cover = "reachable"``.
    """
    must = np.ones(problem.n_clients, dtype=bool) if spec.cover_zero_demand else np.asarray(problem.demand, float) > 0
    r = spec.service_km if radius is None else radius
    if spec.cover == "reachable" and r is not None:
        must &= nearest_arc_distance(problem) <= r
    return must


def coverage_matrix(problem: LocationProblem, radius: float, distance: np.ndarray | None = None) -> sp.csr_matrix:
    """0/1 matrix ``N`` (clients × options) with ``N[i, j] = 1`` when an arc ``i → j`` is within ``radius`` (inclusive).

    ``distance`` defaults to :func:`arc_distance`; parallel arcs between one pair count once.
    """
    import scipy.sparse as sp

    d = arc_distance(problem) if distance is None else distance
    keep = d <= radius
    n, m = problem.n_clients, problem.n_options
    cover = sp.csr_matrix(
        (np.ones(int(keep.sum())), (problem.arc_client[keep], problem.arc_option[keep])), shape=(n, m)
    )
    cover.sum_duplicates()
    cover.data[:] = 1.0
    return cover


def uncoverable_clients(problem: LocationProblem, spec: CoverageSpec, radius: float | None = None) -> np.ndarray:
    """Indices of clients that must be covered but have no option within ``radius`` (default the service distance)."""
    r = spec.service_km if radius is None else radius
    r = INF if r is None else r
    return np.flatnonzero(clients_to_cover(problem, spec, r) & (nearest_arc_distance(problem) > r))


def _assemble(
    problem: LocationProblem,
    x_cost: np.ndarray,
    x_integer: np.ndarray,
    y_cost: np.ndarray,
    model_rows: list[tuple[str, sp.coo_matrix, float, float]],
    p: int | None,
    *,
    objective_scale: float = 1.0,
    arcs: np.ndarray | None = None,
    meta: dict | None = None,
) -> CoverageArrays:
    """Stack the model's rows (over ``[x, y]``) with the option rows every model shares: counts, exactly ``p``,
    land per site (:mod:`optimizer.model.rows`); required options get ``y = 1``."""
    import scipy.sparse as sp

    k, m = len(x_cost), problem.n_options
    blocks, lowers, uppers, names = [], [], [], []

    def add(name: str, block: sp.spmatrix, lo: object, up: object) -> None:
        blocks.append(sp.coo_matrix(block))
        lowers.append(np.broadcast_to(np.asarray(lo, float), (block.shape[0],)))
        uppers.append(np.broadcast_to(np.asarray(up, float), (block.shape[0],)))
        names.append(name)

    def over_y(rows: sp.spmatrix) -> sp.csr_matrix:
        return sp.hstack([sp.csr_matrix((rows.shape[0], k)), rows], format="csr")

    for name, block, lo, up in model_rows:
        add(name, block, lo, up)
    add("counts", over_y(problem.counts.matrix.astype(float)), *count_bounds(problem))
    if p is not None:
        add("p", over_y(sp.csr_matrix(np.ones((1, m)))), float(p), float(p))
    land = land_rows(problem)
    add("land", over_y(land.matrix), -INF, land.free_m2)
    matrix = sp.vstack(blocks, format="csc")
    starts = np.cumsum([0] + [b.shape[0] for b in blocks])
    col_lower = np.zeros(k + m)
    col_lower[k + np.flatnonzero(problem.required_mask())] = 1.0
    return CoverageArrays(
        col_cost=np.concatenate([np.asarray(x_cost, float), np.asarray(y_cost, float)]),
        col_lower=col_lower,
        col_upper=np.ones(k + m),
        integrality=np.concatenate([np.asarray(x_integer, np.int32), np.ones(m, np.int32)]),
        matrix=matrix,
        row_lower=np.concatenate(lowers),
        row_upper=np.concatenate(uppers),
        n_x=k,
        n_y=m,
        row_blocks={n: slice(int(starts[i]), int(starts[i + 1])) for i, n in enumerate(names)},
        objective_scale=objective_scale,
        arcs=arcs,
        meta=meta or {},
    )


def build_lscp(problem: LocationProblem, spec: CoverageSpec) -> CoverageArrays:
    """LSCP: ``min Σ c_j y_j  s.t.  Σ_{j: d_ij ≤ S} y_j ≥ 1`` for every client to cover, plus the option rows.

    ``c_j`` is 1 (``lscp_objective="count"``) or the option's opening cost (``"cost"``). A client to cover with no
    option within ``S`` makes the model infeasible (its cover row is empty); :func:`uncoverable_clients` names it.
    """
    spec.check()
    cover = coverage_matrix(problem, float(spec.service_km))[clients_to_cover(problem, spec)]
    cost = np.ones(problem.n_options) if spec.lscp_objective == "count" else problem.option_cost().astype(float)
    return _assemble(problem, np.zeros(0), np.zeros(0), cost, [("cover", cover, 1.0, INF)], spec.p,
                     meta={"model": "lscp"})


def build_mclp(problem: LocationProblem, spec: CoverageSpec) -> CoverageArrays:
    """MCLP: ``max Σ_g D_g z_g  s.t.  z_g ≤ Σ_{j ∈ S_g} y_j,  z_g ≤ 1``, ``p`` open and the option rows.

    Clients with the same covering set ``S_g`` are merged into one row with their summed demand ``D_g`` (exact: they
    are covered together or not at all); on uniform random instances this halves the rows (2,000 clients × 200
    sites at the parity radius: 1,050 distinct sets). Minimised as ``-Σ D_g z_g``. ``z`` is continuous: with
    integral ``y`` the optimum has ``z_g = min(1, Σ_{j ∈ S_g} y_j) ∈ {0, 1}``, so the binaries spopt declares are
    not needed. Clients no option covers are dropped (they can never count).
    """
    import scipy.sparse as sp

    spec.check()
    m = problem.n_options
    cover = coverage_matrix(problem, float(spec.service_km))
    group, first = group_identical_rows(cover)
    demand = np.bincount(group, weights=np.asarray(problem.demand, float), minlength=len(first))
    sets = cover[first]
    keep = np.flatnonzero(np.diff(sets.indptr) > 0)
    sets, demand = sets[keep].tocoo(), demand[keep]
    g = len(keep)
    # row g:  z_g - Σ_{j ∈ S_g} y_j ≤ 0   (columns: z first, then y)
    block = sp.coo_matrix(
        (np.concatenate([np.ones(g), -sets.data]),
         (np.concatenate([np.arange(g), sets.row]), np.concatenate([np.arange(g), g + sets.col]))),
        shape=(g, g + m),
    )
    return _assemble(problem, -demand, np.zeros(g), np.zeros(m), [("cover", block, -INF, 0.0)], spec.p,
                     objective_scale=-1.0, meta={"model": "mclp", "client_groups": g})


def group_identical_rows(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Group the rows of a 0/1 CSR matrix by their set of columns.

    Rows are keyed by their length and two random projections (identical sets give bit-identical sums, since CSR
    rows are summed in index order); the grouping is then checked exactly, and falls back to one group per row on a
    (practically impossible) hash collision.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Group of every row (0..g-1) and the first row of each group.
    """
    import scipy.sparse as sp

    a = sp.csr_matrix(matrix, copy=True)
    a.sort_indices()
    rng = np.random.default_rng(20040101)
    keys = np.column_stack([np.diff(a.indptr), a @ rng.random(a.shape[1]), a @ rng.random(a.shape[1])])
    _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    diff = a - a[first[group]]
    diff.eliminate_zeros()
    if diff.nnz:
        return np.arange(a.shape[0]), np.arange(a.shape[0])
    return group, first


def build_cover_feasibility(problem: LocationProblem, spec: CoverageSpec, radius: float) -> CoverageArrays:
    """Set-cover feasibility at ``radius`` for uncapacitated p-center: cover rows, option rows, zero objective."""
    cover = coverage_matrix(problem, radius)[clients_to_cover(problem, spec)]
    return _assemble(problem, np.zeros(0), np.zeros(0), np.zeros(problem.n_options), [("cover", cover, 1.0, INF)],
                     spec.p, meta={"model": "pcenter", "radius": radius})


def build_assignment(problem: LocationProblem, spec: CoverageSpec, radius: float, *, costs: bool) -> CoverageArrays:
    """Assignment model over the arcs within ``radius``: every client to serve once, ``x ≤ y``, capacities, option rows.

    With ``costs`` the objective is the p-median's ``Σ arc_cost · x + Σ opening cost · y`` (p-median with a maximum
    service distance); without, the objective is zero (feasibility of capacitated p-center at ``radius``).
    Clients that need not be served (:func:`clients_to_cover`) are left out.
    """
    import scipy.sparse as sp

    m = problem.n_options
    d = arc_distance(problem)
    serve = clients_to_cover(problem, spec)  # reachability within the service distance, not the trial radius
    arcs = np.flatnonzero((d <= radius) & serve[problem.arc_client])
    k = len(arcs)
    ac, ao = problem.arc_client[arcs], problem.arc_option[arcs]
    cols = np.arange(k)
    demand = np.asarray(problem.demand, float)
    served_row = np.full(problem.n_clients, -1)
    served_row[serve] = np.arange(int(serve.sum()))
    assign = sp.coo_matrix((np.ones(k), (served_row[ac], cols)), shape=(int(serve.sum()), k + m))
    link = sp.coo_matrix((np.concatenate([np.ones(k), -np.ones(k)]),
                          (np.concatenate([cols, cols]), np.concatenate([cols, k + ao]))), shape=(k, k + m))
    capacity = np.asarray(problem.capacity, float)
    capped = np.flatnonzero(np.isfinite(capacity))
    cap_row = np.full(m, -1)
    cap_row[capped] = np.arange(len(capped))
    on = cap_row[ao] >= 0
    cap = sp.coo_matrix(
        (np.concatenate([demand[ac[on]], -capacity[capped]]),
         (np.concatenate([cap_row[ao[on]], np.arange(len(capped))]), np.concatenate([cols[on], k + capped]))),
        shape=(len(capped), k + m),
    )
    rows = [("assign", assign, 1.0, 1.0), ("link", link, -INF, 0.0), ("capacity", cap, -INF, 0.0)]
    x_cost = np.asarray(problem.arc_cost, float)[arcs] if costs else np.zeros(k)
    y_cost = problem.option_cost().astype(float) if costs else np.zeros(m)
    return _assemble(problem, x_cost, np.full(k, 1 if problem.single_source else 0), y_cost, rows, spec.p, arcs=arcs,
                     meta={"model": "pmedian_max" if costs else "pcenter", "radius": radius})


def distinct_distances(problem: LocationProblem, spec: CoverageSpec) -> np.ndarray:
    """Sorted distinct arc distances a p-center optimum can take (arcs of clients to reach, within the cap).

    The optimum is at least ``max_i min_j d_ij`` (every client needs some facility), so smaller values are dropped.
    """
    d = arc_distance(problem)
    serve = clients_to_cover(problem, spec)
    if not serve.any():
        return np.zeros(1)  # nobody to reach: any open set that satisfies the rows has radius 0
    keep = serve[problem.arc_client]
    if spec.service_km is not None:
        keep &= d <= spec.service_km
    if not keep.any():
        return np.zeros(0)
    nearest = np.full(problem.n_clients, INF)
    np.minimum.at(nearest, problem.arc_client[keep], d[keep])
    values = np.unique(d[keep])
    return values[values >= float(nearest[serve].max())]


def nearest_open(problem: LocationProblem, open_options: np.ndarray,
                 distance: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per client, the arc to its nearest open option (ties: the first arc), the option and the distance.

    Returns ``(arc, option, distance)``, with ``-1`` / ``-1`` / ``inf`` for a client no open option can serve.
    """
    d = arc_distance(problem) if distance is None else distance
    y = np.asarray(open_options, bool)
    live = np.flatnonzero(y[problem.arc_option])
    order = live[np.lexsort((d[live], problem.arc_client[live]))]  # per client, nearest first
    first = np.ones(len(order), dtype=bool)
    first[1:] = problem.arc_client[order[1:]] != problem.arc_client[order[:-1]]
    best = order[first]
    arc = np.full(problem.n_clients, -1)
    option = np.full(problem.n_clients, -1)
    dist = np.full(problem.n_clients, INF)
    arc[problem.arc_client[best]] = best
    option[problem.arc_client[best]] = problem.arc_option[best]
    dist[problem.arc_client[best]] = d[best]
    return arc, option, dist
