"""Network distances and mode costs: strategic graphs, many-to-many shortest paths, the cheapest mode per pair.

All coordinates in EPSG:31370 metres, distances in km, costs in EUR per tonne. Shortest paths come from one
``scipy.sparse.csgraph.dijkstra`` call over the unique origin access nodes, never from a loop over pairs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from optimizer.geo.access_rules import AccessParameters
from optimizer.geo.cache import cached_matrix, matrix_cache_key
from optimizer.geo.distances import as_xy
from optimizer.geo.network_tables import ACCESS_KINDS, CEMT_RANK, MODES, TRANSHIP_KINDS, Networks, parse_cemt
from optimizer.settings import CRS

_MAX_CHUNK_FLOATS = 8_000_000  # ≈ 64 MB of float64 per min-plus block


def _select_links(networks: Networks, mode: str, freight_only: bool, min_cemt: str | None) -> pd.DataFrame:
    links = networks.mode_links(mode)
    if mode == "rail" and freight_only:
        links = links[pd.to_numeric(links["freight"], errors="coerce").fillna(0).to_numpy() == 1]
    if mode == "water" and min_cemt:
        rank = links["cemt_class"].map(CEMT_RANK).to_numpy(dtype=float)
        links = links[rank >= CEMT_RANK[parse_cemt(min_cemt) or min_cemt]]
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
class SparseGraph:
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
) -> SparseGraph:
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
    return SparseGraph(matrix, np.asarray(used, dtype=object), xy, nodes["kind"].to_numpy(dtype=object),
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
    graph: SparseGraph, pts_xy: np.ndarray, kinds: Collection[str], k: int, circuity: float, scale: float = 1.0
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
    o, d = as_xy(origins_xy), as_xy(dests_xy)
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
    o, d = as_xy(origins_xy), as_xy(dests_xy)
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
                            "freight_only": freight_only, "min_cemt": min_cemt, "params": p.as_dict()})
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
    o, d = as_xy(origins_xy), as_xy(dests_xy)
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
                                                                             "params": p.as_dict()})
            by_mode[mode] = cached_matrix(key, lambda mode=mode: compute(mode))
        else:
            by_mode[mode] = compute(mode)
    names = list(by_mode)
    stack = np.stack([by_mode[m] for m in names])
    best = np.argmin(stack, axis=0)
    return ModeCosts(np.take_along_axis(stack, best[None], axis=0)[0], np.asarray(names, dtype=object)[best],
                     by_mode, road_km)
