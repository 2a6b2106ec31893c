"""Measure how far the ETISplus geometry lies from finer references (numbers quoted in this folder's README).

* waterways: ETISplus fairways inside Flanders, sampled every 100 m, against the OSM canals/rivers/docks (2015);
* roads: ETISplus A/N/R roads inside the Stad Gent road-segment layer's area, sampled every 100 m, against those
  segments (all classes).

Prints median, p75, p90 and p99 distances in metres. Run from the project root (needs ``../shared``)::

    python instances/networks_etisplus/accuracy.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
ETIS = "belgium/transport/nodus_etisplus/nodus_belgium_multimodal.gpkg"


def deviation_m(lines: np.ndarray, reference: np.ndarray, within) -> np.ndarray:  # noqa: ANN001
    """Distance (m) from points every 100 m along ``lines`` (inside ``within``) to the nearest reference line."""
    pts = shapely.points(shapely.get_coordinates(shapely.segmentize(lines, 100.0)))
    pts = pts[shapely.within(pts, within)]
    _, d = shapely.STRtree(reference).query_nearest(pts, return_distance=True, all_matches=False)
    return d


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get("SITING_SHARED_DIR")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=Path(env) / "data" if env else
                    PROJECT_ROOT.parent / "shared" / "data")
    args = ap.parse_args(argv)
    s = args.shared
    flanders = gpd.read_file(s / "flanders/boundaries/gebiedsniveaus/gewest.shp").to_crs(31370)
    flanders = flanders.loc[flanders["gewest"].astype(int) == 2000, "geometry"].iloc[0]
    rows = []
    iww = gpd.read_file(s / ETIS, layer="iww_polylines").to_crs(31370)
    osm = gpd.read_file(s / "belgium/transport/be_osm_waterways_2015_canal_river.gpkg").to_crs(31370)
    osm = osm[osm["type"].isin(["canal", "river", "dock"])]
    d = deviation_m(iww.geometry.to_numpy(), osm.geometry.to_numpy(), flanders)
    rows.append(("waterways (all CEMT) vs OSM 2015, Flanders", len(d), *np.percentile(d, [50, 75, 90, 99])))
    road = gpd.read_file(s / ETIS, layer="road_polylines").to_crs(31370)
    gent = gpd.read_file(f"zip://{s / 'gent/wegsegmenten-gent.geojson.zip'}").to_crs(31370)
    area = shapely.buffer(shapely.convex_hull(shapely.union_all(gent.geometry.to_numpy())), -1000)
    letter = road["NAME"].fillna("").str.replace(" ", "").str[0]
    for cls in ("A", "N", "R"):
        d = deviation_m(road.loc[letter == cls].geometry.to_numpy(), gent.geometry.to_numpy(), area)
        rows.append((f"{cls} roads vs Stad Gent road segments", len(d), *np.percentile(d, [50, 75, 90, 99])))
    out = pd.DataFrame(rows, columns=["layer", "samples", "median_m", "p75_m", "p90_m", "p99_m"]).round(0)
    print(out.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
