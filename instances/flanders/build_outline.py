"""Build the outline of Flanders (a map backdrop) from the open data in ``../shared/data/flanders``.

Run from the project root::

    python instances/flanders/build_outline.py [--shared ../shared]

Writes ``flanders_outline.csv`` next to this script: one row, the Flemish Region (gewest code 2000) as WKT in
EPSG:31370 (Belgian Lambert 72), simplified to ``SIMPLIFY_M`` metres and rounded to whole metres, so the file stays
small (~30 kB). It is a backdrop for maps that have no boundary layer of their own (the robust-site map of
``siting sensitivity``), not a layer to measure with. Source: the ``gewest`` shapefile of Provincies in Cijfers'
*gebiedsniveaus* (Statbel-based geometry, EPSG:31370); credits and licence in ``instances/README.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
OUTLINE_CSV = HERE / "flanders_outline.csv"
FLANDERS_CODE = 2000  # gewest code of the Flemish Region (4000: Brussels)
SIMPLIFY_M = 250.0  # Douglas-Peucker tolerance: invisible at the scale of a Flanders map (~250 km wide)


def build_outline(shared: Path):
    """The simplified outline of Flanders as a one-row DataFrame (``region``, ``wkt``)."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    regions = gpd.read_file(shared / "data/flanders/boundaries/gebiedsniveaus/gewest.shp")
    if regions.crs is None or regions.crs.to_epsg() != 31370:
        regions = regions.to_crs(31370)
    flanders = regions.loc[regions["gewest"].astype(int) == FLANDERS_CODE, "geometry"].union_all()
    outline = shapely.set_precision(flanders.simplify(SIMPLIFY_M, preserve_topology=True), 1.0)
    return pd.DataFrame({"region": ["Vlaanderen"], "wkt": [outline.wkt]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=PROJECT_ROOT.parent / "shared")
    args = parser.parse_args()
    table = build_outline(args.shared)
    table.to_csv(OUTLINE_CSV, index=False)
    print(f"{OUTLINE_CSV.name}: {len(table['wkt'].iat[0]):,} characters of WKT")


if __name__ == "__main__":
    main()
