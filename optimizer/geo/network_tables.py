"""Transport networks as node and link tables: schema, loading, checks and graphs.

The shipped networks (built from real geometry; they replaced the schematic town-to-town tables of earlier versions)
live in one folder per source licence (``instances/networks_etisplus`` GPL-3.0,
``instances/networks_infrabel`` Infrabel terms, ``instances/osm_odbl`` ODbL 1.0), each with a ``network.gpkg`` of two
layers, ``nodes`` (points) and ``links`` (lines), in Belgian Lambert 72 (EPSG:31370, metres) and one common schema
(:data:`NODE_COLUMNS`, :data:`LINK_COLUMNS`). :func:`load_network_tables` reads and concatenates them, so a graph is
always the union of its sources, and checks them. :func:`to_networkx` gives a graph to build and inspect;
:func:`mode_csr` gives the ``scipy.sparse`` matrix that the cost code computes on. A planner's own line layer
(:func:`optimizer.geo.network_build.load_network_layer`) replaces one mode with :meth:`NetworkTables.with_layer`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.settings import CRS, PROJECT_ROOT

if TYPE_CHECKING:  # geopandas, networkx, scipy and shapely are imported where used: the rules (MODES, CEMT) need none
    import geopandas as gpd
    import networkx as nx
    import scipy.sparse as sp

MODES: tuple[str, ...] = ("road", "water", "rail")
NETWORK_FILE = "network.gpkg"
DEFAULT_NETWORK_DIRS: tuple[Path, ...] = (
    PROJECT_ROOT / "instances" / "networks_etisplus",
    PROJECT_ROOT / "instances" / "networks_infrabel",
    PROJECT_ROOT / "instances" / "osm_odbl",
)

# column -> dtype ("str", "float", "int"); every table carries every column (empty / 0 where it does not apply)
NODE_COLUMNS: dict[str, str] = {
    "node_id": "str",     # unique over all sources, prefixed by mode ("road:e111263", "water:q-Z11002-03")
    "mode": "str",        # road | water | rail
    "kind": "str",        # see NODE_KINDS
    "name": "str",
    "x": "float",         # EPSG:31370 metres
    "y": "float",
    "cemt": "int",        # water: highest CEMT class (1-7) of the links at the node; 0 elsewhere
    "seaport": "str",     # water/rail nodes inside one of the four seaport areas: its name
    "locode": "str",      # ports: UN/LOCODE
    "source": "str",      # etisplus | infrabel | osm | derived
}
LINK_COLUMNS: dict[str, str] = {
    "link_id": "str",
    "mode": "str",
    "from_node": "str",
    "to_node": "str",
    "length_km": "float",    # length of the real geometry (never shorter than the chord between its end nodes)
    "road_ref": "str",       # road: e.g. "A10", "N49", "R0"
    "road_class": "str",     # road: motorway | N | R | other
    "speed_kmh": "float",    # road: ETISplus speed
    "lanes": "int",          # road: ETISplus lanes
    "cemt": "int",           # water: CEMT class 1-7 (ETISplus MEANS; sea docks: 6 with maritime = 1)
    "cemt_class": "str",     # water: roman class (I, II, III, IV, Va, VIa, VII); see CEMT_FROM_INT
    "maritime": "int",       # water: 1 for sea docks
    "freight_cat": "str",    # rail: Infrabel linecat_f (F1-F4)
    "tracks": "int",         # rail: number of tracks
    "electrified": "str",    # rail: Infrabel ecs_voltfreq
    "line": "str",           # rail: Infrabel line label
    "source": "str",         # etisplus | infrabel | osm | connector | split
}
NODE_KINDS: dict[str, frozenset[str]] = {
    "road": frozenset({"motorway_junction", "motorway_exit", "motorway_vertex", "road_node"}),
    "water": frozenset({"waterway_node", "port", "quay", "terminal"}),
    "rail": frozenset({"rail_node", "rail_terminal"}),
}
WATER_TRANSFER_KINDS = frozenset({"port", "quay", "terminal"})  # where goods change between road and water
RAIL_TRANSFER_KINDS = frozenset({"rail_terminal"})  # where goods change between road and rail
# ETISplus MEANS 1-6 are CEMT groups; the sub-class (Va/Vb, VIa-c) is unknown, so the lowest one is given.
CEMT_FROM_INT: dict[int, str] = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "Va", 6: "VIa", 7: "VII"}
CEMT_TO_INT: dict[str, int] = {"I": 1, "II": 2, "III": 3, "IV": 4, "Va": 5, "Vb": 5, "VIa": 6, "VIb": 6, "VIc": 6,
                               "VII": 7}


@dataclass(frozen=True)
class NetworkTables:
    """Nodes and links of the real networks (EPSG:31370 metres; lengths in km).

    Attributes
    ----------
    nodes
        GeoDataFrame of points with :data:`NODE_COLUMNS`.
    links
        GeoDataFrame of lines with :data:`LINK_COLUMNS`; ``from_node``/``to_node`` refer to ``nodes.node_id``.
    sources
        The folders (or files) the tables were read from, in order.
    """

    nodes: gpd.GeoDataFrame
    links: gpd.GeoDataFrame
    sources: tuple[str, ...] = ()

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the node and link attributes, coordinates and link geometry: the content hash of cache keys."""
        import shapely

        h = hashlib.sha256()
        for df, cols in ((self.nodes, NODE_COLUMNS), (self.links, LINK_COLUMNS)):
            table = pd.DataFrame(df[list(cols)]).reset_index(drop=True)
            h.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
            h.update("|".join(cols).encode())
        for geom in shapely.to_wkb(self.links.geometry.to_numpy(), output_dimension=2):  # access legs use it
            h.update(geom)
        return h.hexdigest()

    @cached_property
    def node_position(self) -> pd.Index:
        """``node_id`` as an index: ``node_position.get_indexer(ids)`` gives row numbers of ``nodes``."""
        return pd.Index(self.nodes["node_id"].to_numpy())

    @property
    def xy(self) -> np.ndarray:
        """(n, 2) node coordinates, EPSG:31370 metres."""
        return self.nodes[["x", "y"]].to_numpy(dtype=float)

    def mode_nodes(self, mode: str) -> gpd.GeoDataFrame:
        """Nodes of one mode."""
        return self.nodes[self.nodes["mode"] == mode]

    def mode_links(self, mode: str) -> gpd.GeoDataFrame:
        """Links of one mode."""
        return self.links[self.links["mode"] == mode]

    def link_ends(self, links: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers (into ``nodes``) of the from and to nodes of ``links`` (default: all links)."""
        links = self.links if links is None else links
        return (self.node_position.get_indexer(links["from_node"]),
                self.node_position.get_indexer(links["to_node"]))

    @property
    def modes(self) -> tuple[str, ...]:
        """Modes present in the links table."""
        present = set(self.links["mode"])
        return tuple(m for m in MODES if m in present)

    def with_layer(self, layer: NetworkTables) -> NetworkTables:
        """A copy where every mode of ``layer`` replaces that mode's nodes and links (e.g. a planner's waterways).

        Links of other modes never end on a replaced node (links join nodes of their own mode), so the result is
        consistent; it is checked like any loaded table.
        """
        import geopandas as gpd

        replaced = set(layer.modes)
        nodes = pd.concat([self.nodes[~self.nodes["mode"].isin(replaced)], layer.nodes], ignore_index=True)
        links = pd.concat([self.links[~self.links["mode"].isin(replaced)], layer.links], ignore_index=True)
        nodes, links = gpd.GeoDataFrame(nodes, crs=CRS), gpd.GeoDataFrame(links, crs=CRS)
        check_tables(nodes, links, ", ".join(layer.sources) or "user layer")
        kept = tuple(s for s in self.sources)
        return NetworkTables(nodes, links, kept + tuple(layer.sources))


def empty_tables() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Empty node and link GeoDataFrames with the schema (for builders)."""
    import geopandas as gpd

    nodes = gpd.GeoDataFrame({c: pd.Series(dtype=_pd_dtype(t)) for c, t in NODE_COLUMNS.items()},
                             geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    links = gpd.GeoDataFrame({c: pd.Series(dtype=_pd_dtype(t)) for c, t in LINK_COLUMNS.items()},
                             geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    return nodes, links


def conform(df: pd.DataFrame, columns: dict[str, str],
            geometry: Sequence | np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Return ``df`` with exactly ``columns`` in order and type (missing ones filled empty / 0), EPSG:31370."""
    import geopandas as gpd

    out = {}
    n = len(df)
    for c, t in columns.items():
        if c in df.columns:
            s = df[c].reset_index(drop=True)
        else:
            s = pd.Series([0] * n if t != "str" else [""] * n)
        if t == "str":
            s = s.fillna("").astype(str)
        elif t == "int":
            s = pd.to_numeric(s, errors="coerce").fillna(0).astype(np.int64)
        else:
            s = pd.to_numeric(s, errors="coerce").astype(float)
        out[c] = s.to_numpy()
    geom = geometry if geometry is not None else (df.geometry.to_numpy() if isinstance(df, gpd.GeoDataFrame)
                                                  else None)
    return gpd.GeoDataFrame(out, geometry=np.asarray(geom, dtype=object) if geom is not None else None, crs=CRS)


def write_network_tables(nodes: gpd.GeoDataFrame, links: gpd.GeoDataFrame, folder: str | os.PathLike[str], *,
                         external_nodes: pd.DataFrame | None = None) -> Path:
    """Write ``nodes`` and ``links`` into ``folder/network.gpkg`` atomically (temporary file, then rename).

    Parameters
    ----------
    nodes, links
        Tables with :data:`NODE_COLUMNS` / :data:`LINK_COLUMNS` (conformed here), EPSG:31370.
    folder
        Output folder (created if needed).
    external_nodes
        Nodes of another source that ``links`` may end on (a layer that attaches to another one, e.g. the OSM docks
        to the ETISplus waterways); used for the checks only, not written.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import shapely

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nodes = conform(nodes, NODE_COLUMNS, shapely.points(nodes[["x", "y"]].to_numpy(dtype=float)))
    links = conform(links, LINK_COLUMNS)
    if external_nodes is None:
        check_tables(nodes, links, folder / NETWORK_FILE)
    else:
        both = pd.concat([pd.DataFrame(nodes), conform(external_nodes, NODE_COLUMNS)], ignore_index=True)
        check_tables(both, links, folder / NETWORK_FILE)
    fd, tmp = tempfile.mkstemp(prefix=".network.", suffix=".gpkg", dir=folder)
    os.close(fd)
    os.unlink(tmp)
    try:
        # no R-tree: the tables are always read whole, and the index would add a third to the file
        nodes.to_file(tmp, layer="nodes", driver="GPKG", SPATIAL_INDEX="NO")
        links.to_file(tmp, layer="links", driver="GPKG", SPATIAL_INDEX="NO")
        target = folder / NETWORK_FILE
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def load_network_tables(folders: Iterable[str | os.PathLike[str]] | None = None) -> NetworkTables:
    """Read and concatenate the ``network.gpkg`` of each folder (default: the three shipped sources).

    Parameters
    ----------
    folders
        Folders holding a ``network.gpkg`` (or paths to ``.gpkg`` files) with ``nodes`` and ``links`` layers in the
        schema of this module. Default :data:`DEFAULT_NETWORK_DIRS`.

    Returns
    -------
    NetworkTables
        The union of all sources, EPSG:31370.

    Raises
    ------
    InputError
        A missing file, a missing column, a duplicate node id, a link to an unknown node, a non-finite coordinate
        or a link shorter than the straight line between its end nodes; with file, row and field.
    """
    import geopandas as gpd

    folders = list(DEFAULT_NETWORK_DIRS if folders is None else folders)
    node_parts, link_parts, sources = [], [], []
    for folder in folders:
        path = Path(folder)
        path = path if path.suffix == ".gpkg" else path / NETWORK_FILE
        if not path.is_file():
            raise InputError("network table not found (rebuild with instances/build_geography.py)", file=path)
        try:
            n = gpd.read_file(path, layer="nodes")
            lk = gpd.read_file(path, layer="links")
        except Exception as e:  # pyogrio raises several types
            raise InputError(f"cannot read network layers 'nodes' and 'links': {e}", file=path) from e
        for df, cols, layer in ((n, NODE_COLUMNS, "nodes"), (lk, LINK_COLUMNS, "links")):
            missing = [c for c in cols if c not in df.columns]
            if missing:
                raise InputError(f"layer {layer!r} misses column(s) {missing}", file=path, field=missing[0])
            if df.crs is None or not df.crs.equals(CRS):
                raise InputError(f"layer {layer!r} must be in {CRS}", file=path, field="crs")
        node_parts.append(conform(n, NODE_COLUMNS))
        link_parts.append(conform(lk, LINK_COLUMNS))
        sources.append(str(path))
    nodes = gpd.GeoDataFrame(pd.concat(node_parts, ignore_index=True), crs=CRS)
    links = gpd.GeoDataFrame(pd.concat(link_parts, ignore_index=True), crs=CRS)
    check_tables(nodes, links, sources[0] if len(sources) == 1 else ", ".join(sources))
    return NetworkTables(nodes, links, tuple(sources))


def check_tables(nodes: pd.DataFrame, links: pd.DataFrame, file: str | os.PathLike[str]) -> None:
    """Raise :class:`InputError` on the first inconsistency of a node/link pair (see :func:`load_network_tables`)."""
    bad = ~nodes["mode"].isin(MODES).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"unknown mode {nodes['mode'].iloc[i]!r}", file=file, row=i + 1, field="nodes.mode")
    kind_ok = np.array([k in NODE_KINDS.get(m, ()) for m, k in zip(nodes["mode"], nodes["kind"])], dtype=bool)
    if not kind_ok.all():
        i = int(np.flatnonzero(~kind_ok)[0])
        raise InputError(f"unknown kind {nodes['kind'].iloc[i]!r} for mode {nodes['mode'].iloc[i]!r}", file=file,
                         row=i + 1, field="nodes.kind")
    xy = nodes[["x", "y"]].to_numpy(dtype=float)
    if not np.isfinite(xy).all():
        i = int(np.flatnonzero(~np.isfinite(xy).all(axis=1))[0])
        raise InputError("coordinate is not a finite number", file=file, row=i + 1, field="nodes.x")
    dup = nodes["node_id"].duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(f"duplicate node_id {nodes['node_id'].iloc[i]!r}", file=file, row=i + 1, field="node_id")
    if links["link_id"].duplicated().any():
        i = int(np.flatnonzero(links["link_id"].duplicated().to_numpy())[0])
        raise InputError(f"duplicate link_id {links['link_id'].iloc[i]!r}", file=file, row=i + 1, field="link_id")
    index = pd.Index(nodes["node_id"].to_numpy())
    ends = []
    for end in ("from_node", "to_node"):
        pos = index.get_indexer(links[end])
        if (pos < 0).any():
            i = int(np.flatnonzero(pos < 0)[0])
            raise InputError(f"unknown node {links[end].iloc[i]!r}", file=file, row=i + 1, field=f"links.{end}")
        ends.append(pos)
    same_mode = nodes["mode"].to_numpy()[ends[0]] == links["mode"].to_numpy()
    same_mode &= nodes["mode"].to_numpy()[ends[1]] == links["mode"].to_numpy()
    if not same_mode.all():
        i = int(np.flatnonzero(~same_mode)[0])
        raise InputError("link joins nodes of another mode", file=file, row=i + 1, field="links.mode")
    length = links["length_km"].to_numpy(dtype=float)
    chord = np.hypot(*(xy[ends[0]] - xy[ends[1]]).T) / 1000.0
    bad = ~np.isfinite(length) | (length <= 0) | (length < chord - 1e-3)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"length_km {length[i]!r} must be > 0 and at least the straight line between its nodes ({chord[i]:.3f})"
        raise InputError(msg, file=file, row=i + 1, field="links.length_km")


def to_networkx(tables: NetworkTables, modes: Sequence[str] = MODES) -> nx.Graph:
    """The links of ``modes`` as an undirected networkx graph (to build and inspect; compute with :func:`mode_csr`).

    Parameters
    ----------
    tables
        Network tables.
    modes
        Modes to include.

    Returns
    -------
    networkx.Graph
        Nodes carry every node column (``x``, ``y`` in EPSG:31370 m, ``kind``, ...); edges carry ``length_km``,
        ``link_id`` and the link attributes. Of parallel links the shortest is kept.
    """
    import networkx as nx

    links = tables.links[tables.links["mode"].isin(list(modes))]
    g = nx.Graph(crs=CRS, modes=tuple(modes))
    nodes = tables.nodes[tables.nodes["mode"].isin(list(modes))]
    attrs = pd.DataFrame(nodes[list(NODE_COLUMNS)]).set_index("node_id").to_dict("index")
    g.add_nodes_from(attrs.items())
    order = np.argsort(-links["length_km"].to_numpy(), kind="stable")  # shortest last wins
    rows = pd.DataFrame(links[list(LINK_COLUMNS)]).iloc[order].to_dict("records")
    g.add_edges_from((r["from_node"], r["to_node"], r) for r in rows)
    return g


def mode_csr(tables: NetworkTables, link_mask: np.ndarray, weight: np.ndarray | None = None) -> sp.csr_matrix:
    """Symmetric sparse matrix over *all* nodes of ``tables`` holding the selected links.

    Parameters
    ----------
    tables
        Network tables.
    link_mask
        Boolean mask over ``tables.links``: the links to include.
    weight
        Weight per selected link (default ``length_km``). Of parallel links the smallest weight is kept; weights
        are clipped to 1e-12 because csgraph reads an explicit 0 as "no edge".

    Returns
    -------
    scipy.sparse.csr_matrix
        (n_nodes, n_nodes), rows and columns in the order of ``tables.nodes``.
    """
    link_mask = np.asarray(link_mask, dtype=bool)
    a, b = tables.link_ends(tables.links[link_mask])
    w = tables.links["length_km"].to_numpy(dtype=float)[link_mask] if weight is None else np.asarray(weight, float)
    return symmetric_csr(a, b, w, len(tables.nodes))


def symmetric_csr(a: np.ndarray, b: np.ndarray, w: np.ndarray, n: int) -> sp.csr_matrix:
    """(n, n) symmetric CSR matrix of the edges a–b with weight w, keeping the smallest of parallel edges."""
    import scipy.sparse as sp

    rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
    vals = np.concatenate([w, w])
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((np.maximum(vals[first], 1e-12), (rows[first], cols[first])), shape=(n, n))


def parse_cemt(value: object) -> str | None:
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
    if cand in ("V", "VI"):  # a group without its sub-class: the lowest sub-class (as for ETISplus)
        cand += "a"
    return cand if cand in CEMT_TO_INT else None


def as_crs(crs: str | int) -> object:
    """A pyproj CRS from an EPSG code or string."""
    from pyproj import CRS as _CRS

    return _CRS.from_user_input(crs)


def _pd_dtype(t: str) -> str:
    return {"str": "object", "int": "int64", "float": "float64"}[t]
