"""Transport networks and access: strategic road/water/rail layers, OSM road graphs, knooppuntwaarde, distances.

All coordinates are Belgian Lambert 72 (EPSG:31370) in metres; every distance returned is in kilometres
(``*_km``) and every cost in euro (``*_eur``). The strategic layers are the committed fact tables in
``instances/networks/`` (schematic: nodes at town points, straight links); any one layer can be replaced by a
user's official line layer with :func:`load_network_layer` and :meth:`Networks.with_layer`. Parameters that are
assumptions (buffer distances, minimum CEMT class, weights, costs) are read from ``models/access.toml``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from optimizer.errors import InputError
from optimizer.settings import CRS, PROJECT_ROOT

MODES: tuple[str, ...] = ("road", "water", "rail")
CEMT_CLASSES: tuple[str, ...] = ("I", "II", "III", "IV", "Va", "Vb", "VIa", "VIb", "VIc", "VII")
CEMT_RANK: dict[str, int] = {c: i for i, c in enumerate(CEMT_CLASSES)}
NETWORKS_DIR = PROJECT_ROOT / "instances" / "networks"
ACCESS_TOML = PROJECT_ROOT / "models" / "access.toml"
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
DRIVE_HIGHWAY_TYPES: frozenset[str] = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
    "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "service",
    "road"})
DEFAULT_SNAP_TOLERANCE_M = 25.0
_RULE_KEYS = frozenset({"required_modes", "min_modes", "min_knooppuntwaarde", "seaport", "count_modes",
                        "basis", "digest", "note"})
_MAX_CHUNK_FLOATS = 8_000_000  # ≈ 64 MB of float64 per min-plus block


# ---------------------------------------------------------------------------------------------------------------
# Parameters (named assumptions in models/access.toml)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessParameters:
    """Access thresholds, knooppuntwaarde weights and mode costs (all named assumptions in ``access.toml``).

    Attributes
    ----------
    max_access_km
        Per mode (road, water, rail): the largest distance in km at which the mode counts as available.
    seaport_max_km
        Largest distance in km to a seaport node for ``has_seaport``.
    water_min_cemt
        Smallest CEMT class of a waterway stretch that counts for ``water_km`` and water transport.
    weights, half_value_km
        Knooppuntwaarde: per-mode weight and the distance in km at which the mode's score halves.
    access_circuity
        Factor (≥ 1) on straight-line access legs (point to network node) to approximate a road detour.
    link_detour
        Per mode: factor (≥ 1) on the straight-line length of *schematic* links.
    transfer_max_km
        Largest straight distance in km between nodes of two modes joined by a transfer edge.
    cost_eur_per_tkm
        Per mode: transport cost in EUR per tonne-kilometre.
    transhipment_eur_per_t
        Cost in EUR per tonne of one change of mode.
    """

    max_access_km: Mapping[str, float]
    seaport_max_km: float
    water_min_cemt: str
    weights: Mapping[str, float]
    half_value_km: Mapping[str, float]
    access_circuity: float
    link_detour: Mapping[str, float]
    transfer_max_km: float
    cost_eur_per_tkm: Mapping[str, float]
    transhipment_eur_per_t: float

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str] | None = None) -> AccessParameters:
        """Read the ``[assumptions.*]`` tables of ``models/access.toml`` (or ``path``).

        Parameters
        ----------
        path
            TOML file; default ``models/access.toml`` of the project.

        Returns
        -------
        AccessParameters
        """
        path = Path(path) if path is not None else ACCESS_TOML
        data = _read_toml(path)
        a = data.get("assumptions", {})

        def val(key: str) -> Any:
            if key not in a or "value" not in a[key]:
                msg = f"missing assumption '{key}' (a table with value, unit, basis)"
                raise InputError(msg, file=path, field=f"assumptions.{key}")
            if not str(a[key].get("basis", "")).strip():
                msg = f"assumption '{key}' has no basis text"
                raise InputError(msg, file=path, field=f"assumptions.{key}.basis")
            return a[key]["value"]

        return cls._from_lookup(val, path)

    @classmethod
    def from_assumptions(cls, values: Mapping[str, Any], file: str | os.PathLike[str] | None = None) -> AccessParameters:
        """Build from resolved assumption values (an instance's, after its ``--set assumption.NAME=…`` overrides).

        Parameters
        ----------
        values
            Assumption name → value (e.g. ``{k: a.value for k, a in instance.assumptions.items()}``).
        file
            Where the values come from, for error messages.
        """

        def val(key: str) -> Any:
            if key not in values:
                raise InputError(f"missing assumption '{key}'", file=file, field=f"assumptions.{key}")
            return values[key]

        return cls._from_lookup(val, file)

    @classmethod
    def _from_lookup(cls, val: Callable[[str], Any], path: str | os.PathLike[str] | None) -> AccessParameters:
        params = cls(
            max_access_km={m: float(val(f"{m}_max_access_km")) for m in MODES},
            seaport_max_km=float(val("seaport_max_km")),
            water_min_cemt=_parse_cemt(val("water_min_cemt")) or "",
            weights={m: float(val(f"kv_weight_{m}")) for m in MODES},
            half_value_km={m: float(val(f"kv_half_value_{m}_km")) for m in MODES},
            access_circuity=float(val("access_circuity")),
            link_detour={m: float(val(f"link_detour_{m}")) for m in MODES},
            transfer_max_km=float(val("transfer_max_km")),
            cost_eur_per_tkm={m: float(val(f"cost_{m}_eur_per_tkm")) for m in MODES},
            transhipment_eur_per_t=float(val("transhipment_eur_per_t")),
        )
        params.check(path)
        return params

    def check(self, file: str | os.PathLike[str] | None = None) -> None:
        """Raise :class:`InputError` if a parameter is out of range (circuity < 1, negative cost, ...)."""
        if self.water_min_cemt not in CEMT_RANK:
            raise InputError(f"unknown CEMT class {self.water_min_cemt!r}", file=file, field="water_min_cemt")
        if self.access_circuity < 1 or any(v < 1 for v in self.link_detour.values()):
            msg = "circuity and detour factors must be ≥ 1 (network distance must not beat the straight line)"
            raise InputError(msg, file=file, field="access_circuity")
        numbers = [*self.max_access_km.values(), *self.half_value_km.values(), self.seaport_max_km,
                   self.transfer_max_km]
        if any(not v > 0 for v in numbers):
            raise InputError("distances must be > 0 km", file=file, field="max_access_km")
        if any(v < 0 for v in [*self.weights.values(), *self.cost_eur_per_tkm.values(),
                               self.transhipment_eur_per_t]) or sum(self.weights.values()) <= 0:
            raise InputError("weights and costs must be ≥ 0 (weights not all 0)", file=file, field="weights")


def load_mode_rules(path: str | os.PathLike[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Read the multimodal rule sets (``[rules.<set>.<programme>]``) of ``models/access.toml``.

    Parameters
    ----------
    path
        TOML file; default ``models/access.toml``.

    Returns
    -------
    dict
        ``{rule_set: {programme: rule}}``; every rule is checked (see :func:`mode_rule_ok`). Each set has a
        ``default`` rule used for programmes it does not list.
    """
    path = Path(path) if path is not None else ACCESS_TOML
    rules = _read_toml(path).get("rules", {})
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for set_name, programmes in rules.items():
        out[set_name] = {}
        for prog, rule in programmes.items():
            if not isinstance(rule, dict):
                continue  # descriptive keys of the set (description, basis)
            try:
                _check_rule(rule)
            except ValueError as e:
                raise InputError(str(e), file=path, field=f"rules.{set_name}.{prog}") from e
            out[set_name][prog] = rule
        out[set_name].setdefault("default", {})
    return out


def programme_rule(rules: Mapping[str, Mapping[str, dict]], rule_set: str, programme: str) -> dict[str, Any]:
    """Return the rule of ``programme`` in ``rule_set`` (its ``default`` rule if the programme is not listed)."""
    if rule_set not in rules:
        msg = f"unknown rule set {rule_set!r}; known: {sorted(rules)}"
        raise KeyError(msg)
    sets = rules[rule_set]
    return dict(sets.get(programme, sets.get("default", {})))


# ---------------------------------------------------------------------------------------------------------------
# Network tables
# ---------------------------------------------------------------------------------------------------------------
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
        elif not gdf.crs.equals(_as_crs(crs)):
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
    gdf = gdf.to_crs(CRS)
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    parts, part_feature = shapely.get_parts(geoms, return_index=True)
    coords, part_of_vertex = shapely.get_coordinates(parts, return_index=True)
    nodes, links = _lines_to_graph(coords, part_of_vertex, part_feature, attrs, mode, snap_tolerance_m)
    return Networks(nodes, links, {mode: str(path)})


def _as_crs(crs: str | int) -> Any:
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
        cemt = [_parse_cemt(v) for v in raw]
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


def _parse_cemt(value: Any) -> str | None:
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


# ---------------------------------------------------------------------------------------------------------------
# Access attributes and knooppuntwaarde
# ---------------------------------------------------------------------------------------------------------------
def access_attributes(
    x_m: np.ndarray | Sequence[float],
    y_m: np.ndarray | Sequence[float],
    networks: Networks,
    thresholds: AccessParameters | None = None,
) -> pd.DataFrame:
    """Multimodal access of points: distances to each network, mode availability and knooppuntwaarde.

    Parameters
    ----------
    x_m, y_m
        Point coordinates in EPSG:31370 (metres), same length.
    networks
        Strategic (or user-replaced) networks.
    thresholds
        Access parameters; default read from ``models/access.toml``.

    Returns
    -------
    pandas.DataFrame
        One row per point:

        ``motorway_access_km``
            Straight distance to the nearest motorway exit or interchange node (road nodes of kind
            ``motorway_exit``/``motorway_junction``; border points excluded).
        ``water_km``, ``water_cemt``
            Straight distance to the nearest waterway stretch (link line, quays and port spurs included) of
            CEMT class ≥ ``water_min_cemt`` and that stretch's class.
        ``rail_freight_km``
            Straight distance to the nearest freight rail line (``freight = 1``) or rail freight terminal.
        ``seaport_km``
            Straight distance to the nearest node of one of the four seaport areas.
        ``has_road``, ``has_water``, ``has_rail``, ``has_seaport``
            Distance ≤ the mode's ``*_max_access_km`` (``seaport_max_km``).
        ``n_modes``
            ``has_road + has_water + has_rail``.
        ``knooppuntwaarde``
            Node value in [0, 1]: ``Σ_m w_m · 2^(−d_m / h_m) / Σ_m w_m`` over m ∈ {road, water, rail}, with d_m
            the distances above, w_m the weights and h_m the half-value distances (score 0.5 at d = h). The
            study gives no formula (digest A7); weights and h are named assumptions in ``access.toml``.
        All distances in km; ``inf`` when the network has no such element.
    """
    p = thresholds if thresholds is not None else AccessParameters.from_toml()
    pts_xy = _as_xy(np.column_stack([np.asarray(x_m, dtype=float).ravel(), np.asarray(y_m, dtype=float).ravel()]))
    n = len(pts_xy)
    points = shapely.points(pts_xy)
    nodes = networks.nodes
    road_nodes = nodes[(nodes["mode"] == "road") & nodes["kind"].isin(ACCESS_KINDS["road"])]
    motorway_km = _nearest_point_km(pts_xy, road_nodes[["x", "y"]].to_numpy(dtype=float))

    wl = networks.mode_links("water")
    rank = wl["cemt_class"].map(CEMT_RANK).to_numpy(dtype=float)
    wl = wl[rank >= CEMT_RANK[p.water_min_cemt]]
    water_km, water_idx = _nearest_line_km(points, _link_lines(networks, wl))
    water_cemt = np.full(n, "", dtype=object)
    hit = water_idx >= 0
    water_cemt[hit] = wl["cemt_class"].to_numpy(dtype=object)[water_idx[hit]]

    rl = networks.mode_links("rail")
    rl = rl[pd.to_numeric(rl["freight"], errors="coerce").fillna(0).to_numpy() == 1]
    line_km, _ = _nearest_line_km(points, _link_lines(networks, rl))
    terminals = nodes[(nodes["mode"] == "rail") & (nodes["kind"] == "rail_terminal")]
    rail_km = np.minimum(line_km, _nearest_point_km(pts_xy, terminals[["x", "y"]].to_numpy(dtype=float)))

    ports = nodes[nodes["seaport"].astype(str).str.len() > 0]
    seaport_km = _nearest_point_km(pts_xy, ports[["x", "y"]].to_numpy(dtype=float))

    dist = {"road": motorway_km, "water": water_km, "rail": rail_km}
    has = {m: dist[m] <= p.max_access_km[m] for m in MODES}
    w = np.array([p.weights[m] for m in MODES])
    decay = np.column_stack([np.exp2(-dist[m] / p.half_value_km[m]) for m in MODES])  # 2^(-d/h), 0 at d=inf
    kv = decay @ w / w.sum()
    return pd.DataFrame({
        "motorway_access_km": motorway_km,
        "water_km": water_km,
        "water_cemt": water_cemt,
        "rail_freight_km": rail_km,
        "seaport_km": seaport_km,
        "has_road": has["road"],
        "has_water": has["water"],
        "has_rail": has["rail"],
        "has_seaport": seaport_km <= p.seaport_max_km,
        "n_modes": (has["road"].astype(int) + has["water"] + has["rail"]).astype(int),
        "knooppuntwaarde": np.clip(kv, 0.0, 1.0),
    })


def mode_rule_ok(attrs: pd.DataFrame, rule: Mapping[str, Any]) -> np.ndarray:
    """Evaluate a multimodal siting rule on :func:`access_attributes` rows.

    Parameters
    ----------
    attrs
        Output of :func:`access_attributes`.
    rule
        Mapping with any of: ``required_modes`` (list of "road"/"water"/"rail", all must be available),
        ``min_modes`` (int: at least this many of ``count_modes`` available), ``count_modes`` (modes counted
        for ``min_modes``, default all three), ``min_knooppuntwaarde`` (float in [0, 1]), ``seaport`` (bool:
        must be within ``seaport_max_km`` of a seaport). ``basis``/``digest``/``note`` are documentation.
        An empty rule accepts every point.

    Returns
    -------
    numpy.ndarray of bool
        True where the point satisfies the rule.
    """
    _check_rule(rule)
    ok = np.ones(len(attrs), dtype=bool)
    for m in rule.get("required_modes", []):
        ok &= attrs[f"has_{m}"].to_numpy(dtype=bool)
    count_modes = rule.get("count_modes", MODES)
    if rule.get("min_modes", 0):
        n = np.sum([attrs[f"has_{m}"].to_numpy(dtype=int) for m in count_modes], axis=0)
        ok &= n >= int(rule["min_modes"])
    if rule.get("min_knooppuntwaarde", 0.0):
        ok &= attrs["knooppuntwaarde"].to_numpy(dtype=float) >= float(rule["min_knooppuntwaarde"])
    if rule.get("seaport", False):
        ok &= attrs["has_seaport"].to_numpy(dtype=bool)
    return ok


def _check_rule(rule: Mapping[str, Any]) -> None:
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        msg = f"unknown rule key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}"
        raise ValueError(msg)
    for key in ("required_modes", "count_modes"):
        bad = set(rule.get(key, [])) - set(MODES)
        if bad:
            raise ValueError(f"{key}: unknown mode(s) {sorted(bad)}; use {list(MODES)}")
    k = rule.get("min_modes", 0)
    if not isinstance(k, int) or not 0 <= k <= len(rule.get("count_modes", MODES)):
        raise ValueError(f"min_modes must be an integer between 0 and the number of counted modes, got {k!r}")
    kv = rule.get("min_knooppuntwaarde", 0.0)
    if not isinstance(kv, (int, float)) or not 0.0 <= kv <= 1.0:
        raise ValueError(f"min_knooppuntwaarde must be in [0, 1], got {kv!r}")
    if not isinstance(rule.get("seaport", False), bool):
        raise ValueError("seaport must be true or false")


def _as_xy(xy: Any) -> np.ndarray:
    arr = np.asarray(xy, dtype=float)
    if arr.ndim == 1 and arr.size == 2:
        arr = arr.reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"coordinates must have shape (n, 2) in EPSG:31370 metres, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("coordinates must be finite numbers (EPSG:31370 metres)")
    return arr


def _nearest_point_km(pts_xy: np.ndarray, targets_xy: np.ndarray) -> np.ndarray:
    if len(targets_xy) == 0 or len(pts_xy) == 0:
        return np.full(len(pts_xy), np.inf)
    d, _ = cKDTree(targets_xy).query(pts_xy, k=1)
    return d / 1000.0


def _link_lines(networks: Networks, links: pd.DataFrame) -> np.ndarray:
    """Straight segment geometry of each link (from node → to node), EPSG:31370."""
    xy = networks.nodes.set_index("node_id")[["x", "y"]]
    a = xy.loc[links["from_node"]].to_numpy(dtype=float)
    b = xy.loc[links["to_node"]].to_numpy(dtype=float)
    return shapely.linestrings(np.stack([a, b], axis=1)) if len(links) else np.array([], dtype=object)


def _nearest_line_km(points: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (km) from each point to the nearest line and that line's index (−1 when there is none)."""
    dist = np.full(len(points), np.inf)
    idx = np.full(len(points), -1, dtype=int)
    if len(lines) == 0 or len(points) == 0:
        return dist, idx
    pairs, d = shapely.STRtree(lines).query_nearest(points, return_distance=True, all_matches=False)
    dist[pairs[0]] = d / 1000.0
    idx[pairs[0]] = pairs[1]
    return dist, idx


# ---------------------------------------------------------------------------------------------------------------
# Graphs and network distances
# ---------------------------------------------------------------------------------------------------------------
def _select_links(networks: Networks, mode: str, freight_only: bool, min_cemt: str | None) -> pd.DataFrame:
    links = networks.mode_links(mode)
    if mode == "rail" and freight_only:
        links = links[pd.to_numeric(links["freight"], errors="coerce").fillna(0).to_numpy() == 1]
    if mode == "water" and min_cemt:
        rank = links["cemt_class"].map(CEMT_RANK).to_numpy(dtype=float)
        links = links[rank >= CEMT_RANK[_parse_cemt(min_cemt) or min_cemt]]
    return links


def _link_length_km(links: pd.DataFrame, detour: float) -> np.ndarray:
    length = links["length_km"].to_numpy(dtype=float)
    schematic = pd.to_numeric(links["schematic"], errors="coerce").fillna(0).to_numpy() == 1
    return np.where(schematic, length * detour, length)


def strategic_graph(
    networks: Networks,
    mode: str,
    *,
    freight_only: bool = True,
    min_cemt: str | None = None,
    params: AccessParameters | None = None,
) -> nx.Graph:
    """The network of one mode as an undirected networkx graph.

    Parameters
    ----------
    networks
        Network tables.
    mode
        ``"road"``, ``"water"`` or ``"rail"``.
    freight_only
        Rail: keep only links flagged ``freight = 1`` (default).
    min_cemt
        Water: keep only stretches of at least this CEMT class.
    params
        For the schematic detour factor (``link_detour``); default from ``access.toml``.

    Returns
    -------
    networkx.Graph
        Nodes carry ``x``, ``y`` (EPSG:31370 m), ``kind``, ``name``; edges carry ``length_km`` (straight length
        × the mode's detour factor for schematic links), ``link_id`` and ``route``. Parallel links keep the
        shortest.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {list(MODES)}")
    p = params if params is not None else AccessParameters.from_toml()
    links = _select_links(networks, mode, freight_only, min_cemt)
    length = _link_length_km(links, p.link_detour[mode])
    g = nx.Graph(crs=CRS, mode=mode)
    used = pd.unique(pd.concat([links["from_node"], links["to_node"]]))
    attrs = networks.nodes.set_index("node_id").loc[used]
    for nid, r in attrs.iterrows():
        g.add_node(nid, x=float(r["x"]), y=float(r["y"]), kind=r["kind"], name=r["name"])
    for (u, v, lid, route), w in zip(links[["from_node", "to_node", "link_id", "route"]].itertuples(index=False),
                                     length):
        if g.has_edge(u, v) and g.edges[u, v]["length_km"] <= w:
            continue
        g.add_edge(u, v, length_km=float(w), link_id=lid, route=route)
    return g


@dataclass(frozen=True)
class _SparseGraph:
    matrix: sp.csr_matrix  # symmetric, lengths in km
    node_id: np.ndarray
    xy: np.ndarray  # metres
    kind: np.ndarray
    mode: np.ndarray


def _sparse_graph(
    networks: Networks,
    modes: Sequence[str],
    params: AccessParameters,
    *,
    freight_only: bool = True,
    min_cemt: str | None = None,
) -> _SparseGraph:
    """csgraph-ready sparse matrix of the union of ``modes`` (+ transfer edges between modes)."""
    frames, weights = [], []
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown mode {m!r}; use one of {list(MODES)}")
        links = _select_links(networks, m, freight_only, min_cemt if m == "water" else None)
        frames.append(links[["from_node", "to_node"]])
        weights.append(_link_length_km(links, params.link_detour[m]))
    links = pd.concat(frames, ignore_index=True)
    w = np.concatenate(weights) if weights else np.zeros(0)
    used = pd.unique(pd.concat([links["from_node"], links["to_node"]]))
    nodes = networks.nodes.set_index("node_id").loc[used]
    index = pd.Index(used)
    a, b = index.get_indexer(links["from_node"]), index.get_indexer(links["to_node"])
    xy = nodes[["x", "y"]].to_numpy(dtype=float)
    node_mode = nodes["mode"].to_numpy()
    if len(modes) > 1:  # transfer edges between nodes of different modes, straight × circuity
        ta, tb, tw = [], [], []
        for i, m1 in enumerate(modes):
            for m2 in modes[i + 1:]:
                i1, i2 = np.flatnonzero(node_mode == m1), np.flatnonzero(node_mode == m2)
                if not len(i1) or not len(i2):
                    continue
                pairs = cKDTree(xy[i1]).sparse_distance_matrix(
                    cKDTree(xy[i2]), params.transfer_max_km * 1000.0, output_type="ndarray")
                ta.append(i1[pairs["i"]])
                tb.append(i2[pairs["j"]])
                tw.append(pairs["v"] / 1000.0 * params.access_circuity)
        if ta:
            a, b, w = np.concatenate([a, *ta]), np.concatenate([b, *tb]), np.concatenate([w, *tw])
    n = len(used)
    # symmetric, keeping the shortest of parallel links (csr would add duplicates up)
    rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
    vals = np.concatenate([w, w])
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    vals = np.maximum(vals[first], 1e-9)  # csgraph treats explicit 0 as "no edge"
    matrix = sp.csr_matrix((vals, (rows[first], cols[first])), shape=(n, n))
    return _SparseGraph(matrix, np.asarray(used, dtype=object), xy, nodes["kind"].to_numpy(dtype=object),
                        node_mode)


def _min_plus(
    matrix: sp.csr_matrix,
    idx_o: np.ndarray,
    acc_o: np.ndarray,
    idx_d: np.ndarray,
    acc_d: np.ndarray,
) -> np.ndarray:
    """``min_{a,b} acc_o[i,a] + D[idx_o[i,a], idx_d[j,b]] + acc_d[j,b]`` with D from csgraph Dijkstra.

    Dijkstra runs once from the set of unique origin nodes; the min over the k candidate nodes of each side is
    taken in origin chunks so that memory stays bounded.
    """
    n_o, k_o = idx_o.shape
    n_d, k_d = idx_d.shape
    uniq, inv = np.unique(idx_o, return_inverse=True)
    inv = inv.reshape(idx_o.shape)
    dist = dijkstra(matrix, directed=False, indices=uniq)  # (n_unique, n_nodes) km
    dist_d = dist[:, idx_d]  # (n_unique, n_d, k_d)
    out = np.empty((n_o, n_d))
    chunk = max(1, _MAX_CHUNK_FLOATS // max(1, k_o * n_d * k_d))
    for s in range(0, n_o, chunk):
        e = min(n_o, s + chunk)
        block = acc_o[s:e, :, None, None] + dist_d[inv[s:e]] + acc_d[None, None, :, :]  # (c, k_o, n_d, k_d)
        out[s:e] = block.min(axis=(1, 3))
    return out


def _access_candidates(
    graph: _SparseGraph, pts_xy: np.ndarray, kinds: Collection[str], k: int, circuity: float, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest graph nodes of the given kinds: graph indices (n, k) and access legs in km × circuity × scale."""
    cand = np.flatnonzero(np.isin(graph.kind, list(kinds)))
    if len(cand) == 0:
        return np.zeros((len(pts_xy), 1), dtype=int), np.full((len(pts_xy), 1), np.inf)
    k = min(k, len(cand))
    d, j = cKDTree(graph.xy[cand]).query(pts_xy, k=k)
    d, j = d.reshape(len(pts_xy), k), j.reshape(len(pts_xy), k)
    return cand[j], d / 1000.0 * circuity * scale


def straight_km(origins_xy: Any, dests_xy: Any) -> np.ndarray:
    """Straight-line distance matrix in km between two point sets (EPSG:31370 metres)."""
    o, d = _as_xy(origins_xy), _as_xy(dests_xy)
    return np.hypot(o[:, None, 0] - d[None, :, 0], o[:, None, 1] - d[None, :, 1]) / 1000.0


def network_distance_km(
    origins_xy: Any,
    dests_xy: Any,
    networks: Networks,
    modes: Sequence[str] = ("road",),
    circuity: float | None = None,
    *,
    params: AccessParameters | None = None,
    k_nearest: int = 3,
    direct: bool | None = None,
    freight_only: bool = True,
    min_cemt: str | None = None,
    cache: bool = False,
) -> np.ndarray:
    """Many-to-many network distance in km between two point sets.

    Each point reaches the network at one of its ``k_nearest`` access nodes (straight line × ``circuity``);
    shortest paths come from one ``scipy.sparse.csgraph.dijkstra`` call over the unique origin access nodes.
    With several ``modes`` the graph is their union plus transfer edges between nodes of different modes closer
    than ``transfer_max_km``. For road alone the direct local-road leg (straight × circuity) is also allowed.

    Parameters
    ----------
    origins_xy, dests_xy
        Arrays of shape (n, 2), (m, 2) in EPSG:31370 metres.
    networks
        Network tables.
    modes
        Modes whose links form the graph.
    circuity
        Factor (≥ 1) on straight access legs; default ``access_circuity`` from ``access.toml``.
    params
        Access parameters (detour factors, transfer distance); default from ``access.toml``.
    k_nearest
        Number of candidate access nodes per point.
    direct
        Allow the direct straight × circuity leg; default True only for ``modes == ("road",)``.
    freight_only
        Rail: use freight links only.
    min_cemt
        Water: use stretches of at least this CEMT class only.
    cache
        Read/write the matrix in the disk cache (:func:`cache_dir`), keyed on all inputs.

    Returns
    -------
    numpy.ndarray
        (n, m) distances in km, ``inf`` where no path exists; every finite entry is ≥ the straight-line
        distance. Without the direct leg (water, rail) every trip runs via the network, access legs included,
        so a point's distance to itself is 0 only if it lies on an access node.
    """
    p = params if params is not None else AccessParameters.from_toml()
    circ = p.access_circuity if circuity is None else float(circuity)
    if circ < 1:
        raise ValueError("circuity must be ≥ 1")
    o, d = _as_xy(origins_xy), _as_xy(dests_xy)
    modes = tuple(modes)
    use_direct = (modes == ("road",)) if direct is None else bool(direct)

    def compute() -> np.ndarray:
        graph = _sparse_graph(networks, modes, p, freight_only=freight_only, min_cemt=min_cemt)
        kinds = set().union(*(ACCESS_KINDS[m] | TRANSHIP_KINDS.get(m, frozenset()) | {"road_vertex"}
                              for m in modes))
        idx_o, acc_o = _access_candidates(graph, o, kinds, k_nearest, circ)
        idx_d, acc_d = _access_candidates(graph, d, kinds, k_nearest, circ)
        if graph.matrix.shape[0] == 0:
            dist = np.full((len(o), len(d)), np.inf)
        else:
            dist = _min_plus(graph.matrix, idx_o, acc_o, idx_d, acc_d)
        straight = straight_km(o, d)
        if use_direct:
            dist = np.minimum(dist, straight * circ)
        finite = np.isfinite(dist)
        if not (dist[finite] >= straight[finite] - 1e-9).all():  # triangle inequality must hold
            msg = "network distance shorter than the straight line: check link lengths (must be ≥ chord)"
            raise RuntimeError(msg)
        return dist

    if not cache:
        return compute()
    key = matrix_cache_key("network_distance_km", [o, d], networks,
                           {"modes": modes, "circuity": circ, "k": k_nearest, "direct": use_direct,
                            "freight_only": freight_only, "min_cemt": min_cemt, "params": _params_dict(p)})
    return cached_matrix(key, compute)


@dataclass(frozen=True)
class ModeCosts:
    """Cheapest-mode transport cost between two point sets (EUR per tonne) and its parts.

    Attributes
    ----------
    cost_eur_per_t
        (n, m) cheapest cost over the modes considered.
    mode
        (n, m) name of the cheapest mode (``"road"``, ``"water"``, ``"rail"``).
    by_mode_eur_per_t
        Per mode the (n, m) cost (``inf`` where that mode is not possible).
    road_km
        (n, m) all-road network distance in km.
    """

    cost_eur_per_t: np.ndarray
    mode: np.ndarray
    by_mode_eur_per_t: Mapping[str, np.ndarray]
    road_km: np.ndarray


def cheapest_mode_cost(
    origins_xy: Any,
    dests_xy: Any,
    networks: Networks,
    *,
    modes: Sequence[str] = MODES,
    params: AccessParameters | None = None,
    k_nearest: int = 3,
    cache: bool = False,
) -> ModeCosts:
    """Cheapest transport cost per tonne between two point sets: all road, or road–water–road / road–rail–road.

    All road: ``cost_road · road_km``. Water (or rail): road access leg to a transhipment node (straight ×
    circuity), transhipment, main leg on the water network of CEMT ≥ ``water_min_cemt`` (rail: freight links,
    transhipment at rail terminals), transhipment, road leg to the destination:
    ``cost_road · (a_o + a_d) + 2 · transhipment + cost_mode · main_km``. The transhipment nodes are chosen to
    minimise this cost among each point's ``k_nearest`` candidates.

    Parameters
    ----------
    origins_xy, dests_xy
        Arrays (n, 2), (m, 2) in EPSG:31370 metres.
    networks
        Network tables.
    modes
        Modes to consider; road is always included.
    params
        Costs (``cost_*_eur_per_tkm``, ``transhipment_eur_per_t``) and access parameters; default ``access.toml``.
    k_nearest
        Candidate access/transhipment nodes per point.
    cache
        Use the disk cache for the distance matrices.

    Returns
    -------
    ModeCosts
        Costs in EUR per tonne.
    """
    p = params if params is not None else AccessParameters.from_toml()
    o, d = _as_xy(origins_xy), _as_xy(dests_xy)
    road_km = network_distance_km(o, d, networks, ("road",), params=p, k_nearest=k_nearest, cache=cache)
    c_road = p.cost_eur_per_tkm["road"]
    by_mode = {"road": c_road * road_km}

    def compute(mode: str) -> np.ndarray:
        graph = _sparse_graph(networks, (mode,), p, freight_only=True,
                              min_cemt=p.water_min_cemt if mode == "water" else None)
        c_mode = p.cost_eur_per_tkm[mode]
        if graph.matrix.shape[0] == 0 or c_mode <= 0:
            return np.full((len(o), len(d)), np.inf)
        scale = c_road / c_mode  # access legs expressed in main-leg km so one min-plus finds the cheapest pair
        idx_o, acc_o = _access_candidates(graph, o, TRANSHIP_KINDS[mode], k_nearest, p.access_circuity, scale)
        idx_d, acc_d = _access_candidates(graph, d, TRANSHIP_KINDS[mode], k_nearest, p.access_circuity, scale)
        return c_mode * _min_plus(graph.matrix, idx_o, acc_o, idx_d, acc_d) + 2 * p.transhipment_eur_per_t

    for mode in modes:
        if mode == "road":
            continue
        if cache:
            key = matrix_cache_key(f"mode_cost_{mode}", [o, d], networks, {"k": k_nearest,
                                                                             "params": _params_dict(p)})
            by_mode[mode] = cached_matrix(key, lambda mode=mode: compute(mode))
        else:
            by_mode[mode] = compute(mode)
    names = list(by_mode)
    stack = np.stack([by_mode[m] for m in names])
    best = np.argmin(stack, axis=0)
    return ModeCosts(np.take_along_axis(stack, best[None], axis=0)[0], np.asarray(names, dtype=object)[best],
                     by_mode, road_km)


# ---------------------------------------------------------------------------------------------------------------
# OpenStreetMap road graphs (local files only, no download)
# ---------------------------------------------------------------------------------------------------------------
def road_graph_from_osm(
    path: str | os.PathLike[str],
    *,
    highway_types: Collection[str] | None = DRIVE_HIGHWAY_TYPES,
    simplify: bool = True,
) -> nx.MultiDiGraph:
    """Road graph of a local OpenStreetMap extract, projected to EPSG:31370 (no download).

    ``.osm``/``.xml``/``.osm.bz2`` are read with ``osmnx.graph_from_xml``. ``.pbf`` is first converted with
    pyosmium (``pip install osmium``) into a temporary OSM XML holding the ``highway`` ways and their nodes; ways
    cut by the extract boundary are split at the missing nodes. Without pyosmium, convert the file yourself
    (``osmium cat in.osm.pbf -o out.osm``).

    Parameters
    ----------
    path
        OSM extract.
    highway_types
        Keep only edges whose ``highway`` tag is in this set (default: roads open to motor traffic); ``None``
        keeps every way.
    simplify
        Let osmnx merge degree-2 nodes.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx graph in EPSG:31370; node ``x``/``y`` in metres, edge ``length`` in metres measured in the
        projected CRS (polyline length, so never shorter than the straight line between its end nodes).
    """
    import osmnx as ox

    path = Path(path)
    if not path.is_file():
        raise InputError("OSM file not found", file=path)
    name = path.name.lower()
    with tempfile.TemporaryDirectory(prefix="siting-osm-") as tmp:
        if name.endswith(".pbf"):
            xml = Path(tmp) / (path.stem + ".osm")
            _pbf_to_osm_xml(path, xml)
        elif name.endswith((".osm", ".xml", ".osm.bz2", ".xml.bz2")):
            xml = path
        else:
            raise InputError("unsupported OSM file type; use .osm, .osm.bz2, .xml or .osm.pbf", file=path)
        try:
            g = ox.graph_from_xml(xml, bidirectional=False, simplify=False, retain_all=True)
        except ValueError as e:
            msg = (f"cannot build a road graph: {e} (a clipped extract must keep complete ways, e.g. osmium "
                   "extract --strategy complete_ways)")
            raise InputError(msg, file=path) from e
    if highway_types is not None:
        allowed = set(highway_types)
        drop = [(u, v, k) for u, v, k, hw in g.edges(keys=True, data="highway")
                if not (set(hw) if isinstance(hw, list) else {hw}) & allowed]
        g.remove_edges_from(drop)
        g.remove_nodes_from([n for n in list(g.nodes) if g.degree(n) == 0])
    if g.number_of_edges() == 0:
        raise InputError("no road edges in the OSM file (after the highway filter)", file=path)
    if simplify:
        g = ox.simplify_graph(g)
    g = ox.project_graph(g, to_crs=CRS)
    _set_projected_lengths(g)
    return g


def _set_projected_lengths(g: nx.MultiDiGraph) -> None:
    """Recompute edge ``length`` (m) in the projected CRS: polyline length, or the chord of a straight edge."""
    edges = list(g.edges(keys=True, data=True))
    geoms = np.array([data.get("geometry") for *_, data in edges], dtype=object)
    xy = {n: (a["x"], a["y"]) for n, a in g.nodes(data=True)}
    uv = np.array([(*xy[u], *xy[v]) for u, v, _, _ in edges], dtype=float).reshape(-1, 4)
    chord = np.hypot(uv[:, 0] - uv[:, 2], uv[:, 1] - uv[:, 3])
    has_geom = np.array([geom is not None for geom in geoms], dtype=bool)
    length = chord.copy()
    if has_geom.any():
        length[has_geom] = np.maximum(shapely.length(geoms[has_geom].astype(object)), chord[has_geom])
    for (u, v, k, _), L in zip(edges, length):
        g.edges[u, v, k]["length"] = float(L)


def _pbf_to_osm_xml(pbf: Path, xml: Path) -> None:
    try:
        import osmium
        from osmium.filter import EntityFilter, KeyFilter
    except ImportError as e:
        msg = ("reading .pbf needs the 'osmium' package (pip install osmium); or convert the file to OSM XML "
               "first: osmium cat extract.osm.pbf -o extract.osm")
        raise InputError(msg, file=pbf) from e
    try:
        proc = (osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY).with_locations()
                .with_filter(EntityFilter(osmium.osm.WAY)).with_filter(KeyFilter("highway")))
        with osmium.BackReferenceWriter(str(xml), ref_src=str(pbf), overwrite=True) as writer:
            for way in proc:
                valid = np.array([n.location.valid() for n in way.nodes], dtype=bool)
                refs = np.array([n.ref for n in way.nodes], dtype=np.int64)
                # split the way into runs of nodes present in the extract (clipped ways lose their outer part)
                breaks = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(int), [0]])))
                for run, (s, e) in enumerate(zip(breaks[::2], breaks[1::2])):
                    if e - s >= 2:
                        writer.add(way.replace(id=way.id + run * 10**12, nodes=refs[s:e].tolist()))
    except RuntimeError as e:
        raise InputError(f"cannot read the .pbf file: {e}", file=pbf) from e


def osm_distance_km(
    graph: nx.MultiDiGraph,
    origins_xy: Any,
    dests_xy: Any,
    *,
    circuity: float | None = None,
    params: AccessParameters | None = None,
) -> np.ndarray:
    """Many-to-many driving distance in km on a projected OSM graph (from :func:`road_graph_from_osm`).

    Points snap to their nearest graph node (``osmnx.distance.nearest_nodes``) with a straight access leg ×
    ``circuity``; distances come from one directed ``csgraph.dijkstra`` call over the unique origin nodes.

    Parameters
    ----------
    graph
        osmnx MultiDiGraph in EPSG:31370 with edge ``length`` in metres.
    origins_xy, dests_xy
        Arrays (n, 2), (m, 2) in EPSG:31370 metres.
    circuity
        Factor (≥ 1) on the access legs; default ``access_circuity`` from ``access.toml``.
    params
        Access parameters; default from ``access.toml``.

    Returns
    -------
    numpy.ndarray
        (n, m) distances in km (``inf`` where no directed path exists).
    """
    import osmnx as ox

    crs = graph.graph.get("crs")
    if crs is None or not _as_crs(crs).equals(_as_crs(CRS)):
        raise ValueError(f"graph must be projected to {CRS} (use road_graph_from_osm), got {crs!r}")
    p = params if params is not None else (AccessParameters.from_toml() if circuity is None else None)
    circ = float(circuity) if circuity is not None else p.access_circuity
    o, d = _as_xy(origins_xy), _as_xy(dests_xy)
    node_ids = np.array(list(graph.nodes), dtype=object)
    index = pd.Index(node_ids)
    u, v, length = zip(*((a, b, w) for a, b, w in graph.edges(data="length"))) if graph.number_of_edges() else \
        ((), (), ())
    rows, cols = index.get_indexer(list(u)), index.get_indexer(list(v))
    vals = np.maximum(np.asarray(length, dtype=float) / 1000.0, 1e-9)
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])  # parallel edges: keep the shortest
    n = len(node_ids)
    matrix = sp.csr_matrix((vals[first], (rows[first], cols[first])), shape=(n, n))
    nn_o, dist_o = ox.distance.nearest_nodes(graph, o[:, 0], o[:, 1], return_dist=True)
    nn_d, dist_d = ox.distance.nearest_nodes(graph, d[:, 0], d[:, 1], return_dist=True)
    io, idn = index.get_indexer(np.asarray(nn_o, dtype=object)), index.get_indexer(np.asarray(nn_d, dtype=object))
    uniq, inv = np.unique(io, return_inverse=True)
    dist = dijkstra(matrix, directed=True, indices=uniq)[inv][:, idn]
    acc_o = np.asarray(dist_o, float) / 1000.0 * circ
    acc_d = np.asarray(dist_d, float) / 1000.0 * circ
    total = acc_o[:, None] + dist + acc_d[None, :]
    return np.maximum(total, straight_km(o, d))  # ≥ straight line already; guard against rounding


# ---------------------------------------------------------------------------------------------------------------
# Disk cache
# ---------------------------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Matrix cache folder: ``$SITING_CACHE_DIR`` or ``~/.cache/circular-siting``."""
    env = os.environ.get("SITING_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "circular-siting"


def matrix_cache_key(
    kind: str, arrays: Sequence[np.ndarray], networks: Networks | None, params: Mapping[str, Any]
) -> str:
    """sha256 key of a matrix from its inputs: kind, coordinate arrays, network tables and parameters."""
    h = hashlib.sha256(kind.encode())
    for arr in arrays:
        a = np.ascontiguousarray(arr, dtype=float)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update((networks.fingerprint if networks is not None else "-").encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()


def cached_matrix(key: str, compute: Callable[[], np.ndarray], *, directory: Path | None = None) -> np.ndarray:
    """Return the cached matrix of ``key``, or compute it and store it atomically (temp file + ``os.replace``)."""
    folder = Path(directory) if directory is not None else cache_dir()
    target = folder / f"{key}.npy"
    if target.is_file():
        try:
            return np.load(target, allow_pickle=False)
        except (OSError, ValueError):
            pass  # unreadable (e.g. truncated by another writer): recompute
    value = np.asarray(compute())
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".npy", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, value, allow_pickle=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return value


def _params_dict(p: AccessParameters) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in p.__dict__.items()}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as e:
        raise InputError("file not found", file=path) from e
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"invalid TOML: {e}", file=path) from e
