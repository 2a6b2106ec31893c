"""Independent checks of existing facilities in a result, re-derived from the instance's table.

Called by :func:`optimizer.check.verify.verify_siting` (single period) and by the multi-period verifier per
period. Reads ``instance.existing`` (the validated table) and the planner tables, never the model's options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.data.existing import in_window

if TYPE_CHECKING:
    from optimizer.data.instance import Instance

TOL = 1e-6


def existing_in_result(instance: Instance, programmes: set[str], year: int | None) -> pd.DataFrame:
    """The table rows of these programmes that exist in ``year`` (``None``: the end state of a single period)."""
    ex = instance.existing
    if ex is None or ex.empty:
        return pd.DataFrame(columns=["facility_id"])
    return ex[ex["programme"].isin(programmes).to_numpy() & in_window(ex, year)]


def verify_existing(instance: Instance, facilities: pd.DataFrame, allocations: pd.DataFrame, *,
                    year: int | None = None, annualise: bool = True) -> tuple[list[str], list[str], float]:
    """Check the existing facilities of a result against the table.

    Every facility of size ``existing`` is a row of the table of its programme, at the row's site, taking no new
    land; every ``fixed_open`` row is open; a stated capacity (the schedule in ``year``) holds, and so does the
    derived one (plot × throughput) where the instance enforces capacity.

    Returns
    -------
    checks, violations, cost
        ``cost`` is the yearly cost of the existing facilities' decisions: ``close_saving_eur_per_yr`` of each open
        closable facility and, with ``annualise``, the closing cost of each closed one over
        ``existing_one_off_annualisation_yr`` (a multi-period result charges closing once, elsewhere).
    """
    checks = ["existing facilities: listed in the table, at their site, no new land, fixed-open ones open, capacity"]
    violations: list[str] = []
    rows = existing_in_result(instance, {p.id for p in instance.programmes if p.kind != "chain"}, year)
    by_id = rows.set_index("facility_id")
    ex_fac = facilities[facilities["size"] == "existing"] if len(facilities) else facilities
    ids = ex_fac["existing_id"] if "existing_id" in ex_fac else pd.Series("", index=ex_fac.index)
    load = allocations.groupby("facility_id")["tonnes"].sum() if len(allocations) else pd.Series(dtype=float)
    throughput = {p.id: p.capacity_per_m2 for p in instance.programmes}
    for (_, f), fid in zip(ex_fac.iterrows(), ids):
        if fid not in by_id.index:
            violations.append(f"facility {f['facility_id']} is marked existing but no table row {fid!r} exists then")
            continue
        row = by_id.loc[fid]
        if row["programme"] != f["programme"] or row["site_id"] != f["site_id"]:
            violations.append(f"existing {fid}: placed as {f['programme']} at {f['site_id']}, the table says "
                              f"{row['programme']} at {row['site_id']}")
        if abs(float(f["area_m2"])) > TOL:
            violations.append(f"existing {fid} takes {f['area_m2']:.0f} m² of new land; its plot is taken already")
        stated = row["capacity"].at(year) if row["capacity"] is not None else np.nan
        if not np.isfinite(stated) and instance.parameters["enforce_capacity"] and throughput.get(row["programme"]):
            stated = float(row["area_m2"]) * instance.assumption(throughput[row["programme"]])
        got = float(load.get(f["facility_id"], 0.0))
        if np.isfinite(stated) and got > stated * (1 + 1e-9) + TOL:
            violations.append(f"existing {fid} receives {got:,.0f} t, capacity {stated:,.0f} t")
    open_ids = set(ids)
    cost = 0.0
    years = float(instance.assumption("existing_one_off_annualisation_yr"))
    for fid, row in by_id.iterrows():
        if fid not in open_ids:
            if row["status"] == "fixed_open":
                violations.append(f"existing {fid} is fixed_open but closed in the result")
            elif annualise:
                cost += float(row["close_cost_eur"]) / years
        elif row["status"] == "closable":
            cost += float(row["close_saving_eur_per_yr"])
    return checks, violations, cost
