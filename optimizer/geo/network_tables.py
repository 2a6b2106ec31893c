"""Network tables: the strategic road/water/rail layers and users' own line layers, as node and link tables.

All coordinates are Belgian Lambert 72 (EPSG:31370) in metres and every length in kilometres. The strategic
layers are the committed fact tables in ``instances/networks/`` (schematic: nodes at town points, straight links);
any one layer can be replaced by a user's official line layer with :func:`load_network_layer` and
:meth:`Networks.with_layer`. Access (:mod:`optimizer.geo.access`), network distances
(:mod:`optimizer.geo.network_distance`) and siting rules (:mod:`optimizer.geo.access_rules`) read these tables.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.settings import CRS, PROJECT_ROOT

MODES: tuple[str, ...] = ("road", "water", "rail")
CEMT_CLASSES: tuple[str, ...] = ("I", "II", "III", "IV", "Va", "Vb", "VIa", "VIb", "VIc", "VII")
CEMT_RANK: dict[str, int] = {c: i for i, c in enumerate(CEMT_CLASSES)}
NETWORKS_DIR = PROJECT_ROOT / "instances" / "networks"
NODE_COLUMNS: tuple[str, ...] = ("node_id", "mode", "name", "kind", "x", "y", "nis", "region", "seaport",
                                 "locode", "note")
LINK_COLUMNS: tuple[str, ...] = ("link_id", "mode", "route", "from_node", "to_node", "length_km", "road_class",
                                 "cemt_class", "maritime", "freight", "line", "schematic", "note")
# node kinds where a vehicle can enter the mode (border points are schematic far-away places: never access)
ACCESS_KINDS: dict[str, frozenset[str]] = {
    "road": frozenset({"motorway_exit", "motorway_junction"}),
    "water": frozenset({"port", "quay", "waterway_node"}),
    "rail": frozenset({"rail_terminal", "rail_node"}),
}
# node kinds where goods can change mode (transhipment) in the cheapest-mode cost
TRANSHIP_KINDS: dict[str, frozenset[str]] = {
    "water": frozenset({"port", "quay", "waterway_node"}),
    "rail": frozenset({"rail_terminal", "rail_user_node"}),
}
DEFAULT_SNAP_TOLERANCE_M = 25.0


@dataclass(frozen=True)
class Networks:
    """Node and link tables of one or more transport modes (EPSG:31370, metres; lengths in km).

    Attributes
    ----------
    nodes
        One row per node: ``node_id, mode, name, kind, x, y`` (+ ``nis, region, seaport, locode, note``).
    links
        One row per undirected link: ``link_id, mode, route, from_node, to_node, length_km`` and the mode
        attributes ``road_class`` (road), ``cemt_class``/``maritime`` (water), ``freight`` (rail) and
        ``schematic`` (1 for straight links between town points, 0 for real geometry).
    sources
        Per mode, where its layer came from (the strategic tables or a user file).
    """

    nodes: pd.DataFrame
    links: pd.DataFrame
    sources: Mapping[str, str]

    @property
    def modes(self) -> tuple[str, ...]:
        """Modes present in the links table."""
        return tuple(m for m in MODES if (self.links["mode"] == m).any())

    def mode_nodes(self, mode: str) -> pd.DataFrame:
        """Nodes of one mode."""
        return self.nodes[self.nodes["mode"] == mode]

    def mode_links(self, mode: str) -> pd.DataFrame:
        """Links of one mode."""
        return self.links[self.links["mode"] == mode]

    def with_layer(self, layer: Networks) -> Networks:
        """Return a copy where every mode present in ``layer`` is replaced by the layer's nodes and links."""
        replaced = set(layer.modes)
        nodes = pd.concat([self.nodes[~self.nodes["mode"].isin(replaced)], layer.nodes], ignore_index=True)
        links = pd.concat([self.links[~self.links["mode"].isin(replaced)], layer.links], ignore_index=True)
        sources = {**self.sources, **{m: layer.sources.get(m, "user layer") for m in replaced}}
        return Networks(nodes, links, sources)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the node and link tables (used in cache keys)."""
        h = hashlib.sha256()
        for df in (self.nodes, self.links):
            h.update(pd.util.hash_pandas_object(df.reset_index(drop=True), index=True).to_numpy().tobytes())
            h.update("|".join(map(str, df.columns)).encode())
        return h.hexdigest()


def load_strategic_networks(directory: str | os.PathLike[str] | None = None) -> Networks:
    """Load the committed strategic network tables (``nodes.csv``, ``links.csv``).

    Parameters
    ----------
    directory
        Folder with the tables; default ``instances/networks/`` of the project (``PROJECT_ROOT``).

    Returns
    -------
    Networks
        Road (motorways/expressways), water (CEMT waterways and ports) and rail (iRail topology with the freight
        corridors flagged) in EPSG:31370; link lengths in km (straight lines between nodes).
    """
    directory = Path(directory) if directory is not None else NETWORKS_DIR
    nodes_path, links_path = directory / "nodes.csv", directory / "links.csv"
    for p in (nodes_path, links_path):
        if not p.is_file():
            msg = "network table not found (rebuild with instances/networks/build_networks.py)"
            raise InputError(msg, file=p)
    text_cols = {c: str for c in ("node_id", "name", "kind", "nis", "region", "seaport", "locode", "note",
                                  "link_id", "route", "from_node", "to_node", "road_class", "cemt_class",
                                  "line")}
    nodes = pd.read_csv(nodes_path, dtype=text_cols, keep_default_na=False)
    links = pd.read_csv(links_path, dtype=text_cols, keep_default_na=False)
    _validate_tables(nodes, links, nodes_path, links_path)
    return Networks(nodes, links, {m: str(directory) for m in MODES})


def _validate_tables(nodes: pd.DataFrame, links: pd.DataFrame, nodes_file: Path, links_file: Path) -> None:
    for cols, df, f in ((("node_id", "mode", "kind", "x", "y"), nodes, nodes_file),
                        (("link_id", "mode", "from_node", "to_node", "length_km"), links, links_file)):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputError(f"missing column(s) {missing}", file=f, field=missing[0])
    for df, f in ((nodes, nodes_file), (links, links_file)):
        bad = ~df["mode"].isin(MODES)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"unknown mode {df['mode'].iloc[i]!r}", file=f, row=i + 2, field="mode")
    xy = nodes[["x", "y"]].to_numpy(dtype=float)
    if not np.isfinite(xy).all():
        i = int(np.flatnonzero(~np.isfinite(xy).all(axis=1))[0])
        raise InputError("coordinate is not a finite number", file=nodes_file, row=i + 2, field="x")
    dup = nodes["node_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError("duplicate node_id", file=nodes_file, row=i + 2, field="node_id")
    known = set(nodes["node_id"])
    for end in ("from_node", "to_node"):
        bad = ~links[end].isin(known)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"unknown node {links[end].iloc[i]!r}", file=links_file, row=i + 2, field=end)
    length = pd.to_numeric(links["length_km"], errors="coerce").to_numpy()
    if not (np.isfinite(length) & (length >= 0)).all():
        i = int(np.flatnonzero(~(np.isfinite(length) & (length >= 0)))[0])
        raise InputError("length_km must be a number ≥ 0", file=links_file, row=i + 2, field="length_km")
    water = (links["mode"] == "water").to_numpy()
    cemt = links["cemt_class"].where(water, "")
    bad = water & ~cemt.isin(CEMT_CLASSES).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"unknown CEMT class {cemt.iloc[i]!r}; use one of {list(CEMT_CLASSES)}"
        raise InputError(msg, file=links_file, row=i + 2, field="cemt_class")


def load_network_layer(
    path: str | os.PathLike[str],
    mode: str,
    *,
    column_map: Mapping[str, str] | None = None,
    crs: str | int | None = None,
    layer: str | None = None,
    snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
    defaults: Mapping[str, Any] | None = None,
) -> Networks:
    """Read a user's line layer (GeoPackage, Shapefile, GeoJSON) as the network of one mode.

    Line end points and vertices closer than ``snap_tolerance_m`` are merged into one node; every segment
    between consecutive vertices becomes a link (``schematic = 0``). Use :meth:`Networks.with_layer` to put
    the result in place of the strategic layer of that mode.

    Parameters
    ----------
    path
        Line file readable by pyogrio (``.gpkg``, ``.shp``, ``.geojson``, ...).
    mode
        ``"road"``, ``"water"`` or ``"rail"``.
    column_map
        Our attribute name → the column in the file, e.g. ``{"cemt_class": "CEMT_KLASSE"}``. Attributes:
        ``cemt_class`` (water, required: class per line, e.g. ``"Va"``, ``"VIb"``, ``4``), ``freight`` (rail,
        default 1), ``road_class`` (road, default ``"motorway"``), ``route`` and ``name`` (labels).
    crs
        CRS of the file (EPSG code or string) when the file has none. A file without CRS and no ``crs`` is an
        error; a file whose CRS differs from ``crs`` is an error too. The layer is reprojected to EPSG:31370.
    layer
        Layer name inside a multi-layer file (GeoPackage).
    snap_tolerance_m
        Distance in metres under which vertices are merged into one node.
    defaults
        Values for attributes missing from the file, e.g. ``{"cemt_class": "IV"}``.

    Returns
    -------
    Networks
        Nodes and links of ``mode`` only (EPSG:31370; lengths in km).

    Raises
    ------
    InputError
        With file, row (1-based feature number) and field of the first problem found.
    """
    import geopandas as gpd  # heavy import only where files are read

    path = Path(path)
    column_map = dict(column_map or {})
    defaults = dict(defaults or {})
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; use one of {list(MODES)}", file=path, field="mode")
    if not path.exists():
        raise InputError("file not found", file=path)
    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as e:  # pyogrio raises several types
        raise InputError(f"cannot read line layer: {e}", file=path) from e
    if crs is not None:
        if gdf.crs is None:
            gdf = gdf.set_crs(crs)
        elif not gdf.crs.equals(as_crs(crs)):
            msg = f"file declares CRS {gdf.crs.to_string()} but crs={crs!r} was given"
            raise InputError(msg, file=path, field="crs")
    if gdf.crs is None:
        msg = "layer has no CRS; pass crs='EPSG:xxxx' (e.g. EPSG:31370 Lambert 72, EPSG:4326 WGS84)"
        raise InputError(msg, file=path, field="crs")
    geom_type = gdf.geometry.geom_type.to_numpy()
    ok = np.isin(geom_type, ["LineString", "MultiLineString"]) | gdf.geometry.isna().to_numpy()
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        msg = f"geometry is {geom_type[i]}; a network layer needs LineString/MultiLineString features"
        raise InputError(msg, file=path, row=i + 1, field="geometry")
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if gdf.empty:
        raise InputError("layer has no line features", file=path, field="geometry")
    feature_row = gdf.index.to_numpy() + 1
    attrs = _layer_attributes(gdf, mode, column_map, defaults, path, feature_row)
    import shapely  # here, not at import: the network tables' constants serve every run, the geometry few

    gdf = gdf.to_crs(CRS)
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    parts, part_feature = shapely.get_parts(geoms, return_index=True)
    coords, part_of_vertex = shapely.get_coordinates(parts, return_index=True)
    nodes, links = _lines_to_graph(coords, part_of_vertex, part_feature, attrs, mode, snap_tolerance_m)
    return Networks(nodes, links, {mode: str(path)})


def as_crs(crs: str | int) -> Any:
    from pyproj import CRS as _CRS

    return _CRS.from_user_input(crs)


def _layer_attributes(gdf, mode, column_map, defaults, path, feature_row) -> pd.DataFrame:
    unknown = set(column_map) - {"cemt_class", "freight", "road_class", "route", "name"}
    if unknown:
        raise InputError(f"unknown attribute(s) in column_map: {sorted(unknown)}", file=path,
                         field=sorted(unknown)[0])
    for ours, theirs in column_map.items():
        if theirs not in gdf.columns:
            msg = f"column {theirs!r} (for {ours}) not in the file; columns: {list(gdf.columns)}"
            raise InputError(msg, file=path, field=theirs)
    n = len(gdf)

    def column(ours: str, default: Any) -> pd.Series:
        col = column_map.get(ours, ours)
        if col in gdf.columns:
            return gdf[col].reset_index(drop=True)
        return pd.Series([defaults.get(ours, default)] * n)

    out = pd.DataFrame({"route": column("route", path.stem).astype(str),
                        "name": column("name", "").astype(str)})
    out["road_class"] = column("road_class", "motorway").astype(str) if mode == "road" else ""
    if mode == "water":
        raw = column("cemt_class", None)
        cemt = [parse_cemt(v) for v in raw]
        bad = [i for i, c in enumerate(cemt) if c is None]
        if bad:
            field = column_map.get("cemt_class", "cemt_class")
            if field not in gdf.columns and "cemt_class" not in defaults:
                msg = ("water layer needs a CEMT class per line: map your column with "
                       "column_map={'cemt_class': '<column>'} or give defaults={'cemt_class': 'IV'}")
                raise InputError(msg, file=path, field=field)
            i = bad[0]
            msg = f"CEMT class {raw.iloc[i]!r} not understood; use one of {list(CEMT_CLASSES)}"
            raise InputError(msg, file=path, row=int(feature_row[i]), field=field)
        out["cemt_class"] = cemt
        out["maritime"] = 0
    else:
        out["cemt_class"] = ""
        out["maritime"] = ""
    if mode == "rail":
        raw = column("freight", 1)
        freight = [_parse_bool(v) for v in raw]
        bad = [i for i, f in enumerate(freight) if f is None]
        if bad:
            i = bad[0]
            msg = f"freight flag {raw.iloc[i]!r} not understood (use 1/0, true/false, yes/no, ja/nee)"
            raise InputError(msg, file=path, row=int(feature_row[i]), field=column_map.get("freight", "freight"))
        out["freight"] = np.asarray(freight, dtype=int)
    else:
        out["freight"] = ""
    return out


def parse_cemt(value: Any) -> str | None:
    """Canonical CEMT class ('I'..'VII', 'Va', 'VIb', ...) of a value such as 'va', 'VI b', 4, '6b'; else None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().replace(" ", "").replace("_", "")
    if text.endswith(".0"):
        text = text[:-2]
    arabic = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V", "6": "VI", "7": "VII"}
    head = text.rstrip("abcABC")
    tail = text[len(head):].lower()
    head = arabic.get(head, head.upper())
    cand = head + tail
    return cand if cand in CEMT_RANK else None


def _parse_bool(value: Any) -> int | None:
    text = str(value).strip().lower()
    if text in {"1", "1.0", "true", "yes", "y", "ja", "j", "t"}:
        return 1
    if text in {"0", "0.0", "false", "no", "n", "nee", "f"}:
        return 0
    return None


def _lines_to_graph(coords, part_of_vertex, part_feature, attrs, mode, tol_m) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Snap vertices closer than ``tol_m`` into nodes and turn consecutive vertices into links."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(coords)
    pairs = cKDTree(coords).query_pairs(r=tol_m, output_type="ndarray")
    adj = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else \
        sp.coo_matrix((n, n))
    n_nodes, label = connected_components(adj, directed=False)
    count = np.bincount(label, minlength=n_nodes)
    node_x = np.bincount(label, weights=coords[:, 0], minlength=n_nodes) / count
    node_y = np.bincount(label, weights=coords[:, 1], minlength=n_nodes) / count
    same_part = part_of_vertex[1:] == part_of_vertex[:-1]
    a, b = label[:-1][same_part], label[1:][same_part]
    seg_m = np.hypot(*(coords[1:][same_part] - coords[:-1][same_part]).T)
    feature = part_feature[part_of_vertex[:-1][same_part]]
    keep = a != b  # segments shorter than the tolerance collapse into a node
    a, b, seg_m, feature = a[keep], b[keep], seg_m[keep], feature[keep]
    # a link is never shorter than the straight line between its (snapped) end nodes
    seg_m = np.maximum(seg_m, np.hypot(node_x[a] - node_x[b], node_y[a] - node_y[b]))
    used = np.unique(np.concatenate([a, b]))
    degree = np.bincount(np.concatenate([a, b]), minlength=n_nodes)
    prefix = {"road": "R", "water": "W", "rail": "T"}[mode]
    ids = np.array([f"{prefix}:u{i:07d}" for i in range(n_nodes)], dtype=object)
    if mode == "road":
        kind = np.where(degree[used] == 2, "road_vertex", "motorway_junction")
    elif mode == "water":
        kind = np.full(len(used), "waterway_node")
    else:
        kind = np.full(len(used), "rail_user_node")
    nodes = pd.DataFrame({"node_id": ids[used], "mode": mode, "name": "", "kind": kind,
                          "x": node_x[used], "y": node_y[used], "nis": "", "region": "", "seaport": "",
                          "locode": "", "note": "user layer"})
    at = attrs.iloc[feature].reset_index(drop=True)
    links = pd.DataFrame({"link_id": [f"{prefix}u{i:07d}" for i in range(len(a))], "mode": mode,
                          "route": at["route"], "from_node": ids[a], "to_node": ids[b],
                          "length_km": seg_m / 1000.0, "road_class": at["road_class"],
                          "cemt_class": at["cemt_class"], "maritime": at["maritime"], "freight": at["freight"],
                          "line": at["name"], "schematic": 0, "note": ""})
    return nodes, links
