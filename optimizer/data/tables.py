"""Demand and candidate tables: reading CSV or GIS layers and validating every column, once, at the boundary.

A problem is reported as :class:`~optimizer.errors.InputError` naming the file, the row (CSV line, header = line 1;
GIS feature number) and the field; inside the engine the tables are trusted.

Candidates are points (a CSV table, or a point layer) or **zones**: a polygon layer keeps its polygons (column
``geometry``, EPSG:31370) and the facility point inside each zone is chosen later from its network access
(:func:`optimizer.geo.zones.zone_facility_points`). The shipped zone layer (``instances/flanders/zones/zones.gpkg``)
and a planner's own zone layer (e.g. the VLAIO business-park inventory, mapped with ``columns``) are read the same
way; see ``docs/geography.md`` for the expected columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data.numbers import (
    case_collision,
    csv_records,
    local_number_hint,
    magnitude_message,
    magnitude_problem,
    short,
    short_row,
)
from optimizer.data.programmes import Programme
from optimizer.errors import InputError
from optimizer.settings import CRS

GIS_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb"}
# Lambert 72 extent of Flanders with a margin (m): catches degrees given as metres and points abroad.
FLANDERS_BOUNDS_M = (15_000.0, 140_000.0, 265_000.0, 250_000.0)

DEMAND_COLUMNS = {"nis": "id", "name": "text", "population": "count", "x": "coord", "y": "coord"}
# demand points (a table with its own ``id``): ``nis`` names the municipality the point lies in, shared by many
POINT_DEMAND_COLUMNS = {"id": "id", "nis": "ref", "name": "text", "population": "count", "x": "coord", "y": "coord"}
CANDIDATE_COLUMNS = {"site_id": "id", "name": "text", "zone_type": "text", "nis": "ref", "x": "coord", "y": "coord",
                     "free_ha": "area_or_blank"}
# A zone layer may name its id column zone_id; its zone type is derived from geometry when it has none (a zone inside a
# seaport area is 'seaport', any other 'economic_zone'), and a zone's name defaults to its id.
ZONE_ID_ALIAS = "zone_id"
DERIVED_ZONE_TYPE = "economic_zone"
POLYGONS = {"Polygon", "MultiPolygon"}


TABLE_KEYS = {"path", "layer", "crs", "columns"}


def resolve_inside(value: object, base: Path, manifest_path: Path | None, field: str,
                   roots: list[Path] | tuple[Path, ...] = ()) -> Path:
    """The file a manifest names, which must lie inside the instance's folder ``base`` or a data root.

    Data roots: the project's ``instances/`` and ``$SITING_DATA_ROOTS`` (:func:`optimizer.settings.data_roots`),
    plus ``roots`` the manifest lists itself (``[instance] data_roots``; a matrix instance's ``[problem]
    data_roots``). An absolute path, a ``..`` escape or a symbolic link leading anywhere else is refused, so a
    manifest cannot make siting read (and quote) an unrelated file.
    """
    from optimizer.settings import data_roots

    raw = str(value)
    if not raw.strip() or "\x00" in raw:
        raise InputError(f"empty or invalid path {short(raw)}", file=manifest_path, field=field)
    given = Path(raw)
    resolved = (given if given.is_absolute() else base / given).resolve()
    allowed = [base.resolve(), *data_roots(), *roots]
    if any(resolved == r or r in resolved.parents for r in allowed):
        return resolved
    how = ("is an absolute path outside" if given.is_absolute() else "leaves with '..'" if ".." in given.parts
           else "is a symbolic link leading outside")
    msg = (f"path {short(raw)} {how} the instance's folder; tables are read only from the manifest's folder or a "
           "data root: copy the file next to the manifest, or name its folder in data_roots (docs/reliability.md)")
    raise InputError(msg, file=manifest_path, field=field)


class LineNumbers(tuple):
    """A CSV table's line numbers, kept in ``frame.attrs``. pandas deep-copies ``attrs`` on every operation that
    makes a new frame; this tuple is immutable, so a copy is the same object (a list of the 285 municipalities' lines
    was copied 80 times per load: 28 ms of the 74 ms of ``load_instance("materialenbanken")``)."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict) -> "LineNumbers":
        return self


def locate_table(spec: object, base: Path, manifest_path: Path, role: str,
                 roots: list[Path] | tuple[Path, ...] = ()) -> tuple[dict, Path]:
    """A ``[tables]`` entry as a dict with ``path``, and the file it names: checked to be a known entry, inside the
    instance's folder or a data root (:func:`resolve_inside`), and an existing file. Nothing is read."""
    where = role if role.startswith("generator.") else f"tables.{role}"
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict) or "path" not in spec:
        raise InputError("a table is a path or a table with 'path'", file=manifest_path, field=where)
    unknown = sorted(set(spec) - TABLE_KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in the table entry; allowed: {', '.join(sorted(TABLE_KEYS))}",
                         file=manifest_path, field=f"{where}.{unknown[0]}")
    path = resolve_inside(spec["path"], base, manifest_path, where, roots)
    if not path.exists():
        msg = f"{role} table not found: {path}; check the path (relative to the manifest's folder)"
        raise InputError(msg, file=manifest_path, field=where)
    if not path.is_file():
        raise InputError(f"{role} table {path} is not a file; name a CSV table or a GIS layer file",
                         file=manifest_path, field=where)
    return spec, path


def read_table(spec: str | dict, base: Path, manifest_path: Path, role: str,
               roots: list[Path] | tuple[Path, ...] = ()) -> tuple[pd.DataFrame, Path]:
    """Read a CSV table or a GIS layer (reprojected to EPSG:31370, representative points as x/y).

    The path must lie inside the instance's folder or a data root (:func:`resolve_inside`). A CSV table keeps its
    line numbers in ``frame.attrs["line_numbers"]`` (header = line 1; blank lines skipped but counted), so errors
    name the line a spreadsheet shows.
    """
    spec, path = locate_table(spec, base, manifest_path, role, roots)
    where = role if role.startswith("generator.") else f"tables.{role}"
    columns = spec.get("columns", {})
    if not isinstance(columns, dict):
        raise InputError("'columns' maps our names to yours", file=manifest_path, field=f"{where}.columns")
    if path.suffix.lower() in GIS_SUFFIXES:
        layers = spec.get("layer")
        if isinstance(layers, list):  # several layers of one file (e.g. zones + aggregate candidates), one table
            parts = [_read_gis(path, {**spec, "layer": name}, manifest_path, role) for name in layers]
            frame = pd.concat(parts, ignore_index=True)
        else:
            frame = _read_gis(path, spec, manifest_path, role)
    else:
        frame = _read_csv(path)
    missing = [theirs for ours, theirs in columns.items() if theirs not in frame.columns]
    if missing:
        msg = (f"column mapping names column {short(missing[0])}, which is not in the table (columns: "
               f"{', '.join(map(str, frame.columns))[:200]})")
        raise InputError(msg, file=manifest_path, field=f"{where}.columns")
    lines = frame.attrs.get("line_numbers")
    frame = frame.rename(columns={theirs: ours for ours, theirs in columns.items()})
    if lines is not None:
        frame.attrs["line_numbers"] = lines
    if role.startswith("candidates") and path.suffix.lower() in GIS_SUFFIXES:
        frame = _zone_defaults(frame)
    return frame, path


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV table (UTF-8, a byte-order mark allowed) without its blank lines, which still count in line numbers."""
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text ({e.reason}); save the file as UTF-8 (CSV UTF-8 in a spreadsheet)",
                         file=path, row=line) from e
    except pd.errors.EmptyDataError as e:
        raise InputError("the file is empty: save the table with a header line and data rows", file=path) from e
    except pd.errors.ParserError as e:
        msg = f"not a readable CSV table ({str(e).strip()[:120]}); check the separators (comma) and quoting"
        raise InputError(msg, file=path) from e
    if len(frame.columns) == 1 and ";" in str(frame.columns[0]):
        raise InputError("the table looks semicolon-separated (a spreadsheet in a Dutch or French locale): save it "
                         "as CSV with commas between fields and decimal points in numbers", file=path, row=1)
    short_record = short_row(path)
    if short_record is not None:
        line, n, header = short_record
        raise InputError(f"the row has {n} fields, the header {header}: every row needs a value (or an empty "
                         "field) for every column — add the missing commas or values", file=path, row=line)
    lines = [line for line, _ in csv_records(path)[1]]
    if len(lines) == len(frame):  # the same records pandas read (else rows are counted without blank lines)
        frame.attrs["line_numbers"] = LineNumbers(lines)  # attrs travel with copies of the frame
    return frame


def _read_gis(path: Path, spec: dict, manifest_path: Path, role: str) -> pd.DataFrame:
    import geopandas as gpd

    _check_gis_layer(path, spec)
    try:
        gdf = gpd.read_file(path, layer=spec.get("layer"))
    except Exception as e:  # noqa: BLE001 - any reader failure is an input problem
        raise InputError(f"cannot read GIS layer: {e}; check that the file is a valid GIS file", file=path) from e
    if gdf.crs is None:
        if "crs" not in spec:
            raise InputError("the layer has no CRS; add crs = \"EPSG:xxxx\" to the table in the manifest",
                             file=path, field="crs")
        try:
            gdf = gdf.set_crs(spec["crs"])
        except Exception as e:  # noqa: BLE001 - pyproj CRSError and friends
            msg = f"unknown CRS {spec['crs']!r}; give an EPSG code such as \"EPSG:31370\" or \"EPSG:4326\""
            raise InputError(msg, file=manifest_path, field=f"tables.{role}.crs") from e
    gdf = gdf.to_crs(CRS)
    empty = gdf.geometry.is_empty | gdf.geometry.isna()
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0]) + 1
        raise InputError("feature without geometry: give it a point or polygon, or remove it",
                         file=path, row=row, field="geometry")
    _check_geometry_types(gdf.geometry, path)
    points = gdf.geometry.representative_point()
    frame = pd.DataFrame(gdf.drop(columns="geometry"))
    frame["x"], frame["y"] = points.x.to_numpy(), points.y.to_numpy()
    kinds = gdf.geometry.geom_type.to_numpy()
    if np.isin(kinds, list(POLYGONS)).any():  # zones: keep the polygons (points stay points)
        import shapely

        geoms = gdf.geometry.to_numpy()
        invalid = np.flatnonzero(np.isin(kinds, list(POLYGONS)) & ~shapely.is_valid(geoms))
        if invalid.size:
            i = int(invalid[0])
            msg = (f"invalid polygon: {shapely.is_valid_reason(geoms[i])}; repair it (e.g. QGIS 'Fix geometries') "
                   "or remove the feature")
            raise InputError(msg, file=path, row=i + 1, field="geometry")
        frame["geometry"] = np.where(np.isin(kinds, list(POLYGONS)), geoms, None)
    return frame


def _zone_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    """A zone layer's id may be called zone_id; without a zone type it is derived from geometry later (flagged);
    without a name, a zone is named by its id; without an area, the polygon's area is used."""
    if "geometry" in frame.columns and "area_ha" not in frame.columns:
        import shapely

        polygons = frame["geometry"].notna().to_numpy()
        area = np.full(len(frame), np.nan)
        area[polygons] = shapely.area(frame["geometry"].to_numpy()[polygons].astype(object)) / 1e4
        frame["area_ha"] = area
    if "site_id" not in frame.columns and ZONE_ID_ALIAS in frame.columns:
        frame = frame.rename(columns={ZONE_ID_ALIAS: "site_id"})
    if "zone_type" not in frame.columns:
        frame["zone_type"] = DERIVED_ZONE_TYPE
        frame["zone_type_from_geometry"] = True
    if "name" not in frame.columns and "site_id" in frame.columns:
        frame["name"] = frame["site_id"].astype(str)
    return frame


POINT_LIKE = {"Point", "MultiPoint", "Polygon", "MultiPolygon"}


def _check_gis_layer(path: Path, spec: dict) -> None:
    """The layer named in the manifest exists (a clear message instead of the driver's)."""
    import pyogrio

    if spec.get("layer") is None:
        return
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # noqa: BLE001 - unreadable files are reported by the reader itself
        return
    if str(spec["layer"]) not in layers:
        msg = f"no layer {spec['layer']!r} in the file; set layer = one of {', '.join(layers)}"
        raise InputError(msg, file=path, field="layer")


def _check_geometry_types(geometry: pd.Series, path: Path) -> None:
    """Sites and municipalities are points; polygons are fine (representative points), lines are not."""
    kinds = geometry.geom_type.to_numpy()
    bad = np.flatnonzero(~np.isin(kinds, list(POINT_LIKE)))
    if bad.size:
        msg = (f"a {kinds[bad[0]]} geometry where points or polygons are expected; "
               "give each feature as a point or a polygon (its representative point is used)")
        raise InputError(msg, file=path, row=int(bad[0]) + 1, field="geometry")


def _first_row(path: Path) -> int:
    """Row number of the first record: CSV line 2 (after the header), GIS feature 1, a GeoDataFrame's row 1
    (an in-memory frame is labelled ``<... GeoDataFrame>``, see :mod:`optimizer.data.frames`)."""
    return 1 if path.suffix.lower() in GIS_SUFFIXES or str(path).startswith("<") else 2


def row_numbers(frame: pd.DataFrame, path: Path) -> np.ndarray:
    """The row number an error names for each row of ``frame``: the CSV line (blank lines counted) or the feature."""
    lines = frame.attrs.get("line_numbers")
    if lines is not None and len(lines) == len(frame):
        return np.asarray(lines)
    return np.arange(len(frame)) + _first_row(path)


def check_columns(frame: pd.DataFrame, schema: dict[str, str], path: Path) -> pd.DataFrame:
    """Check presence, type and range of the columns in ``schema``; return the frame with clean dtypes.

    Ids and references lose surrounding whitespace; two ids that differ only by letter case or whitespace are
    refused (the same zone twice would count its free land twice). Numbers must be plain (decimal point, no
    thousands separators: a hint names a local format) and within the range the solver handles.
    """
    import difflib

    if frame.empty:
        raise InputError("the table has no rows: add at least one data row", file=path)
    rows = row_numbers(frame, path)
    for col, kind in schema.items():
        if col not in frame.columns:
            close = difflib.get_close_matches(col, [str(c) for c in frame.columns], n=1)
            hint = (f"found {close[0]!r}: rename it or map it under columns in the manifest" if close
                    else "add it, or map your column to it under columns in the manifest")
            raise InputError(f"missing column {col!r} ({hint})", file=path, field=col)
        series = frame[col]
        blank = series.isna() | (series.astype(str).str.strip().isin(["", "nan", "NaN"]))
        if kind in ("text", "id", "ref"):
            _fail_first(blank, path, col, f"empty value: give every row a {col}", rows)
            if kind in ("id", "ref"):
                text = series.astype(str).str.strip()
                if kind == "id":
                    _check_unique_ids(text, path, col, rows)
                frame[col] = text  # numeric ids (1, 2, ...) are text like every other id
            if kind == "text":
                frame[col] = series.astype(str)
            continue
        numeric = pd.to_numeric(series, errors="coerce")
        blank_ok = kind == "area_or_blank"
        _fail_first(blank & ~pd.Series(blank_ok, index=series.index), path, col,
                    f"missing value: fill in {col} as a number", rows)
        not_number = numeric.isna() & ~blank
        if not_number.any():
            value = series[not_number].iloc[0]
            _fail_first(not_number, path, col, f"{short(value)} is not a number: give {col} as a plain number "
                                               f"(decimal point, no units){local_number_hint(value)}", rows)
        values = numeric.to_numpy(dtype=float)
        _fail_first(np.isinf(values), path, col, f"infinite value: give {col} as a finite number", rows)
        if kind in ("count", "area_or_blank"):
            neg = values < 0
            if neg.any():
                _fail_first(neg, path, col, f"negative value {values[neg][0]:g}: {col} must be ≥ 0 — correct it", rows)
        big = magnitude_problem(values) if kind != "coord" else None
        if big is not None:
            raise InputError(magnitude_message(col, values[big]), file=path, row=int(rows[big]), field=col)
        frame[col] = numeric
    return frame


def _check_unique_ids(text: pd.Series, path: Path, col: str, rows: np.ndarray) -> None:
    dup = text.duplicated()
    if dup.any():
        first = int(np.flatnonzero(dup.to_numpy())[0])
        other = int(rows[int(np.flatnonzero((text == text.iloc[first]).to_numpy())[0])])
        _fail_first(dup, path, col, f"duplicate id {short(text.iloc[first])} (also in row {other}): "
                                    "ids must be unique — remove or renumber the row", rows)
    clash = case_collision(text)
    if clash is not None:
        a, b = clash
        raise InputError(f"id {short(text.iloc[b])} differs from {short(text.iloc[a])} (row {int(rows[a])}) only by "
                         "letter case: the same id twice would count the same place twice — make them identical "
                         "and merge the rows, or give distinct ids", file=path, row=int(rows[b]), field=col)


def _fail_first(mask: pd.Series | np.ndarray, path: Path, col: str, what: str, rows: np.ndarray | None = None) -> None:
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    if hits.size:
        k = int(hits[0])
        row = int(rows[k]) if rows is not None else k + _first_row(path)  # CSV: line 2 = first data row; GIS: 1
        raise InputError(f"{what}", file=path, row=row, field=col)


def _check_coordinates(frame: pd.DataFrame, path: Path) -> None:
    x, y = frame["x"].to_numpy(float), frame["y"].to_numpy(float)
    rows = row_numbers(frame, path)
    gis = _first_row(path) == 1
    degrees = (np.abs(x) <= 180) | (np.abs(y) <= 90)
    if degrees.any():
        k = int(np.flatnonzero(degrees)[0])
        msg = ("coordinates look like degrees (WGS84); x/y must be Lambert 72 metres (EPSG:31370) — reproject them"
               + (", or declare crs = \"EPSG:4326\" for the layer" if gis else ""))
        raise InputError(msg, file=path, row=int(rows[k]), field="x" if abs(x[k]) <= 180 else "y")
    xmin, ymin, xmax, ymax = FLANDERS_BOUNDS_M
    out_x, out_y = (x < xmin) | (x > xmax), (y < ymin) | (y > ymax)
    outside = out_x | out_y
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        msg = f"point ({x[k]:.0f}, {y[k]:.0f}) lies outside Flanders in EPSG:31370; check the CRS and the value"
        raise InputError(msg, file=path, row=int(rows[k]), field="x" if out_x[k] else "y")


def _region_values(frame: pd.DataFrame, col: str, path: Path, rows: np.ndarray) -> None:
    """Region names without surrounding whitespace; two that differ only by letter case are refused (they would
    be two regions, each needing its own facility)."""
    frame[col] = frame[col].astype(str).str.strip()
    names = pd.Series(frame[col].unique())
    clash = case_collision(names)
    if clash is not None:
        a, b = names.iloc[clash[0]], names.iloc[clash[1]]
        k = int(np.flatnonzero((frame[col] == b).to_numpy())[0])
        raise InputError(f"{col} {short(b)} differs from {short(a)} only by letter case: they would be two regions "
                         "— write the name the same way in every row", file=path, row=int(rows[k]), field=col)


def validate_demand(frame: pd.DataFrame, path: Path, programmes: list[Programme]) -> pd.DataFrame:
    points = "id" in frame.columns
    frame = check_columns(frame, POINT_DEMAND_COLUMNS if points else DEMAND_COLUMNS, path)
    rows = row_numbers(frame, path)
    for prog in programmes:
        if prog.region != "flanders" and prog.region not in frame.columns:
            raise InputError(f"programme {prog.id!r} counts per {prog.region!r}: the column is missing; add it "
                             "or map your column to it under columns in the manifest", file=path, field=prog.region)
        if prog.region in frame.columns:
            empty = frame[prog.region].isna() | (frame[prog.region].astype(str).str.strip() == "")
            _fail_first(empty, path, prog.region, f"empty region: give every municipality its {prog.region}", rows)
            _region_values(frame, prog.region, path, rows)
    if "centrumstad" not in frame.columns:
        frame["centrumstad"] = False
    frame["centrumstad"] = frame["centrumstad"].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
    if "area_km2" not in frame.columns:
        frame["area_km2"] = 0.0
    else:
        area = pd.to_numeric(frame["area_km2"], errors="coerce").to_numpy(float)
        big = magnitude_problem(area)
        if big is not None:
            raise InputError(magnitude_message("area_km2", area[big]), file=path, row=int(rows[big]), field="area_km2")
    frame["nis"] = frame["nis"].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    frame["id"] = frame["id"].astype(str) if points else frame["nis"]
    if points:  # a municipality's attributes must agree over its points (they are looked up per municipality)
        for col in [c for c in ("centrumstad", *{p.region for p in programmes}) if c in frame.columns]:
            split = frame.groupby("nis")[col].transform("nunique") > 1
            if split.any():
                _fail_first(split, path, col, f"municipality {frame.loc[split, 'nis'].iloc[0]} has different {col} "
                                              "values on its points; give one value per nis", rows)
    _check_coordinates(frame, path)
    return _validated(frame)


def validate_candidates(frame: pd.DataFrame, path: Path, demand: pd.DataFrame, assumptions: dict) -> pd.DataFrame:
    frame = check_columns(frame, CANDIDATE_COLUMNS, path)
    rows = row_numbers(frame, path)
    frame["nis"] = frame["nis"].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    frame["zone_type"] = frame["zone_type"].astype(str).str.strip()
    unknown = ~frame["nis"].isin(demand["nis"])
    if unknown.any():
        code = frame.loc[unknown, "nis"].iloc[0]
        _fail_first(unknown, path, "nis", f"municipality code {short(code)} is not in the demand table; "
                                          "use the NIS code of a municipality in the demand table", rows)
    if "total_ha" not in frame.columns:
        frame["total_ha"] = np.nan
    else:
        total = pd.to_numeric(frame["total_ha"], errors="coerce").to_numpy(float)
        big = magnitude_problem(total)
        if big is not None:
            raise InputError(magnitude_message("total_ha", total[big]), file=path, row=int(rows[big]), field="total_ha")
    blank = frame["free_ha"].isna()
    ports = blank & (frame["zone_type"] == "seaport")
    share = float(assumptions["seaport_free_share"].value)
    frame.loc[ports, "free_ha"] = pd.to_numeric(frame.loc[ports, "total_ha"], errors="coerce") * share
    frame["free_from_assumption"] = ports
    _fail_first(ports & frame["free_ha"].isna(), path, "total_ha",
                "seaport without free_ha needs its total area: fill in total_ha in hectares (free land is then "
                "total_ha × the named assumption seaport_free_share), or give free_ha", rows)
    _fail_first(frame["free_ha"].isna(), path, "free_ha",
                "free area missing: fill in free_ha in hectares (only seaports may leave it blank)", rows)
    if "geometry" in frame.columns:
        area = pd.to_numeric(frame.get("area_ha", pd.Series(np.nan, index=frame.index)), errors="coerce")
        zone = frame["geometry"].notna().to_numpy()
        too_much = zone & (frame["free_ha"].to_numpy(float) > area.to_numpy(float) * 1.001 + 1e-3)
        if too_much.any():
            k = int(np.flatnonzero(too_much)[0])
            _fail_first(pd.Series(too_much), path, "free_ha",
                        f"free area {frame['free_ha'].iloc[k]:g} ha is larger than the zone's area "
                        f"({area.iloc[k]:.2f} ha); check the column mapped to free_ha (hectares)", rows)
    for flag in ("aggregate", "zone_type_from_geometry"):
        if flag in frame.columns:
            frame[flag] = frame[flag].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
    _check_coordinates(frame, path)
    return _validated(frame)


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    """The checked table, without the reading's line numbers (they must not travel into the results)."""
    frame = frame.reset_index(drop=True)
    frame.attrs.pop("line_numbers", None)
    return frame
