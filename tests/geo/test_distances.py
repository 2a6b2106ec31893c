"""The vectorised distance core against a straightforward reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from optimizer.geo import distances


def test_dense_matches_cdist_and_blocks() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform([20_000, 150_000], [260_000, 245_000], size=(503, 2))
    b = rng.uniform([20_000, 150_000], [260_000, 245_000], size=(97, 2))
    old = distances.BLOCK_ELEMENTS
    distances.BLOCK_ELEMENTS = 1000  # force many blocks
    try:
        d = distances.euclidean_km(a, b)
    finally:
        distances.BLOCK_ELEMENTS = old
    np.testing.assert_allclose(d, cdist(a, b) / 1000.0, rtol=1e-9, atol=1e-6)  # 1 mm
    d32 = distances.euclidean_km(a, b, dtype=np.float32)
    assert d32.dtype == np.float32
    np.testing.assert_allclose(d32, d, rtol=1e-6)


def test_pairs_and_road_formula() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 100_000, size=(20, 2))
    b = rng.uniform(0, 100_000, size=(7, 2))
    i = rng.integers(0, 20, 50)
    j = rng.integers(0, 7, 50)
    got = distances.pair_euclidean_km(a, b, i, j)
    ref = [math.dist(a[p], b[q]) / 1000.0 for p, q in zip(i, j)]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    r = distances.equivalent_radius_km(np.array([math.pi * 4.0]))
    assert r[0] == pytest.approx(2.0)
    road = distances.road_km(np.array([0.0, 3.0, 100.0]), 1.3, np.array([2.0, 4.0, 1.0]))
    np.testing.assert_allclose(road, 1.3 * np.sqrt(np.array([0.0, 9.0, 10_000.0]) + np.array([4.0, 16.0, 1.0])))
    assert (distances.road_km(got, 1.3) >= got).all()
