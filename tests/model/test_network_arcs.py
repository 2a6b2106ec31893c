"""k-nearest arcs and separable rows on network pair costs (issue 12 × issue 18): the arc source keeps each
client's allowed options only (ragged sorted rows, no clients × options matrix), and a sparsified solve whose rows
separate evaluates every allowed pair once on the networks, to the dense optimum."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.data.instance import load_instance
from optimizer.model.formulation import compile_instance


@pytest.fixture(scope="module")
def sparse_fine():
    return compile_instance(load_instance("fine-2k-500", {"sparsify": "on"}))


def test_ragged_sorted_rows_give_the_dense_k_nearest(sparse_fine) -> None:
    source = sparse_fine.arc_source
    n, m = len(source.client_muni), len(source.option_site)
    indptr, option, cost = source.sorted_rows()
    assert indptr[-1] < n * m  # only the allowed (own-region) pairs are kept
    rows = np.arange(0, n, 97)
    dense = source(rows)  # clients × every option, inf where not allowed
    arcs = source.nearest(4)
    for r, c in enumerate(rows):
        allowed = np.flatnonzero(np.isfinite(dense[r]))
        assert indptr[c + 1] - indptr[c] == len(allowed)
        expect = np.sort(dense[r, allowed])
        np.testing.assert_allclose(cost[indptr[c]:indptr[c + 1]], expect, rtol=0, atol=1e-9)
        mine = arcs.arc_client == c
        np.testing.assert_allclose(np.sort(arcs.arc_cost[mine]), expect[:4], rtol=0, atol=1e-9)
        assert arcs.beyond_cost[c] == pytest.approx(expect[4]) if len(expect) > 4 else np.isinf(arcs.beyond_cost[c])
    # the rank of the cheapest open option: how many allowed options cost no more
    open_options = np.zeros(m, dtype=bool)
    open_options[option[indptr[rows] + 2]] = True
    assert (source.rank_of_open(rows, open_options) >= 1).all()


def test_separable_rows_solve_to_the_dense_optimum_on_the_networks(tmp_path) -> None:
    from optimizer.pipeline import run

    dense = run("fine-2k-500", overrides={"sparsify": "off"}, out_dir=tmp_path / "dense")
    sparse = run("fine-2k-500", overrides={"sparsify": "on"}, out_dir=tmp_path / "sparse")
    assert "exact" in sparse.summary["sparsify"]["guarantee"] and sparse.summary["sparsify"]["certified"]
    assert sparse.summary["objective"]["total"] == pytest.approx(dense.summary["objective"]["total"], rel=1e-9)
    assert sorted(sparse.facilities["site_id"]) == sorted(dense.facilities["site_id"])
    # the kept arcs carry their network route km (not a straight-line estimate)
    alloc = sparse.allocations
    assert (alloc["km"] > 0).all() and np.allclose(alloc["km"], alloc[["road_km", "water_km", "rail_km"]].sum(axis=1))
