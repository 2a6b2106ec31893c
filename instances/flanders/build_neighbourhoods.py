"""Build ``neighbourhoods.csv``: the 2,526 Flemish neighbourhoods (wijken) as demand units, with a population share.

Run from the project root::

    python instances/flanders/build_neighbourhoods.py [--shared ../shared]

Inputs (read, never copied; credits and licences in ``instances/README.md``):

* ``data/flanders/boundaries/gebiedsniveaus/ggw72024.shp`` — the municipality-defined neighbourhoods built from
  statistical sectors (Provincies in Cijfers, from Statbel sectors), EPSG:31370; each is placed in the 2019-2024
  municipality (``gemeente2024.shp``) that holds its representative point, and the Flemish ones are kept.
* ``data/flanders/municipalities/flanders_municipalities_2019_boundaries.csv`` — population on 1 Jan 2020 (Statbel)
  per 2019-2024 municipality (300) and its 2025 successor (``nis2025``).
* ``data/flanders/economic_zones/corine_2018/CLC2018_V2020_20u1_flanders.tif`` — CORINE Land Cover 2018, 100 m
  cells (EPSG:3035); raster values 1, 2, 3 = CLC 111 continuous urban fabric, 112 discontinuous urban fabric, 121
  industrial or commercial units (legend csv beside it).

Population rule (named assumption ``neighbourhood_population_rule``; the data have no population below the
municipality): **binary dasymetric mapping** (Eicher & Brewer 2001; Mennis 2003) on CORINE's residential classes.
Each 2019-2024 municipality's 2020 population is shared over its neighbourhoods in proportion to the number of
100 m CORINE cells of class 111 or 112 (urban fabric, both weighted 1) whose centre lies in the neighbourhood;
a neighbourhood without such a cell gets no residents. If a whole municipality had no urban-fabric cell its
population would be shared by area (none does in the 2018 data; the script reports it). Shares are rounded to
whole inhabitants by the largest-remainder method, so every municipality's neighbourhoods sum **exactly** to its
population, and the 2025 municipalities (mergers) to theirs. Basis: CORINE is the only land-use layer here; its
25 ha minimum mapping unit misses ribbon and scattered housing, so rural neighbourhoods are under-weighted — use
the shares for urban questions (S3c), not for village-level ones.

Writes ``neighbourhoods.csv`` next to this script (schema in ``instances/README.md``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
CELL_HA = 1.0  # one 100 m x 100 m CORINE cell
RESIDENTIAL_VALUES = (1, 2)  # raster values of CLC 111 and 112 (legend csv: code,value)
INDUSTRIAL_VALUE = 3  # CLC 121
COLUMNS = [
    "neighbourhood_id", "name", "nis2024", "nis2025", "municipality", "centrumstad", "area_km2", "x", "y",
    "clc111_ha", "clc112_ha", "clc121_ha", "population", "population_share",
]  # fmt: skip


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that sum exactly to ``total`` (Hamilton's method).

    Parameters
    ----------
    total
        Integer to share (≥ 0).
    weights
        Non-negative weights with a positive sum.

    Returns
    -------
    numpy.ndarray
        int64 array; ties in the remainders go to the earlier entry.
    """
    w = np.asarray(weights, float)
    exact = total * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    short = int(total - base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base


def share_population(
    population: pd.Series,
    unit_of: pd.Series,
    weight: pd.Series,
    area: pd.Series,
) -> tuple[pd.Series, list[str]]:
    """Population per neighbourhood: each unit's total over its neighbourhoods by ``weight`` (area if all zero).

    Parameters
    ----------
    population
        Whole population per unit (index: unit code).
    unit_of
        Unit code of each neighbourhood (index: neighbourhood id).
    weight, area
        Dasymetric weight and area of each neighbourhood (same index as ``unit_of``).

    Returns
    -------
    (pandas.Series, list)
        Integer population per neighbourhood and the units that fell back to area.
    """
    out = pd.Series(0, index=unit_of.index, dtype="int64")
    fallback: list[str] = []
    for unit, ids in unit_of.groupby(unit_of).groups.items():
        w = weight.loc[ids].to_numpy(float)
        if w.sum() <= 0:
            w = area.loc[ids].to_numpy(float)
            fallback.append(str(unit))
        out.loc[ids] = largest_remainder(int(population.loc[unit]), w)
    return out, fallback


def corine_cells(tif: Path) -> pd.DataFrame:
    """Centres (EPSG:31370, m) and raster values of the CORINE cells of the residential and industrial classes."""
    import rasterio
    from pyproj import Transformer

    with rasterio.open(tif) as src:
        band = src.read(1)
        transform = src.transform
        crs = src.crs
    rows, cols = np.nonzero(np.isin(band, (*RESIDENTIAL_VALUES, INDUSTRIAL_VALUE)))
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
    to_l72 = Transformer.from_crs(crs.to_string(), "EPSG:31370", always_xy=True)
    x, y = to_l72.transform(np.asarray(xs), np.asarray(ys))
    return pd.DataFrame({"x": x, "y": y, "value": band[rows, cols]})


def build(shared: Path) -> pd.DataFrame:
    """The neighbourhood table (see the module docstring); reads ``shared``, writes nothing."""
    import geopandas as gpd

    flanders = shared / "data" / "flanders"
    wijk = gpd.read_file(flanders / "boundaries" / "gebiedsniveaus" / "ggw72024.shp")
    if wijk.crs is None or wijk.crs.to_epsg() != 31370:
        msg = f"ggw72024.shp: expected EPSG:31370, got {wijk.crs}"
        raise ValueError(msg)
    old = pd.read_csv(flanders / "municipalities" / "flanders_municipalities_2019_boundaries.csv", dtype={"nis": str, "nis2025": str})
    new = pd.read_csv(flanders / "municipalities" / "flanders_municipalities_2025.csv", dtype={"nis": str})
    # the neighbourhood codes carry older NIS prefixes (e.g. 44001 for Aalter, 44083 since 2019): the 2019-2024
    # municipality is the one whose polygon holds the neighbourhood's representative point
    muni = gpd.read_file(flanders / "boundaries" / "gebiedsniveaus" / "gemeente2024.shp")[["gemeente", "geometry"]]
    inside = gpd.GeoDataFrame(wijk[["geoitem"]], geometry=wijk.geometry.representative_point(), crs=wijk.crs)
    located = gpd.sjoin(inside, muni.to_crs(wijk.crs), predicate="within", how="left").drop_duplicates("geoitem")
    wijk["nis2024"] = located.set_index("geoitem")["gemeente"].reindex(wijk["geoitem"]).astype(str).to_numpy()
    wijk = wijk[wijk["nis2024"].isin(old["nis"])].copy()
    wijk["nis2025"] = wijk["nis2024"].map(old.set_index("nis")["nis2025"])
    names = new.set_index("nis")
    wijk["municipality"] = wijk["nis2025"].map(names["name_nl"])
    wijk["centrumstad"] = wijk["nis2025"].map(names["centrumstad"]).astype(bool)
    wijk["area_km2"] = wijk.geometry.area / 1e6
    point = wijk.geometry.representative_point()  # inside the polygon, unlike a centroid
    wijk["x"], wijk["y"] = point.x.round(1), point.y.round(1)

    cells = corine_cells(flanders / "economic_zones" / "corine_2018" / "CLC2018_V2020_20u1_flanders.tif")
    pts = gpd.GeoDataFrame(cells, geometry=gpd.points_from_xy(cells["x"], cells["y"]), crs="EPSG:31370")
    hit = gpd.sjoin(pts, wijk[["geoitem", "geometry"]], predicate="within", how="inner")
    hit = hit.drop_duplicates(subset=["x", "y"])  # a centre on a shared edge counts once
    counts = hit.groupby(["geoitem", "value"]).size().unstack(fill_value=0).reindex(wijk["geoitem"], fill_value=0)
    for code, value in (("clc111_ha", 1), ("clc112_ha", 2), ("clc121_ha", INDUSTRIAL_VALUE)):
        wijk[code] = (counts[value] if value in counts else 0).to_numpy() * CELL_HA

    wijk = wijk.set_index("geoitem")
    weight = wijk["clc111_ha"] + wijk["clc112_ha"]
    population, fallback = share_population(old.set_index("nis")["pop2020"], wijk["nis2024"], weight, wijk["area_km2"])
    if fallback:
        print(f"population shared by area (no urban-fabric cell) in: {', '.join(fallback)}", file=sys.stderr)
    wijk["population"] = population
    total_2025 = wijk.groupby("nis2025")["population"].transform("sum")
    wijk["population_share"] = (wijk["population"] / total_2025).round(8)
    wijk["area_km2"] = wijk["area_km2"].round(4)
    table = wijk.reset_index().rename(columns={"geoitem": "neighbourhood_id", "naam": "name"})
    return table[COLUMNS].sort_values("neighbourhood_id").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=PROJECT_ROOT.parent / "shared")
    args = parser.parse_args()
    table = build(args.shared)
    target = HERE / "neighbourhoods.csv"
    tmp = target.with_suffix(".csv.tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, target)
    print(f"{target.relative_to(PROJECT_ROOT)}: {len(table)} neighbourhoods, {table['population'].sum():,} inhabitants, "
          f"{int((table['population'] == 0).sum())} without residents")  # fmt: skip


if __name__ == "__main__":
    main()
