"""Existing facilities as options of the location model (the table: :mod:`optimizer.data.existing`).

Each existing facility of a placed programme becomes one option at its own site, size ``existing``:

* it takes **no new land** (area 0 in the land rows; its plot is kept as ``plot_m2`` for the tables);
* its capacity is the table's (always enforced: a stated capacity is a fact, not a sizing rule), or its plot ×
  the programme's assumed throughput, enforced like the programme's new facilities (``enforce_capacity``);
* ``fixed_open``: the option is *required* (open), so the clients' flows use its capacity;
* ``closable``: open or not at the solver's choice; open costs ``close_saving_eur_per_yr`` (what closing saves),
  closed costs the one-off ``close_cost_eur`` spread over ``existing_one_off_annualisation_yr`` — modelled as a
  second, arc-less *closure* option with that yearly cost and a row "keep or close: exactly one";
* ``counts_toward_rule``: the option is a member of its region's count row (the arrondissement's bank exists), or
  an extra facility beside the rule's count (the study's 14 new sorting centres, digest A4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.data.existing import in_window

if TYPE_CHECKING:
    from optimizer.data.instance import Instance
    from optimizer.data.programmes import Programme

EXISTING_SIZE = "existing"
CLOSURE_SIZE = "closure"


def existing_rows(instance: Instance, programme_ids: set[str] | str, year: int | None = None) -> pd.DataFrame:
    """Rows of the instance's existing-facility table for these programmes that exist in ``year`` (None: end state)."""
    ex = instance.existing
    if ex is None or ex.empty:
        return pd.DataFrame(columns=[] if ex is None else ex.columns)
    ids = {programme_ids} if isinstance(programme_ids, str) else set(programme_ids)
    keep = ex["programme"].isin(ids).to_numpy() & in_window(ex, year)
    return ex[keep].reset_index(drop=True)


def existing_capacity(rows: pd.DataFrame, throughput_t_per_m2: float, enforce: bool, year: int | None = None,
                      ) -> np.ndarray:
    """Capacity (t/yr) of each row in ``year``: the table's schedule, else plot × throughput when enforced."""
    derived = rows["area_m2"].to_numpy(float) * throughput_t_per_m2 if enforce else np.full(len(rows), np.inf)
    stated = np.array([c.at(year) if c is not None else np.nan for c in rows["capacity"]], dtype=float)
    return np.where(np.isfinite(stated), stated, derived)


def existing_options(instance: Instance, programme: Programme, sites: pd.DataFrame, site_region: np.ndarray,
                     throughput_t_per_m2: float, *, closure: bool = True) -> list[dict]:
    """Option rows (as :func:`optimizer.model.formulation.compile_instance` builds them) of the programme's
    existing facilities: the facilities themselves, then one closure option per closable facility with a
    closing cost (``closure=False`` leaves those out: a multi-period model charges the cost at the transition)."""
    rows = existing_rows(instance, programme.id)
    if rows.empty:
        return []
    site_of = pd.Series(np.arange(len(sites)), index=sites["site_id"].to_numpy())
    site_of = site_of[~site_of.index.duplicated()]
    capacity = existing_capacity(rows, throughput_t_per_m2, bool(instance.parameters["enforce_capacity"]))
    years = float(instance.assumption("existing_one_off_annualisation_yr"))
    keep, close = [], []
    for k, r in enumerate(rows.itertuples()):
        s = int(site_of[r.site_id])
        base = {"programme": programme.id, "site": s, "site_id": r.site_id, "area_m2": 0.0, "plot_m2": r.area_m2,
                "region": site_region[s], "greenfield": False, "reserve": False, "existing": True,
                "existing_id": r.facility_id, "status": r.status, "counts": bool(r.counts_toward_rule)}
        closable = r.status == "closable"
        keep.append({**base, "size": EXISTING_SIZE, "capacity_t": capacity[k], "required": not closable,
                     "fixed_eur": r.close_saving_eur_per_yr if closable else 0.0, "closure": False})
        if closable and closure and r.close_cost_eur > 0:
            close.append({**base, "size": CLOSURE_SIZE, "capacity_t": 0.0, "required": False, "counts": False,
                          "fixed_eur": r.close_cost_eur / years, "closure": True})
    return keep + close
