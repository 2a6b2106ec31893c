"""The tables and folders a manifest names, beyond demand: the candidate tables (one, or several joined, each a CSV,
a GIS point layer or a zone layer with polygons; ``available_land_ha`` scales a table's free land), the ``[networks]``
files that replace a shipped network mode, the existing-facility table and the ``data_roots`` they may be read from.
Read and validated here, at the boundary; :func:`optimizer.data.instance.load_instance` puts them together.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.data.tables import GIS_SUFFIXES, locate_table, read_table, resolve_inside, validate_candidates
from optimizer.errors import InputError


def manifest_roots(meta: dict, path: Path) -> list[Path]:
    """``[instance] data_roots``: folders (absolute, or relative to the manifest) the tables may also be read from."""
    given = meta.get("data_roots", [])
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
        raise InputError("data_roots is a list of folders, e.g. data_roots = [\"/srv/gis/flanders\"]", file=path,
                         field="instance.data_roots")
    roots = []
    for folder in given:
        root = (path.parent / folder).resolve()
        if not root.is_dir():
            raise InputError(f"data root {folder[:60]!r} is not a folder; give an existing folder", file=path,
                             field="instance.data_roots")
        roots.append(root)
    return roots


NETWORK_MODES = ("road", "water", "rail")


def network_files(section: object, path: Path, roots: list[Path]) -> dict[str, Path]:
    """``[networks]``: a mode's network tables (a GeoPackage with ``nodes`` and ``links`` layers in the schema of
    ``optimizer/geo/network_tables.py``) in place of the shipped layer of that mode; checked to exist here and read
    by the geography layer."""
    if not isinstance(section, dict):
        raise InputError("[networks] maps a mode (road, water, rail) to a file", file=path, field="networks")
    out = {}
    for mode, file in section.items():
        if mode not in NETWORK_MODES:
            raise InputError(f"unknown mode {mode!r}; use one of {', '.join(NETWORK_MODES)}", file=path,
                             field=f"networks.{mode}")
        target = resolve_inside(file, path.parent, path, f"networks.{mode}", roots)
        if not target.is_file():
            raise InputError(f"network table not found: {target}; check the path (relative to the manifest's folder)",
                             file=path, field=f"networks.{mode}")
        out[mode] = target
    return out


def read_candidates(spec: object, path: Path, demand: pd.DataFrame, assumptions: dict, roots: list[Path]
                     ) -> tuple[pd.DataFrame, dict[str, Path]]:
    """The candidate table: one table, or a list of tables (e.g. zones + a CSV of reserve land) validated one by one
    and joined; site ids must be unique over all of them."""
    specs = spec if isinstance(spec, list) else [spec]
    if not specs:
        raise InputError("candidates = [] names no table", file=path, field="tables.candidates")
    parts, files = [], {}
    for k, one in enumerate(specs):
        role = "candidates" if len(specs) == 1 else f"candidates[{k}]"
        table = {k: v for k, v in one.items() if k != "available_land_ha"} if isinstance(one, dict) else one
        raw, where = read_table(table, path.parent, path, role, roots)
        part = validate_candidates(raw, where, demand, assumptions)
        if isinstance(one, dict) and "available_land_ha" in one:
            part = available_share_of_free_land(part, str(one["available_land_ha"]), assumptions, path, role)
        parts.append((part, where))
        files["candidates" if k == 0 else f"candidates.{k}"] = where
    frame = pd.concat([p for p, _ in parts], ignore_index=True)
    seen: dict[str, Path] = {}
    for part, where in parts:
        for i, sid in enumerate(part["site_id"].astype(str)):
            if sid in seen:
                first = 1 if where.suffix.lower() in GIS_SUFFIXES else 2
                raise InputError(f"duplicate id {sid!r} (also in {seen[sid].name}): ids must be unique over all "
                                 "candidate tables", file=where, row=i + first, field="site_id")
            seen[sid] = where
    for flag in ("aggregate", "zone_type_from_geometry", "reserve", "greenfield", "free_from_assumption"):
        if flag in frame.columns:
            frame[flag] = frame[flag].fillna(False).astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
    return frame, files


def available_share_of_free_land(frame: pd.DataFrame, name: str, assumptions: dict, path: Path, role: str
                                  ) -> pd.DataFrame:
    """``available_land_ha = "<assumption>"`` on a candidate table: its free land scaled so that the economic zones
    hold the assumption's hectares in all (the land on the market, S7b; the same rule as
    ``instances/flanders/build_land_status.py``); seaport land (from ``seaport_free_share``) is kept. The mapped
    figure stays in ``mapped_free_ha``."""
    if name not in assumptions:
        from optimizer.data.instance import unknown_message

        raise InputError(unknown_message(name, assumptions).replace("parameter", "assumption"), file=path,
                         field=f"tables.{role}.available_land_ha")
    seaport = frame["free_from_assumption"].to_numpy(bool).copy() if "free_from_assumption" in frame else \
        np.zeros(len(frame), dtype=bool)
    if "free_basis" in frame:
        seaport |= frame["free_basis"].astype(str).eq("seaport_free_share").to_numpy()
    seaport |= frame["zone_type"].astype(str).eq("seaport").to_numpy()
    free = frame["free_ha"].to_numpy(float)
    total = float(free[~seaport].sum())
    share = min(1.0, float(assumptions[name].value) / total) if total > 0 else 1.0
    out = frame.copy()
    out["mapped_free_ha"] = free
    out.loc[~seaport, "free_ha"] = free[~seaport] * share
    return out


def table_path(spec: object, manifest_path: Path, role: str, roots: list[Path] | tuple[Path, ...] = ()) -> Path:
    """The resolved path of a table named in ``[tables]`` (a path relative to the manifest's folder), confined like
    every other table to the instance's folder or a data root (:func:`optimizer.data.tables.resolve_inside`)."""
    if not isinstance(spec, str):
        raise InputError("give the table as a path", file=manifest_path, field=f"tables.{role}")
    table = resolve_inside(spec, manifest_path.parent, manifest_path, f"tables.{role}", roots)
    if not table.is_file():
        raise InputError(f"{role} table not found: {table}; check the path (relative to the manifest's folder)",
                         file=manifest_path, field=f"tables.{role}")
    return table


# ---------------------------------------------------------------------------------------------------------------
# Generated (fine-grained) tables
# ---------------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------------
# Row counts without reading the tables (siting show)


def table_rows(spec: object, manifest_path: Path, role: str, roots: list[Path] | tuple[Path, ...] = ()
               ) -> tuple[int, int]:
    """``(rows, polygons)`` of a table named in ``[tables]``, counted without reading it: a CSV's records (blank
    lines skipped), a GIS layer's features from its header (``pyogrio.read_info``; ``polygons`` counts the features
    of layers declared as polygons). Nothing is validated: ``siting validate`` and every solve do that.
    """
    from optimizer.data.numbers import csv_records

    if isinstance(spec, dict):  # a candidate entry's available_land_ha is for the land, not the table
        spec = {k: v for k, v in spec.items() if k != "available_land_ha"}
    entry, path = locate_table(spec, manifest_path.parent, manifest_path, role, roots)
    if path.suffix.lower() not in GIS_SUFFIXES:
        return len(csv_records(path)[1]), 0
    layers = entry.get("layer")
    names = layers if isinstance(layers, list) else [layers]
    counted = _geopackage_rows(path, names) if path.suffix.lower() == ".gpkg" else None
    if counted is not None:
        return counted
    import pyogrio  # imports shapely, pyproj and geopandas with it (their versions are checked at import)

    rows = polygons = 0
    for layer in names:
        try:
            info = pyogrio.read_info(path, layer=layer, force_feature_count=True)
        except Exception as e:  # noqa: BLE001 - any reader failure is an input problem
            raise InputError(f"cannot read GIS layer: {e}; check that the file is a valid GIS file", file=path) from e
        features = max(int(info.get("features", 0)), 0)
        rows += features
        polygons += features if "polygon" in str(info.get("geometry_type", "")).lower() else 0
    return rows, polygons


def _geopackage_rows(path: Path, layers: list[str | None]) -> tuple[int, int] | None:
    """``(rows, polygons)`` of GeoPackage feature layers from the file's own SQLite tables (OGC GeoPackage:
    ``gpkg_geometry_columns`` declares each layer's geometry type), without loading the GIS stack; ``None`` when the
    file cannot be read that way (pyogrio then counts)."""
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            declared = dict(db.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns"))
            if layers == [None]:
                if len(declared) != 1:  # which layer a reader takes first is the reader's choice
                    return None
                layers = list(declared)
            if any(name not in declared for name in layers):
                return None
            rows = polygons = 0
            for name in layers:
                quoted = '"' + str(name).replace('"', '""') + '"'
                n = int(db.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0])  # noqa: S608 - a declared table
                rows += n
                polygons += n if "POLYGON" in str(declared[name]).upper() else 0
            return rows, polygons
    except sqlite3.Error:
        return None
