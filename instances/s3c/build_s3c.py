"""Build the tables of the S3c urban reuse network (instances/s3c-urban-reuse*.toml) from the shipped fact tables.

Run from the project root (no ../shared needed)::

    python instances/s3c/build_s3c.py

Writes next to this script:

* ``neighbourhoods.csv`` — the demand units: the neighbourhoods (wijken) of the 13 centrumsteden from
  ``instances/flanders/neighbourhoods.csv`` (population by the named rule ``neighbourhood_population_rule``), as a
  demand-point table: ``id`` (neighbourhood id), ``nis`` (2025 municipality), ``name``, ``population``, ``x``,
  ``y`` (EPSG:31370, m; a point inside the neighbourhood), ``area_km2`` (its spread enters every distance as the
  intrazonal term), ``centrumstad``, ``city`` (the region the S3c programmes count and serve per).
* ``candidates.csv`` — the candidate sites (named stand-in ``s3c_candidates``, models/coverage.toml): every rail
  station of the city (``instances/networks/nodes.csv``, kind ``rail_node``; iRail, CC0) as zone type
  ``rail_station``, and the point of every neighbourhood of the city with CORINE urban fabric (CLC 111/112) as zone
  type ``urban_neighbourhood``. ``free_ha`` = 0.2 (one 500 m² shop and one 1,500 m² hub): there are no data on
  vacant retail space, so land never binds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
INSTANCES = HERE.parent
ROOM_HA = 0.2  # one shop (500 m2) + one hub (1,500 m2): see the module docstring and assumption s3c_candidates


def build(instances: Path = INSTANCES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demand and candidate tables of S3c (pure: reads the shipped tables, writes nothing)."""
    hoods = pd.read_csv(instances / "flanders" / "neighbourhoods.csv",
                        dtype={"neighbourhood_id": str, "nis2024": str, "nis2025": str})
    city = hoods[hoods["centrumstad"].astype(bool)].sort_values("neighbourhood_id").reset_index(drop=True)
    demand = pd.DataFrame({
        "id": city["neighbourhood_id"], "nis": city["nis2025"], "name": city["name"],
        "population": city["population"].astype(int), "x": city["x"], "y": city["y"], "area_km2": city["area_km2"],
        "centrumstad": True, "city": city["municipality"],
    })
    nodes = pd.read_csv(instances / "networks" / "nodes.csv", dtype={"nis": str})
    stations = nodes[(nodes["mode"] == "rail") & (nodes["kind"] == "rail_node") & nodes["nis"].isin(demand["nis"])]
    stations = stations.sort_values("node_id")
    urban = city[(city["clc111_ha"] + city["clc112_ha"]) > 0]
    candidates = pd.concat([
        pd.DataFrame({"site_id": "ST-" + stations["node_id"].str.removeprefix("T:"),
                      "name": "station " + stations["name"], "zone_type": "rail_station", "nis": stations["nis"],
                      "x": stations["x"], "y": stations["y"]}),
        pd.DataFrame({"site_id": "WK-" + urban["neighbourhood_id"], "name": "wijk " + urban["name"],
                      "zone_type": "urban_neighbourhood", "nis": urban["nis2025"], "x": urban["x"], "y": urban["y"]}),
    ], ignore_index=True)
    candidates["total_ha"] = ROOM_HA
    candidates["free_ha"] = ROOM_HA
    return demand, candidates


def main() -> None:
    for name, table in zip(("neighbourhoods.csv", "candidates.csv"), build()):
        target = HERE / name
        tmp = target.with_suffix(".csv.tmp")
        table.to_csv(tmp, index=False)
        os.replace(tmp, target)
        print(f"{target.relative_to(INSTANCES.parent)}: {len(table)} rows")


if __name__ == "__main__":
    main()
