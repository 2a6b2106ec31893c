"""Type environments (digest §3, §1.5): classify every candidate site from the data at hand.

The study maps six type environments for circular activities (L12228-12676, synthesis map; areas in digest §1.5)
but ships no layer. Each class is re-derived here from what the instance has — the candidate's zone type, its
multimodal access attributes (:func:`optimizer.geo.access.access_attributes`), the municipality's centrumstad flag
and uitrustingsgraad class, and its business-park hectares — or from the planner's own column when the candidate
table already has one (``type_<name>`` = true/false). Overlaps are *not* removed, as in the study (footnote *1,
L12455-12463): a site may be, say, both an inland port and a corridor.

=================  =============================================================  ===========================
class              rule (thresholds are named assumptions in models/assumptions.toml)  study
=================  =============================================================  ===========================
``seaport``        zone type ``seaport`` or inside a seaport area (port geometry)       L12424-12430
``inland_port``    CEMT ≥ ``water_min_cemt`` waterway within ``water_max_access_km``,  L12443, L12468-12469
                   not a seaport
``industry``       STAND-IN for "Industriegebied met Seveso" (no Seveso layer here):    L12438, L12465-12466
                   business parks of the municipality ≥ ``large_industry_min_ha``
                   (``municipal_park_ha``, else ``total_ha``),
                   or a seaport
``corridor``       motorway and rail freight access (K3, the study's working            L12486, L12508-12509
                   definition of high knooppuntwaarde)
``near_urban``     in or next to a larger city: the municipality is a centrumstad or   L12491, L12505-12506
                   its uitrustingsgraad class is in ``near_urban_classes``
``mixed_urban``    urban fabric where economy is woven in: uitrustingsgraad class in    L313-316, L12894-12901
                   ``mixed_urban_classes``
``local``          none of the above (rural business parks): small-scale programmes      L10107-10110
=================  =============================================================  ===========================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TYPES = ("seaport", "inland_port", "industry", "corridor", "near_urban", "mixed_urban", "local")
# Uitrustingsgraad classes (Vlaamse overheid, Statbel): a = city (a0 grootstad .. a2), b = well-equipped,
# c = rural. Classes named in models/assumptions.toml are parsed from a comma list.


def _classes(value: object) -> set[str]:
    return {c.strip() for c in str(value).split(",") if c.strip()}


def classify(
    candidates: pd.DataFrame,
    municipalities: pd.DataFrame,
    *,
    large_industry_min_ha: float,
    near_urban_classes: str,
    mixed_urban_classes: str,
) -> pd.DataFrame:
    """Type-environment flags of every candidate.

    Parameters
    ----------
    candidates
        Candidate sites with ``nis``, ``zone_type``, ``municipal_park_ha`` (or ``total_ha``: the municipality's
        business-park hectares) and the access columns ``has_road``,
        ``has_water``, ``has_rail``, ``has_seaport`` (one row per site, same index as returned).
    municipalities
        Demand table with ``nis``, ``centrumstad`` and (optionally) ``uitrustingsgraad``.
    large_industry_min_ha
        Business-park hectares of a municipality from which its zone counts as large industry (stand-in).
    near_urban_classes, mixed_urban_classes
        Comma-separated uitrustingsgraad classes.

    Returns
    -------
    pandas.DataFrame
        Boolean columns ``type_<class>`` for every class in :data:`TYPES` and ``type_environment``, the first
        class that applies in the order of :data:`TYPES` (for maps and summaries).
    """
    muni = municipalities.set_index(municipalities["nis"].astype(str))
    nis = candidates["nis"].astype(str)
    city = muni["centrumstad"].reindex(nis).fillna(False).to_numpy(bool)
    grade = (muni["uitrustingsgraad"].reindex(nis).fillna("").astype(str).to_numpy()
             if "uitrustingsgraad" in muni else np.full(len(nis), ""))
    has = {m: candidates.get(f"has_{m}", pd.Series(False, index=candidates.index)).to_numpy(bool)
           for m in ("road", "water", "rail", "seaport")}
    seaport = (candidates["zone_type"].astype(str).to_numpy() == "seaport") | has["seaport"]
    park = "municipal_park_ha" if "municipal_park_ha" in candidates else "total_ha"
    total_ha = pd.to_numeric(candidates.get(park, pd.Series(np.nan, index=candidates.index)),
                             errors="coerce").fillna(0.0).to_numpy()
    flags = {
        "seaport": seaport,
        "inland_port": has["water"] & ~seaport,
        "industry": (total_ha >= large_industry_min_ha) | seaport,
        "corridor": has["road"] & has["rail"],
        "near_urban": (city | np.isin(grade, list(_classes(near_urban_classes)))) & ~seaport,
        "mixed_urban": np.isin(grade, list(_classes(mixed_urban_classes))) & ~seaport,
    }
    flags["local"] = ~np.logical_or.reduce(list(flags.values()))
    out = pd.DataFrame({f"type_{k}": v for k, v in flags.items()}, index=candidates.index)
    # the planner's own layer wins: a type_<class> column in the candidate table replaces the derived flag
    for k in TYPES:
        col = f"type_{k}"
        if col in candidates.columns:
            out[col] = candidates[col].astype(str).str.lower().isin(["true", "1", "yes"]).to_numpy()
    first = np.argmax(out[[f"type_{k}" for k in TYPES]].to_numpy(), axis=1)
    out["type_environment"] = np.asarray(TYPES)[first]
    return out


def classify_instance(instance: "Instance", candidates: pd.DataFrame) -> pd.DataFrame:  # noqa: F821
    """:func:`classify` with the thresholds of the instance's named assumptions."""
    a = instance.assumptions
    return classify(
        candidates,
        instance.municipalities,  # one row per nis (demand points share their municipality's class)
        large_industry_min_ha=float(a["large_industry_min_ha"].value),
        near_urban_classes=str(a["near_urban_classes"].value),
        mixed_urban_classes=str(a["mixed_urban_classes"].value),
    )


def eligible(types: pd.DataFrame, allowed: tuple[str, ...] | list[str]) -> np.ndarray:
    """Sites with at least one of the ``allowed`` classes (every site when ``allowed`` is empty)."""
    if not allowed:
        return np.ones(len(types), dtype=bool)
    unknown = set(allowed) - set(TYPES)
    if unknown:
        msg = f"unknown type environment(s) {sorted(unknown)}; known: {', '.join(TYPES)}"
        raise ValueError(msg)
    return types[[f"type_{k}" for k in allowed]].to_numpy(bool).any(axis=1)
