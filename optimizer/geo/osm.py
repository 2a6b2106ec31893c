"""OpenStreetMap road graphs from local extracts (no download) and many-to-many driving distances on them.

Graphs are projected to EPSG:31370 (metres); distances are returned in km.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from optimizer.errors import InputError
from optimizer.geo.access_rules import AccessParameters
from optimizer.geo.distances import as_xy
from optimizer.geo.network_distance import straight_km
from optimizer.geo.network_tables import as_crs
from optimizer.settings import CRS

DRIVE_HIGHWAY_TYPES: frozenset[str] = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
    "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "service",
    "road"})


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
    if crs is None or not as_crs(crs).equals(as_crs(CRS)):
        raise ValueError(f"graph must be projected to {CRS} (use road_graph_from_osm), got {crs!r}")
    p = params if params is not None else (AccessParameters.from_toml() if circuity is None else None)
    circ = float(circuity) if circuity is not None else p.access_circuity
    o, d = as_xy(origins_xy), as_xy(dests_xy)
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
