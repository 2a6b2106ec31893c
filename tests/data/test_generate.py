"""The seeded fine-grained instance generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, needs_shared

from optimizer.data.generate import largest_remainder
from optimizer.model.fine import fine_instance


def test_largest_remainder_is_exact_and_proportional() -> None:
    counts = largest_remainder(np.array([1.0, 2.0, 3.0, 0.0]), 12, minimum=1)
    assert counts.sum() == 12 and counts[3] == 0
    assert list(counts) == [3, 4, 5, 0]
    with pytest.raises(ValueError):
        largest_remainder(np.ones(5), 3, minimum=1)


def test_fine_instance_is_seeded_and_conserves_totals() -> None:
    d1, c1 = fine_instance(2000, 500, seed=7, with_access=False)
    d2, c2 = fine_instance(2000, 500, seed=7, with_access=False)
    d3, _ = fine_instance(2000, 500, seed=8, with_access=False)
    pd.testing.assert_frame_equal(d1, d2)
    pd.testing.assert_frame_equal(c1, c2)
    assert not d1[["x", "y"]].equals(d3[["x", "y"]])
    munis = pd.read_csv("instances/flanders/municipalities.csv")
    assert len(d1) == 2000 and len(c1) == 500
    assert d1["weight"].sum() == pytest.approx(munis["population"].sum())
    assert d1["nis"].nunique() == 285  # at least one point per municipality
    # points stay within their municipality's equivalent-area disk
    m = munis.set_index("nis").loc[d1["nis"]]
    r = np.hypot(d1["x"].to_numpy() - m["x"].to_numpy(), d1["y"].to_numpy() - m["y"].to_numpy())
    assert (r <= np.sqrt(m["area_km2"].to_numpy() / np.pi) * 1000 + 0.1).all()
    # parcels only where there is business-park land, proportional to it
    sites = pd.read_csv("instances/flanders/candidates.csv").query("zone_type == 'economic_zone'")
    assert set(c1["nis"]) <= set(sites.loc[sites["total_ha"] > 0, "nis"])
    big = sites.sort_values("total_ha").iloc[-1]
    assert (c1["nis"] == big["nis"]).sum() >= 500 * big["total_ha"] / sites["total_ha"].sum() - 1


def test_candidates_carry_access_attributes() -> None:
    _, c = fine_instance(300, 120, seed=1)
    for col in ("has_road", "has_water", "has_rail", "knooppuntwaarde"):
        assert col in c
    assert c["knooppuntwaarde"].between(0, 1).all()


@needs_shared
def test_points_inside_polygons_with_boundaries() -> None:
    import geopandas as gpd
    import shapely

    path = SHARED / "data/flanders/boundaries/gebiedsniveaus/gemeente.shp"
    d, _ = fine_instance(1500, 200, seed=3, boundaries=path, with_access=False)
    polys = gpd.read_file(path).assign(nis=lambda g: g["geoitem"].astype(int)).set_index("nis").geometry
    inside = shapely.contains_xy(polys.loc[d["nis"]].to_numpy(), d["x"].to_numpy(), d["y"].to_numpy())
    assert inside.all()


def test_fine_p_median_with_small_k_is_certified_equal_to_dense() -> None:
    """k = 1 with p = 3 leaves most points without an open nearest candidate: the certificate must fix it."""
    from optimizer.check.verify import verify_problem
    from optimizer.model.arcs import matrix_cost_block, nearest_arcs, with_arcs
    from optimizer.model.fine import fine_location_problem
    from optimizer.solver.options import SolveOptions
    from optimizer.solver.solve import solve_problem
    from optimizer.solver.sparsified import solve_sparsified

    d, c = fine_instance(300, 60, seed=2, with_access=False)
    problem, source = fine_location_problem(d, c, p=3, k=1, t_per_weight=0.01, eur_per_tkm=0.2, circuity=1.3)
    options = SolveOptions(mip_gap=0.0, backend="highspy")
    dense = with_arcs(problem, nearest_arcs(matrix_cost_block(source(np.arange(300)).astype(float)), 300, 60, 60))
    exact = solve_problem(dense, options)
    result = solve_sparsified(problem, source, k=1, options=options)
    assert result.certified and result.history[0]["beyond_clients"] > 0 and result.k.max() > 1
    assert verify_problem(result.problem, result.solution).ok
    assert result.solution.objective == pytest.approx(exact.objective, rel=1e-6)  # float32 dense rows vs float64


def test_lognormal_parcels_keep_each_municipalitys_land_and_put_free_land_on_whole_parcels() -> None:
    """``parcel_land``: sizes add up to the municipality's hectares, free land adds up to its free hectares and
    lies on whole parcels (at most one parcel per municipality partly free); equal shares are the old rule."""
    from optimizer.data.generate import parcel_land

    rng = np.random.default_rng(3)
    counts = np.array([5, 0, 12, 1, 7])
    total = np.array([100.0, 0.0, 40.0, 3.0, 60.0])
    free = np.array([12.0, 0.0, 40.0, 5.0, 0.0])  # the fourth: more free than total (clipped)
    size, vacant = parcel_land(rng, counts, total, free, 1.0)
    owner = np.repeat(np.arange(len(counts)), counts)
    np.testing.assert_allclose(np.bincount(owner, weights=size, minlength=5), total)
    np.testing.assert_allclose(np.bincount(owner, weights=vacant, minlength=5), np.minimum(free, total))
    assert np.all(vacant <= size + 1e-12) and np.all(vacant >= 0)
    partly = (vacant > 1e-9) & (vacant < size - 1e-9)
    assert np.all(np.bincount(owner[partly], minlength=5) <= 1)
    assert np.ptp(size[owner == 2]) > 0  # not equal shares
    equal_size, equal_free = parcel_land(rng, counts, total, free, None)
    np.testing.assert_allclose(equal_size[owner == 0], 20.0)
    np.testing.assert_allclose(equal_free[owner == 0], 12.0 / 5)


def test_neighbourhood_points_follow_their_population_and_stay_in_their_disk() -> None:
    from optimizer.data.generate import fine_points

    hoods = pd.read_csv("instances/flanders/neighbourhoods.csv")
    demand, parcels = fine_points(5000, 800, seed=4, neighbourhoods=hoods, parcel_sigma=1.0)
    assert len(demand) == 5000 and len(parcels) == 800
    assert demand["weight"].sum() == pytest.approx(hoods["population"].sum())
    munis = pd.read_csv("instances/flanders/municipalities.csv")
    assert set(demand["nis"]) <= set(munis["nis"])
    again, _ = fine_points(5000, 800, seed=4, neighbourhoods=hoods, parcel_sigma=1.0)
    pd.testing.assert_frame_equal(demand, again)  # seeded
    inhabited = hoods[hoods["population"] > 0]
    assert demand["area_km2"].sum() == pytest.approx(inhabited["area_km2"].sum())
    # every arrondissement has a parcel with room for a large bank (1 ha): the reason for the lognormal rule
    assert (parcels.groupby("arrondissement")["free_ha"].max() >= 1.0).all()
    assert parcels.groupby("arrondissement").ngroups == 22
