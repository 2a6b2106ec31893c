"""Build the Flanders base layer (compact fact tables) from the open data in ``../shared/data/flanders``.

Run from the project root::

    python instances/flanders/build_base_layer.py [--shared ../shared]

Writes, next to this script:

``municipalities.csv``
    The 285 municipalities (2025 boundaries) as demand units: NIS code, name, arrondissement, province,
    population (1 Jan 2020), area, Lambert-72 point, centrumstad flag, vervoerregio, uitrustingsgraad class.
``candidates.csv``
    Candidate sites. For now one **aggregate** economic-zone candidate per municipality (all business parks of
    the municipality lumped at its point, with total / occupied / free hectares), plus the four seaport zones
    with the areas the study gives (digest §1.5, L12424-12430). These are aggregates, not real zones: later
    instances add finer candidates and the planner's own zone layer.

The third-party files are read, never copied: only the columns above are kept (codes, names, populations,
areas, coordinates). Sources and licences: ``instances/README.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]

# The study's seaport areas (digest §1.5, L12424-12430) and the UN/LOCODE of the port point used as location.
SEAPORTS = [
    # site_id, name, locode, total_ha
    ("PORT-ANTWERPEN", "Zeehaven Antwerpen", "BEANR", 19570.0),
    ("PORT-GENT", "Zeehaven Gent (North Sea Port)", "BEGNE", 4669.0),
    ("PORT-BRUGGE", "Zeehaven Brugge-Zeebrugge", "BEZEE", 3585.0),
    ("PORT-OOSTENDE", "Zeehaven Oostende", "BEOST", 705.0),
]


def build_municipalities(shared: Path) -> pd.DataFrame:
    """Municipal demand units (one row per 2025 municipality)."""
    src = pd.read_csv(shared / "data/flanders/municipalities/flanders_municipalities_2025.csv")
    out = pd.DataFrame(
        {
            "nis": src["nis"].astype(int),
            "name": src["name_nl"],
            "arr_nis": src["arr_nis"].astype(int),
            "arrondissement": src["arr_name"],
            "prov_nis": src["prov_nis"].astype(int),
            "province": src["prov_name"].str.replace("Provincie ", "", regex=False),
            "population": src["pop2020"].astype(int),
            "area_km2": src["area_km2"].round(3),
            "x": src["x_l72"].round(1),
            "y": src["y_l72"].round(1),
            "centrumstad": src["centrumstad"].astype(int).astype(bool),
            "vervoerregio": src["vervoerregio"],
            "uitrustingsgraad": src["uitrustingsgraad"],
        }
    )
    return out.sort_values("nis").reset_index(drop=True)


def build_candidates(shared: Path, municipalities: pd.DataFrame) -> pd.DataFrame:
    """Aggregate economic-zone candidates per municipality plus the four seaport zones."""
    parks = pd.read_csv(shared / "data/flanders/economic_zones/bedrijventerreinen_per_municipality_2025.csv")
    merged = municipalities.merge(parks[["nis", "total_ha", "occupied_ha", "unoccupied_ha"]], on="nis", how="left")
    if merged["total_ha"].isna().any():
        missing = merged.loc[merged["total_ha"].isna(), "name"].tolist()
        msg = f"business-park figures missing for {missing}"
        raise SystemExit(msg)
    zones = pd.DataFrame(
        {
            "site_id": "EZ-" + merged["nis"].astype(str),
            "name": "Economische zones " + merged["name"] + " (aggregate)",
            "zone_type": "economic_zone",
            "aggregate": True,
            "nis": merged["nis"],
            "x": merged["x"],
            "y": merged["y"],
            "total_ha": merged["total_ha"].round(2),
            "occupied_ha": merged["occupied_ha"].round(2),
            "free_ha": merged["unoccupied_ha"].round(2),
        }
    )
    ports = pd.read_csv(shared / "data/flanders/transport/eurostat_ports_flanders_approx.csv").set_index("locode")
    rows = []
    for site_id, name, locode, total_ha in SEAPORTS:
        port = ports.loc[locode]
        rows.append(
            {
                "site_id": site_id,
                "name": name,
                "zone_type": "seaport",
                "aggregate": True,
                "nis": int(port["nis2025"]),
                "x": round(float(port["x_l72"]), 1),
                "y": round(float(port["y_l72"]), 1),
                "total_ha": total_ha,
                "occupied_ha": float("nan"),  # not given by the study
                "free_ha": float("nan"),  # not given: see assumption seaport_free_share in models/assumptions.toml
            }
        )
    return pd.concat([zones, pd.DataFrame(rows)], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=PROJECT_ROOT.parent / "shared")
    args = parser.parse_args()
    municipalities = build_municipalities(args.shared)
    candidates = build_candidates(args.shared, municipalities)
    municipalities.to_csv(HERE / "municipalities.csv", index=False)
    candidates.to_csv(HERE / "candidates.csv", index=False)
    print(f"municipalities.csv: {len(municipalities)} rows; candidates.csv: {len(candidates)} rows")


if __name__ == "__main__":
    main()
