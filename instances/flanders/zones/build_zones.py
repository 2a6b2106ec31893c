"""Build the candidate-zone layer of Flanders from CORINE Land Cover 2018 (classes 121 and 123).

One zone per CORINE polygon of class 121 (industrial or commercial units) or 123 (port areas) inside Flanders, cut
by municipality as in the source, with its municipality, area, type, seaport and an **estimated free area**:

* class-121 zones outside the seaport areas share their municipality's unoccupied business-park hectares (2025) in
  proportion to area (assumption ``zone_free_land_allocation`` in ``models/assumptions.toml``);
* zones inside one of the four seaport areas (Antwerpen, Gent, Brugge-Zeebrugge, Oostende; digest §1.5, §6) share
  ``seaport_free_share`` x the study's port area (assumption ``seaport_zone_free_allocation``);
* a municipality with free land but no class-121 zone outside the ports keeps an aggregate candidate at its
  centroid (``aggregate = true``).

Writes ``zones.gpkg`` next to this script (EPSG:31370) with three layers:

``zones``                 polygons, one per CORINE polygon
``aggregate_candidates``  points, one per municipality with free land and no zone
``seaport_areas``         polygons, one per seaport (closing of its class-123 polygons)

The third-party inputs are read from ``../shared/data/flanders`` and never copied. Run from the project root::

    python instances/flanders/zones/build_zones.py [--shared ../shared/data/flanders] [--out DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parents[1]))  # instances/: the shared build helpers

from build_common import flanders_arguments  # noqa: E402

CRS = "EPSG:31370"
CORINE = "economic_zones/corine_2018/clc2018_industrial_port_flanders.gpkg"
PARKS = "economic_zones/bedrijventerreinen_per_municipality_2025.csv"
PORTS = "transport/eurostat_ports_flanders_approx.csv"

# The study's four seaports (digest §1.5, L12424-12430; §6): study area, the municipalities their port land lies in
# (2025 NIS codes), and the Eurostat port points (UN/LOCODE) that anchor each port. A class-123 polygon belongs to a
# seaport when it lies in one of the port's municipalities within SEAPORT_ANCHOR_MAX_KM of one of its anchors; the
# other class-123 polygons (Temse shipyard, Nieuwpoort marina) are port zones of no seaport.
SEAPORTS: dict[str, dict] = {
    "Antwerpen": {"study_ha": 19570.0, "nis": (11002, 11044, 46030), "anchors": ("BEANR",)},
    "Gent": {"study_ha": 4669.0, "nis": (44021, 44019, 43018), "anchors": ("BEGNE", "BEZEL", "BETDK", "BELGB")},
    "Brugge-Zeebrugge": {"study_ha": 3585.0, "nis": (31005, 31043), "anchors": ("BEZEE", "BEBGS")},
    "Oostende": {"study_ha": 705.0, "nis": (35013,), "anchors": ("BEOST",)},
}
SEAPORT_ANCHOR_MAX_KM = 15.0
# Geometry simplification: the CORINE polygons are 100 m raster steps whose corners carry the shape (simplifying by
# 10-50 m removes few vertices and moves small polygons by more than 1 %), so only collinear vertices go (1 m).
SIMPLIFY_M = 1.0
ZONE_TYPES = {121: "industrial", 123: "port"}


def read_assumptions(models_dir: Path) -> dict[str, object]:
    """Values of the named assumptions used here (``models/assumptions.toml``)."""
    with open(models_dir / "assumptions.toml", "rb") as fh:
        a = tomllib.load(fh)["assumptions"]
    names = ("seaport_free_share", "seaport_area_closing_m", "seaport_zone_min_share", "zone_free_land_allocation",
             "seaport_zone_free_allocation")
    return {n: a[n]["value"] for n in names}


def build(shared: Path, models_dir: Path = PROJECT_ROOT / "models") -> dict[str, gpd.GeoDataFrame]:
    """Build the three layers (GeoDataFrames in EPSG:31370) from the shared ``data/flanders`` folder."""
    a = read_assumptions(models_dir)
    if a["zone_free_land_allocation"] != "proportional_to_area_capped" or \
            a["seaport_zone_free_allocation"] != "proportional_to_area":
        raise SystemExit("only the 'proportional_to_area' allocation rule is implemented")
    src = gpd.read_file(shared / CORINE)
    if src.crs is None or not src.crs.equals(CRS):
        src = src.to_crs(CRS)
    src["nis"] = src["nis_gemeente"].astype(int)
    src = src[src["clc_code"].isin(ZONE_TYPES)].copy()
    parks = pd.read_csv(shared / PARKS)
    munis = pd.read_csv(PROJECT_ROOT / "instances" / "flanders" / "municipalities.csv")
    ports = pd.read_csv(shared / PORTS).set_index("locode")

    # --- seaport of each class-123 polygon, and the seaport areas ----------------------------------------------
    centroid = src.geometry.centroid
    src["seaport"] = ""
    for name, spec in SEAPORTS.items():
        ax = ports.loc[list(spec["anchors"]), "x_l72"].to_numpy(float)
        ay = ports.loc[list(spec["anchors"]), "y_l72"].to_numpy(float)
        d_km = np.hypot(centroid.x.to_numpy()[:, None] - ax, centroid.y.to_numpy()[:, None] - ay).min(axis=1) / 1e3
        hit = (src["clc_code"] == 123) & src["nis"].isin(spec["nis"]) & (d_km <= SEAPORT_ANCHOR_MAX_KM)
        src.loc[hit, "seaport"] = name
    d = float(a["seaport_area_closing_m"])
    areas = []
    for name, spec in SEAPORTS.items():
        port_polys = src.loc[src["seaport"] == name, "geometry"]
        closed = shapely.buffer(shapely.buffer(shapely.union_all(port_polys.to_numpy()), d), -d)
        closed = shapely.make_valid(shapely.union(closed, shapely.union_all(port_polys.to_numpy())))
        areas.append({"seaport": name, "study_area_ha": spec["study_ha"], "geometry": closed})
    seaport_areas = gpd.GeoDataFrame(areas, crs=CRS)

    # class-121 zones that lie mostly inside a seaport area
    ind = src["clc_code"] == 121
    for row in seaport_areas.itertuples():  # four seaports
        share = shapely.area(shapely.intersection(src.geometry.to_numpy(), row.geometry)) / src.geometry.area
        src.loc[ind & (share.to_numpy() >= float(a["seaport_zone_min_share"])), "seaport"] = row.seaport

    # --- zone ids, names, free land ---------------------------------------------------------------------------
    src["_cx"] = centroid.x.round(0)
    src = src.sort_values(["nis", "clc_code", "area_ha", "_cx"], ascending=[True, True, False, True])
    src["_k"] = src.groupby("nis").cumcount() + 1
    zones = gpd.GeoDataFrame({
        "zone_id": [f"Z{n}-{k:02d}" for n, k in zip(src["nis"], src["_k"])],
        "name": [f"{g} {ZONE_TYPES[c]} zone {k}" for g, c, k in zip(src["gemeente"], src["clc_code"], src["_k"])],
        "zone_class": src["clc_code"].map(ZONE_TYPES).to_numpy(),
        "clc_code": src["clc_code"].to_numpy(int),
        "nis": src["nis"].to_numpy(int),
        "municipality": src["gemeente"].to_numpy(),
        "seaport": src["seaport"].to_numpy(),
        "area_ha": src["area_ha"].to_numpy(float),
        "aggregate": False,
    }, geometry=src.geometry.to_numpy(), crs=CRS).reset_index(drop=True)
    zones["free_ha"] = 0.0
    zones["free_basis"] = ""

    # seaport zones: seaport_free_share x study area, by area
    share = float(a["seaport_free_share"])
    for name, spec in SEAPORTS.items():
        sel = zones["seaport"] == name
        w = zones.loc[sel, "area_ha"].to_numpy()
        zones.loc[sel, "free_ha"] = share * spec["study_ha"] * w / w.sum()
        zones.loc[sel, "free_basis"] = "seaport_free_share"
    # industrial zones outside the ports: the municipality's unoccupied hectares, by area
    free = parks.set_index("nis")["unoccupied_ha"]
    total = parks.set_index("nis")["total_ha"]
    muni_zone = (zones["zone_class"] == "industrial") & (zones["seaport"] == "")
    allocated = _capped_shares(zones.loc[muni_zone, "nis"].to_numpy(), zones.loc[muni_zone, "area_ha"].to_numpy(),
                               free)
    zones.loc[muni_zone, "free_ha"] = allocated
    zones.loc[muni_zone, "free_basis"] = "municipal_share"
    zones.loc[(zones["free_basis"] == ""), "free_basis"] = "none"

    # --- aggregate candidates: free land that no zone carries (no zone, or zones too small) ------------------------
    carried = zones.loc[muni_zone].groupby("nis")["free_ha"].sum()
    rest = free - carried.reindex(free.index).fillna(0.0)
    m = munis.set_index("nis")
    agg_nis = [n for n in free.index if rest[n] > 1e-6]
    aggregates = gpd.GeoDataFrame({
        "zone_id": [f"AGG-{n}" for n in agg_nis],
        "name": [f"Economische zones {m.loc[n, 'name']} (aggregate)" for n in agg_nis],
        "zone_class": "industrial",
        "clc_code": 0,
        "nis": np.asarray(agg_nis, dtype=int),
        "municipality": [m.loc[n, "name"] for n in agg_nis],
        "seaport": "",
        "area_ha": total.reindex(agg_nis).to_numpy(float),
        "aggregate": True,
        "free_ha": rest.reindex(agg_nis).to_numpy(float),
        "free_basis": ["municipal_aggregate" if n not in carried.index else "municipal_rest" for n in agg_nis],
    }, geometry=gpd.points_from_xy(m.loc[agg_nis, "x"], m.loc[agg_nis, "y"]), crs=CRS)

    zones["geometry"] = _simplify(zones.geometry.to_numpy(), SIMPLIFY_M)
    rep = shapely.point_on_surface(zones.geometry.to_numpy())
    zones["x"], zones["y"] = np.round(shapely.get_x(rep), 1), np.round(shapely.get_y(rep), 1)
    aggregates["x"], aggregates["y"] = aggregates.geometry.x.round(1), aggregates.geometry.y.round(1)
    for df in (zones, aggregates):
        df["free_ha"] = df["free_ha"].round(4)
        df["area_ha"] = df["area_ha"].round(3)
    zones["free_ha"] = np.minimum(zones["free_ha"], zones["area_ha"])  # rounding never puts more free land than area
    seaport_areas["area_ha"] = (seaport_areas.geometry.area / 1e4).round(1)
    seaport_areas["n_zones"] = [int((zones["seaport"] == s).sum()) for s in seaport_areas["seaport"]]
    seaport_areas["free_ha"] = [round(share * s["study_ha"], 4) for s in SEAPORTS.values()]
    seaport_areas["geometry"] = _simplify(seaport_areas.geometry.to_numpy(), SIMPLIFY_M)
    # the municipality's business-park hectares (the typology's large-industry stand-in counts per municipality)
    for df in (zones, aggregates):
        df["municipal_park_ha"] = total.reindex(df["nis"]).fillna(0.0).round(2).to_numpy()
    cols = ["zone_id", "name", "zone_class", "clc_code", "nis", "municipality", "seaport", "area_ha",
            "municipal_park_ha", "free_ha", "free_basis", "aggregate", "x", "y", "geometry"]
    _check(zones, aggregates, parks, seaport_areas)
    return {"zones": zones[cols], "aggregate_candidates": aggregates[cols],
            "seaport_areas": seaport_areas[["seaport", "study_area_ha", "area_ha", "n_zones", "free_ha", "geometry"]]}


def _capped_shares(nis: np.ndarray, area: np.ndarray, free: pd.Series) -> np.ndarray:
    """Each municipality's free hectares over its zones in proportion to area, no zone above its own area.

    Water-filling per municipality: zones that would get more than their area are filled and the rest is shared over
    the others, until no zone overflows (at most one round per zone). What cannot be placed stays unallocated.
    """
    out = np.zeros(len(area))
    for n in np.unique(nis):  # municipalities (at build time)
        rows = np.flatnonzero(nis == n)
        left, open_ = float(free.get(n, 0.0)), rows.copy()
        while left > 1e-9 and len(open_):
            share = left * area[open_] / area[open_].sum()
            full = share >= area[open_] - out[open_]
            if not full.any():
                out[open_] += share
                left = 0.0
                break
            left -= float((area[open_][full] - out[open_][full]).sum())
            out[open_[full]] = area[open_[full]]
            open_ = open_[~full]
    return out


def _simplify(geoms: np.ndarray, tol_m: float) -> np.ndarray:
    """Simplify polygons without making any invalid, empty or more than 1 % off in area (else keep the original)."""
    simple = shapely.simplify(geoms, tol_m, preserve_topology=True)
    ok = shapely.is_valid(simple) & ~shapely.is_empty(simple) & (
        np.abs(shapely.area(simple) - shapely.area(geoms)) <= 0.01 * shapely.area(geoms))
    out = np.where(ok, simple, geoms)
    return shapely.set_precision(out, 0.1)  # decimetres are plenty for 100 m raster polygons


def _check(zones: gpd.GeoDataFrame, aggregates: gpd.GeoDataFrame, parks: pd.DataFrame,
           seaport_areas: gpd.GeoDataFrame) -> None:
    if not zones.geometry.is_valid.all() or zones.geometry.is_empty.any():
        raise AssertionError("invalid or empty zone geometry after simplification")
    if zones["zone_id"].duplicated().any():
        raise AssertionError("duplicate zone ids")
    muni_free = pd.concat([zones.loc[zones["free_basis"] == "municipal_share", ["nis", "free_ha"]],
                           aggregates[["nis", "free_ha"]]]).groupby("nis")["free_ha"].sum()
    src = parks.set_index("nis")["unoccupied_ha"]
    src = src[src > 0]
    diff = (muni_free.reindex(src.index).fillna(0) - src).abs().max()
    if diff > 0.01:
        raise AssertionError(f"municipal free land not preserved (max difference {diff:.4f} ha)")
    for row in seaport_areas.itertuples():
        got = zones.loc[zones["seaport"] == row.seaport, "free_ha"].sum()
        if abs(got - row.free_ha) > 0.01:
            raise AssertionError(f"seaport {row.seaport}: free land {got} != {row.free_ha}")


def write(layers: dict[str, gpd.GeoDataFrame], out: Path) -> Path:
    """Write the layers into ``out/zones.gpkg`` atomically (temporary file, then rename)."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / "zones.gpkg"
    fd, tmp = tempfile.mkstemp(prefix=".zones.", suffix=".gpkg", dir=out)
    os.close(fd)
    os.unlink(tmp)
    try:
        for name, gdf in layers.items():
            gdf.to_file(tmp, layer=name, driver="GPKG")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    args = flanders_arguments(argv, doc=__doc__, here=HERE)
    if args is None:
        return 2
    layers = build(args.shared)
    path = write(layers, args.out)
    z, ag, sp = layers["zones"], layers["aggregate_candidates"], layers["seaport_areas"]
    print(f"{path}: {path.stat().st_size:,} bytes")
    print(f"zones: {len(z)} ({(z.zone_class == 'industrial').sum()} industrial, {(z.zone_class == 'port').sum()} port); "
          f"{z.area_ha.sum():,.0f} ha; free {z.free_ha.sum():,.1f} ha; vertices "
          f"{shapely.get_num_coordinates(z.geometry.to_numpy()).sum():,}")
    print(f"aggregate candidates: {len(ag)}; free {ag.free_ha.sum():,.1f} ha")
    print(sp.drop(columns="geometry").to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
