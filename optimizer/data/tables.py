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


def read_table(spec: str | dict, base: Path, manifest_path: Path, role: str) -> tuple[pd.DataFrame, Path]:
    """Read a CSV table or a GIS layer (reprojected to EPSG:31370, representative points as x/y)."""
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict) or "path" not in spec:
        raise InputError("a table is a path or a table with 'path'", file=manifest_path, field=f"tables.{role}")
    path = (base / spec["path"]).resolve()
    if not path.exists():
        msg = f"{role} table not found: {path}; check the path (relative to the manifest's folder)"
        raise InputError(msg, file=manifest_path, field=f"tables.{role}")
    columns = spec.get("columns", {})
    if not isinstance(columns, dict):
        raise InputError("'columns' maps our names to yours", file=manifest_path, field=f"tables.{role}.columns")
    if path.suffix.lower() in GIS_SUFFIXES:
        layers = spec.get("layer")
        if isinstance(layers, list):  # several layers of one file (e.g. zones + aggregate candidates), one table
            parts = [_read_gis(path, {**spec, "layer": name}, manifest_path, role) for name in layers]
            frame = pd.concat(parts, ignore_index=True)
        else:
            frame = _read_gis(path, spec, manifest_path, role)
    else:
        try:
            frame = pd.read_csv(path, encoding="utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"not UTF-8 text ({e.reason}); save the file as UTF-8", file=path) from e
        except pd.errors.EmptyDataError as e:
            raise InputError("the file is empty: save the table with a header line and data rows", file=path) from e
        except pd.errors.ParserError as e:
            msg = f"not a readable CSV table ({str(e).strip()}); check the separators (comma) and quoting"
            raise InputError(msg, file=path) from e
    missing = [theirs for ours, theirs in columns.items() if theirs not in frame.columns]
    if missing:
        msg = f"column mapping names column {missing[0]!r}, which is not in the table (columns: {', '.join(map(str, frame.columns))})"
        raise InputError(msg, file=manifest_path, field=f"tables.{role}.columns")
    frame = frame.rename(columns={theirs: ours for ours, theirs in columns.items()})
    if role.startswith("candidates") and path.suffix.lower() in GIS_SUFFIXES:
        frame = _zone_defaults(frame)
    return frame, path


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
    """Row number of the first record: CSV line 2 (after the header), GIS feature 1."""
    return 1 if path.suffix.lower() in GIS_SUFFIXES else 2


def check_columns(frame: pd.DataFrame, schema: dict[str, str], path: Path) -> pd.DataFrame:
    """Check presence, type and range of the columns in ``schema``; return the frame with clean dtypes."""
    import difflib

    if frame.empty:
        raise InputError("the table has no rows: add at least one data row", file=path)
    for col, kind in schema.items():
        if col not in frame.columns:
            close = difflib.get_close_matches(col, [str(c) for c in frame.columns], n=1)
            hint = (f"found {close[0]!r}: rename it or map it under columns in the manifest" if close
                    else "add it, or map your column to it under columns in the manifest")
            raise InputError(f"missing column {col!r} ({hint})", file=path, field=col)
        series = frame[col]
        blank = series.isna() | (series.astype(str).str.strip().isin(["", "nan", "NaN"]))
        if kind in ("text", "id", "ref"):
            _fail_first(blank, path, col, f"empty value: give every row a {col}")
            if kind == "id":
                text = series.astype(str)
                dup = text.duplicated()
                if dup.any():
                    first = int(np.flatnonzero(dup.to_numpy())[0])
                    other = int(np.flatnonzero((text == text.iloc[first]).to_numpy())[0]) + _first_row(path)
                    _fail_first(dup, path, col, f"duplicate id {text.iloc[first]!r} (also in row {other}): "
                                                "ids must be unique — remove or renumber the row")
                frame[col] = text  # numeric ids (1, 2, ...) are text like every other id
            if kind == "text":
                frame[col] = series.astype(str)
            continue
        numeric = pd.to_numeric(series, errors="coerce")
        blank_ok = kind == "area_or_blank"
        _fail_first(blank & ~pd.Series(blank_ok, index=series.index), path, col,
                    f"missing value: fill in {col} as a number")
        not_number = numeric.isna() & ~blank
        if not_number.any():
            value = series[not_number].iloc[0]
            _fail_first(not_number, path, col, f"{value!r} is not a number: give {col} as a plain number "
                                               "(decimal point, no units)")
        values = numeric.to_numpy(dtype=float)
        _fail_first(pd.Series(np.isinf(values)), path, col, f"infinite value: give {col} as a finite number")
        if kind in ("count", "area_or_blank"):
            neg = values < 0
            if neg.any():
                _fail_first(pd.Series(neg), path, col,
                            f"negative value {values[neg][0]:g}: {col} must be ≥ 0 — correct it")
        frame[col] = numeric
    return frame


def _fail_first(mask: pd.Series, path: Path, col: str, what: str) -> None:
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    if hits.size:
        row = int(hits[0]) + _first_row(path)  # CSV: line 2 is the first data row; GIS: feature 1
        raise InputError(f"{what}", file=path, row=row, field=col)


def _check_coordinates(frame: pd.DataFrame, path: Path) -> None:
    x, y = frame["x"].to_numpy(float), frame["y"].to_numpy(float)
    first = _first_row(path)
    degrees = (np.abs(x) <= 180) | (np.abs(y) <= 90)
    if degrees.any():
        k = int(np.flatnonzero(degrees)[0])
        msg = ("coordinates look like degrees (WGS84); x/y must be Lambert 72 metres (EPSG:31370) — reproject them"
               + (", or declare crs = \"EPSG:4326\" for the layer" if first == 1 else ""))
        raise InputError(msg, file=path, row=k + first, field="x" if abs(x[k]) <= 180 else "y")
    xmin, ymin, xmax, ymax = FLANDERS_BOUNDS_M
    out_x, out_y = (x < xmin) | (x > xmax), (y < ymin) | (y > ymax)
    outside = out_x | out_y
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        msg = f"point ({x[k]:.0f}, {y[k]:.0f}) lies outside Flanders in EPSG:31370; check the CRS and the value"
        raise InputError(msg, file=path, row=k + first, field="x" if out_x[k] else "y")


def validate_demand(frame: pd.DataFrame, path: Path, programmes: list[Programme]) -> pd.DataFrame:
    points = "id" in frame.columns
    frame = check_columns(frame, POINT_DEMAND_COLUMNS if points else DEMAND_COLUMNS, path)
    for prog in programmes:
        if prog.region != "flanders" and prog.region not in frame.columns:
            raise InputError(f"programme {prog.id!r} counts per {prog.region!r}: the column is missing; add it "
                             "or map your column to it under columns in the manifest", file=path, field=prog.region)
        if prog.region in frame.columns:
            empty = frame[prog.region].isna() | (frame[prog.region].astype(str).str.strip() == "")
            _fail_first(empty, path, prog.region, f"empty region: give every municipality its {prog.region}")
    if "centrumstad" not in frame.columns:
        frame["centrumstad"] = False
    frame["centrumstad"] = frame["centrumstad"].astype(str).str.lower().isin(["true", "1", "yes"])
    if "area_km2" not in frame.columns:
        frame["area_km2"] = 0.0
    frame["nis"] = frame["nis"].astype(str).str.replace(r"\.0$", "", regex=True)
    frame["id"] = frame["id"].astype(str) if points else frame["nis"]
    if points:  # a municipality's attributes must agree over its points (they are looked up per municipality)
        for col in [c for c in ("centrumstad", *{p.region for p in programmes}) if c in frame.columns]:
            split = frame.groupby("nis")[col].transform("nunique") > 1
            if split.any():
                _fail_first(split, path, col, f"municipality {frame.loc[split, 'nis'].iloc[0]} has different {col} "
                                              "values on its points; give one value per nis")
    _check_coordinates(frame, path)
    return frame.reset_index(drop=True)


def validate_candidates(frame: pd.DataFrame, path: Path, demand: pd.DataFrame, assumptions: dict) -> pd.DataFrame:
    frame = check_columns(frame, CANDIDATE_COLUMNS, path)
    frame["nis"] = frame["nis"].astype(str).str.replace(r"\.0$", "", regex=True)
    unknown = ~frame["nis"].isin(demand["nis"])
    if unknown.any():
        code = frame.loc[unknown, "nis"].iloc[0]
        _fail_first(unknown, path, "nis", f"municipality code {code!r} is not in the demand table; "
                                          "use the NIS code of a municipality in the demand table")
    if "total_ha" not in frame.columns:
        frame["total_ha"] = np.nan
    blank = frame["free_ha"].isna()
    ports = blank & (frame["zone_type"] == "seaport")
    share = float(assumptions["seaport_free_share"].value)
    frame.loc[ports, "free_ha"] = pd.to_numeric(frame.loc[ports, "total_ha"], errors="coerce") * share
    frame["free_from_assumption"] = ports
    _fail_first(ports & frame["free_ha"].isna(), path, "total_ha",
                "seaport without free_ha needs its total area: fill in total_ha in hectares (free land is then "
                "total_ha × the named assumption seaport_free_share), or give free_ha")
    _fail_first(frame["free_ha"].isna(), path, "free_ha",
                "free area missing: fill in free_ha in hectares (only seaports may leave it blank)")
    if "geometry" in frame.columns:
        area = pd.to_numeric(frame.get("area_ha", pd.Series(np.nan, index=frame.index)), errors="coerce")
        zone = frame["geometry"].notna().to_numpy()
        too_much = zone & (frame["free_ha"].to_numpy(float) > area.to_numpy(float) * 1.001 + 1e-3)
        if too_much.any():
            k = int(np.flatnonzero(too_much)[0])
            _fail_first(pd.Series(too_much), path, "free_ha",
                        f"free area {frame['free_ha'].iloc[k]:g} ha is larger than the zone's area "
                        f"({area.iloc[k]:.2f} ha); check the column mapped to free_ha (hectares)")
    for flag in ("aggregate", "zone_type_from_geometry"):
        if flag in frame.columns:
            frame[flag] = frame[flag].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
    _check_coordinates(frame, path)
    return frame.reset_index(drop=True)
