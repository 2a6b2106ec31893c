"""Build the STAND-IN candidate tables for temporary reserve land (S6) and greenfield (S7).

Run from the project root (no third-party data needed; reads only the committed base layer)::

    python instances/flanders/build_land_status.py

The study asks for two kinds of land the base layer does not map:

* **reserve land and vacancy for temporary use** — "Het tijdelijk gebruik van reserveterreinen en leegstand kan
  ruimte creëren voor de opslag en overslag van materialen" (L12175-12179, L12977-12983; digest O4, §7 S6), open
  only to storage/transhipment and material banks;
* **greenfield** — discouraged (O8, L11563-11570; reuse first, O2 L12703-12707) yet listed as a WA3 layer
  "Onontgonnen greenfields" (L5115; digest A12, §7 S7).

No layer of either is available (the Flemish vacancy inventory and the planned-but-undeveloped business land are
not in ``../shared``). **These tables are stand-ins, not those layers.** They are derived deterministically from
``candidates.csv`` with two named assumptions of ``models/assumptions.toml``:

``candidates_reserve.csv``
    the base candidates plus one ``RES-<nis>`` row per municipality: reserve land and vacant plots inside its
    business parks, ``reserve_vacancy_share`` × the occupied business-park hectares, at the municipality's point,
    flagged ``reserve = true``; only where that is at least ``MIN_PLOT_HA`` (the smallest plot of a programme that
    may use reserve land, a 5,000 m² small bank or cluster).
``candidates_greenfield.csv``
    the base candidates plus one ``GF-<nis>`` row — a new economic zone on open land, ``greenfield_candidate_ha``
    hectares, flagged ``greenfield = true`` — in every municipality whose existing business parks have less free
    land than one sorting-centre plot (40,000 m², L10671-10672): where the existing zones are full.

``candidates_available.csv``
    land as scarce as it is on the market today (S7b): every economic zone keeps ``available_business_land_ha``
    / (the table's unoccupied economic-zone hectares) of its free land (``free_ha``; the mapped figure stays in
    ``mapped_free_ha``), seaports keep theirs (already the assumption ``seaport_free_share``), and a ``GF-<nis>``
    greenfield row is offered wherever the available land cannot hold one sorting-centre plot.

Both rows share the point, municipality and zone type of the municipality's aggregate zone, so they differ from it
only by their land status. ``reserve_land.csv`` and ``greenfield_land.csv`` hold the extra rows alone: the named
instances list them after the candidate zones (``candidates = [zones.gpkg, "flanders/reserve_land.csv"]``). Planners with the real layers add ``reserve`` / ``greenfield`` columns (true/false) to
their own candidate table instead.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import tomllib

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
MIN_PLOT_HA = 0.5  # smallest plot of a programme that may use reserve land (5,000 m², L10051, L11406-11409)
SORTING_PLOT_HA = 4.0  # one plastics sorting centre (40,000 m², L10671-10672)


def _assumption(name: str) -> float:
    with (PROJECT_ROOT / "models" / "assumptions.toml").open("rb") as fh:
        return float(tomllib.load(fh)["assumptions"][name]["value"])


def _extra_rows(zones: pd.DataFrame, prefix: str, what: str, free_ha: pd.Series, flag: str) -> pd.DataFrame:
    rows = zones.loc[free_ha.index].copy()
    rows["site_id"] = prefix + rows["nis"].astype(str)
    rows["name"] = rows["name"].str.replace("Economische zones ", f"{what} ", regex=False)
    rows["free_ha"] = free_ha.round(2)
    rows[flag] = True
    return rows


def reserve_table(candidates: pd.DataFrame, share: float) -> pd.DataFrame:
    """Base candidates plus the reserve/vacancy stand-in rows (see module docstring)."""
    zones = candidates[candidates["zone_type"] == "economic_zone"]
    reserve_ha = zones["occupied_ha"].astype(float) * share
    rows = _extra_rows(zones, "RES-", "Reserve en leegstand", reserve_ha[reserve_ha >= MIN_PLOT_HA], "reserve")
    rows["occupied_ha"] = float("nan")
    out = pd.concat([candidates.assign(reserve=False), rows], ignore_index=True)
    return out


def greenfield_table(candidates: pd.DataFrame, greenfield_ha: float) -> pd.DataFrame:
    """Base candidates plus the greenfield stand-in rows (see module docstring)."""
    zones = candidates[candidates["zone_type"] == "economic_zone"]
    full = zones["free_ha"].astype(float) < SORTING_PLOT_HA
    rows = _extra_rows(zones, "GF-", "Greenfield (nieuwe economische zone)",
                       pd.Series(greenfield_ha, index=zones.index[full]), "greenfield")
    rows["total_ha"], rows["occupied_ha"] = rows["free_ha"], 0.0
    return pd.concat([candidates.assign(greenfield=False), rows], ignore_index=True)


def available_share(candidates: pd.DataFrame, available_ha: float) -> float:
    """Share of the unoccupied economic-zone hectares that is on the market (``available_business_land_ha``)."""
    free = candidates.loc[candidates["zone_type"] == "economic_zone", "free_ha"].astype(float).sum()
    return min(1.0, available_ha / free) if free > 0 else 1.0


def available_table(candidates: pd.DataFrame, available_ha: float, greenfield_ha: float) -> pd.DataFrame:
    """Candidates with only the available share of their free land, plus greenfield where no sorting plot fits."""
    share = available_share(candidates, available_ha)
    out = candidates.copy()
    zones = out["zone_type"] == "economic_zone"
    out["mapped_free_ha"] = out["free_ha"]
    out.loc[zones, "free_ha"] = (out.loc[zones, "free_ha"].astype(float) * share).round(2)
    scarce = out[zones]
    rows = _extra_rows(scarce, "GF-", "Greenfield (nieuwe economische zone)",
                       pd.Series(greenfield_ha, index=scarce.index[scarce["free_ha"] < SORTING_PLOT_HA]), "greenfield")
    rows["total_ha"], rows["occupied_ha"], rows["mapped_free_ha"] = rows["free_ha"], 0.0, float("nan")
    return pd.concat([out.assign(greenfield=False), rows], ignore_index=True)


def main() -> None:
    candidates = pd.read_csv(HERE / "candidates.csv")
    reserve = reserve_table(candidates, _assumption("reserve_vacancy_share"))
    green = greenfield_table(candidates, _assumption("greenfield_candidate_ha"))
    available = available_table(candidates, _assumption("available_business_land_ha"),
                                _assumption("greenfield_candidate_ha"))
    reserve.to_csv(HERE / "candidates_reserve.csv", index=False)
    green.to_csv(HERE / "candidates_greenfield.csv", index=False)
    available.to_csv(HERE / "candidates_available.csv", index=False)
    # the extra rows alone, to add to the candidate zones (instances list them after zones.gpkg)
    reserve[reserve["reserve"]].to_csv(HERE / "reserve_land.csv", index=False)
    green[green["greenfield"]].to_csv(HERE / "greenfield_land.csv", index=False)
    available[available["greenfield"]].to_csv(HERE / "greenfield_available.csv", index=False)
    print(f"candidates_available.csv: {available_share(candidates, _assumption('available_business_land_ha')):.4f} "
          f"of the free land available, {int(available['greenfield'].sum())} greenfield rows")
    print(f"candidates_reserve.csv: {int(reserve['reserve'].sum())} reserve rows; "
          f"candidates_greenfield.csv: {int(green['greenfield'].sum())} greenfield rows")


if __name__ == "__main__":
    main()
