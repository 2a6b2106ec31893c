"""Vectorised distance matrices in Lambert 72 (EPSG:31370), in km.

Road distance is estimated as straight-line distance × a circuity factor, with an intrazonal term for demand
spread over a municipality (see :func:`road_km`). Costs on the real networks (or an OSM street graph) live in
:mod:`optimizer.geo.network_costs` and :mod:`optimizer.geo.osm`. No Python loop ever runs over pairs: dense matrices are computed in
row blocks with numpy broadcasting (bounded memory), sparse ones over arc arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

M_PER_KM = 1000.0
BLOCK_ELEMENTS = 4_000_000  # pairs per block: bounds temporary memory to ~100 MB in float64


def as_xy(xy: Any) -> np.ndarray:
    """Coordinates as a float array of shape (n, 2) (EPSG:31370 metres); ``ValueError`` when they are not."""
    arr = np.asarray(xy, dtype=float)
    if arr.ndim == 1 and arr.size == 2:
        arr = arr.reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"coordinates must have shape (n, 2) in EPSG:31370 metres, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("coordinates must be finite numbers (EPSG:31370 metres)")
    return arr


def euclidean_km(origins_xy: np.ndarray, dests_xy: np.ndarray, *, dtype: type = np.float64) -> np.ndarray:
    """Dense straight-line distances in km between two point sets given in metres.

    Parameters
    ----------
    origins_xy, dests_xy
        Arrays of shape (n, 2) and (m, 2), Lambert 72 metres.
    dtype
        Result dtype; ``np.float32`` halves memory for large matrices.

    Returns
    -------
    numpy.ndarray
        Shape (n, m), km.
    """
    a = np.asarray(origins_xy, dtype=np.float64)
    b = np.asarray(dests_xy, dtype=np.float64)
    centre = np.concatenate([a, b]).mean(axis=0) if len(a) + len(b) else np.zeros(2)
    a, b = a - centre, b - centre  # centring keeps the squared-norm expansion accurate (mm level)
    b_sq = np.einsum("ij,ij->i", b, b)
    out = np.empty((len(a), len(b)), dtype=dtype)
    step = max(1, BLOCK_ELEMENTS // max(1, len(b)))
    for start in range(0, len(a), step):  # loop over row blocks, not pairs
        block = a[start : start + step]
        # |a-b|² = |a|² + |b|² − 2 a·b: one BLAS matrix product per block
        sq = np.einsum("ij,ij->i", block, block)[:, None] + b_sq[None, :] - 2.0 * (block @ b.T)
        np.maximum(sq, 0.0, out=sq)  # protect against tiny negative values from rounding
        out[start : start + step] = np.sqrt(sq) / M_PER_KM
    return out


def pair_euclidean_km(origins_xy: np.ndarray, dests_xy: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Straight-line distance in km for the listed pairs ``(origins[i[k]], dests[j[k]])`` only."""
    a = np.asarray(origins_xy, dtype=np.float64)[i]
    b = np.asarray(dests_xy, dtype=np.float64)[j]
    return np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]) / M_PER_KM


def equivalent_radius_km(area_km2: np.ndarray) -> np.ndarray:
    """Radius in km of the disk with the given area (a municipality's 'equivalent-area disk')."""
    return np.sqrt(np.maximum(np.asarray(area_km2, dtype=np.float64), 0.0) / np.pi)


def road_km(straight_km: np.ndarray, circuity: float, intrazonal_km: np.ndarray | float = 0.0) -> np.ndarray:
    """Road distance estimate: ``circuity · sqrt(d² + r²)``.

    ``r`` is the intrazonal distance of the origin (mean distance from demand spread over the origin's area to
    its centre). It makes a site in the client's own municipality cost ``circuity·r`` instead of zero and
    fades out with distance (``sqrt(d² + r²) → d``). With ``r = 0`` this is plain straight line × circuity.
    """
    d = np.asarray(straight_km, dtype=np.float64)
    r = np.asarray(intrazonal_km, dtype=np.float64)
    return circuity * np.sqrt(d * d + r * r)


def knearest_km(origins_xy: np.ndarray, dests_xy: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest destinations of every origin (scipy cKDTree), straight-line km in float32.

    Returns
    -------
    index : numpy.ndarray
        Shape (n, k), destination indices sorted by distance.
    km : numpy.ndarray
        Shape (n, k), float32 distances in km.

    Notes
    -----
    A sparse arc set is only safe when the optimum provably does not need a longer arc: see
    :mod:`optimizer.solver.sparsified`, which grows ``k`` until that is proven.
    """
    from scipy.spatial import cKDTree

    k = int(min(k, len(dests_xy)))
    tree = cKDTree(np.asarray(dests_xy, dtype=np.float64))
    dist, idx = tree.query(np.asarray(origins_xy, dtype=np.float64), k=k, workers=-1)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    return idx.astype(np.int32), (dist / M_PER_KM).astype(np.float32)


def knearest_grouped(
    origins_xy: np.ndarray,
    dests_xy: np.ndarray,
    k: np.ndarray | int,
    *,
    origin_group: np.ndarray | None = None,
    dest_group: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``k[i]`` nearest destinations of every origin among those of its own group, and the next distance.

    One ``cKDTree`` per group of destinations; origins are queried in blocks of :data:`BLOCK_ELEMENTS` pairs with
    the smallest power of two ≥ ``k[i] + 1`` neighbours (so a few distinct query widths serve any ``k``), which
    bounds memory and never forms the dense matrix.

    Parameters
    ----------
    origins_xy, dests_xy
        Shape (n, 2) and (m, 2), Lambert 72 metres.
    k
        Destinations to keep per origin (scalar or shape (n,)), at least 1.
    origin_group, dest_group
        Integer labels; an origin only pairs with destinations of the same label (default: one group).

    Returns
    -------
    origin, dest : numpy.ndarray
        int64 pair indices, sorted by origin then distance.
    km : numpy.ndarray
        Straight-line km of each pair (float64, as cKDTree returns it: the arcs' costs need no rounding).
    next_km : numpy.ndarray
        Shape (n,): distance of each origin's nearest destination *not* kept (``inf`` when all were kept).
    """
    from scipy.spatial import cKDTree

    a = np.asarray(origins_xy, dtype=np.float64)
    b = np.asarray(dests_xy, dtype=np.float64)
    n = len(a)
    k = np.broadcast_to(np.asarray(k, dtype=np.int64), (n,))
    og = np.zeros(n, np.int64) if origin_group is None else np.asarray(origin_group)
    dg = np.zeros(len(b), np.int64) if dest_group is None else np.asarray(dest_group)
    out_o, out_d, out_km = [], [], []
    next_km = np.full(n, np.inf)
    for g in np.unique(og):
        dests = np.flatnonzero(dg == g)
        origins = np.flatnonzero(og == g)
        if not len(dests):
            continue
        tree = cKDTree(b[dests])
        kg = np.minimum(k[origins], len(dests))
        width = np.minimum(2 ** np.ceil(np.log2(kg + 1)).astype(np.int64), len(dests))
        for w in np.unique(width):  # a few query widths, each over whole blocks of origins
            rows = origins[width == w]
            keep_k = kg[width == w]
            step = max(1, BLOCK_ELEMENTS // int(w))
            for lo in range(0, len(rows), step):
                r, kk = rows[lo : lo + step], keep_k[lo : lo + step]
                dist, idx = tree.query(a[r], k=int(w), workers=-1)
                dist, idx = dist.reshape(len(r), -1), idx.reshape(len(r), -1)
                rank = np.arange(dist.shape[1])[None, :]
                keep = rank < kk[:, None]
                i, j = np.nonzero(keep)
                out_o.append(r[i])
                out_d.append(dests[idx[i, j]])
                out_km.append(dist[i, j] / M_PER_KM)
                has_next = kk < dist.shape[1]
                next_km[r[has_next]] = dist[has_next, kk[has_next]] / M_PER_KM
    if not out_o:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), next_km
    origin = np.concatenate(out_o)
    order = np.argsort(origin, kind="stable")  # rows come per group and width; within a row already by distance
    return origin[order], np.concatenate(out_d)[order].astype(np.int64), np.concatenate(out_km)[order], next_km


def block_km(origins_xy: np.ndarray, dests_xy: np.ndarray, *, origin_group: np.ndarray | None = None,
             dest_group: np.ndarray | None = None) -> np.ndarray:
    """Dense float32 straight-line km for a block of origins; ``inf`` where the groups differ (a forbidden pair)."""
    km = euclidean_km(origins_xy, dests_xy, dtype=np.float32)
    if origin_group is not None and dest_group is not None:
        km[np.asarray(origin_group)[:, None] != np.asarray(dest_group)[None, :]] = np.inf
    return km
