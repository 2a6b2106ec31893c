"""Matrix instances from files: a folder of CSV tables or one TOML manifest (format: ``docs/matrix-format.md``).

Every problem in a file is reported as :class:`~optimizer.errors.InputError` naming the file, the row (line
number in a CSV file, header = line 1; entry number in an inline TOML table) and the field. The arrays then go
through the same checks and builder as :func:`optimizer.data.matrix.matrix_problem`.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data.matrix import build_problem, check_unique, check_values
from optimizer.data.numbers import csv_records, local_number_hint, magnitude_message, short, short_row
from optimizer.data.programmes import COVER_RULES, DEFAULT_MODEL, MODELS, NEEDS_COUNT, NEEDS_SERVICE
from optimizer.data.tables import resolve_inside
from optimizer.data.tomlfile import read_toml
from optimizer.errors import InputError
from optimizer.problem import LocationProblem
from optimizer.settings import MAX_MAGNITUDE

MANIFEST_NAME = "problem.toml"
DEFAULT_TABLES = {"demands": "demands.csv", "facilities": "facilities.csv", "costs": "costs.csv"}
PROBLEM_KEYS = {"name", "single_source", "p", "cost_unit", "description", "model", "service", "lscp_objective",
                "cover", "cover_zero_demand", "equity_within", "data_roots"}
COST_FORMATS = ("dense", "triplets")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


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
        if not any((path / name).is_file() for name in DEFAULT_TABLES.values()):
            msg = (f"is a folder without {MANIFEST_NAME} or {', '.join(DEFAULT_TABLES.values())}: give a matrix-instance "
                   "folder (docs/matrix-format.md), a manifest (.toml) or an instance name (see `siting list`)")
            raise InputError(msg, file=path)
        return _load_tables(path, {}, dict(DEFAULT_TABLES), base=path, manifest=None)
    if not path.is_file():
        msg = "no such file or directory"
        raise InputError(msg, file=path)
    if path.suffix.lower() != ".toml":
        msg = "expected a directory or a .toml manifest"
        raise InputError(msg, file=path)
    return _load_manifest(path)


def matrix_files_read(path: str | PathLike[str]) -> list[Path]:
    """The files a matrix instance consists of (its manifest and the CSV tables it names), for its content hash:
    other files in the folder (a results/ folder, notes) do not change the instance."""
    path = Path(path)
    manifest = path / MANIFEST_NAME if path.is_dir() else path
    if not manifest.is_file():
        return [path / name for name in DEFAULT_TABLES.values() if (path / name).is_file()]
    files = [manifest]
    doc = read_toml(manifest)
    tables = doc.get("tables", {}) if isinstance(doc.get("tables", {}), dict) else {}
    for key, default in DEFAULT_TABLES.items():
        if key in doc:
            continue
        source = tables.get(key, default)
        source = source.get("path") if isinstance(source, dict) else source
        if isinstance(source, str) and (manifest.parent / source).is_file():
            files.append((manifest.parent / source).resolve())
    return files


def _load_manifest(manifest: Path) -> LocationProblem:
    doc = read_toml(manifest)
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
    given = problem.get("data_roots", [])
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
        msg = "data_roots is a list of folders, e.g. data_roots = [\"/srv/data\"]"
        raise InputError(msg, file=manifest, field="problem.data_roots")
    base = manifest.parent if manifest is not None else Path(".")
    roots = [(base / g).resolve() for g in given]
    for g, root in zip(given, roots):
        if not root.is_dir():
            msg = f"data root {g[:60]!r} is not a folder; give an existing folder"
            raise InputError(msg, file=manifest, field="problem.data_roots")
    return {"name": name, "single_source": single_source, "p": p, "cost_unit": cost_unit,
            "model": _model_settings(problem, manifest, p), "data_roots": roots}


def _model_settings(problem: dict, manifest: Path | None, p: int | None) -> dict:
    """The ``[problem]`` keys of a coverage model (``docs/matrix-format.md``, "Coverage models"), checked."""
    model = problem.get("model", DEFAULT_MODEL)
    if model not in MODELS:
        msg = f"model must be one of {', '.join(MODELS)}, got {model!r}"
        raise InputError(msg, file=manifest, field="problem.model")
    service = problem.get("service")
    if service is not None and (isinstance(service, bool) or not isinstance(service, (int, float))
                                or not np.isfinite(service) or service < 0):
        msg = f"service must be a number ≥ 0 in the unit of the costs, got {service!r}"
        raise InputError(msg, file=manifest, field="problem.service")
    if model in NEEDS_SERVICE and service is None:
        msg = f"model {model} needs a service distance: service = ... in the unit of the costs"
        raise InputError(msg, file=manifest, field="problem.service")
    if model in NEEDS_COUNT and p is None:
        msg = f"model {model} needs the number of facilities: p = ..."
        raise InputError(msg, file=manifest, field="problem.p")
    out: dict = {"model": model, "service": None if service is None else float(service)}
    for key, allowed in (("lscp_objective", ("count", "cost")), ("cover", COVER_RULES)):
        value = problem.get(key, allowed[0])
        if value not in allowed:
            msg = f"{key} must be one of {', '.join(allowed)}, got {value!r}"
            raise InputError(msg, file=manifest, field=f"problem.{key}")
        out[key] = value
    zero = problem.get("cover_zero_demand", True)
    if not isinstance(zero, bool):
        msg = f"cover_zero_demand must be true or false, got {zero!r}"
        raise InputError(msg, file=manifest, field="problem.cover_zero_demand")
    out["cover_zero_demand"] = zero
    within = problem.get("equity_within", [])
    if not isinstance(within, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               and np.isfinite(v) and v > 0 for v in within):
        msg = f"equity_within must be a list of distances > 0 in the unit of the costs, got {within!r}"
        raise InputError(msg, file=manifest, field="problem.equity_within")
    out["equity_within"] = [float(v) for v in within]
    if model == DEFAULT_MODEL:
        stray = sorted(k for k in ("service", "lscp_objective", "cover", "cover_zero_demand") if k in problem)
        if stray:
            msg = f"{stray[0]} applies to the coverage models only; set model = \"lscp\", \"mclp\", ... or remove it"
            raise InputError(msg, file=manifest, field=f"problem.{stray[0]}")
    return out


def _load_tables(
    directory: Path, problem: dict, sources: dict[str, object], *, base: Path, manifest: Path | None
) -> LocationProblem:
    settings = _problem_settings(problem, manifest, default_name=directory.resolve().name)
    roots = settings["data_roots"]
    demands, dem_file = _table(sources["demands"], base, manifest, "demands", roots)
    facilities, fac_file = _table(sources["facilities"], base, manifest, "facilities", roots)

    _require_columns(demands, ["id", "demand"], dem_file)
    _allow_columns(demands, ["id", "demand"], dem_file)
    client_ids = _id_column(demands, dem_file)
    demand = _numeric(demands, "demand", dem_file)
    check_values(demand, "demand", nonnegative=True, file=dem_file, rows=demands.index.to_numpy())

    _require_columns(facilities, ["id", "capacity", "fixed_cost"], fac_file)
    _allow_columns(facilities, ["id", "capacity", "fixed_cost", "required"], fac_file)
    facility_ids = _id_column(facilities, fac_file)
    capacity = _numeric(facilities, "capacity", fac_file, blank=np.inf)
    fac_rows = facilities.index.to_numpy()
    check_values(capacity, "capacity", nonnegative=True, allow_inf=True, file=fac_file, rows=fac_rows)
    fixed_cost = _numeric(facilities, "fixed_cost", fac_file)
    check_values(fixed_cost, "fixed_cost", file=fac_file, rows=fac_rows)
    required = _bool_column(facilities, "required", fac_file) if "required" in facilities else None

    arc_client, arc_facility, arc_cost, cost_file = _costs(sources["costs"], base, manifest, client_ids, facility_ids,
                                                           roots)
    unserved = np.flatnonzero(np.bincount(arc_client, minlength=len(client_ids)) == 0)
    if unserved.size:
        k = int(unserved[0])
        msg = (f"client {client_ids[k]!r} (row {demands.index[k]} of {dem_file.name}) has no allowed facility: "
               "every cost is blank/inf or it has no triplet")
        raise InputError(msg, file=cost_file, field="client")
    try:
        return build_problem(
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
            meta={"format": "matrix", "source": str(manifest or directory), "model": settings["model"]},
            file=manifest or directory,
        )
    except InputError as e:
        if e.field == "p":
            raise InputError(e.message, file=manifest, field="problem.p") from None
        raise


def _table(source: object, base: Path, manifest: Path | None, key: str, roots: list[Path] | None = None
           ) -> tuple[pd.DataFrame, Path]:
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
    path = resolve_inside(source, base, manifest, f"tables.{key}", roots or [])
    return _read_csv(path, manifest, key), path


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
    short_record = short_row(path)
    if short_record is not None:
        line, n, header = short_record
        msg = (f"the row has {n} fields, the header {header}: write every field (an empty field between commas "
               "where a value is left out — in a cost table that forbids the pair)")
        raise InputError(msg, file=path, row=line)
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = [line for line, _ in csv_records(path)[1]]
    text = np.char.strip(frame.to_numpy(dtype=str))  # every cell at once: a call per column costs more on small tables
    blank = (text == "").all(axis=1)
    index = np.asarray(lines) if len(lines) == int((~blank).sum()) else np.flatnonzero(~blank) + 2  # header = line 1
    return pd.DataFrame(text[~blank], columns=frame.columns, index=index, dtype=str)


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
                msg += ("; the file looks semicolon-separated (a spreadsheet in a Dutch or French locale): save it as "
                        "CSV with commas between fields and decimal points in numbers")
            else:
                msg += f"; add the column or rename the matching one to {column!r}"
            raise InputError(msg, file=file, row=1, field=column)


def _allow_columns(frame: pd.DataFrame, columns: list[str], file: Path) -> None:
    for column in frame.columns:
        if column not in columns:
            msg = f"unknown column {column!r}; allowed: {columns}"
            raise InputError(msg, file=file, row=1, field=column)


def _id_column(frame: pd.DataFrame, file: Path) -> np.ndarray:
    ids = frame["id"].astype(str).str.strip().to_numpy(dtype=object)
    empty = np.flatnonzero(ids == "")
    if empty.size:
        msg = "id is empty; give every row an id"
        raise InputError(msg, file=file, row=int(frame.index[empty[0]]), field="id")
    check_unique(ids, "id", file=file, rows=frame.index.to_numpy())
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
        what = "is empty; fill it in" if got == "" else f"is not a number: {short(got)}{local_number_hint(got)}"
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
    source: object, base: Path, manifest: Path | None, client_ids: np.ndarray, facility_ids: np.ndarray,
    roots: list[Path] | None = None,
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
        frame, file = _table(source, base, manifest, "costs", roots)
        if fmt == "dense" and list(frame.columns) == ["client", "facility", "cost"]:
            fmt = "triplets"  # a triplet file named as the default costs table
    if fmt == "dense":
        return (*_dense_costs(frame, file, client_ids, facility_ids), file)
    return (*_triplet_costs(frame, file, client_ids, facility_ids), file)


def _parse_costs(text: pd.DataFrame, file: Path, *, blank_forbidden: bool) -> np.ndarray:
    """Parse a frame of cost strings; blank and ``inf`` give ``inf`` (forbidden) when allowed."""
    raw = text.to_numpy(dtype=str)
    # one to_numeric over every cell (a call per column costs more than the parse on small matrices)
    values = pd.to_numeric(raw.ravel(), errors="coerce").astype(float).reshape(raw.shape)
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
                else f"is not a finite number: {short(str(got))}")
        msg = f"cost {what}" + ("; give a finite cost, or leave the cell empty to forbid the pair" if blank_forbidden
                                else "; give a finite cost, or omit the triplet to forbid the pair")
        raise InputError(msg + local_number_hint(got), file=file, row=int(text.index[r]), field=str(text.columns[c]))
    big = np.argwhere(np.isfinite(values) & (np.abs(values) > MAX_MAGNITUDE))
    if big.size:
        r, c = big[0]
        raise InputError(magnitude_message("cost", values[r, c]), file=file, row=int(text.index[r]),
                         field=str(text.columns[c]))
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
