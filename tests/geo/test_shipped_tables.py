"""The shipped geography tables (zones, real networks): checks that need no ../shared, plus rebuild checks that do.

Zones: ``instances/flanders/zones/zones.gpkg``; networks: ``instances/networks_etisplus``, ``networks_infrabel``,
``osm_odbl`` (see their READMEs).
"""

from __future__ import annotations

import tomllib

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import connected_components

from optimizer.geo.access import access_attributes
from optimizer.geo.access_rules import AccessParameters
from optimizer.geo.network_costs import pair_costs
from optimizer.geo.network_tables import DEFAULT_NETWORK_DIRS, load_network_tables, mode_csr, to_networkx
from optimizer.geo.zones import ZONES_GPKG, load_seaport_areas, load_zones, seaport_of, zone_facility_points
from optimizer.settings import PROJECT_ROOT
from tests.conftest import needs_shared

SEAPORTS = {"Antwerpen": 19570.0, "Gent": 4669.0, "Brugge-Zeebrugge": 3585.0, "Oostende": 705.0}


@pytest.fixture(scope="module")
def zones() -> gpd.GeoDataFrame:
    return load_zones()


@pytest.fixture(scope="module")
def tables():
    return load_network_tables()


def _assumption(name: str):
    with open(PROJECT_ROOT / "models" / "assumptions.toml", "rb") as fh:
        return tomllib.load(fh)["assumptions"][name]["value"]


# --- zones ---------------------------------------------------------------------------------------------------------
def test_every_zone_valid_with_unique_id(zones):
    poly = zones[~zones["aggregate"]]
    assert len(poly) == 732 and poly.geometry.is_valid.all() and not poly.geometry.is_empty.any()
    assert set(poly.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert set(zones.loc[zones["aggregate"], "geometry"].geom_type) == {"Point"}
    assert zones["zone_id"].is_unique
    assert set(poly["zone_class"]) == {"industrial", "port"}
    assert (poly["free_ha"] <= poly["area_ha"] + 1e-9).all()  # no zone holds more free land than its area
    # CORINE areas (source README: 38,944 ha class 121, 7,354 ha class 123); the geometry keeps them within 1 %
    assert poly.groupby("clc_code")["area_ha"].sum().round(0).to_dict() == {121: 38944.0, 123: 7354.0}
    np.testing.assert_allclose(poly.geometry.area / 1e4, poly["area_ha"], rtol=0.01, atol=0.05)


def test_free_land_equals_the_municipal_source_totals(zones):
    """Zones + aggregates of each municipality carry exactly its unoccupied business-park hectares."""
    base = pd.read_csv(PROJECT_ROOT / "instances" / "flanders" / "candidates.csv")
    src = base[base["zone_type"] == "economic_zone"].set_index("nis")["free_ha"]
    municipal = zones[zones["free_basis"].isin(["municipal_share", "municipal_aggregate", "municipal_rest"])]
    got = municipal.groupby("nis")["free_ha"].sum().reindex(src.index).fillna(0.0)
    np.testing.assert_allclose(got.to_numpy(), src.to_numpy(), atol=0.01)
    agg = zones[zones["aggregate"]]
    assert (agg["free_ha"] > 0).all()
    with_zone = set(zones.loc[(zones["free_basis"] == "municipal_share"), "nis"])
    # an aggregate only where no zone carries the land, or for what full zones could not hold (their rest)
    assert set(agg.loc[agg["free_basis"] == "municipal_aggregate", "nis"]).isdisjoint(with_zone)
    rest = agg[agg["free_basis"] == "municipal_rest"]
    full = zones[zones["nis"].isin(rest["nis"]) & (zones["free_basis"] == "municipal_share")]
    np.testing.assert_allclose(full["free_ha"], full["area_ha"], atol=1e-3)  # their zones are full


def test_seaport_zones_share_the_study_port_land(zones):
    share = float(_assumption("seaport_free_share"))
    for port, ha in SEAPORTS.items():
        z = zones[zones["seaport"] == port]
        assert len(z) >= 1 and (z["free_basis"] == "seaport_free_share").all()
        assert z["free_ha"].sum() == pytest.approx(share * ha, abs=0.01)
        np.testing.assert_allclose(z["free_ha"] / z["free_ha"].sum(), z["area_ha"] / z["area_ha"].sum(), atol=1e-5)
    # port polygons of no seaport (Temse, Nieuwpoort) and industrial zones outside the ports
    other_ports = zones[(zones["zone_class"] == "port") & (zones["seaport"] == "")]
    assert set(other_ports["municipality"]) == {"Temse", "Nieuwpoort"}


def test_seaport_by_geometry_matches_the_layer(zones):
    areas = load_seaport_areas()
    assert list(areas["seaport"]) == list(SEAPORTS)
    got = seaport_of(zones.geometry.to_numpy(), areas, min_share=float(_assumption("seaport_zone_min_share")))
    ports = zones["zone_class"] == "port"
    # every zone the layer puts in a seaport is in it by geometry; the Antwerp city zones are not
    assert (got[zones["seaport"] != ""] == zones.loc[zones["seaport"] != "", "seaport"]).all()
    city = zones[(zones["municipality"] == "Antwerpen") & (zones["seaport"] == "") & ~ports]
    assert len(city) >= 10 and (got[city.index] == "").all()


def test_facility_points_inside_their_zones(zones, tables):
    xy, _ = zone_facility_points(tables, zones.geometry.to_numpy())
    attrs = access_attributes(tables, zones.geometry.to_numpy(), access_xy=xy)
    poly = ~zones["aggregate"].to_numpy()
    pts = shapely.points(xy[poly])
    assert shapely.contains(zones.geometry.to_numpy()[poly], pts).all()
    assert attrs["knooppuntwaarde"].between(0, 1).all()
    # the study's "at least 2 performant modes" keeps a real share of the zones, not all, not none
    share = (attrs["n_modes"] >= 2).mean()
    assert 0.2 < share < 0.9
    # zones that touch a CEMT >= IV waterway got their own quay: distance ~0
    assert (attrs["water_km"] <= 0.1).sum() >= 150


# --- networks ------------------------------------------------------------------------------------------------------
def test_networks_load_and_each_mode_is_connected(tables):
    links = tables.links
    for mode in ("road", "water", "rail"):
        m = links["mode"].to_numpy() == mode
        csr = mode_csr(tables, m)
        used = np.unique(np.concatenate(tables.link_ends(links[m])))
        n, label = connected_components(csr[used][:, used], directed=False)
        assert n == 1, f"{mode}: {n} components"
    assert to_networkx(tables, ["water"]).number_of_nodes() > 1500


def test_network_attributes_present(tables):
    n, lk = tables.nodes, tables.links
    road, water, rail = (lk[lk["mode"] == m] for m in ("road", "water", "rail"))
    assert set(road["road_class"]) >= {"motorway", "N", "R"} and road["speed_kmh"].between(30, 130).all()
    assert (road["lanes"] >= 1).all()
    assert set(water["cemt"]) <= set(range(1, 8)) and (water["cemt"] >= 4).mean() > 0.6
    assert set(water.loc[water["source"] == "etisplus", "cemt"]) == {1, 2, 3, 4, 5, 6}
    assert set(rail["freight_cat"]) >= {"F1", "F2", "F3"} and (rail["tracks"] >= 0).all()
    kinds = n.groupby("kind").size()
    assert kinds["motorway_exit"] > 150 and kinds["motorway_junction"] > 20
    assert kinds["rail_terminal"] == 13 and kinds["port"] == 32 and kinds["quay"] >= 150
    assert set(n.loc[n["kind"] == "port", "locode"].str[:2]) == {"BE"}
    # link lengths are real geometry: never shorter than the chord, about the geometry's length
    np.testing.assert_allclose(lk["length_km"], lk.geometry.length / 1000.0, rtol=0.02, atol=0.005)


def test_csgraph_path_equals_networkx_on_the_road_network(tables):
    """A point placed on a road node costs exactly c_road x the networkx shortest path to another node."""
    g = to_networkx(tables, ["road"])
    entry = tables.nodes[(tables.nodes["mode"] == "road") & tables.nodes["kind"].isin(["road_node",
                                                                                       "motorway_exit"])]
    rng = np.random.default_rng(3)
    a, b = entry.iloc[rng.choice(len(entry), 6, replace=False)], entry.iloc[rng.choice(len(entry), 5, replace=False)]
    import dataclasses

    p = dataclasses.replace(AccessParameters.from_toml(), cost_eur_per_tkm={"road": 0.1, "water": 0.03, "rail": 0.05},
                            k_access=1)
    pc = pair_costs(a[["x", "y"]].to_numpy(), b[["x", "y"]].to_numpy(), tables, params=p, direct=False)
    want = np.array([[nx.shortest_path_length(g, u, v, weight="length_km") for v in b["node_id"]]
                     for u in a["node_id"]])
    # equal to the millimetre (the stored link geometry is rounded to 1 cm, the projection onto it differs by less)
    np.testing.assert_allclose(pc.cost_eur_per_t, 0.1 * want, rtol=1e-7, atol=1e-6)


def test_shipped_files_are_compact():
    sizes = {d.name: (d / "network.gpkg").stat().st_size for d in DEFAULT_NETWORK_DIRS}
    sizes["zones"] = ZONES_GPKG.stat().st_size
    assert all(s < 2_000_000 for s in sizes.values()), sizes
    streets = PROJECT_ROOT / "instances" / "osm_odbl" / "antwerp_streets.gpkg"  # 18,000 rows: nodes and streets
    assert streets.stat().st_size < 3_000_000


def test_antwerp_street_instance_runs_on_the_osm_streets(tmp_path):
    """The local instance replaces the road layer with the OSM streets of the Antwerp extract: every allocation's
    route is a street route (no local straight-line trip), no shorter than the straight line."""
    from optimizer.pipeline import run

    r = run("antwerp-kringloop", out_dir=tmp_path / "antw")
    geo = r.model.geography
    road = geo.tables.links[geo.tables.links["mode"] == "road"]
    assert set(road["source"]) == {"osm"} and len(road) > 10_000
    assert any(s.endswith("antwerp_streets.gpkg") for s in geo.tables.sources)
    alloc = r.tables.allocations
    assert len(r.tables.facilities) == 1 and len(alloc) == 44 and set(alloc["route"]) == {"road"}
    assert r.summary["geography"]["local_trip_max_km"] == 0.0
    nets = gpd.read_file(tmp_path / "antw" / "result.gpkg", layer="networks")
    assert (nets.loc[nets["mode"] == "road", "licence"].str.contains("ODbL")).all()


# --- rebuild from ../shared ------------------------------------------------------------------------------------------
@needs_shared
@pytest.mark.slow
def test_build_scripts_reproduce_the_shipped_tables(tmp_path, shared_dir):
    import importlib.util

    def run(path, *args):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        assert mod.main(list(args)) == 0

    data = shared_dir / "data"
    run(PROJECT_ROOT / "instances/flanders/zones/build_zones.py", "--shared", str(data / "flanders"), "--out",
        str(tmp_path / "zones"))
    for layer in ("zones", "aggregate_candidates", "seaport_areas"):
        a = gpd.read_file(tmp_path / "zones" / "zones.gpkg", layer=layer)
        b = gpd.read_file(ZONES_GPKG, layer=layer)
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                      pd.DataFrame(b.drop(columns="geometry")))
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0.01).all()
    # the networks build on the shipped zones; each must equal the shipped table
    for folder, script in (("networks_etisplus", "build_etisplus.py"), ("networks_infrabel", "build_infrabel.py"),
                           ("osm_odbl", "build_osm_docks.py")):
        run(PROJECT_ROOT / "instances" / folder / script, "--shared", str(data), "--out", str(tmp_path / folder))
        for layer in ("nodes", "links"):
            a = gpd.read_file(tmp_path / folder / "network.gpkg", layer=layer)
            b = gpd.read_file(PROJECT_ROOT / "instances" / folder / "network.gpkg", layer=layer)
            pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                          pd.DataFrame(b.drop(columns="geometry")))
