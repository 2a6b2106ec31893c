"""Generic matrix-form facility-location instances: demands, facilities and a client × facility cost matrix.

This is the user-facing format for problems that are not tied to Flanders: a directory (or one TOML file) holding
the clients' demand, the candidate facilities and the cost of serving each client from each facility. It is
documented in ``docs/matrix-format.md``; the Python entry point :func:`matrix_problem` takes the same data as
arrays. Both return a :class:`~optimizer.problem.LocationProblem` with one site per facility.

Cost convention (OR-Library): ``cost[i, j]`` is the cost of serving client ``i``'s **whole** demand from facility
``j``; a split assignment pays the same share of it. A missing cost (blank, ``inf``, no triplet) means facility
``j`` may not serve client ``i``.

Every problem in a file is reported as :class:`~optimizer.errors.InputError` naming the file, the row (line
number in a CSV file, header = line 1; entry number in an inline TOML table) and the field.
"""

from __future__ import annotations

import tomllib
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.errors import InputError
from optimizer.problem import CountRows, LocationProblem

MANIFEST_NAME = "problem.toml"
DEFAULT_TABLES = {"demands": "demands.csv", "facilities": "facilities.csv", "costs": "costs.csv"}
PROBLEM_KEYS = {"name", "single_source", "p", "cost_unit", "description"}
COST_FORMATS = ("dense", "triplets")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}

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
    demand_a = _as_vector(demand, "demand")
    n = len(demand_a)
    fixed_a = _as_vector(fixed_cost, "fixed_cost")
    m = len(fixed_a)
    capacity_a = np.full(m, np.inf) if capacity is None else _as_vector(capacity, "capacity")
    if len(capacity_a) != m:
        msg = f"capacity has {len(capacity_a)} entries but fixed_cost has {m}"
        raise InputError(msg, field="capacity")
    _check_values(demand_a, "demand", nonnegative=True)
    _check_values(capacity_a, "capacity", nonnegative=True, allow_inf=True)
    _check_values(fixed_a, "fixed_cost")

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
    return _build(
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


def _check_values(
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
            msg = f"{field} {what} (got {values[k]})"
            raise InputError(msg, file=file, row=row, field=field)


def _ids(ids: ArrayLike | None, size: int, field: str) -> np.ndarray:
    if ids is None:
        return np.arange(size).astype(str).astype(object)
    arr = np.asarray(ids).astype(str).astype(object)
    if arr.shape != (size,):
        msg = f"{field} has shape {arr.shape}, expected ({size},)"
        raise InputError(msg, field=field)
    _check_unique(arr, field)
    return arr


def _check_unique(ids: np.ndarray, field: str, *, file: str | PathLike[str] | None = None,
                  rows: np.ndarray | None = None) -> None:
    dup = pd.Index(ids).duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        row = int(rows[k]) if rows is not None else k + 1
        msg = f"duplicate id {ids[k]!r}: ids must be unique, rename or remove one of the rows"
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


def _build(
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
        msg = f"total capacity {total_capacity:g} is below total demand {float(demand.sum()):g}: infeasible"
        raise InputError(msg, file=file, field="capacity")
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


# ----------------------------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------------------------


def load_matrix_instance(path: str | PathLike[str]) -> LocationProblem:
    """Load and validate a matrix-form instance (format: ``docs/matrix-format.md``).

    Parameters
    ----------
    path
        A directory holding ``problem.toml`` (or, without a manifest, ``demands.csv``, ``facilities.csv`` and
        ``costs.csv``), or a single TOML file whose tables are CSV paths relative to it or inline TOML tables.

    Returns
    -------
    LocationProblem
        The validated problem, ``meta["source"]`` = the manifest or directory read.

    Raises
    ------
    InputError
        Naming file, row and field of the first problem found.
    """
    path = Path(path)
    if path.is_dir():
        manifest = path / MANIFEST_NAME
        if manifest.is_file():
            return _load_manifest(manifest)
        return _load_tables(path, {}, dict(DEFAULT_TABLES), base=path, manifest=None)
    if not path.is_file():
        msg = "no such file or directory"
        raise InputError(msg, file=path)
    if path.suffix.lower() != ".toml":
        msg = "expected a directory or a .toml manifest"
        raise InputError(msg, file=path)
    return _load_manifest(path)


def _load_manifest(manifest: Path) -> LocationProblem:
    try:
        with manifest.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        msg = f"invalid TOML: {e}"
        raise InputError(msg, file=manifest) from e
    except OSError as e:
        msg = f"cannot read: {e}"
        raise InputError(msg, file=manifest) from e
    unknown = set(doc) - {"problem", "tables", "demands", "facilities", "costs"}
    if unknown:
        msg = f"unknown top-level key(s) {sorted(unknown)}; expected [problem], [tables] or inline tables"
        raise InputError(msg, file=manifest, field=sorted(unknown)[0])
    problem = doc.get("problem", {})
    if not isinstance(problem, dict):
        msg = "[problem] must be a table"
        raise InputError(msg, file=manifest, field="problem")
    tables = doc.get("tables", {})
    if not isinstance(tables, dict):
        msg = "[tables] must be a table of file names"
        raise InputError(msg, file=manifest, field="tables")
    sources: dict[str, object] = {}
    for key in ("demands", "facilities", "costs"):
        inline = key in doc
        if inline and key in tables:
            msg = f"{key} is given both inline and in [tables]"
            raise InputError(msg, file=manifest, field=key)
        if inline:
            sources[key] = ("inline", doc[key])
        elif key in tables:
            sources[key] = tables[key]
        else:
            sources[key] = DEFAULT_TABLES[key]
    extra = set(tables) - set(DEFAULT_TABLES)
    if extra:
        msg = f"unknown table(s) {sorted(extra)} in [tables]; expected demands, facilities, costs"
        raise InputError(msg, file=manifest, field=f"tables.{sorted(extra)[0]}")
    return _load_tables(manifest.parent, problem, sources, base=manifest.parent, manifest=manifest)


def _problem_settings(problem: dict, manifest: Path | None, default_name: str) -> dict:
    unknown = set(problem) - PROBLEM_KEYS
    if unknown:
        msg = f"unknown key(s) {sorted(unknown)}; allowed: {sorted(PROBLEM_KEYS)}"
        raise InputError(msg, file=manifest, field=f"problem.{sorted(unknown)[0]}")
    name = problem.get("name", default_name)
    single_source = problem.get("single_source", False)
    p = problem.get("p")
    cost_unit = problem.get("cost_unit", "cost")
    if not isinstance(name, str) or not name:
        msg = "name must be a non-empty string"
        raise InputError(msg, file=manifest, field="problem.name")
    if not isinstance(single_source, bool):
        msg = f"single_source must be true or false, got {single_source!r}"
        raise InputError(msg, file=manifest, field="problem.single_source")
    if p is not None and (isinstance(p, bool) or not isinstance(p, int) or p < 1):
        msg = f"p must be a positive integer, got {p!r}"
        raise InputError(msg, file=manifest, field="problem.p")
    if not isinstance(cost_unit, str):
        msg = f"cost_unit must be a string, got {cost_unit!r}"
        raise InputError(msg, file=manifest, field="problem.cost_unit")
    return {"name": name, "single_source": single_source, "p": p, "cost_unit": cost_unit}


def _load_tables(
    directory: Path, problem: dict, sources: dict[str, object], *, base: Path, manifest: Path | None
) -> LocationProblem:
    settings = _problem_settings(problem, manifest, default_name=directory.resolve().name)
    demands, dem_file = _table(sources["demands"], base, manifest, "demands")
    facilities, fac_file = _table(sources["facilities"], base, manifest, "facilities")

    _require_columns(demands, ["id", "demand"], dem_file)
    _allow_columns(demands, ["id", "demand"], dem_file)
    client_ids = _id_column(demands, dem_file)
    demand = _numeric(demands, "demand", dem_file)
    _check_values(demand, "demand", nonnegative=True, file=dem_file, rows=demands.index.to_numpy())

    _require_columns(facilities, ["id", "capacity", "fixed_cost"], fac_file)
    _allow_columns(facilities, ["id", "capacity", "fixed_cost", "required"], fac_file)
    facility_ids = _id_column(facilities, fac_file)
    capacity = _numeric(facilities, "capacity", fac_file, blank=np.inf)
    fac_rows = facilities.index.to_numpy()
    _check_values(capacity, "capacity", nonnegative=True, allow_inf=True, file=fac_file, rows=fac_rows)
    fixed_cost = _numeric(facilities, "fixed_cost", fac_file)
    _check_values(fixed_cost, "fixed_cost", file=fac_file, rows=fac_rows)
    required = _bool_column(facilities, "required", fac_file) if "required" in facilities else None

    arc_client, arc_facility, arc_cost, cost_file = _costs(sources["costs"], base, manifest, client_ids, facility_ids)
    unserved = np.flatnonzero(np.bincount(arc_client, minlength=len(client_ids)) == 0)
    if unserved.size:
        k = int(unserved[0])
        msg = (f"client {client_ids[k]!r} (row {demands.index[k]} of {dem_file.name}) has no allowed facility: "
               "every cost is blank/inf or it has no triplet")
        raise InputError(msg, file=cost_file, field="client")
    try:
        return _build(
            name=settings["name"],
            client_ids=client_ids,
            demand=demand,
            facility_ids=facility_ids,
            capacity=capacity,
            fixed_cost=fixed_cost,
            arc_client=arc_client,
            arc_facility=arc_facility,
            arc_cost=arc_cost,
            single_source=settings["single_source"],
            p=settings["p"],
            required=required,
            cost_unit=settings["cost_unit"],
            meta={"format": "matrix", "source": str(manifest or directory)},
            file=manifest or directory,
        )
    except InputError as e:
        if e.field == "p":
            raise InputError(e.message, file=manifest, field="problem.p") from None
        raise


def _table(source: object, base: Path, manifest: Path | None, key: str) -> tuple[pd.DataFrame, Path]:
    """A table of strings indexed by its reported row number, and the file to name in errors."""
    if isinstance(source, tuple) and source[0] == "inline":
        return _inline_table(source[1], manifest, key), manifest
    if isinstance(source, dict):
        unknown = set(source) - {"path", "format"}
        if unknown or "path" not in source:
            msg = f"{key} must be a file name or {{ path = ..., format = ... }}"
            raise InputError(msg, file=manifest, field=f"tables.{key}")
        source = source["path"]
    if not isinstance(source, str):
        msg = f"{key} must be a CSV file name"
        raise InputError(msg, file=manifest, field=f"tables.{key}")
    return _read_csv(base / source, manifest, key), base / source


def _read_csv(path: Path, manifest: Path | None, key: str) -> pd.DataFrame:
    if not path.is_file():
        msg = f"{key} table {path.name!r} not found"
        raise InputError(msg, file=manifest if manifest else path, field=f"tables.{key}" if manifest else None)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, skipinitialspace=True,
                            encoding="utf-8-sig")  # a byte-order mark (spreadsheet export) is not part of a name
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        msg = f"not UTF-8 text (byte 0x{e.object[e.start]:02x}); save the file as UTF-8 CSV"
        raise InputError(msg, file=path, row=line) from e
    except pd.errors.ParserError as e:
        msg = f"cannot parse CSV ({e}); check quoting and that every row has the header's number of fields"
        raise InputError(msg, file=path) from e
    except pd.errors.EmptyDataError as e:
        msg = "empty file: expected a header line"
        raise InputError(msg, file=path, row=1) from e
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = np.arange(2, len(frame) + 2)  # line numbers: the header is line 1
    blank = (frame.apply(lambda col: col.str.strip()) == "").all(axis=1)
    return frame.loc[~blank.to_numpy()].apply(lambda col: col.str.strip())


def _inline_table(entries: object, manifest: Path | None, key: str) -> pd.DataFrame:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        msg = f"inline {key} must be an array of tables ([[{key}]])"
        raise InputError(msg, file=manifest, field=key)
    frame = pd.DataFrame.from_records(entries)
    frame.index = np.arange(1, len(frame) + 1)  # entry number
    return frame.apply(lambda col: col.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                                           else str(v).lower() if isinstance(v, bool) else str(v)))


def _require_columns(frame: pd.DataFrame, columns: list[str], file: Path) -> None:
    for column in columns:
        if column not in frame.columns:
            msg = f"missing column {column!r} (has {list(frame.columns)})"
            if len(frame.columns) == 1 and ";" in str(frame.columns[0]):
                msg += "; the file looks semicolon-separated, use commas"
            else:
                msg += f"; add the column or rename the matching one to {column!r}"
            raise InputError(msg, file=file, row=1, field=column)


def _allow_columns(frame: pd.DataFrame, columns: list[str], file: Path) -> None:
    for column in frame.columns:
        if column not in columns:
            msg = f"unknown column {column!r}; allowed: {columns}"
            raise InputError(msg, file=file, row=1, field=column)


def _id_column(frame: pd.DataFrame, file: Path) -> np.ndarray:
    ids = frame["id"].astype(str).to_numpy(dtype=object)
    empty = np.flatnonzero(ids == "")
    if empty.size:
        msg = "id is empty"
        raise InputError(msg, file=file, row=int(frame.index[empty[0]]), field="id")
    _check_unique(ids, "id", file=file, rows=frame.index.to_numpy())
    return ids


def _numeric(frame: pd.DataFrame, column: str, file: Path, *, blank: float | None = None) -> np.ndarray:
    text = frame[column].astype(str)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, copy=True)
    is_blank = (text == "").to_numpy()
    if blank is not None:
        values[is_blank] = blank
    # to_numeric maps both garbage and blanks to NaN; a literal "nan" is caught later as NaN
    bad = np.flatnonzero(np.isnan(values) & (is_blank | (text.str.lower() != "nan").to_numpy()))
    if bad.size:
        k = int(bad[0])
        got = text.iloc[k]
        what = "is empty" if got == "" else f"is not a number: {got!r}"
        msg = f"{column} {what}"
        raise InputError(msg, file=file, row=int(frame.index[k]), field=column)
    return values


def _bool_column(frame: pd.DataFrame, column: str, file: Path) -> np.ndarray:
    text = frame[column].astype(str).str.lower()
    ok = text.isin(_TRUE | _FALSE).to_numpy()
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        msg = f"{column} must be true/false (or 1/0, yes/no, blank), got {frame[column].iloc[k]!r}"
        raise InputError(msg, file=file, row=int(frame.index[k]), field=column)
    return text.isin(_TRUE).to_numpy()


def _costs(
    source: object, base: Path, manifest: Path | None, client_ids: np.ndarray, facility_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Path]:
    """Arcs ``(client index, facility index, cost)`` from a dense or triplet cost table."""
    fmt = "dense"
    if isinstance(source, dict):
        fmt = source.get("format", "dense")
        if fmt not in COST_FORMATS:
            msg = f"costs format must be one of {COST_FORMATS}, got {fmt!r}"
            raise InputError(msg, file=manifest, field="tables.costs.format")
    if isinstance(source, tuple):  # inline: { dense = [[...]] } or { triplets = [[client, facility, cost], ...] }
        body = source[1]
        if not isinstance(body, dict) or set(body) - {"dense", "triplets"} or len(body) != 1:
            msg = "inline [costs] must hold one of dense = [[...], ...] or triplets = [[client, facility, cost], ...]"
            raise InputError(msg, file=manifest, field="costs")
        fmt = next(iter(body))
        rows = body[fmt]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            msg = f"costs.{fmt} must be an array of arrays"
            raise InputError(msg, file=manifest, field=f"costs.{fmt}")
        if fmt == "dense":
            frame = pd.DataFrame([[str(v) for v in r] for r in rows])
            if frame.shape[1] != len(facility_ids) and len(rows):
                msg = f"costs.dense rows need {len(facility_ids)} entries (one per facility)"
                raise InputError(msg, file=manifest, row=1, field="costs.dense")
            frame.columns = list(facility_ids)
        else:
            if any(len(r) != 3 for r in rows):
                k = next(i for i, r in enumerate(rows) if len(r) != 3)
                msg = "each triplet must be [client, facility, cost]"
                raise InputError(msg, file=manifest, row=k + 1, field="costs.triplets")
            frame = pd.DataFrame([[str(v) for v in r] for r in rows], columns=["client", "facility", "cost"])
        frame.index = np.arange(1, len(frame) + 1)
        file = manifest
    else:
        frame, file = _table(source, base, manifest, "costs")
        if fmt == "dense" and list(frame.columns) == ["client", "facility", "cost"]:
            fmt = "triplets"  # a triplet file named as the default costs table
    if fmt == "dense":
        return (*_dense_costs(frame, file, client_ids, facility_ids), file)
    return (*_triplet_costs(frame, file, client_ids, facility_ids), file)


def _parse_costs(text: pd.DataFrame, file: Path, *, blank_forbidden: bool) -> np.ndarray:
    """Parse a frame of cost strings; blank and ``inf`` give ``inf`` (forbidden) when allowed."""
    values = text.apply(lambda col: pd.to_numeric(col, errors="coerce")).to_numpy(dtype=float, copy=True)
    raw = text.to_numpy(dtype=str)
    is_blank = raw == ""
    lowered = np.char.lower(raw)
    bad = (np.isnan(values) & ~is_blank) | (lowered == "nan")
    if blank_forbidden:
        values[is_blank] = np.inf
    else:
        bad |= is_blank
    if not blank_forbidden:
        bad |= np.isinf(values)
    else:
        bad |= values == -np.inf
    hit = np.argwhere(bad)
    if hit.size:
        r, c = hit[0]
        got = raw[r, c]
        what = ("is empty" if got == "" else "is not a finite number (NaN)" if str(got).strip().lower() == "nan"
                else f"is not a finite number: {str(got)!r}")
        msg = f"cost {what}" + ("; give a finite cost, or leave the cell empty to forbid the pair" if blank_forbidden
                                else "; give a finite cost, or omit the triplet to forbid the pair")
        raise InputError(msg, file=file, row=int(text.index[r]), field=str(text.columns[c]))
    return values


def _dense_costs(
    frame: pd.DataFrame, file: Path, client_ids: np.ndarray, facility_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    columns = list(frame.columns)
    if columns and columns[0] == "client":
        listed = frame["client"].to_numpy(dtype=object)
        n_rows = len(listed)
        mismatch = np.flatnonzero(listed[: len(client_ids)] != client_ids[:n_rows])
        if mismatch.size:
            k = int(mismatch[0])
            msg = f"client {listed[k]!r} where {client_ids[k]!r} was expected (rows follow the demands table order)"
            raise InputError(msg, file=file, row=int(frame.index[k]), field="client")
        frame = frame.drop(columns="client")
        columns = columns[1:]
    if len(frame) != len(client_ids):
        msg = f"{len(frame)} cost rows for {len(client_ids)} clients (one row per client, in demand order)"
        raise InputError(msg, file=file, row=int(frame.index[-1]) if len(frame) else 1, field="client")
    known = set(facility_ids)
    for column in columns:
        if column not in known:
            msg = f"column {column!r} is not a facility id"
            raise InputError(msg, file=file, row=1, field=column)
    dup = pd.Index(columns).duplicated()
    if dup.any():
        column = columns[int(np.flatnonzero(dup)[0])]
        msg = f"facility {column!r} appears twice in the header"
        raise InputError(msg, file=file, row=1, field=column)
    missing = [f for f in facility_ids if f not in set(columns)]
    if missing:
        msg = f"no cost column for facility {missing[0]!r}"
        raise InputError(msg, file=file, row=1, field=str(missing[0]))
    values = _parse_costs(frame[list(facility_ids)], file, blank_forbidden=True)
    rows, cols = np.nonzero(np.isfinite(values))
    return rows, cols, values[rows, cols]


def _triplet_costs(
    frame: pd.DataFrame, file: Path, client_ids: np.ndarray, facility_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _require_columns(frame, ["client", "facility", "cost"], file)
    _allow_columns(frame, ["client", "facility", "cost"], file)
    line = frame.index.to_numpy()
    client = pd.Index(client_ids).get_indexer(frame["client"])
    facility = pd.Index(facility_ids).get_indexer(frame["facility"])
    for index, column, kind in ((client, "client", "demands"), (facility, "facility", "facilities")):
        unknown = np.flatnonzero(index < 0)
        if unknown.size:
            k = int(unknown[0])
            msg = f"unknown {column} id {frame[column].iloc[k]!r} (not in the {kind} table)"
            raise InputError(msg, file=file, row=int(line[k]), field=column)
    cost = _parse_costs(frame[["cost"]], file, blank_forbidden=False)[:, 0]
    dup = pd.MultiIndex.from_arrays([client, facility]).duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        msg = f"pair ({frame['client'].iloc[k]!r}, {frame['facility'].iloc[k]!r}) is listed twice"
        raise InputError(msg, file=file, row=int(line[k]), field="facility")
    order = np.lexsort((facility, client))
    return client[order].astype(np.int64), facility[order].astype(np.int64), cost[order]
