"""Costs on real networks (optimizer.geo): exact pair costs and modal split on a hand-made network, snapping, the
disk cache, facility points inside zones, "in a seaport" from geometry and the knooppuntwaarde attributes.

The hand-made network (EPSG:31370 metres, costs EUR/t):

    road   R0 (0, 0) --bent via (25000, -25000), 70.7107 km-- R1 (50000, 0) --straight 50 km-- R2 (100000, 0)
           R2 --motorway 50 km-- R5 (150000, 0)   (R2 = motorway exit, R5 = motorway vertex: no entry)
    water  QW0 (0, 3000) --100 km, CEMT Va-- QW1 (100000, 3000)          (both quays)
    rail   T0 (0, -3000) --100 km, F2-- T1 (100000, -3000)               (both freight terminals)

The road path R0 -> R2 (120.71 km) is far longer than the straight line (100 km): the bend is the only way.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from optimizer.errors import InputError
from optimizer.geo.access import access_attributes
from optimizer.geo.access_rules import AccessParameters, mode_rule_ok
from optimizer.geo.network_costs import layered_graph, pair_costs, split_frame
from optimizer.geo.network_tables import (
    LINK_COLUMNS,
    NODE_COLUMNS,
    NetworkTables,
    check_tables,
    conform,
    load_network_tables,
    to_networkx,
    write_network_tables,
)
from optimizer.geo.road_access import road_access
from optimizer.geo.zones import facility_points, seaport_of, zone_facility_points

BEND = 2 * np.hypot(25000, 25000) / 1000.0  # 70.7107 km


def access_params(**changes) -> AccessParameters:
    """Parameters of the hand-made network's tests (the shipped values where the tests do not care)."""
    base = dict(max_access_km={"road": 5.0, "water": 3.0, "rail": 3.0}, water_min_cemt="IV",
                rail_freight_categories=("F1", "F2"), weights={"road": 1.0, "water": 1.0, "rail": 1.0},
                half_value_km={"road": 5.0, "water": 3.0, "rail": 3.0}, access_circuity=1.3, local_trip_max_km=200.0,
                cost_eur_per_tkm={"road": 0.1, "water": 0.02, "rail": 0.05}, transhipment_eur_per_t=1.0,
                seaport_min_share=0.5, k_access=1)
    p = AccessParameters(**{**base, **changes})
    p.check()
    return p


PARAMS = access_params()


def make_tables(*, water_cemt: int = 5) -> NetworkTables:
    nodes = pd.DataFrame([
        ("road:R0", "road", "road_node", 0, 0), ("road:R1", "road", "road_node", 50000, 0),
        ("road:R2", "road", "motorway_exit", 100000, 0), ("road:R5", "road", "motorway_vertex", 150000, 0),
        ("water:QW0", "water", "quay", 0, 3000), ("water:QW1", "water", "quay", 100000, 3000),
        ("rail:T0", "rail", "rail_terminal", 0, -3000), ("rail:T1", "rail", "rail_terminal", 100000, -3000),
    ], columns=["node_id", "mode", "kind", "x", "y"])
    nodes["cemt"] = np.where(nodes["mode"] == "water", water_cemt, 0)
    geoms = [shapely.LineString([(0, 0), (25000, -25000), (50000, 0)]),
             shapely.LineString([(50000, 0), (100000, 0)]),
             shapely.LineString([(100000, 0), (150000, 0)]),
             shapely.LineString([(0, 3000), (100000, 3000)]),
             shapely.LineString([(0, -3000), (100000, -3000)])]
    links = pd.DataFrame({
        "link_id": ["road:a", "road:b", "road:m", "water:w", "rail:t"],
        "mode": ["road", "road", "road", "water", "rail"],
        "from_node": ["road:R0", "road:R1", "road:R2", "water:QW0", "rail:T0"],
        "to_node": ["road:R1", "road:R2", "road:R5", "water:QW1", "rail:T1"],
        "road_class": ["N", "N", "motorway", "", ""],
        "cemt": [0, 0, 0, water_cemt, 0],
        "freight_cat": ["", "", "", "", "F2"],
    })
    links["length_km"] = shapely.length(np.array(geoms)) / 1000.0
    n = conform(nodes, NODE_COLUMNS, shapely.points(nodes[["x", "y"]].to_numpy(float)))
    lk = conform(links, LINK_COLUMNS, geoms)
    check_tables(n, lk, "hand-made")
    return NetworkTables(n, lk, ("hand-made",))


@pytest.fixture(scope="module")
def tables() -> NetworkTables:
    return make_tables()


ORIGIN = np.array([[-1000.0, 0.0]])
DEST = np.array([[101000.0, 0.0]])


# --- pair costs --------------------------------------------------------------------------------------------------
def test_road_pair_cost_exact_and_longer_than_straight(tables):
    pc = pair_costs(ORIGIN, DEST, tables, modes=("road",), params=PARAMS, direct=False)
    road_km = 1.3 * 1.0 + BEND + 50.0 + 1.3 * 1.0  # access 1 km x 1.3, R0-R1-R2, egress 1 km x 1.3
    assert pc.cost_eur_per_t[0, 0] == pytest.approx(0.1 * road_km, abs=1e-9)
    split = pc.km_by_mode()[0, 0]
    np.testing.assert_allclose(split, [road_km, 0.0, 0.0, 0.0], atol=1e-9)
    assert split[0] > 102.0  # far longer than the straight line between the two points
    # the direct local-road trip (102 km x 1.3 = 132.6 km) is dearer, so allowing it changes nothing
    assert pair_costs(ORIGIN, DEST, tables, params=PARAMS).cost_eur_per_t[0, 0] == pytest.approx(0.1 * road_km)


def test_road_water_road_chain_exact_with_transhipment(tables):
    pc = pair_costs(ORIGIN, DEST, tables, modes=("road", "water"), params=PARAMS, direct=False)
    # origin -> R0 (1.3 km) -> QW0 (3 km x 1.3) | 100 km water | QW1 -> R2 (3 km x 1.3) -> dest (1.3 km)
    road_km = 1.3 + 3.9 + 3.9 + 1.3
    expected = 0.1 * road_km + 0.02 * 100.0 + 2 * 1.0
    assert pc.cost_eur_per_t[0, 0] == pytest.approx(expected, abs=1e-9)
    np.testing.assert_allclose(pc.km_by_mode()[0, 0], [road_km, 100.0, 0.0, 2.0], atol=1e-9)
    assert pc.chain()[0, 0] == "water"
    # modal split of a 1,000 t flow: t·km and EUR per mode add up to 1,000 x the pair cost
    split = split_frame(pc.km_by_mode(np.array([0]), np.array([0])), 1000.0, PARAMS).iloc[0]
    assert (split["road_tkm"], split["water_tkm"], split["rail_tkm"], split["transhipped_t"]) == \
        pytest.approx((1000 * road_km, 100_000.0, 0.0, 2000.0))
    eur = split[["road_eur", "water_eur", "rail_eur", "transhipment_eur"]].sum()
    assert eur == pytest.approx(1000 * expected)


def test_allowed_modes_choose_the_chain(tables):
    road_only = 0.1 * (2.6 + BEND + 50.0)
    rail = 0.1 * 10.4 + 0.05 * 100.0 + 2.0
    water = 0.1 * 10.4 + 0.02 * 100.0 + 2.0
    got = {m: pair_costs(ORIGIN, DEST, tables, modes=m, params=PARAMS, direct=False).cost_eur_per_t[0, 0]
           for m in [("road",), ("road", "rail"), ("road", "water"), ("road", "water", "rail")]}
    assert got[("road",)] == pytest.approx(road_only)
    assert got[("road", "rail")] == pytest.approx(rail)
    assert got[("road", "water")] == pytest.approx(water)
    assert got[("road", "water", "rail")] == pytest.approx(min(water, rail))
    pc = pair_costs(ORIGIN, DEST, tables, modes=("road", "rail"), params=PARAMS, direct=False)
    np.testing.assert_allclose(pc.km_by_mode()[0, 0], [10.4, 0.0, 100.0, 2.0], atol=1e-9)


def test_water_below_min_cemt_is_not_used():
    t = make_tables(water_cemt=2)
    pc = pair_costs(ORIGIN, DEST, t, modes=("road", "water"), params=PARAMS, direct=False)
    assert pc.cost_eur_per_t[0, 0] == pytest.approx(0.1 * (2.6 + BEND + 50.0))
    assert pc.chain()[0, 0] == "road"


def test_modal_split_reproduces_cost_on_many_pairs(tables):
    rng = np.random.default_rng(7)
    o = np.column_stack([rng.uniform(-5000, 105000, 40), rng.uniform(-8000, 8000, 40)])
    d = np.column_stack([rng.uniform(-5000, 105000, 30), rng.uniform(-8000, 8000, 30)])
    p = access_params(k_access=3, local_trip_max_km=15.0)
    pc = pair_costs(o, d, tables, modes=("road", "water", "rail"), params=p)
    km = pc.km_by_mode()
    rebuilt = km[..., 0] * 0.1 + km[..., 1] * 0.02 + km[..., 2] * 0.05 + km[..., 3] * 1.0
    np.testing.assert_allclose(rebuilt, pc.cost_eur_per_t, rtol=1e-12, atol=1e-9)
    # a subset of pairs gives the same rows as the full table
    i, j = np.array([0, 5, 39]), np.array([29, 3, 0])
    np.testing.assert_allclose(pc.km_by_mode(i, j), km[i, j])
    straight = np.hypot(o[:, None, 0] - d[None, :, 0], o[:, None, 1] - d[None, :, 1]) / 1000.0
    assert (km[..., 0] + km[..., 1] + km[..., 2] >= straight - 1e-9).all()  # no chain beats the straight line
    assert set(np.unique(pc.chain())) <= {"direct", "road", "water", "rail", "water+rail"}
    direct = pc.chain() == "direct"
    assert direct.any() and (straight[direct] <= 15.0).all()  # the local trip only up to local_trip_max_km


def test_local_trip_only_up_to_its_distance(tables):
    """Two points 20 km apart on the bent road: the straight x 1.3 local trip (26 km) beats the network route only
    when local_trip_max_km allows a 20 km trip."""
    o, d = np.array([[10000.0, 500.0]]), np.array([[30000.0, 500.0]])
    short = pair_costs(o, d, tables, params=access_params(local_trip_max_km=15.0))
    long = pair_costs(o, d, tables, params=access_params(local_trip_max_km=25.0))
    assert short.chain()[0, 0] == "road" and long.chain()[0, 0] == "direct"
    assert long.cost_eur_per_t[0, 0] == pytest.approx(0.1 * 1.3 * 20.0)
    assert short.cost_eur_per_t[0, 0] > long.cost_eur_per_t[0, 0]
    off = pair_costs(o, d, tables, params=access_params(local_trip_max_km=0.0))
    assert off.cost_eur_per_t[0, 0] == pytest.approx(short.cost_eur_per_t[0, 0])


# --- snapping ----------------------------------------------------------------------------------------------------
def test_road_access_candidates(tables):
    acc = road_access(tables, np.array([[50000.0, 1000.0], [75000.0, -400.0]]), circuity=1.3, k=1)
    row = tables.node_position.get_indexer
    # point 1: nearest entry node R1 (1 km x 1.3); nearest local link R1-R2 (or R0-R1) at R1: 1.3 + 0
    assert acc.node[0, 0] == row(["road:R1"])[0] and acc.km[0, 0] == pytest.approx(1.3)
    # point 2: on link R1-R2 at 25 km from R1, 0.4 km off it: ends at 1.3 x 0.4 + 25 km each
    ends = dict(zip(tables.nodes["node_id"].to_numpy()[acc.node[1, 1:]], acc.km[1, 1:]))
    assert ends == {"road:R1": pytest.approx(0.52 + 25.0), "road:R2": pytest.approx(0.52 + 25.0)}
    # motorway-only nodes are never entry points
    assert "road:R5" not in set(tables.nodes["node_id"].to_numpy()[road_access(
        tables, np.array([[150000.0, 10.0]]), circuity=1.3, k=3).node.ravel()])


def test_bad_coordinates_and_modes_are_refused(tables):
    with pytest.raises(ValueError, match="shape"):
        pair_costs(np.zeros((3, 3)), DEST, tables, params=PARAMS)
    with pytest.raises(ValueError, match="unknown mode"):
        pair_costs(ORIGIN, DEST, tables, modes=("road", "air"), params=PARAMS)
    with pytest.raises(InputError, match="circuity"):
        access_params(access_circuity=0.9)


# --- cache -------------------------------------------------------------------------------------------------------
def test_cache_hit_and_miss(tables, tmp_path):
    kw = {"modes": ("road", "water"), "params": PARAMS, "cache": True, "cache_dir": tmp_path}
    first = pair_costs(ORIGIN, DEST, tables, **kw)
    second = pair_costs(ORIGIN, DEST, tables, **kw)
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.cost_eur_per_t, second.cost_eur_per_t)
    np.testing.assert_array_equal(first.km_by_mode(), second.km_by_mode())
    # other parameters, other modes, other network content: misses
    p2 = access_params(transhipment_eur_per_t=2.0)
    assert not pair_costs(ORIGIN, DEST, tables, **{**kw, "params": p2}).from_cache
    # a knooppuntwaarde weight does not shape a pair cost: same entry
    assert pair_costs(ORIGIN, DEST, tables, **{**kw, "params": access_params(weights={"road": 2.0, "water": 1.0,
                                                                                      "rail": 1.0})}).from_cache
    assert not pair_costs(ORIGIN, DEST, tables, **{**kw, "modes": ("road",)}).from_cache
    changed = make_tables(water_cemt=6)
    assert changed.fingerprint != tables.fingerprint
    assert not pair_costs(ORIGIN, DEST, changed, **kw).from_cache
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 4


# --- tables ------------------------------------------------------------------------------------------------------
def test_write_and_load_round_trip(tables, tmp_path):
    path = write_network_tables(tables.nodes, tables.links, tmp_path / "net")
    back = load_network_tables([path.parent])
    assert back.fingerprint == tables.fingerprint
    g = to_networkx(back, ["road"])
    assert g.number_of_edges() == 3 and g.edges["road:R0", "road:R1"]["length_km"] == pytest.approx(BEND)


def test_link_shorter_than_chord_is_an_input_error(tables):
    links = tables.links.copy()
    links.loc[links["link_id"] == "road:b", "length_km"] = 40.0  # chord is 50 km
    with pytest.raises(InputError, match="straight line") as e:
        check_tables(tables.nodes, links, "net.gpkg")
    assert "net.gpkg:2:links.length_km" in str(e.value)


# --- zones: facility point, seaport --------------------------------------------------------------------------
def test_facility_point_inside_and_closest():
    u_shape = shapely.Polygon([(0, 0), (300, 0), (300, 300), (200, 300), (200, 100), (100, 100), (100, 300),
                               (0, 300)])
    thin = shapely.box(0, 0, 500, 4)  # thinner than twice the inset
    box = shapely.box(1000, 1000, 2000, 2000)
    point = shapely.Point(5000, 5000)
    targets = np.array([[150, 120], [250, 50], [1500, 1500], [0, 0]])
    xy = facility_points(np.array([u_shape, thin, box, point], dtype=object), targets)
    inside = shapely.contains(np.array([u_shape, thin, box]), shapely.points(xy[:3]))
    assert inside.all()
    assert xy[0] == pytest.approx([150, 95])  # target in the notch: 5 m inside the notch's bottom edge
    assert xy[2] == pytest.approx([1500, 1500])  # target inside: the target itself
    assert xy[3] == pytest.approx([5000, 5000])  # a point zone is its own facility point


def test_zone_facility_point_faces_its_road_access(tables):
    zone = shapely.box(99000, 500, 99800, 1500)
    xy, rows = zone_facility_points(tables, np.array([zone]))
    assert tables.nodes["node_id"].iloc[rows[0]] == "road:R2"
    assert xy[0] == pytest.approx([99795, 505])


def test_seaport_from_geometry_not_distance():
    areas = gpd.GeoDataFrame({"seaport": ["Testhaven"]}, geometry=[shapely.box(90000, 2000, 110000, 10000)],
                             crs="EPSG:31370")
    geoms = np.array([shapely.box(95000, 3000, 96000, 4000),      # inside
                      shapely.box(89300, 3000, 90300, 4000),      # 30 % inside
                      shapely.Point(100000, 9000),                # inside
                      shapely.Point(100000, 1900),                # 100 m outside
                      shapely.box(109600, 5000, 110200, 6000)],   # 2/3 inside
                     dtype=object)
    assert list(seaport_of(geoms, areas)) == ["Testhaven", "", "Testhaven", "", "Testhaven"]
    assert list(seaport_of(geoms, areas, min_share=0.9)) == ["Testhaven", "", "Testhaven", "", ""]


# --- knooppuntwaarde -----------------------------------------------------------------------------------------
NV = access_params()


def test_node_value_attributes_on_hand_made_layout(tables):
    near = shapely.box(99000, 500, 99800, 1500)     # by the motorway exit R2, 1.5 km from quay QW1
    far = shapely.box(40000, 20000, 41000, 21000)  # far from everything
    attrs = access_attributes(tables, np.array([near, far], dtype=object), params=NV)
    a = attrs.iloc[0]
    # facility point (99795, 505) -> R2 (the exit) straight x 1.3
    assert a["motorway_access_km"] == pytest.approx(1.3 * np.hypot(205, 505) / 1000)
    assert a["water_km"] == pytest.approx(np.hypot(200, 1500) / 1000) and a["water_cemt"] == "Va"
    assert a["rail_freight_km"] == pytest.approx(3.5)  # 3.5 km to the F2 line, the terminal is farther
    assert (a["has_road"], a["has_water"], a["has_rail"], a["n_modes"]) == (True, True, False, 2)
    kv = (2 ** (-a["motorway_access_km"] / 5) + 2 ** (-a["water_km"] / 3) + 2 ** (-3.5 / 3)) / 3
    assert a["knooppuntwaarde"] == pytest.approx(kv)
    assert attrs.iloc[1]["n_modes"] == 0 and attrs.iloc[1]["knooppuntwaarde"] < 0.01
    assert list(mode_rule_ok(attrs, {"min_modes": 2})) == [True, False]
    assert list(mode_rule_ok(attrs, {"required_modes": ["road", "rail"]})) == [False, False]
    assert list(mode_rule_ok(attrs, {"min_knooppuntwaarde": round(kv - 0.01, 3)})) == [True, False]
    assert list(mode_rule_ok(attrs, {"min_knooppuntwaarde": round(kv + 0.01, 3)})) == [False, False]


def test_f3_line_does_not_count_as_freight_line():
    t = make_tables()
    links = t.links.copy()
    links.loc[links["link_id"] == "rail:t", "freight_cat"] = "F3"
    t3 = NetworkTables(t.nodes, links)
    zone = np.array([shapely.box(50000, -2900, 50100, -2800)], dtype=object)  # 100 m from the line
    assert access_attributes(t, zone, params=NV)["rail_freight_km"].iloc[0] == pytest.approx(0.1)
    assert access_attributes(t3, zone, params=NV)["rail_freight_km"].iloc[0] == pytest.approx(
        np.hypot(49900, 100) / 1000)


def test_layered_graph_has_two_transfers_per_water_trip(tables):
    g = layered_graph(tables, ("road", "water"), PARAMS)
    transfers = g.edge_split[:, 3] == 1
    assert transfers.sum() >= 2 and (g.edge_split[transfers, 1:3] == 0).all()


def test_lazy_pair_costs_equal_the_dense_ones(tables, monkeypatch):
    """Above DENSE_PAIRS_MAX pairs the (n, m) costs are computed on demand from the sources' costs: rows, pairs,
    blocks and the modal split are exactly the dense ones (here forced on a small case)."""
    from optimizer.geo import network_costs

    rng = np.random.default_rng(7)
    o = np.c_[rng.uniform(-5000, 105000, 40), rng.uniform(-4000, 4000, 40)]
    d = np.c_[rng.uniform(-5000, 105000, 25), rng.uniform(-4000, 4000, 25)]
    for modes in (("road",), ("road", "water"), ("road", "water", "rail")):
        dense = pair_costs(o, d, tables, modes=modes, params=PARAMS)
        monkeypatch.setattr(network_costs, "DENSE_PAIRS_MAX", 0)
        lazy = pair_costs(o, d, tables, modes=modes, params=PARAMS)
        monkeypatch.setattr(network_costs, "DENSE_PAIRS_MAX", 50_000_000)
        assert lazy.lazy and not dense.lazy and lazy.shape == dense.shape
        np.testing.assert_array_equal(np.asarray(lazy.cost_eur_per_t), dense.cost_eur_per_t)
        np.testing.assert_array_equal(np.asarray(lazy.a_star), dense.a_star)
        i, j = rng.integers(0, 40, 60), rng.integers(0, 25, 60)
        np.testing.assert_array_equal(lazy.cost_eur_per_t[i, j], dense.cost_eur_per_t[i, j])
        np.testing.assert_array_equal(lazy.cost_eur_per_t[[3, 5]], dense.cost_eur_per_t[[3, 5]])
        np.testing.assert_allclose(lazy.km_by_mode(i, j), dense.km_by_mode(i, j))
        block, arg = lazy.block(np.array([1, 2]), np.array([0, 7, 24]))
        np.testing.assert_array_equal(block, dense.cost_eur_per_t[np.ix_([1, 2], [0, 7, 24])])
        assert (dense.a_star < 0).any()  # the direct local trip is exercised too
