"""Transport cost of point pairs on the networks: road, and road–water–road / road–rail–road chains.

Every trip starts and ends by road: the access legs of :mod:`optimizer.geo.road_access`. Between access legs the goods take the cheapest path in
a **layered graph** whose edges carry a cost in EUR per tonne:

* road, water (CEMT >= ``water_min_cemt``) and rail links: cost per t·km of the mode x real length;
* transfer edges between a quay/port/terminal (water) or a freight terminal (rail) and the road nodes it is snapped
  to: ``transhipment_eur_per_t`` + road cost of that access leg.

A water chain therefore costs ``c_road (pre-haul) + T + c_water x water km + T + c_road (post-haul)``, rail likewise;
the programme's allowed modes decide which layers the graph has, and the cheapest allowed chain wins per pair (a
direct local-road trip, straight x circuity, too, for points at most ``local_trip_max_km`` apart, unless
``direct=False``). Node-to-node costs come from one
``scipy.sparse.csgraph.dijkstra`` call over the *unique* origin entry nodes only, and are broadcast to pairs. The
t·km per mode of each pair's chosen chain (modal split) come from the shortest-path trees by pointer jumping, for
any set of pairs at once. Costs and access parameters are named assumptions in ``models/access.toml``.

Coordinates are EPSG:31370 (Belgian Lambert 72) metres; distances km; costs EUR per tonne (EUR/t) or per t·km.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial.distance import cdist

from optimizer.geo.access_rules import AccessParameters
from optimizer.geo.cache import cached_arrays, content_key
from optimizer.geo.distances import as_xy
from optimizer.geo.network_tables import MODES, RAIL_TRANSFER_KINDS, WATER_TRANSFER_KINDS, NetworkTables
from optimizer.geo.pair_blocks import LazyPairs, best_of_candidates
from optimizer.geo.road_access import road_access

SPLIT_COLUMNS: tuple[str, ...] = ("road_km", "water_km", "rail_km", "transhipments")
_CACHE_VERSION = 2
_CHUNK_FLOATS = 16_000_000  # ≈ 128 MB of float64 per broadcast block
DENSE_PAIRS_MAX = 50_000_000  # above this many origin × destination pairs the (n, m) costs are computed on demand


# ---------------------------------------------------------------------------------------------------------------
# Layered graph
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayeredGraph:
    """Multimodal graph over all nodes of the tables, edge weights in EUR/t.

    Attributes
    ----------
    cost
        (N, N) symmetric CSR matrix, EUR per tonne (rows in the order of ``tables.nodes``).
    edge_keys
        Sorted ``row * N + col`` of every stored entry of ``cost``.
    edge_of_key
        Edge id of each entry of ``edge_keys``.
    edge_split
        (E, 4) per edge: road km, water km, rail km, transhipments (a transfer edge: its road leg and 1).
    modes
        Layers present.
    """

    cost: sp.csr_matrix
    edge_keys: np.ndarray
    edge_of_key: np.ndarray
    edge_split: np.ndarray
    modes: tuple[str, ...]


def layered_graph(tables: NetworkTables, modes: Sequence[str], params: AccessParameters) -> LayeredGraph:
    """Build the layered road(+water)(+rail) graph with transfer edges (see the module docstring).

    Parameters
    ----------
    tables
        Network tables.
    modes
        Allowed modes; road is always included.
    params
        Costs and access parameters.

    Returns
    -------
    LayeredGraph
    """
    modes = normalise_modes(modes)
    links = tables.links
    c = params.cost_eur_per_tkm
    a_all, b_all = tables.link_ends()
    length = links["length_km"].to_numpy(dtype=float)
    mode = links["mode"].to_numpy()
    keep = mode == "road"
    if "water" in modes:
        keep |= (mode == "water") & (links["cemt"].to_numpy() >= params.water_min_cemt_rank)
    if "rail" in modes:
        keep |= mode == "rail"
    a, b, km = a_all[keep], b_all[keep], length[keep]
    lm = mode[keep]
    split = np.zeros((len(a), 4))
    for col, m in enumerate(MODES):
        split[lm == m, col] = km[lm == m]
    weight = np.select([lm == m for m in MODES], [c[m] * km for m in MODES])
    parts_a, parts_b, parts_w, parts_s = [a], [b], [weight], [split]
    kinds = tables.nodes["kind"].to_numpy()
    touched = np.zeros(len(tables.nodes), dtype=bool)
    touched[a] = touched[b] = True
    for m, transfer_kinds in (("water", WATER_TRANSFER_KINDS), ("rail", RAIL_TRANSFER_KINDS)):
        if m not in modes:
            continue
        q = np.flatnonzero(np.isin(kinds, list(transfer_kinds)) & touched & (tables.nodes["mode"].to_numpy() == m))
        if len(q) == 0:
            continue
        acc = road_access(tables, tables.xy[q], circuity=params.access_circuity, k=params.k_access)
        qa = np.repeat(q, acc.node.shape[1])
        leg = acc.km.ravel()
        parts_a.append(qa)
        parts_b.append(acc.node.ravel())
        parts_w.append(params.transhipment_eur_per_t + c["road"] * leg)
        s = np.zeros((len(qa), 4))
        s[:, 0], s[:, 3] = leg, 1.0
        parts_s.append(s)
    a, b = np.concatenate(parts_a), np.concatenate(parts_b)
    w, s = np.concatenate(parts_w), np.concatenate(parts_s)
    n = len(tables.nodes)
    eid = np.arange(len(a))
    rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
    vals, ids = np.concatenate([w, w]), np.concatenate([eid, eid])
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals, ids = rows[order], cols[order], vals[order], ids[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])  # parallel edges: keep the cheapest
    rows, cols, vals, ids = rows[first], cols[first], vals[first], ids[first]
    cost = sp.csr_matrix((np.maximum(vals, 1e-12), (rows, cols)), shape=(n, n))  # csgraph: explicit 0 = no edge
    return LayeredGraph(cost, rows.astype(np.int64) * n + cols, ids, s, modes)


# ---------------------------------------------------------------------------------------------------------------
# Pair costs
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairCosts:
    """Cheapest allowed chain cost of every origin × destination pair, and what it takes to recover its modal split.

    Attributes
    ----------
    cost_eur_per_t
        (n, m) cost of the cheapest allowed chain, EUR per tonne.
    modes
        The allowed modes.
    params
        The cost parameters used.
    origin_node, origin_km, dest_node, dest_km
        Road access candidates of the origins (n, K) and destinations (m, K) (see :class:`RoadAccess`).
    sources
        Row numbers (into ``tables.nodes``) of the Dijkstra sources: the unique origin candidates.
    origin_source
        (n, K) index into ``sources`` of each origin candidate.
    a_star
        (n, m) int8: the origin candidate of the chosen chain; -1 = direct local-road trip.
    b_star
        (n_sources, m) int8: for each source, the destination candidate reached most cheaply.
    pred
        (n_sources, N) int32 predecessor of every node on the shortest-path tree of each source (-9999: none).
    edge_keys, edge_of_key, edge_split
        Edge lookup of the layered graph (see :class:`LayeredGraph`).
    straight_km
        Callable giving the straight km of pairs (for the direct trip).
    from_cache
        Whether the arrays came from the disk cache.
    g
        Lazy mode only (more than :data:`DENSE_PAIRS_MAX` pairs): (n_sources, m) cheapest cost from each source to
        each destination; ``cost_eur_per_t`` and ``a_star`` are then :class:`LazyPairs` views that compute the rows
        or pairs asked for from ``g`` and the access legs, never the whole (n, m) matrix.
    origin_xy, dest_xy
        Lazy mode only: the points (EPSG:31370 m), for the direct local trip.
    """

    cost_eur_per_t: np.ndarray
    modes: tuple[str, ...]
    params: AccessParameters
    origin_node: np.ndarray
    origin_km: np.ndarray
    dest_node: np.ndarray
    dest_km: np.ndarray
    sources: np.ndarray
    origin_source: np.ndarray
    a_star: np.ndarray
    b_star: np.ndarray
    pred: np.ndarray
    edge_keys: np.ndarray
    edge_of_key: np.ndarray
    edge_split: np.ndarray
    straight_km: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    from_cache: bool = False
    g: np.ndarray | None = field(default=None, repr=False)
    origin_xy: np.ndarray | None = field(default=None, repr=False)
    dest_xy: np.ndarray | None = field(default=None, repr=False)
    direct: bool = True
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def lazy(self) -> bool:
        """Whether the (n, m) costs are computed on demand (:data:`DENSE_PAIRS_MAX`)."""
        return self.g is not None

    def block(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cost (EUR/t) and chosen origin candidate (``-1``: the direct trip) of the pairs ``i × j``, shape
        ``(len(i), len(j))``; computed from the source costs in lazy mode, looked up otherwise."""
        i, j = np.asarray(i, dtype=np.int64).ravel(), np.asarray(j, dtype=np.int64).ravel()
        if not self.lazy:
            return np.asarray(self.cost_eur_per_t)[np.ix_(i, j)], np.asarray(self.a_star)[np.ix_(i, j)]
        return best_of_candidates(self, i, self.g[:, j], self.dest_xy[j])

    def pair_values(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cost and chosen origin candidate of the pairs (``i[k]``, ``j[k]``) (broadcast together)."""
        i, j = np.broadcast_arrays(np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64))
        if not self.lazy:
            return np.asarray(self.cost_eur_per_t)[i, j], np.asarray(self.a_star)[i, j]
        shape, i, j = i.shape, i.ravel(), j.ravel()
        c_road = self.params.cost_eur_per_tkm["road"]
        leg = c_road * self.origin_km
        best = self.g[self.origin_source[i, 0], j] + leg[i, 0]
        arg = np.zeros(len(i), dtype=np.int8)
        for a in range(1, self.origin_source.shape[1]):
            cand = self.g[self.origin_source[i, a], j] + leg[i, a]
            better = cand < best
            best = np.where(better, cand, best)
            arg[better] = a
        if self.direct and self.params.local_trip_max_km > 0:  # as the rows compute it (cdist, metres × scale)
            metres = np.sqrt(((self.origin_xy[i] - self.dest_xy[j]) ** 2).sum(axis=1))
            c_dir = metres * (c_road * self.params.access_circuity / 1000.0)
            use = (metres <= self.params.local_trip_max_km * 1000.0) & (c_dir <= best)
            best = np.where(use, c_dir, best)
            arg[use] = -1
        return best.reshape(shape), arg.reshape(shape)

    def tree_split(self, sources: np.ndarray | None = None) -> np.ndarray:
        """(len(sources), N, 4) road/water/rail km and transhipments from each source to every node.

        Summed over each source's shortest-path tree by pointer jumping (:func:`_tree_split`), in blocks of sources;
        ``sources`` are indices into :attr:`sources` (default all). Each source's trees are computed once and kept.
        """
        wanted = np.arange(self.pred.shape[0]) if sources is None else np.asarray(sources, dtype=np.int64)
        done = self._memo.setdefault("trees", {})
        missing = np.array([k for k in np.unique(wanted) if int(k) not in done], dtype=np.int64)
        n_nodes = self.pred.shape[1]
        step = max(1, _CHUNK_FLOATS // (4 * max(1, n_nodes)))
        for c0 in range(0, len(missing), step):
            rows = missing[c0:c0 + step]
            block = _tree_split(np.asarray(self.pred[rows]), self.edge_keys, self.edge_of_key, self.edge_split)
            for k, tree in zip(rows, block):
                done[int(k)] = tree
        return np.stack([done[int(k)] for k in wanted]) if len(wanted) else np.zeros((0, n_nodes, 4))

    @property
    def shape(self) -> tuple[int, int]:
        """(n origins, m destinations)."""
        return self.cost_eur_per_t.shape

    def km_by_mode(self, i: np.ndarray | None = None, j: np.ndarray | None = None) -> np.ndarray:
        """Road, water and rail km and the number of transhipments along each pair's chosen chain.

        Multiply by the tonnes of a flow to get its t·km per mode (modal split). Vectorised over pairs: the
        shortest-path trees of the sources involved are summed by pointer jumping, never walked pair by pair.

        Parameters
        ----------
        i, j
            Origin and destination indices of the pairs (broadcast together); ``None`` for both: every pair.

        Returns
        -------
        numpy.ndarray
            Shape ``broadcast(i, j).shape + (4,)``: ``road_km, water_km, rail_km, transhipments``
            (:data:`SPLIT_COLUMNS`). ``cost_eur_per_t[i, j]`` equals
            ``Σ_m cost_eur_per_tkm[m] · km_m + transhipment_eur_per_t · transhipments``.
        """
        if i is None and j is None:
            n, m = self.shape
            i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
        i, j = np.broadcast_arrays(np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64))
        shape = i.shape
        i, j = i.ravel(), j.ravel()
        out = np.zeros((len(i), 4))
        a = self.a_star[i, j].astype(np.int64)
        direct = a < 0
        if direct.any():
            out[direct, 0] = self.params.access_circuity * self.straight_km(i[direct], j[direct])
        net = ~direct
        if net.any():
            ii, jj, aa = i[net], j[net], a[net]
            s = self.origin_source[ii, aa]
            b = self.b_star[s, jj].astype(np.int64)
            t = self.dest_node[jj, b]
            uniq, pos = np.unique(s, return_inverse=True)
            tree = self.tree_split(uniq)[pos, t]
            tree[:, 0] += self.origin_km[ii, aa] + self.dest_km[jj, b]
            out[net] = tree
        return out.reshape(*shape, 4)

    def chain(self, i: np.ndarray | None = None, j: np.ndarray | None = None) -> np.ndarray:
        """Label of each pair's chosen chain: ``direct``, ``road``, ``water``, ``rail`` or ``water+rail``."""
        km = self.km_by_mode(i, j)
        if i is None and j is None:
            a = np.asarray(self.a_star)
        else:
            ii, jj = np.broadcast_arrays(np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64))
            a = np.asarray(self.a_star)[ii, jj]
        water, rail = km[..., 1] > 0, km[..., 2] > 0
        label = np.where(water & rail, "water+rail", np.where(water, "water", np.where(rail, "rail", "road")))
        return np.where(np.asarray(a) < 0, "direct", label)


def pair_costs(
    origins_xy: Any,
    dests_xy: Any,
    tables: NetworkTables,
    *,
    modes: Sequence[str] = ("road",),
    params: AccessParameters | None = None,
    direct: bool = True,
    cache: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> PairCosts:
    """Cost of the cheapest allowed chain for every origin × destination pair, EUR per tonne.

    Parameters
    ----------
    origins_xy, dests_xy
        (n, 2) and (m, 2) points, EPSG:31370 metres.
    tables
        Network tables (:func:`optimizer.geo.network_tables.load_network_tables`).
    modes
        The programme's allowed modes (road always included): ``("road",)``, ``("road", "water")``, ...
    params
        Costs and access parameters; default from ``models/access.toml``.
    direct
        Also allow the direct local-road trip (straight x ``access_circuity``) between two points at most
        ``local_trip_max_km`` apart (assumption ``local_trip_max_km``; ETISplus carries the main roads only, so a
        short trip on local roads is not on the network).
    cache
        Read/write the result in the disk cache, keyed by the network's content hash, the parameters, the modes
        and the coordinates (:mod:`optimizer.geo.cost_cache`).
    cache_dir
        Cache folder (default ``$SITING_CACHE_DIR`` or ``~/.cache/circular-siting``).

    Returns
    -------
    PairCosts
        ``cost_eur_per_t`` (n, m) and the arrays behind :meth:`PairCosts.km_by_mode`.
    """
    p = params if params is not None else AccessParameters.from_toml()
    modes = normalise_modes(modes)
    o, d = as_xy(origins_xy), as_xy(dests_xy)

    lazy = len(o) * len(d) > DENSE_PAIRS_MAX

    def compute() -> dict[str, np.ndarray]:
        return _compute_pair_costs(o, d, tables, modes, p, direct, lazy=lazy)

    if cache:
        key = content_key("pair_costs", [o, d], tables.fingerprint,
                          {"modes": modes, "params": p.cost_key(), "direct": direct, "version": _CACHE_VERSION,
                           "lazy": lazy})
        arrays, hit = cached_arrays(key, compute, directory=cache_dir,
                                    meta={"kind": "pair_costs", "n": len(o), "m": len(d), "modes": modes})
    else:
        arrays, hit = compute(), False

    def straight(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.hypot(*(o[i] - d[j]).T) / 1000.0

    if lazy:
        pc = PairCosts(cost_eur_per_t=None, a_star=None, modes=modes, params=p, straight_km=straight, from_cache=hit,
                       origin_xy=o, dest_xy=d, direct=direct, **arrays)
        object.__setattr__(pc, "cost_eur_per_t", LazyPairs(pc, 0, (len(o), len(d))))
        object.__setattr__(pc, "a_star", LazyPairs(pc, 1, (len(o), len(d))))
        return pc
    return PairCosts(modes=modes, params=p, straight_km=straight, from_cache=hit, direct=direct, **arrays)


def _compute_pair_costs(o: np.ndarray, d: np.ndarray, tables: NetworkTables, modes: tuple[str, ...],
                        p: AccessParameters, direct: bool, lazy: bool = False) -> dict[str, np.ndarray]:
    c_road = p.cost_eur_per_tkm["road"]
    graph = layered_graph(tables, modes, p)
    acc_o = road_access(tables, o, circuity=p.access_circuity, k=p.k_access)
    acc_d = road_access(tables, d, circuity=p.access_circuity, k=p.k_access)
    sources, inv = np.unique(acc_o.node, return_inverse=True)
    inv = inv.reshape(acc_o.node.shape)
    dist, pred = dijkstra(graph.cost, directed=True, indices=sources, return_predecessors=True)
    n, m, ko, kd = len(o), len(d), acc_o.node.shape[1], acc_d.node.shape[1]
    # G[s, j] = min_b dist[s, dest_node[j, b]] + c_road * dest_km[j, b]: cheapest way from each source to each dest
    g = np.empty((len(sources), m))
    b_star = np.empty((len(sources), m), dtype=np.int8)
    step = max(1, _CHUNK_FLOATS // max(1, m * kd))
    leg_d = c_road * acc_d.km
    for s0 in range(0, len(sources), step):
        block = dist[s0:s0 + step][:, acc_d.node] + leg_d[None]  # (c, m, kd)
        b_star[s0:s0 + step] = block.argmin(axis=2)
        g[s0:s0 + step] = np.take_along_axis(block, b_star[s0:s0 + step, :, None].astype(np.int64), 2)[..., 0]
    del dist
    common = {"origin_node": acc_o.node, "origin_km": acc_o.km, "dest_node": acc_d.node, "dest_km": acc_d.km,
              "sources": sources.astype(np.int64), "origin_source": inv.astype(np.int64), "b_star": b_star,
              "pred": pred.astype(np.int32), "edge_keys": graph.edge_keys, "edge_of_key": graph.edge_of_key,
              "edge_split": graph.edge_split}
    if lazy:  # the (n, m) costs from g and the access legs, on demand (PairCosts.block, LazyPairs)
        return {**common, "g": g}
    # cost[i, j] = min_a c_road * origin_km[i, a] + G[inv[i, a], j], or the direct trip: a running minimum over the
    # candidates, on (rows, m) blocks (no (rows, K, m) temporaries)
    cost = np.empty((n, m))
    a_star = np.empty((n, m), dtype=np.int8)
    leg_o = c_road * acc_o.km
    step = max(1, _CHUNK_FLOATS // (4 * max(1, m)))
    scale = c_road * p.access_circuity / 1000.0
    for i0 in range(0, n, step):
        sl = slice(i0, min(n, i0 + step))
        best = cost[sl]
        arg = a_star[sl]
        np.add(g[inv[sl, 0]], leg_o[sl, 0, None], out=best)
        arg.fill(0)
        for a in range(1, ko):
            cand = g[inv[sl, a]]
            cand += leg_o[sl, a, None]
            better = cand < best
            np.copyto(best, cand, where=better)
            np.putmask(arg, better, a)
        if direct and p.local_trip_max_km > 0:
            c_dir = cdist(o[sl], d)
            local = c_dir <= p.local_trip_max_km * 1000.0
            c_dir *= scale
            use = local & (c_dir <= best)
            np.copyto(best, c_dir, where=use)
            np.putmask(arg, use, -1)
    return {"cost_eur_per_t": cost, "a_star": a_star, **common}


def _tree_split(pred: np.ndarray, edge_keys: np.ndarray, edge_of_key: np.ndarray,
                edge_split: np.ndarray) -> np.ndarray:
    """Sum of ``edge_split`` along the shortest-path tree from each source to every node, by pointer jumping.

    ``pred`` is (s, N); returns (s, N, 4). Each round doubles the path length summed: ``acc[t] += acc[ptr[t]]``,
    ``ptr[t] = ptr[ptr[t]]``, with the root (and unreachable nodes) pointing to itself with 0.
    """
    s, n = pred.shape
    target = np.broadcast_to(np.arange(n, dtype=np.int64), (s, n))
    has = pred >= 0
    acc = np.zeros((s, n, edge_split.shape[1]))
    if has.any():
        keys = pred[has].astype(np.int64) * n + target[has]
        pos = np.searchsorted(edge_keys, keys)
        if not np.array_equal(edge_keys[np.minimum(pos, len(edge_keys) - 1)], keys):
            raise RuntimeError("predecessor edge missing from the graph (inconsistent cache entry?)")
        acc[has] = edge_split[edge_of_key[pos]]
    # flat indexing: row r's node t is r * n + t
    offset = (np.arange(s, dtype=np.int64) * n)[:, None]
    ptr = (np.where(has, pred, target) + offset).ravel()
    flat = acc.reshape(s * n, -1)
    for _ in range(64):  # log2(depth) rounds
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        flat += flat[ptr]
        ptr = nxt
    return acc


def normalise_modes(modes: Sequence[str]) -> tuple[str, ...]:
    """Allowed modes in canonical order with road included; unknown names raise ``ValueError``."""
    bad = set(modes) - set(MODES)
    if bad:
        raise ValueError(f"unknown mode(s) {sorted(bad)}; use {list(MODES)}")
    return tuple(m for m in MODES if m in set(modes) | {"road"})


def split_frame(km: np.ndarray, tonnes: np.ndarray | float = 1.0, params: AccessParameters | None = None
                ) -> pd.DataFrame:
    """Modal split table: t·km per mode and transhipped tonnes (and, with ``params``, EUR per mode).

    Parameters
    ----------
    km
        Rows of :meth:`PairCosts.km_by_mode` (..., 4).
    tonnes
        Tonnes carried on each pair (scalar or one per row).
    params
        If given, add ``road_eur``, ``water_eur``, ``rail_eur`` (cost per t·km x t·km) and ``transhipment_eur``; their
        sum is the pairs' cost x tonnes.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``road_tkm``, ``water_tkm``, ``rail_tkm``, ``transhipped_t`` (a tonne transhipped twice
        counts twice) [, the EUR columns].
    """
    km = np.asarray(km, dtype=float).reshape(-1, 4)
    t = np.broadcast_to(np.asarray(tonnes, dtype=float).ravel(), (len(km),)) if np.ndim(tonnes) else \
        np.full(len(km), float(tonnes))
    out = pd.DataFrame({"road_tkm": km[:, 0] * t, "water_tkm": km[:, 1] * t, "rail_tkm": km[:, 2] * t,
                        "transhipped_t": km[:, 3] * t})
    if params is not None:
        for m in MODES:
            out[f"{m}_eur"] = out[f"{m}_tkm"] * params.cost_eur_per_tkm[m]
        out["transhipment_eur"] = out["transhipped_t"] * params.transhipment_eur_per_t
    return out
