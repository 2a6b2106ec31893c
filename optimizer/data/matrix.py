"""Generic matrix-form facility-location instances: demands, facilities and a client × facility cost matrix.

This is the user-facing format for problems that are not tied to Flanders: a directory (or one TOML file) holding
the clients' demand, the candidate facilities and the cost of serving each client from each facility. It is
documented in ``docs/matrix-format.md``; this module is the Python entry point :func:`matrix_problem`, which takes
the same data as arrays, and :mod:`optimizer.data.matrix_files` reads the files. Both return a
:class:`~optimizer.problem.LocationProblem` with one site per facility.

Cost convention (OR-Library): ``cost[i, j]`` is the cost of serving client ``i``'s **whole** demand from facility
``j``; a split assignment pays the same share of it. A missing cost (blank, ``inf``, no triplet) means facility
``j`` may not serve client ``i``.

Every problem in a file is reported as :class:`~optimizer.errors.InputError` naming the file, the row (line
number in a CSV file, header = line 1; entry number in an inline TOML table) and the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from os import PathLike

import numpy as np
import pandas as pd

from optimizer.data.numbers import case_collision, magnitude_message, magnitude_problem
from optimizer.errors import InfeasibleError, InputError
from optimizer.problem import CountRows, LocationProblem

if TYPE_CHECKING:  # scipy is imported where a sparse matrix is built, not by every solve
    import scipy.sparse as sp


ArrayLike = np.ndarray | list | tuple


# ----------------------------------------------------------------------------------------------------------------
# Python API
# ----------------------------------------------------------------------------------------------------------------


def matrix_problem(
    demand: ArrayLike,
    capacity: ArrayLike | None,
    fixed_cost: ArrayLike,
    cost: ArrayLike | sp.spmatrix | sp.sparray,
    *,
    single_source: bool = False,
    p: int | None = None,
    required: ArrayLike | None = None,
    name: str = "matrix",
    client_ids: ArrayLike | None = None,
    facility_ids: ArrayLike | None = None,
    cost_unit: str = "cost",
) -> LocationProblem:
    """Build a facility-location problem from arrays.

    Parameters
    ----------
    demand
        Demand of each of the ``n`` clients (flow units, ≥ 0), shape ``(n,)``.
    capacity
        Capacity of each of the ``m`` facilities in the same flow units (≥ 0; ``np.inf`` = uncapacitated),
        shape ``(m,)``. ``None`` makes every facility uncapacitated.
    fixed_cost
        Cost of opening each facility (finite), shape ``(m,)``, in ``cost_unit``.
    cost
        Cost of serving each client's *whole* demand from each facility, shape ``(n, m)``, in ``cost_unit``.
        A dense array marks forbidden pairs with ``np.inf``; a ``scipy.sparse`` matrix allows exactly its stored
        entries (explicit zeros are allowed zero-cost pairs). NaN is rejected.
    single_source
        Each client must be served by exactly one facility (otherwise demand may be split).
    p
        If given, exactly ``p`` facilities are opened.
    required
        Boolean mask ``(m,)`` or integer indices of facilities that must be open.
    name
        Problem name used in reports.
    client_ids, facility_ids
        Labels of clients and facilities (default ``"0", "1", …``); must be unique.
    cost_unit
        Unit of ``fixed_cost`` and ``cost`` (reporting only).

    Returns
    -------
    LocationProblem
        One site per facility, unlimited land, one programme ``"facility"``.

    Raises
    ------
    InputError
        With ``field`` naming the argument and ``row`` the 1-based index of the first bad entry.
    """
    import scipy.sparse as sp

    demand_a = _as_vector(demand, "demand")
    n = len(demand_a)
    fixed_a = _as_vector(fixed_cost, "fixed_cost")
    m = len(fixed_a)
    capacity_a = np.full(m, np.inf) if capacity is None else _as_vector(capacity, "capacity")
    if len(capacity_a) != m:
        msg = f"capacity has {len(capacity_a)} entries but fixed_cost has {m}"
        raise InputError(msg, field="capacity")
    check_values(demand_a, "demand", nonnegative=True)
    check_values(capacity_a, "capacity", nonnegative=True, allow_inf=True)
    check_values(fixed_a, "fixed_cost")

    if sp.issparse(cost):
        coo = sp.coo_matrix(cost)
        coo.sum_duplicates()
        if coo.shape != (n, m):
            msg = f"cost has shape {coo.shape}, expected (clients, facilities) = ({n}, {m})"
            raise InputError(msg, field="cost")
        rows, cols, vals = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(float)
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            k = bad[np.lexsort((cols[bad], rows[bad]))[0]]
            msg = f"cost[{rows[k]}, {cols[k]}] is {vals[k]}; a sparse cost matrix must store finite costs only"
            raise InputError(msg, row=int(rows[k]) + 1, field="cost")
    else:
        dense = np.asarray(cost, dtype=float)
        if dense.shape != (n, m):
            msg = f"cost has shape {dense.shape}, expected (clients, facilities) = ({n}, {m})"
            raise InputError(msg, field="cost")
        nan = np.argwhere(np.isnan(dense))
        if nan.size:
            i, j = nan[0]
            msg = f"cost[{i}, {j}] is NaN; use np.inf to forbid a pair"
            raise InputError(msg, row=int(i) + 1, field="cost")
        if np.any(dense == -np.inf):
            i, j = np.argwhere(dense == -np.inf)[0]
            msg = f"cost[{i}, {j}] is -inf"
            raise InputError(msg, row=int(i) + 1, field="cost")
        rows, cols = np.nonzero(np.isfinite(dense))  # row-major: arcs sorted by client, then facility
        vals = dense[rows, cols]

    cids = _ids(client_ids, n, "client_ids")
    fids = _ids(facility_ids, m, "facility_ids")
    req = _required_mask(required, m)
    return build_problem(
        name=name,
        client_ids=cids,
        demand=demand_a,
        facility_ids=fids,
        capacity=capacity_a,
        fixed_cost=fixed_a,
        arc_client=rows,
        arc_facility=cols,
        arc_cost=vals,
        single_source=single_source,
        p=p,
        required=req,
        cost_unit=cost_unit,
        meta={"format": "matrix-api"},
    )


def _as_vector(values: ArrayLike, field: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as e:
        msg = f"{field} must be numeric: {e}"
        raise InputError(msg, field=field) from e
    if arr.ndim != 1:
        msg = f"{field} must be one-dimensional, got shape {arr.shape}"
        raise InputError(msg, field=field)
    return arr


def check_values(
    values: np.ndarray,
    field: str,
    *,
    nonnegative: bool = False,
    allow_inf: bool = False,
    file: str | PathLike[str] | None = None,
    rows: np.ndarray | None = None,
) -> None:
    """Raise on the first NaN, disallowed infinity or negative entry; ``rows`` maps entries to reported rows."""
    infinite = values == -np.inf if allow_inf else np.isinf(values)  # +inf alone may mean "unlimited"
    checks = [(np.isnan(values), "is NaN"), (infinite, "must be finite")]
    if nonnegative:
        checks.append((values < 0, "must not be negative"))
    for bad, what in checks:
        hit = np.flatnonzero(bad)
        if hit.size:
            k = int(hit[0])
            row = int(rows[k]) if rows is not None else k + 1
            msg = f"{field} {what} (got {values[k]}); correct the value"
            raise InputError(msg, file=file, row=row, field=field)
    big = magnitude_problem(values)
    if big is not None:
        row = int(rows[big]) if rows is not None else big + 1
        raise InputError(magnitude_message(field, float(values[big])), file=file, row=row, field=field)


def _ids(ids: ArrayLike | None, size: int, field: str) -> np.ndarray:
    if ids is None:
        return np.arange(size).astype(str).astype(object)
    arr = np.asarray(ids).astype(str).astype(object)
    if arr.shape != (size,):
        msg = f"{field} has shape {arr.shape}, expected ({size},)"
        raise InputError(msg, field=field)
    check_unique(arr, field)
    return arr


def check_unique(ids: np.ndarray, field: str, *, file: str | PathLike[str] | None = None,
                  rows: np.ndarray | None = None) -> None:
    dup = pd.Index(ids).duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        row = int(rows[k]) if rows is not None else k + 1
        msg = f"duplicate id {ids[k]!r}: ids must be unique, rename or remove one of the rows"
        raise InputError(msg, file=file, row=row, field=field)
    clash = case_collision(pd.Series(ids, dtype=object))
    if clash is not None:
        a, b = clash
        row = int(rows[b]) if rows is not None else b + 1
        where = f"row {int(rows[a])}" if rows is not None else f"entry {a + 1}"
        msg = (f"id {ids[b]!r} differs from {ids[a]!r} ({where}) only by letter case or surrounding spaces: make them "
               "identical (one row) or clearly different")
        raise InputError(msg, file=file, row=row, field=field)


def _required_mask(required: ArrayLike | None, m: int) -> np.ndarray | None:
    if required is None:
        return None
    arr = np.asarray(required)
    if arr.dtype == bool:
        if arr.shape != (m,):
            msg = f"required mask has shape {arr.shape}, expected ({m},)"
            raise InputError(msg, field="required")
        return arr
    idx = arr.astype(np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= m):
        msg = f"required index outside 0..{m - 1}"
        raise InputError(msg, field="required")
    mask = np.zeros(m, dtype=bool)
    mask[idx] = True
    return mask


def build_problem(
    *,
    name: str,
    client_ids: np.ndarray,
    demand: np.ndarray,
    facility_ids: np.ndarray,
    capacity: np.ndarray,
    fixed_cost: np.ndarray,
    arc_client: np.ndarray,
    arc_facility: np.ndarray,
    arc_cost: np.ndarray,
    single_source: bool,
    p: int | None,
    required: np.ndarray | None,
    cost_unit: str,
    meta: dict,
    file: str | PathLike[str] | None = None,
) -> LocationProblem:
    """Assemble a validated :class:`LocationProblem` (checks that span several tables live here)."""
    n, m = len(client_ids), len(facility_ids)
    if n == 0 or m == 0:
        msg = f"need at least one client and one facility (got {n} clients, {m} facilities)"
        raise InputError(msg, file=file)
    served = np.bincount(arc_client, minlength=n) > 0
    if not served.all():
        i = int(np.flatnonzero(~served)[0])
        msg = f"client {client_ids[i]!r} has no allowed facility (every cost is missing or infinite)"
        raise InputError(msg, file=file, row=i + 1, field="cost")
    n_required = 0 if required is None else int(np.count_nonzero(required))
    counts = CountRows.empty(m)
    if p is not None:
        if isinstance(p, bool) or int(p) != p or not (1 <= p <= m):
            msg = f"p must be an integer between 1 and the number of facilities ({m}), got {p!r}"
            raise InputError(msg, file=file, field="p")
        if n_required > p:
            msg = f"{n_required} facilities are required but exactly p = {p} may open"
            raise InputError(msg, file=file, field="p")
        counts = CountRows.from_groups([np.arange(m)], [p], [p], [f"exactly p = {int(p)} facilities"], m)
    total_capacity = float(capacity.sum())
    if total_capacity < float(demand.sum()) - 1e-9 * max(1.0, float(demand.sum())):
        msg = (f"{name}: the total capacity of all facilities, {total_capacity:g}, is below the total demand "
               f"{float(demand.sum()):g}, so no assignment can serve every client; add capacity or facilities")
        raise InfeasibleError([msg])
    problem = LocationProblem(
        name=name,
        client_ids=client_ids,
        demand=demand.astype(float),
        site_ids=facility_ids,
        site_free_m2=np.full(m, np.inf),
        option_ids=facility_ids,
        option_site=np.arange(m),
        option_programme=np.full(m, "facility", dtype=object),
        option_size=np.full(m, "", dtype=object),
        capacity=capacity.astype(float),
        fixed_cost=fixed_cost.astype(float),
        area_m2=np.zeros(m),
        arc_client=np.asarray(arc_client, dtype=np.int64),
        arc_option=np.asarray(arc_facility, dtype=np.int64),
        arc_cost=np.asarray(arc_cost, dtype=float),
        counts=counts,
        single_source=bool(single_source),
        required=required,
        cost_unit=cost_unit,
        meta={**meta, "p": p},
    )
    problem.check_shapes()
    return problem
