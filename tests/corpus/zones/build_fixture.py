"""Build ``bedrijventerreinen.gpkg``: a small zone layer in the shape of the VLAIO business-park inventory.

The VLAIO dataset 'Bedrijventerrein' (GIS bedrijventerreinen, Agentschap Innoveren & Ondernemen) gives per terrain its
contour, name, type and the area still available; column names differ between exports, so the manifest maps them. This
fixture takes six zones of the shipped CORINE zone layer (``instances/flanders/zones/zones.gpkg``) and gives them
VLAIO-like columns and values: ``TERREIN_ID``, ``NAAM``, ``TYPE``, ``NISCODE``, ``BRUTO_HA``, ``BESCHIKBAAR_HA``
(EPSG:31370). Run from the project root: ``python tests/corpus/zones/build_fixture.py``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

HERE = Path(__file__).resolve().parent
ZONES = HERE.parents[2] / "instances" / "flanders" / "zones" / "zones.gpkg"
PICK = {  # shipped zone id -> (terrain id, name, type, available ha)
    "Z12025-02": ("BT-0101", "Mechelen Noord", "regionaal bedrijventerrein", 12.0),
    "Z23088-01": ("BT-0102", "Vilvoorde Cargovil", "regionaal bedrijventerrein", 9.5),
    "Z11002-11": ("BT-0103", "Antwerpen Blue Gate", "gemengd regionaal bedrijventerrein", 7.0),
    "Z44021-12": ("BT-0104", "Gent Eiland Zwijnaarde", "regionaal bedrijventerrein", 6.0),
    "Z13036-01": ("BT-0105", "Retie Kloosterheide", "lokaal bedrijventerrein", 1.0),
    "Z11002-24": ("BT-0106", "Haven Antwerpen", "zeehaventerrein", 40.0),
}


def build() -> gpd.GeoDataFrame:
    z = gpd.read_file(ZONES, layer="zones").set_index("zone_id").loc[list(PICK)]
    return gpd.GeoDataFrame({
        "TERREIN_ID": [PICK[k][0] for k in z.index], "NAAM": [PICK[k][1] for k in z.index],
        "TYPE": [PICK[k][2] for k in z.index], "NISCODE": z["nis"].to_numpy(),
        "BRUTO_HA": z.geometry.area.round(2).to_numpy() / 1e4,
        "BESCHIKBAAR_HA": [min(PICK[k][3], a / 1e4) for k, a in zip(z.index, z.geometry.area)],
    }, geometry=z.geometry.to_numpy(), crs="EPSG:31370")


if __name__ == "__main__":
    out = HERE / "bedrijventerreinen.gpkg"
    out.unlink(missing_ok=True)
    build().to_file(out, layer="bedrijventerreinen", driver="GPKG", SPATIAL_INDEX="NO")
    print(f"{out}: {out.stat().st_size:,} bytes")
