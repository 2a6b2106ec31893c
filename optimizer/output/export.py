"""Export: GeoPackage (EPSG:31370, with QGIS styles), CSV and the ``summary.json`` run manifest, written atomically.

:func:`write_result` is the only I/O of a solve: everything is written into a temporary folder next to the target
and moved into place at the end (:func:`optimizer.atomic.atomic_directory`), so an interrupted run leaves the
previous result or nothing — never half a GeoPackage. The tables come from :mod:`optimizer.output.tables`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.atomic import atomic_directory, write_atomic
from optimizer.output.tables import ResultTables
from optimizer.settings import CRS

GPKG_NAME = "result.gpkg"


def _points(frame: pd.DataFrame):  # noqa: ANN202 - GeoDataFrame
    import geopandas as gpd

    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                            crs=CRS)


def _lines(frame: pd.DataFrame):  # noqa: ANN202 - GeoDataFrame
    import geopandas as gpd
    import shapely

    start, end = frame[["x", "y"]].to_numpy(float), frame[["x2", "y2"]].to_numpy(float).copy()
    # a municipality served at a site on its own point would give a zero-length (invalid) line: draw a 1 m stub
    same = np.all(np.abs(start - end) < 1e-9, axis=1)
    end[same, 0] += 1.0
    coords = np.stack([start, end], axis=1)
    geoms = shapely.linestrings(coords)
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y", "x2", "y2"]), geometry=geoms, crs=CRS)


def _polygons(frame: pd.DataFrame):  # noqa: ANN202 - GeoDataFrame
    import geopandas as gpd

    return gpd.GeoDataFrame(frame.drop(columns=["geometry"]), geometry=list(frame["geometry"]), crs=CRS)


def _gpkg_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """GeoPackage columns must be plain types: booleans stay, objects become text."""
    out = frame.copy()
    for col in out.columns:
        if col != "geometry" and out[col].dtype == object:
            out[col] = out[col].astype(str)
    return out


def write_result(out_dir: Path, tables: ResultTables, summary: dict, extra_layers: dict | None = None,
                 geoparquet: bool = False, crs: str | None = None, extra_dirs: dict[str, Path] | None = None) -> Path:
    """Write GeoPackage (with QGIS default styles), CSVs and summary.json into ``out_dir`` atomically.

    Everything goes into a temporary folder first and is moved into place at the end. ``geoparquet=True`` also
    writes each layer as ``<layer>.parquet`` (GeoParquet). ``crs`` reprojects the GIS layers (default: Belgian
    Lambert 72, EPSG:31370, the engine's own CRS); CSV coordinates stay in EPSG:31370. ``extra_dirs`` (name ->
    folder) are copied in as sub-folders, e.g. the instance ``siting locate`` generated.
    """
    import pyogrio

    from optimizer.output.styles import result_styles, write_styles

    out_dir = Path(out_dir).resolve()
    with atomic_directory(out_dir) as tmp:
        gpkg = tmp / GPKG_NAME
        meta = {
            "instance": summary["instance"],
            "status": summary["status"],
            "gap": "" if summary["gap"] is None else f"{summary['gap']:.6g}",
            "objective": f"{summary['objective']['total']:.6f}",
            "parameters": json.dumps(summary["parameters"], default=str),
            "instance_hash": summary["instance_hash"],
        }
        layers = {
            "facilities": _points(tables.facilities),
            "allocations": _lines(tables.allocations),
            "demand": _points(tables.demand),
            "candidates": _points(tables.candidates),
            **({"zones": _polygons(tables.zones)} if tables.zones is not None and len(tables.zones) else {}),
            **(extra_layers or {}),
        }
        if crs is not None:
            layers = {name: gdf.to_crs(crs) for name, gdf in layers.items()}
        for i, (name, gdf) in enumerate(layers.items()):
            pyogrio.write_dataframe(_gpkg_safe(gdf), gpkg, layer=name, driver="GPKG",
                                    dataset_metadata=meta if i == 0 else None, layer_metadata={"status": meta["status"]})
        write_styles(gpkg, result_styles(layers))  # QGIS default styles (layer_styles table) + .qml sidecars
        if geoparquet:
            for name, gdf in layers.items():
                gdf.to_parquet(tmp / f"{name}.parquet", index=False)
        tables.allocations.to_csv(tmp / "allocations.csv", index=False)
        tables.facilities.to_csv(tmp / "facilities.csv", index=False)
        tables.demand.to_csv(tmp / "demand.csv", index=False)  # per demand unit: its facility, km, covered flag
        (tmp / "summary.json").write_text(strict_dumps(summary) + "\n", encoding="utf-8")
        for name, folder in (extra_dirs or {}).items():
            shutil.copytree(folder, tmp / name)
    return out_dir


def no_gdal_sidecars() -> None:
    """Reading a result must not write into it: with its persistent auxiliary metadata (PAM) on, GDAL 3.12 adds a
    ``result.gpkg.aux.xml`` next to a GeoPackage that carries dataset metadata, even when it only reads it. Called
    by every reader of results (maps, report, compare, verify); a user's explicit setting is kept."""
    import os

    os.environ.setdefault("GDAL_PAM_ENABLED", "NO")


def record_export_time(out_dir: Path, seconds: float) -> None:
    """Record the export's own duration in the written summary.json (one atomic file replace: either version is
    a complete manifest)."""
    path = Path(out_dir) / "summary.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("timings_s", {})["export"] = seconds
    write_atomic(path, lambda tmp: tmp.write_text(strict_dumps(data) + "\n", encoding="utf-8"))


# where each network source's data come from and under which licence (a result that carries them carries the licence)
NETWORK_LICENCES = {
    "etisplus": "ETISplus via Nodus, GPL-3.0 (instances/networks_etisplus/LICENSE)",
    "split": "ETISplus via Nodus, GPL-3.0 (instances/networks_etisplus/LICENSE)",
    "infrabel": "Infrabel open data (attribution 'Infrabel')",
    "osm": "© OpenStreetMap contributors, ODbL 1.0",
    "connector": "derived (straight connector)",
    "user": "the planner's own layer",
}
NETWORK_SIMPLIFY_M = 10.0  # display geometry only; costs use the full tables
NETWORK_MARGIN_M = 20_000.0  # the layer shows the links within this distance of the instance's points


def network_layer(tables=None, points: np.ndarray | None = None) -> dict:  # noqa: ANN001 - NetworkTables
    """The transport networks used, as a line layer for the GeoPackage (``{"networks": GeoDataFrame}``).

    Every link with its mode, road class and number, CEMT class, rail freight category, length and the licence of its
    source (ETISplus-derived links are GPL-3.0, OpenStreetMap-derived ones ODbL 1.0: see ``instances/README.md``);
    geometry simplified to 10 m for display. With ``points`` (n × 2, EPSG:31370 m: the instance's demand and
    candidate points) only the links whose extent comes within :data:`NETWORK_MARGIN_M` of their bounding box are
    kept, so a local instance does not carry the networks of all Flanders.
    """
    import geopandas as gpd
    import shapely

    if tables is None:
        from optimizer.geo.network_tables import load_network_tables

        tables = load_network_tables()
    links = tables.links
    if points is not None and len(points):
        lo, hi = np.min(points, axis=0) - NETWORK_MARGIN_M, np.max(points, axis=0) + NETWORK_MARGIN_M
        box = shapely.bounds(links.geometry.to_numpy())  # xmin, ymin, xmax, ymax per link
        near = (box[:, 2] >= lo[0]) & (box[:, 0] <= hi[0]) & (box[:, 3] >= lo[1]) & (box[:, 1] <= hi[1])
        links = links[near]
    keep = [c for c in ("link_id", "mode", "road_class", "road_ref", "cemt_class", "freight_cat", "line", "length_km",
                        "source") if c in links]
    frame = pd.DataFrame(links[keep]).reset_index(drop=True)
    frame["licence"] = frame["source"].map(NETWORK_LICENCES).fillna("see instances/README.md")
    geoms = shapely.simplify(links.geometry.to_numpy(), NETWORK_SIMPLIFY_M)
    return {"networks": gpd.GeoDataFrame(frame, geometry=geoms, crs=CRS)}


def strict_dumps(data: object) -> str:
    """``data`` as strict JSON text (RFC 8259: no NaN or Infinity — a missing figure is ``null``), indented."""
    return json.dumps(_finite(data), indent=2, default=json_default, allow_nan=False)


def _finite(value: object) -> object:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def json_default(value: object) -> object:
    """JSON for numpy scalars (non-finite floats become null), paths and anything else as text."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)
