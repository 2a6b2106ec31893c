"""Build the tables of the Antwerp street-level instance (``instances/antwerp-kringloop.toml``).

A local study on the OpenStreetMap extract of Antwerp city (``../shared/data/osm_extracts/antwerp.osm.pbf``, 2014):

``instances/osm_odbl/antwerp_streets.gpkg`` (**ODbL 1.0**, © OpenStreetMap contributors)
    The extract's streets open to motor traffic as network tables (:func:`optimizer.geo.osm.road_graph_from_osm`,
    ways cut by the extract boundary split at the missing nodes; :func:`optimizer.geo.osm.osm_network_tables`), in
    the schema of ``optimizer/geo/network_tables.py``. Geometry simplified to 1 m for storage; lengths are measured
    before.
``instances/antwerp/neighbourhoods.csv``
    The neighbourhoods (``ggw72024``, Departement Omgeving / Provincies in Cijfers, from Statbel sectors) of Antwerpen
    whose representative point lies inside the extract's streets (their convex hull shrunk by 250 m), with a
    population: named assumption ``antwerp_neighbourhood_population_rule`` (binary dasymetric mapping on the CORINE
    2018 urban-fabric cells, classes 111/112, of the whole 2025 municipality: its 2020 population shared in proportion
    to the cells whose centre lies in each neighbourhood). The district (``deelgemeente2024``) holding each point is
    kept for maps.
``instances/antwerp/zones.gpkg``
    The candidate zones of the shipped zone layer (``instances/flanders/zones/zones.gpkg``, CORINE 2018) in Antwerpen
    whose facility point can lie on the extract's streets: representative point inside the same shrunken hull.

Run from the project root (needs ``../shared`` and rasterio)::

    python instances/antwerp/build_antwerp.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from optimizer.geo.network_tables import CRS, write_network_tables  # noqa: E402
from optimizer.geo.osm import osm_network_tables, road_graph_from_osm  # noqa: E402

PBF = "osm_extracts/antwerp.osm.pbf"
NEIGHBOURHOODS = "flanders/boundaries/gebiedsniveaus/ggw72024.shp"
DISTRICTS = "flanders/boundaries/gebiedsniveaus/deelgemeente2024.shp"
CORINE_TIF = "flanders/economic_zones/corine_2018/CLC2018_V2020_20u1_flanders.tif"
ANTWERPEN = {"nis2025": 11002, "nis2024": ("11002", "11007")}  # Borsbeek merged into Antwerpen in 2025
URBAN_FABRIC = (1, 2)  # raster values of CLC 111 and 112 (the legend csv next to the raster)
HULL_INSET_M = 250.0
SIMPLIFY_M = 1.0
STREETS = PROJECT_ROOT / "instances" / "osm_odbl" / "antwerp_streets.gpkg"


def build_streets(shared: Path) -> gpd.GeoDataFrame:
    """Streets of the extract as network tables; returns the study area (hull of the street nodes, shrunk)."""
    tables = osm_network_tables(road_graph_from_osm(shared / PBF), source="osm")
    links = tables.links.copy()
    links["geometry"] = shapely.set_precision(shapely.simplify(links.geometry.to_numpy(), SIMPLIFY_M), 0.01)
    links["geometry"] = np.where(shapely.is_empty(links.geometry.to_numpy()), tables.links.geometry.to_numpy(),
                                 links.geometry.to_numpy())
    nodes = tables.nodes.copy()
    nodes[["x", "y"]] = nodes[["x", "y"]].round(2)
    # a link keeps its measured length; a rounded end never makes it shorter than its chord
    chord = np.hypot(*(nodes.set_index("node_id").loc[links["from_node"], ["x", "y"]].to_numpy()
                       - nodes.set_index("node_id").loc[links["to_node"], ["x", "y"]].to_numpy()).T) / 1000.0
    links["length_km"] = np.maximum(links["length_km"].to_numpy(), chord + 1e-5)
    write_network_tables(nodes, links, STREETS.parent / ".antwerp_tmp")
    os.replace(STREETS.parent / ".antwerp_tmp" / "network.gpkg", STREETS)
    (STREETS.parent / ".antwerp_tmp").rmdir()
    hull = shapely.convex_hull(shapely.multipoints(nodes[["x", "y"]].to_numpy()))
    return gpd.GeoDataFrame(geometry=[shapely.buffer(hull, -HULL_INSET_M)], crs=CRS)


def urban_cells(shared: Path) -> np.ndarray:
    """(n, 2) EPSG:31370 centres of the CORINE 2018 cells of urban fabric (111, 112)."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(shared / CORINE_TIF) as src:
        data = src.read(1)
        rows, cols = np.nonzero(np.isin(data, URBAN_FABRIC))
        xs, ys = rasterio.transform.xy(src.transform, rows, cols, offset="center")
        to_l72 = Transformer.from_crs(src.crs, CRS, always_xy=True)
    x, y = to_l72.transform(np.asarray(xs), np.asarray(ys))
    return np.column_stack([x, y])


def build_neighbourhoods(shared: Path, area: gpd.GeoDataFrame) -> pd.DataFrame:
    """Antwerp neighbourhoods inside the study area with a dasymetric population (see the module docstring)."""
    rule = _assumption("antwerp_neighbourhood_population_rule")
    if rule != "binary_dasymetric_corine_urban_fabric":
        raise SystemExit(f"unknown population rule {rule!r}")
    g = gpd.read_file(shared / NEIGHBOURHOODS).to_crs(CRS)
    g = g[g["geoitem"].astype(str).str[:5].isin(ANTWERPEN["nis2024"])].reset_index(drop=True)
    cells = urban_cells(shared)
    _, owner = shapely.STRtree(g.geometry.to_numpy()).query(shapely.points(cells), predicate="within")
    count = np.bincount(owner, minlength=len(g))
    munis = pd.read_csv(PROJECT_ROOT / "instances" / "flanders" / "municipalities.csv").set_index("nis")
    population = int(munis.loc[ANTWERPEN["nis2025"], "population"])
    share = count / count.sum()
    people = _largest_remainder(share, population)
    rep = g.geometry.representative_point()
    districts = gpd.read_file(shared / DISTRICTS).to_crs(CRS)
    d_idx = shapely.STRtree(districts.geometry.to_numpy()).query(rep.to_numpy(), predicate="within")
    district = np.full(len(g), "", dtype=object)
    district[d_idx[0]] = districts["naam"].to_numpy()[d_idx[1]]
    inside = shapely.within(rep.to_numpy(), area.geometry.iloc[0])
    out = pd.DataFrame({
        "id": g["geoitem"].astype(str), "nis": ANTWERPEN["nis2025"],
        "name": g["naam"].astype(str).str.replace(r" \(Antwerpen\)$| \(Borsbeek\)$", "", regex=True),
        "district": [d.replace(" (Antwerpen)", "").replace(" (Dg.)", "") for d in district],
        "population": people, "urban_cells": count, "area_km2": (g.geometry.area / 1e6).round(4),
        "x": rep.x.round(1), "y": rep.y.round(1), "centrumstad": True, "arrondissement": "Antwerpen",
        "service_area": "Antwerpen",
    })[inside]
    return out.reset_index(drop=True)


def build_zones(area: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The shipped candidate zones of Antwerpen inside the study area (plus none of the aggregates: it has zones)."""
    z = gpd.read_file(PROJECT_ROOT / "instances" / "flanders" / "zones" / "zones.gpkg", layer="zones")
    z = z[(z["nis"] == ANTWERPEN["nis2025"])]
    rep = shapely.point_on_surface(z.geometry.to_numpy())
    return z[shapely.within(rep, area.geometry.iloc[0])].reset_index(drop=True)


def _largest_remainder(share: np.ndarray, total: int) -> np.ndarray:
    quota = share * total
    base = np.floor(quota).astype(int)
    base[np.argsort(-(quota - base), kind="stable")[: total - int(base.sum())]] += 1
    return base


def _assumption(name: str) -> object:
    with open(PROJECT_ROOT / "models" / "assumptions.toml", "rb") as fh:
        return tomllib.load(fh)["assumptions"][name]["value"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(os.environ["SITING_SHARED_DIR"]) / "data" if os.environ.get("SITING_SHARED_DIR") else \
        PROJECT_ROOT.parent / "shared" / "data"
    ap.add_argument("--shared", type=Path, default=default, help="the shared data folder")
    args = ap.parse_args(argv)
    if not (args.shared / PBF).is_file():
        print(f"OSM extract not found: {args.shared / PBF}", file=sys.stderr)
        return 2
    area = build_streets(args.shared)
    hoods = build_neighbourhoods(args.shared, area)
    zones = build_zones(area)
    HERE.mkdir(exist_ok=True)
    hoods.to_csv(HERE / "neighbourhoods.csv", index=False)
    target = HERE / "zones.gpkg"
    target.unlink(missing_ok=True)
    zones.to_file(target, layer="zones", driver="GPKG", SPATIAL_INDEX="NO")
    print(f"{STREETS}: {STREETS.stat().st_size:,} bytes")
    print(f"neighbourhoods: {len(hoods)} in the study area, {hoods['population'].sum():,} inhabitants; "
          f"zones: {len(zones)} ({zones['free_ha'].sum():.1f} ha free)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
