"""Pair costs on demand: the rows or pairs of an (n, m) cost matrix that is never formed.

Above :data:`optimizer.geo.network_costs.DENSE_PAIRS_MAX` origin × destination pairs (a 100,000-point instance
against 10,000 parcels would need 7.5 GB), :func:`optimizer.geo.network_costs.pair_costs` keeps only the cost from
each Dijkstra source to each destination (``g``, sources × m) and the origins' access legs; the cost of a pair is
``min_a (c_road · access_km[i, a] + g[source(i, a), j])``, or the direct local trip, computed here for the rows or
pairs asked for (in blocks of at most 16 million floats).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

_CHUNK_FLOATS = 16_000_000  # ≈ 128 MB of float64 per block


class LazyPairs:
    """An (n, m) array of a lazy :class:`PairCosts` (its costs, ``which = 0``, or chosen candidates, ``1``) that
    computes what is indexed: ``x[i, j]`` pairs (broadcast), ``x[rows]`` or ``x[rows, :]`` whole rows."""

    def __init__(self, pairs, which: int, shape: tuple[int, int]) -> None:  # noqa: ANN001 - a PairCosts
        self.pairs, self.which, self.shape, self.ndim = pairs, which, shape, 2

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple) and len(key) == 2 and not (isinstance(key[1], slice) and key[1] == slice(None)):
            return self.pairs.pair_values(key[0], key[1])[self.which]
        rows = key[0] if isinstance(key, tuple) else key
        i = np.arange(self.shape[0])[rows]
        values = best_of_candidates(self.pairs, np.atleast_1d(i), self.pairs.g, self.pairs.dest_xy)[self.which]
        return values[0] if np.ndim(i) == 0 else values

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[np.arange(self.shape[0])]
        return out if dtype is None else out.astype(dtype)

    def __len__(self) -> int:
        return self.shape[0]


def best_of_candidates(pc, i: np.ndarray, g: np.ndarray,  # noqa: ANN001 - pc: a PairCosts
                       dest_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``i`` against the destinations of ``g``'s columns: the cheapest origin candidate (running minimum, in
    blocks) or the direct trip; returns ``(cost, a_star)`` of shape (len(i), g.shape[1])."""
    c_road = pc.params.cost_eur_per_tkm["road"]
    leg = c_road * pc.origin_km
    m = g.shape[1]
    cost, arg = np.empty((len(i), m)), np.empty((len(i), m), dtype=np.int8)
    step = max(1, _CHUNK_FLOATS // (4 * max(1, m)))
    scale = c_road * pc.params.access_circuity / 1000.0
    for r0 in range(0, len(i), step):
        rows = i[r0:r0 + step]
        best, a_best = cost[r0:r0 + step], arg[r0:r0 + step]
        np.add(g[pc.origin_source[rows, 0]], leg[rows, 0, None], out=best)
        a_best.fill(0)
        for a in range(1, pc.origin_source.shape[1]):
            cand = g[pc.origin_source[rows, a]]
            cand += leg[rows, a, None]
            better = cand < best
            np.copyto(best, cand, where=better)
            np.putmask(a_best, better, a)
        if pc.direct and pc.params.local_trip_max_km > 0:
            c_dir = cdist(pc.origin_xy[rows], dest_xy)
            local = c_dir <= pc.params.local_trip_max_km * 1000.0
            c_dir *= scale
            use = local & (c_dir <= best)
            np.copyto(best, c_dir, where=use)
            np.putmask(a_best, use, -1)
    return cost, arg
