"""Seeded fine-grained Flanders instances: thousands of demand points and candidate parcels.

Planners will not stop at 285 municipalities. This generator needs only what the project ships
(``instances/flanders/*.csv``): demand points are spread over each municipality in proportion to its population
— inside its polygon when a boundaries file is given, otherwise uniformly within its equivalent-area disk — and
candidate parcels in proportion to its business-park hectares. The same seed gives the same tables.
:func:`optimizer.model.fine.fine_instance` adds the networks' access attributes to the parcels and
:func:`optimizer.model.fine.fine_location_problem` turns the tables into a p-median.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.settings import CRS, PROJECT_ROOT

FLANDERS_DIR = PROJECT_ROOT / "instances" / "flanders"
M_PER_KM = 1000.0


def largest_remainder(weights: np.ndarray, total: int, minimum: int = 0) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (Hamilton's method), each at least ``minimum``."""
    w = np.asarray(weights, dtype=float)
    base = np.where(w > 0, minimum, 0)
    rest = total - int(base.sum())
    if rest < 0:
        msg = f"cannot give {minimum} to each of {int((w > 0).sum())} units within a total of {total}"
        raise ValueError(msg)
    quota = w / w.sum() * rest
    counts = np.floor(quota).astype(int)
    short = rest - counts.sum()
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[:short]] += 1
    return base + counts


def _points_in_disks(rng: np.random.Generator, cx: np.ndarray, cy: np.ndarray, radius_m: np.ndarray,
                     counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform points in disks (vectorised): returns x, y and the index of the disk of each point."""
    owner = np.repeat(np.arange(len(counts)), counts)
    r = radius_m[owner] * np.sqrt(rng.random(len(owner)))
    theta = rng.random(len(owner)) * 2.0 * np.pi
    return cx[owner] + r * np.cos(theta), cy[owner] + r * np.sin(theta), owner


def _points_in_polygons(rng: np.random.Generator, polygons, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """Uniform points inside polygons by vectorised rejection sampling in each polygon's bounding box."""
    import shapely

    xs, ys, owners = [], [], []
    bounds = shapely.bounds(polygons)
    for k in np.flatnonzero(counts):  # loop over municipalities (285), never over pairs
        need, got_x, got_y = int(counts[k]), [], []
        minx, miny, maxx, maxy = bounds[k]
        while need > 0:
            n_try = max(16, need * 3)
            px = minx + (maxx - minx) * rng.random(n_try)
            py = miny + (maxy - miny) * rng.random(n_try)
            inside = shapely.contains_xy(polygons[k], px, py)
            px, py = px[inside][:need], py[inside][:need]
            got_x.append(px)
            got_y.append(py)
            need -= len(px)
        xs.append(np.concatenate(got_x))
        ys.append(np.concatenate(got_y))
        owners.append(np.full(int(counts[k]), k))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owners)


def parcel_land(rng: np.random.Generator, counts: np.ndarray, total_ha: np.ndarray, free_ha: np.ndarray,
                sigma: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Total and free hectares of each parcel (parcels ordered by municipality, ``counts`` per municipality).

    ``sigma`` ``None``: every parcel an equal share of its municipality's total and free hectares (the first
    fine instances). Otherwise (named assumption ``parcel_size_lognormal_sigma``): parcel sizes are lognormal with
    shape ``sigma``, scaled so that a municipality's parcels add up to its business-park hectares, and its free
    hectares lie on **whole parcels**, taken in a seeded random order until they run out (the last one partly
    free). Vacant land on a business park is vacant plots, not a thin share of every plot: with equal shares
    10,000 parcels leave five arrondissements without a parcel a bank fits on (issue 18).
    """
    owner = np.repeat(np.arange(len(counts)), counts)
    total_ha = np.asarray(total_ha, float)
    free_ha = np.minimum(np.asarray(free_ha, float), total_ha)
    if sigma is None:
        per = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        return total_ha[owner] * per[owner], free_ha[owner] * per[owner]
    raw = rng.lognormal(0.0, float(sigma), len(owner))
    sums = np.bincount(owner, weights=raw, minlength=len(counts))
    total = total_ha[owner] * raw / sums[owner]
    order = np.lexsort((rng.random(len(owner)), owner))  # per municipality, a seeded random order
    size = total[order]
    group_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    before = np.cumsum(size) - size  # land of the parcels earlier in the whole order
    before -= np.repeat(before[group_start[counts > 0]], counts[counts > 0])  # ... within the municipality
    free = np.empty(len(owner))
    free[order] = np.clip(free_ha[owner[order]] - before, 0.0, size)
    return total, free


def fine_points(
    n_demand: int,
    n_candidates: int,
    *,
    seed: int = 0,
    boundaries: Path | None = None,
    municipalities: pd.DataFrame | None = None,
    sites: pd.DataFrame | None = None,
    neighbourhoods: pd.DataFrame | None = None,
    parcel_sigma: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate demand points and candidate parcels for all of Flanders (without access attributes).

    Parameters
    ----------
    n_demand, n_candidates
        Number of demand points (at least one per municipality, so at least 285) and candidate parcels
        (proportional to business-park hectares; municipalities without business parks get none).
    seed
        Seed of numpy's default generator; the same seed gives the same tables.
    boundaries
        Optional polygon layer of the 2025 municipalities with a ``nis`` (or ``NISCODE``/``CODE_INS``) column, any
        CRS; points are then drawn inside the polygons instead of equivalent-area disks.
    municipalities, sites
        Base tables (default: the shipped ``instances/flanders/municipalities.csv`` and ``candidates.csv``).
    neighbourhoods
        Optional demand units below the municipality (``instances/flanders/neighbourhoods.csv``: ``nis2025``,
        ``population``, ``area_km2``, ``x``, ``y``): points are then spread over the neighbourhoods in proportion to
        their population (at least one per inhabited neighbourhood; the population itself is the named assumption
        ``neighbourhood_population_rule``), uniformly within each one's equivalent-area disk.
    parcel_sigma
        Parcel sizes (:func:`parcel_land`): ``None`` equal shares, else the lognormal shape.

    Returns
    -------
    demand, candidates : pandas.DataFrame
        Coordinates ``x``/``y`` in EPSG:31370 metres. Demand has ``point_id``, ``nis``, ``arrondissement``,
        ``weight`` (inhabitants represented). Candidates have ``site_id``, ``nis``, ``arrondissement``,
        ``free_ha``, ``total_ha`` (the municipality's hectares split equally over its parcels).
    """
    rng = np.random.default_rng(seed)
    munis = pd.read_csv(FLANDERS_DIR / "municipalities.csv") if municipalities is None else municipalities
    sites = pd.read_csv(FLANDERS_DIR / "candidates.csv") if sites is None else sites
    zones = sites[sites["zone_type"] == "economic_zone"].set_index("nis").reindex(munis["nis"])
    radius_m = np.sqrt(munis["area_km2"].to_numpy() / np.pi) * M_PER_KM
    c_counts = largest_remainder(zones["total_ha"].fillna(0).to_numpy(), n_candidates)
    if neighbourhoods is not None:
        return _neighbourhood_points(rng, n_demand, c_counts, munis, zones, neighbourhoods, radius_m, parcel_sigma)
    d_counts = largest_remainder(munis["population"].to_numpy(), n_demand, minimum=1)

    if boundaries is not None:
        polygons = _boundary_polygons(boundaries, munis["nis"].to_numpy())
        dx, dy, d_owner = _points_in_polygons(rng, polygons, d_counts)
        cx, cy, c_owner = _points_in_polygons(rng, polygons, c_counts)
    else:
        mx, my = munis["x"].to_numpy(), munis["y"].to_numpy()
        dx, dy, d_owner = _points_in_disks(rng, mx, my, radius_m, d_counts)
        cx, cy, c_owner = _points_in_disks(rng, mx, my, radius_m, c_counts)

    demand = pd.DataFrame(
        {
            "point_id": [f"D{i:06d}" for i in range(len(dx))],
            "nis": munis["nis"].to_numpy()[d_owner],
            "arrondissement": munis["arrondissement"].to_numpy()[d_owner],
            "weight": munis["population"].to_numpy()[d_owner] / d_counts[d_owner],
            "x": np.round(dx, 1),
            "y": np.round(dy, 1),
        }
    )
    if parcel_sigma is None:  # equal shares, as the first fine instances (their tables stay the same)
        free = zones["free_ha"].fillna(0).to_numpy()[c_owner] / c_counts[c_owner]
        total = zones["total_ha"].fillna(0).to_numpy()[c_owner] / c_counts[c_owner]
    else:
        total, free = parcel_land(rng, c_counts, zones["total_ha"].fillna(0).to_numpy(),
                                  zones["free_ha"].fillna(0).to_numpy(), parcel_sigma)  # fmt: skip
    return demand, _parcels(munis, cx, cy, c_owner, total, free)


def _parcels(munis: pd.DataFrame, cx: np.ndarray, cy: np.ndarray, owner: np.ndarray, total: np.ndarray,
             free: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id": [f"P{i:05d}" for i in range(len(cx))],
            "nis": munis["nis"].to_numpy()[owner],
            "arrondissement": munis["arrondissement"].to_numpy()[owner],
            "free_ha": np.round(free, 3),
            "total_ha": np.round(total, 3),
            "x": np.round(cx, 1),
            "y": np.round(cy, 1),
        }
    )


def _neighbourhood_points(rng: np.random.Generator, n_demand: int, c_counts: np.ndarray, munis: pd.DataFrame,
                          zones: pd.DataFrame, hoods: pd.DataFrame, radius_m: np.ndarray, sigma: float | None,
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """:func:`fine_points` with demand drawn over neighbourhoods (see there); parcels as for municipalities."""
    index = pd.Index(munis["nis"].astype(str))
    muni_of = index.get_indexer(hoods["nis2025"].astype(str))
    if (muni_of < 0).any():
        k = int(np.flatnonzero(muni_of < 0)[0])
        msg = f"neighbourhood {hoods.iloc[k].get('neighbourhood_id', k)} lies in no municipality of the base table"
        raise ValueError(msg)
    population = hoods["population"].to_numpy(float)
    d_counts = largest_remainder(population, n_demand, minimum=1)
    hood_radius = np.sqrt(hoods["area_km2"].to_numpy(float) / np.pi) * M_PER_KM
    dx, dy, hood = _points_in_disks(rng, hoods["x"].to_numpy(float), hoods["y"].to_numpy(float), hood_radius, d_counts)
    owner = muni_of[hood]
    mx, my = munis["x"].to_numpy(), munis["y"].to_numpy()
    cx, cy, c_owner = _points_in_disks(rng, mx, my, radius_m, c_counts)
    total, free = parcel_land(rng, c_counts, zones["total_ha"].fillna(0).to_numpy(), zones["free_ha"].fillna(0).to_numpy(),
                              sigma)  # fmt: skip
    demand = pd.DataFrame(
        {
            "point_id": [f"D{i:06d}" for i in range(len(dx))],
            "nis": munis["nis"].to_numpy()[owner],
            "arrondissement": munis["arrondissement"].to_numpy()[owner],
            "weight": population[hood] / d_counts[hood],
            "x": np.round(dx, 1),
            "y": np.round(dy, 1),
            "area_km2": hoods["area_km2"].to_numpy(float)[hood] / d_counts[hood],
        }
    )
    return demand, _parcels(munis, cx, cy, c_owner, total, free)


def _boundary_polygons(path: Path, nis: np.ndarray) -> np.ndarray:
    import geopandas as gpd

    from optimizer.errors import InputError

    gdf = gpd.read_file(path)
    if gdf.crs is None:
        raise InputError("the boundaries layer has no CRS", file=path, field="crs")
    gdf = gdf.to_crs(CRS)
    col = next((c for c in ("nis", "NISCODE", "niscode", "CODE_INS", "nis_code", "geoitem") if c in gdf.columns), None)
    if col is None:
        raise InputError("no municipality code column (nis, NISCODE, CODE_INS or geoitem)", file=path, field="nis")
    gdf[col] = pd.to_numeric(gdf[col], errors="coerce")
    by_code = gdf.dissolve(by=col).geometry
    missing = sorted(set(nis) - set(by_code.index))
    if missing:
        raise InputError(f"{len(missing)} municipality codes missing, e.g. {missing[0]}", file=path, field=col)
    return by_code.loc[nis].to_numpy()


def fine_tables(
    n_demand: int,
    n_candidates: int,
    *,
    seed: int,
    municipalities: pd.DataFrame,
    sites: pd.DataFrame,
    boundaries: Path | None = None,
    neighbourhoods: pd.DataFrame | None = None,
    parcel_sigma: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generated demand points and parcels in the instance table schema (what :mod:`optimizer.data.instance` loads).

    Demand points keep every column of their municipality (``nis``, region columns, ``centrumstad``…) so the
    per-arrondissement and per-service-area rules work unchanged; they get their own ``id``, the inhabitants
    they stand for as ``population`` and the area they stand for as ``area_km2`` (the municipality's area over
    its points), which keeps the intrazonal distance term at the scale of a point instead of a municipality.
    Parcels are economic-zone candidates with ``site_id``, ``name``, ``nis``, ``free_ha`` and ``total_ha``.
    """
    demand, parcels = fine_points(n_demand, n_candidates, seed=seed, boundaries=boundaries,
                                  municipalities=municipalities, sites=sites, neighbourhoods=neighbourhoods,
                                  parcel_sigma=parcel_sigma)  # fmt: skip
    munis = municipalities.set_index("nis")
    per_muni = demand.groupby("nis")["point_id"].transform("size").to_numpy()
    base = munis.loc[demand["nis"]].reset_index()
    area = (demand["area_km2"].to_numpy() if "area_km2" in demand  # a neighbourhood's area over its points
            else munis.loc[demand["nis"], "area_km2"].to_numpy() / per_muni)
    points = base.drop(columns=["x", "y", "population", "area_km2"]).assign(
        id=demand["point_id"].to_numpy(),
        population=demand["weight"].to_numpy(),
        area_km2=area,
        x=demand["x"].to_numpy(),
        y=demand["y"].to_numpy(),
    )
    names = munis.loc[parcels["nis"], "name"].to_numpy()
    candidates = parcels.assign(name=[f"{n} parcel {s}" for n, s in zip(names, parcels["site_id"])],
                                zone_type="economic_zone")
    return points[["id", *[c for c in points.columns if c != "id"]]], candidates
