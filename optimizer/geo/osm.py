"""OpenStreetMap road graphs from local extracts (no download), as network tables for the same pair costs.

:func:`road_graph_from_osm` reads a local extract with osmnx (ways cut by the extract boundary are split at the
missing nodes); :func:`osm_network_tables` turns the graph into the network tables of
:mod:`optimizer.geo.network_tables`, so :func:`optimizer.geo.network_costs.pair_costs` computes street-level costs
exactly as on the regional network. Graphs are projected to EPSG:31370 (metres); lengths in km.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import shapely

from optimizer.errors import InputError
from optimizer.geo.network_build import road_node_kinds
from optimizer.geo.network_tables import LINK_COLUMNS, NODE_COLUMNS, NetworkTables, as_crs, conform
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


MOTORWAY_HIGHWAYS = frozenset({"motorway", "trunk"})  # expressways count as motorways (entries only at exits)


def osm_network_tables(graph: nx.MultiDiGraph, *, source: str = "osm") -> NetworkTables:
    """The road network of a projected OSM graph as network tables, so the same pair costs run on it.

    Each street (pair of nodes) becomes one undirected link with its geometry (the shortest of parallel edges;
    one-way restrictions are not kept: trucks' detours around one-way streets are small against the trip). Links
    tagged ``motorway`` or ``trunk`` get ``road_class = "motorway"``; nodes where they meet other streets become
    ``motorway_exit`` (see :func:`optimizer.geo.network_build.road_node_kinds`).

    Parameters
    ----------
    graph
        osmnx MultiDiGraph in EPSG:31370 (:func:`road_graph_from_osm`), edge ``length`` in metres.
    source
        Value of the ``source`` column.

    Returns
    -------
    NetworkTables
        Road nodes and links (EPSG:31370; ``length_km`` measured on the geometry, never shorter than the chord).
    """
    crs = graph.graph.get("crs")
    if crs is None or not as_crs(crs).equals(as_crs(CRS)):
        raise ValueError(f"graph must be projected to {CRS} (use road_graph_from_osm), got {crs!r}")
    node_ids = np.array(list(graph.nodes), dtype=np.int64)
    index = pd.Index(node_ids)
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float).reshape(-1, 2)
    edges = list(graph.edges(keys=True, data=True))
    u = index.get_indexer(np.array([e[0] for e in edges], dtype=np.int64))
    v = index.get_indexer(np.array([e[1] for e in edges], dtype=np.int64))
    length = np.array([float(e[3].get("length", 0.0)) for e in edges])
    highway = [e[3].get("highway", "") for e in edges]
    motorway = np.array([bool((set(h) if isinstance(h, list) else {h}) & MOTORWAY_HIGHWAYS) for h in highway])
    ref = [e[3].get("ref", "") for e in edges]
    ref = [",".join(r) if isinstance(r, list) else str(r or "") for r in ref]
    geoms = np.array([e[3].get("geometry") for e in edges], dtype=object)
    straight = np.array([g is None for g in geoms])
    if straight.any():
        geoms[straight] = shapely.linestrings(np.stack([xy[u[straight]], xy[v[straight]]], axis=1))
    keep = u != v
    # one link per node pair: the shortest of parallel and opposite edges
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((length, hi, lo))
    order = order[keep[order]]
    first = np.r_[True, (lo[order][1:] != lo[order][:-1]) | (hi[order][1:] != hi[order][:-1])]
    sel = order[first]
    a, b = u[sel], v[sel]
    chord = np.hypot(*(xy[a] - xy[b]).T)
    used = np.unique(np.concatenate([a, b]))
    kind = road_node_kinds(a, b, motorway[sel], len(node_ids))[used]
    ids = np.array([f"road:o{n}" for n in node_ids], dtype=object)
    nodes = pd.DataFrame({"node_id": ids[used], "mode": "road", "kind": kind, "x": xy[used, 0], "y": xy[used, 1],
                          "source": source})
    links = pd.DataFrame({"link_id": [f"road:ol{i}" for i in range(len(sel))], "mode": "road",
                          "from_node": ids[a], "to_node": ids[b],
                          "length_km": np.maximum(length[sel], chord) / 1000.0,
                          "road_ref": np.asarray(ref, dtype=object)[sel],
                          "road_class": np.where(motorway[sel], "motorway", "other"), "source": source})
    nodes = conform(nodes, NODE_COLUMNS, shapely.points(nodes[["x", "y"]].to_numpy(dtype=float)))
    links = conform(links, LINK_COLUMNS, geoms[sel])
    return NetworkTables(nodes, links, (source,))
