"""A small named instance for tests: the material banks of two arrondissements, built in a temporary folder from
the shipped Flanders tables, with an optional existing-facility table and ``[periods]`` section."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ARRONDISSEMENTS = ("Leuven", "Halle-Vilvoorde")
# S6 over time (docs/periods.md): reserve land in its window, linear and circular coexisting, demand growing
S6_PERIODS = """[periods]
reserve_window = ["reserve_open_from_year", "reserve_open_until_year"]
coexistence = ["coexistence_until_year", "coexistence_free_land_share"]
demand_factor = { materialenbank = "bank_demand_factor_by_period" }
"""


def small_instance(folder: Path, periods: str, existing_rows: list[dict] | None = None, assumptions: str = "") -> Path:
    """A manifest with the banks of two arrondissements, their zones and reserve land, and a [periods] section."""
    flanders = ROOT / "instances" / "flanders"
    munis = pd.read_csv(flanders / "municipalities_sa.csv", dtype={"nis": str})
    munis = munis[munis["arrondissement"].isin(ARRONDISSEMENTS)]
    cands = pd.read_csv(flanders / "candidates_reserve.csv", dtype={"nis": str})
    cands = cands[cands["nis"].isin(munis["nis"])]
    munis.to_csv(folder / "munis.csv", index=False)
    cands.to_csv(folder / "cands.csv", index=False)
    existing = ""
    if existing_rows is not None:
        src = pd.read_csv(flanders / "existing_facilities.csv", dtype=str, keep_default_na=False)
        rows = pd.DataFrame(existing_rows, columns=src.columns, dtype=object).fillna("")
        rows.to_csv(folder / "existing.csv", index=False)
        existing = 'existing = "existing.csv"\n'
    manifest = folder / "small.toml"
    manifest.write_text(f"""[instance]
name = "small-periods"
title = "banks of two arrondissements over periods"
[tables]
demand = "munis.csv"
candidates = "cands.csv"
{existing}[programmes]
place = ["materialenbank"]
{periods}
[parameters]
enforce_capacity = false
sparsify = "off"
{assumptions}""")
    return manifest
