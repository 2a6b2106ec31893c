"""Export: GeoPackage (EPSG:31370, with QGIS styles), CSV and the ``summary.json`` run manifest, written atomically.

:func:`write_folder` is the only I/O of a solve, for every instance kind: everything is written into a temporary
folder next to the target and moved into place at the end (:func:`optimizer.atomic.atomic_directory`), so an
interrupted run leaves the previous result or nothing — never half a GeoPackage. :func:`write_gpkg` writes one
GeoPackage alone (``Result.to_gpkg``), atomically, and never over a file siting did not write.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.atomic import atomic_directory, write_atomic
from optimizer.errors import InputError
from optimizer.output.summary import FORMAT, FORMAT_VERSION, SUMMARY_NAME, dumps, kind_of
from optimizer.settings import CRS

GPKG_NAME = "result.gpkg"


def point_layer(frame: pd.DataFrame):  # noqa: ANN201 - GeoDataFrame
    """A table with ``x``/``y`` (EPSG:31370) as a point layer (the coordinate columns become the geometry)."""
    import geopandas as gpd

    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                            crs=CRS)


def line_layer(frame: pd.DataFrame):  # noqa: ANN201 - GeoDataFrame
    """A table with ``x``/``y`` → ``x2``/``y2`` (EPSG:31370) as a line layer, one straight line per row."""
    import geopandas as gpd
    import shapely

    start, end = frame[["x", "y"]].to_numpy(float), frame[["x2", "y2"]].to_numpy(float).copy()
    # a flow that starts and ends on one point would give a zero-length (invalid) line: draw a 1 m stub
    same = np.all(np.abs(start - end) < 1e-9, axis=1)
    end[same, 0] += 1.0
    geoms = shapely.linestrings(np.stack([start, end], axis=1))
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y", "x2", "y2"]), geometry=geoms, crs=CRS)


def polygon_layer(frame: pd.DataFrame):  # noqa: ANN201 - GeoDataFrame
    """A table with a ``geometry`` column of (Multi)Polygons in EPSG:31370 (the candidate zones) as a polygon layer."""
    import geopandas as gpd

    return gpd.GeoDataFrame(frame.drop(columns=["geometry"]), geometry=list(frame["geometry"]), crs=CRS)


def _gpkg_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """GeoPackage columns must be plain types: booleans stay, objects become text."""
    out = frame.copy()
    for col in out.columns:
        if col != "geometry" and out[col].dtype == object:
            out[col] = out[col].astype(str)
    return out


def gpkg_metadata(summary: dict) -> dict[str, str]:
    """The GeoPackage's dataset metadata: the format marker and the run's key facts (strings, as GDAL stores them)."""
    objective = summary.get("objective") or {}
    total = objective.get("total") if isinstance(objective, dict) else objective
    return {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": kind_of(summary),
        "instance": str(summary["instance"]),
        "status": str(summary["status"]),
        "gap": "" if summary.get("gap") is None else f"{summary['gap']:.6g}",
        "objective": "" if total is None else f"{total:.6f}",
        "parameters": json.dumps(summary.get("parameters", {}), default=str),
        "instance_hash": str(summary.get("instance_hash", "")),
    }


def _write_layers(gpkg: Path, layers: dict, summary: dict, sidecar_dir: Path) -> None:
    """Every layer into ``gpkg`` (dataset metadata on the first), then the QGIS default styles."""
    import pyogrio

    from optimizer.output.styles import result_styles, write_styles

    meta = gpkg_metadata(summary)
    for i, (name, gdf) in enumerate(layers.items()):
        pyogrio.write_dataframe(_gpkg_safe(gdf), gpkg, layer=name, driver="GPKG",
                                dataset_metadata=meta if i == 0 else None, layer_metadata={"status": meta["status"]})
    write_styles(gpkg, result_styles(layers), sidecar_dir=sidecar_dir)  # layer_styles table + .qml sidecars


def reprojected(layers: dict, crs: str | None) -> dict:
    """The layers in ``crs`` (unchanged for ``None``: the engine's EPSG:31370)."""
    return layers if crs is None else {name: gdf.to_crs(crs) for name, gdf in layers.items()}


def write_folder(out_dir: Path, *, layers: dict, csv: dict[str, pd.DataFrame], summary: dict,
                 geoparquet: bool = False, crs: str | None = None, extra_dirs: dict[str, Path] | None = None) -> Path:
    """Write a result folder atomically: ``result.gpkg`` (with QGIS default styles and ``.qml`` sidecars) when
    there are GIS layers, the CSV tables, and ``summary.json``.

    Parameters
    ----------
    out_dir
        The result folder (replaced as a whole, or not at all).
    layers
        Layer name → GeoDataFrame in EPSG:31370 (empty for a result without coordinates).
    csv
        File name → table (coordinates, where present, in EPSG:31370).
    summary
        The run manifest (``docs/summary-schema.md``); written as strict JSON.
    geoparquet
        Also write each layer as ``<layer>.parquet`` (GeoParquet).
    crs
        Reproject the GIS layers (default: Belgian Lambert 72, EPSG:31370, the engine's own CRS); CSV coordinates
        stay in EPSG:31370.
    extra_dirs
        Name → folder copied in as a sub-folder in the same atomic move (e.g. the instance ``siting locate``
        generated).
    """
    out_dir = Path(out_dir)  # not resolved: a symbolic link is refused (optimizer.atomic), never followed
    layers = reprojected(layers, crs)
    with atomic_directory(out_dir) as tmp:
        if layers:
            _write_layers(tmp / GPKG_NAME, layers, summary, sidecar_dir=tmp)
        if geoparquet:
            for name, gdf in layers.items():
                gdf.to_parquet(tmp / f"{name}.parquet", index=False)
        for name, table in csv.items():
            table.to_csv(tmp / name, index=False)
        (tmp / SUMMARY_NAME).write_text(dumps(summary), encoding="utf-8")
        for name, folder in (extra_dirs or {}).items():
            shutil.copytree(folder, tmp / name)
    return out_dir.resolve()


def write_gpkg(path: Path, layers: dict, summary: dict, crs: str | None = None) -> Path:
    """Write the layers (with their QGIS default styles embedded) as one GeoPackage at ``path``, atomically.

    An existing ``path`` is replaced only when siting wrote it (its metadata carries the result format marker);
    a file siting did not write, a folder or a symbolic link is refused with an :class:`InputError`.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise InputError("a GeoPackage path must end in .gpkg", file=path)
    if not layers:
        raise InputError("this result has no coordinates (a matrix instance): nothing to write as GIS layers; "
                         "use Result.summary and the tables instead", file=path)
    refuse_foreign(path)
    layers = reprojected(layers, crs)

    def write(tmp: Path) -> None:
        tmp.unlink(missing_ok=True)  # pyogrio adds layers to an existing file: start from none
        with tempfile.TemporaryDirectory(prefix=".siting-qml-") as sidecars:  # QML sidecars are not wanted here
            _write_layers(tmp, layers, summary, sidecar_dir=Path(sidecars))

    return write_atomic(path, write)


def refuse_foreign(path: Path) -> None:
    """Raise :class:`InputError` unless ``path`` is free or a GeoPackage siting wrote (never replace a user's file)."""
    if path.is_symlink():
        raise InputError("is a symbolic link: siting does not replace links or their targets; choose another path",
                         file=path)
    if not path.exists():
        return
    if not path.is_file():
        raise InputError("exists and is not a file: choose another path", file=path)
    if not written_by_siting(path):
        raise InputError("exists and was not written by siting: it is left alone; choose another path or remove it "
                         "yourself", file=path)


def written_by_siting(gpkg: Path) -> bool:
    """Whether ``gpkg`` is a GeoPackage that siting wrote (its dataset metadata carries the result format marker)."""
    import pyogrio

    no_gdal_sidecars()  # looking at a user's file must not add a .aux.xml next to it
    try:
        layers = pyogrio.list_layers(gpkg)
        if not len(layers):
            return False
        meta = pyogrio.read_info(gpkg, layer=str(layers[0][0])).get("dataset_metadata") or {}
    except Exception:  # noqa: BLE001 - unreadable: certainly not ours
        return False
    return meta.get("format") == FORMAT or ("instance_hash" in meta and "status" in meta)


def no_gdal_sidecars() -> None:
    """Reading a result must not write into it: with its persistent auxiliary metadata (PAM) on, GDAL 3.12 adds a
    ``result.gpkg.aux.xml`` next to a GeoPackage that carries dataset metadata, even when it only reads it. Called
    by every reader of results (maps, report, compare, verify); a user's explicit setting is kept."""
    import os

    os.environ.setdefault("GDAL_PAM_ENABLED", "NO")


def record_export_time(out_dir: Path, seconds: float) -> None:
    """Record the export's own duration in the written summary.json (one atomic file replace: either version is
    a complete manifest)."""
    path = Path(out_dir) / SUMMARY_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("timings_s", {})["export"] = round(seconds, 4)
    write_atomic(path, lambda tmp: tmp.write_text(dumps(data), encoding="utf-8"))


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


def network_layer_of(sp) -> dict:  # noqa: ANN001 - a compiled SitingProblem
    """The network links around a compiled instance (its demand and candidate points) for the result's GeoPackage,
    from the networks it was priced on (a manifest's ``[networks]`` included)."""
    points = np.vstack([sp.instance.demand[["x", "y"]].to_numpy(float), sp.sites[["x", "y"]].to_numpy(float)])
    geography = getattr(sp, "geography", None)
    return network_layer(geography.tables if geography is not None else None, points)
