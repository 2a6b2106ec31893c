"""Independent check of a multi-period result, period by period and across periods.

Per period: the single-period verifiers, unchanged — :func:`~optimizer.check.verify.verify_problem` and
:func:`~optimizer.check.verify.verify_siting` (every rule re-derived from the instance, transport from coordinates,
existing facilities against their table in that year) or :func:`~optimizer.check.chain.verify_chain`. Across
periods, re-derived from the instance and the period tables (not from the coupled model): reserve land used only
inside its window, free land per period under the coexistence share, existing capacities from their schedules,
every opening and closing recomputed from consecutive periods, and the total objective as
``Σ_t years_t · (period's yearly cost) + opening costs + closing costs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.check.chain import chain_routes, verify_chain
from optimizer.check.existing import existing_in_result
from optimizer.check.verify import VerificationReport, verify_problem, verify_siting
from optimizer.settings import M2_PER_HA

if TYPE_CHECKING:
    from optimizer.model.periods import MultiPeriodSolution
    from optimizer.model.periods_compile import PeriodChain, PeriodSiting
    from optimizer.output.tables import ResultTables

TOL = 1e-6


def _truthy(values: pd.Series) -> np.ndarray:
    return values.astype(str).str.strip().str.lower().isin(["true", "1", "yes"]).to_numpy()


def _transitions(before: set[str], now: set[str]) -> tuple[set[str], set[str]]:
    return now - before, before - now


def verify_siting_periods(ps: PeriodSiting, sol: MultiPeriodSolution, tables: list[ResultTables]) -> VerificationReport:
    """Check a multi-period named-instance result (see the module docstring)."""
    inst, spec = ps.base.instance, ps.base.instance.periods
    checks: list[str] = []
    violations: list[str] = []
    raw = inst.candidates.set_index("site_id")
    reserve = pd.Series(_truthy(raw["reserve"]) if "reserve" in raw else np.zeros(len(raw), bool), index=raw.index)
    reserve = reserve[~reserve.index.duplicated()]
    existing_zone = (raw["zone_type"] == "existing").groupby(level=0).first()
    free_raw = raw["free_ha"].astype(float).groupby(level=0).first() * M2_PER_HA
    ex_table = inst.existing.set_index("facility_id") if inst.existing is not None else pd.DataFrame()
    total = 0.0
    rows0 = existing_in_result(inst, {p.id for p in inst.programmes}, int(spec.start[0]))
    # open before the first period: the existing facilities (no opening cost); the model names them
    # programme:existing:ID (optimizer.model.formulation._option_ids)
    before = {f"{r.programme}:existing:{r.facility_id}": (0.0, r.facility_id) for r in rows0.itertuples()}
    for t, (sp_t, sol_t, tab) in enumerate(zip(ps.periods, sol.solutions, tables)):
        label, year = spec.labels[t], int(spec.start[t])
        generic = verify_problem(sp_t.problem, sol_t)
        domain = verify_siting(sp_t, sol_t, tab, year=year, annualise=False)
        checks += [f"{label}: {c}" for c in generic.checks + domain.checks]
        violations += [f"{label}: {v}" for v in generic.violations + domain.violations]
        fac = tab.facilities
        on_reserve = fac["site_id"].map(reserve).fillna(False).to_numpy(bool)
        if on_reserve.any() and not spec.reserve_open()[t]:
            violations.append(f"{label}: {fac['facility_id'].to_numpy()[on_reserve][0]} on reserve land outside its "
                              f"window {spec.reserve_window}")
        taken = fac.groupby("site_id")["area_m2"].sum()
        share = spec.free_land_share()[t]
        for site, m2 in taken.items():
            limit = free_raw[site] * (1.0 if reserve.get(site, False) or existing_zone.get(site, False) else share)
            if m2 > limit + TOL:
                violations.append(f"{label}: site {site} takes {m2:.0f} m², {limit:.0f} m² free in this period")
        ex_col = fac["existing_id"] if "existing_id" in fac else pd.Series("", index=fac.index)
        now = {f: (float(a), e or None) for f, a, e in zip(fac["facility_id"], fac["area_m2"], ex_col.fillna(""))}
        opened, closed = _transitions(set(before), set(now))
        one_off = sum(spec.opening_cost_per_m2 * now[f][0] for f in opened if now[f][1] is None)
        for f in closed:
            area, ex_id = before[f]
            one_off += (float(ex_table.at[ex_id, "close_cost_eur"]) if ex_id is not None
                        else spec.closing_cost_per_m2 * area)
        total += spec.years[t] * domain.objective + one_off
        before = now
    checks += ["reserve land only inside its window", "free land per period (coexistence share)",
               "openings and closings recomputed from consecutive periods", "total objective over the periods"]
    violations += _total_check(sol, total)
    return VerificationReport(total, checks, violations)


def verify_chain_periods(pc: PeriodChain, sol: MultiPeriodSolution) -> VerificationReport:
    """Check a multi-period chain result: each period's chain, the existing capacities from their schedules, and
    the transitions and total objective (recomputed from the facility table and the instance's timeline)."""
    spec = pc.instance.periods
    checks = ["per period: supply, imports, capacity, yields per stream, streams, echelon order, existing open, new "
              "counts, free land, arc costs from each route's km per mode, routes, objective",
              "existing capacities from the table's schedule in each period", "openings and closings recomputed",
              "total objective over the periods"]
    violations: list[str] = []
    fac = pc.base.facilities
    ex = pc.instance.existing.set_index("facility_id") if pc.instance.existing is not None else None
    area = fac["area_m2"].to_numpy(float)
    existing = fac["existing"].to_numpy(bool)
    ex_ids = fac["existing_id"].to_numpy()
    close_cost = np.array([float(ex.at[i, "close_cost_eur"]) if e else spec.closing_cost_per_m2 * a
                           for i, e, a in zip(ex_ids, existing, area)])
    open_cost = np.where(existing, 0.0, spec.opening_cost_per_m2 * area)
    total = 0.0
    before = existing & np.array([bool(e) and _exists(ex, i, int(spec.start[0])) for i, e in zip(ex_ids, existing)])
    for t, (cc, s) in enumerate(zip(pc.periods, sol.solutions)):
        label, year = spec.labels[t], int(spec.start[t])
        routes = chain_routes(cc, pc.instance, s.flow_t)  # km per mode of the used arcs on the networks
        violations += [f"{label}: {v}" for v in verify_chain(cc.problem, s, cc.coords, routes=routes)]
        inflow = np.bincount(cc.problem.arc_to, weights=s.flow_t, minlength=cc.problem.n_fac)
        y = np.asarray(s.open_fac, bool)
        for j in np.flatnonzero(existing):
            row = ex.loc[ex_ids[j]]
            if y[j] and not _exists(ex, ex_ids[j], year):
                violations.append(f"{label}: {row['name']} is open outside its window")
            if row["status"] == "fixed_open" and _exists(ex, ex_ids[j], year) and not y[j]:
                violations.append(f"{label}: {row['name']} is fixed_open but closed")
            if row["capacity"] is not None and inflow[j] > row["capacity"].at(year) * (1 + 1e-9) + TOL:
                violations.append(f"{label}: {row['name']} receives {inflow[j]:,.0f} t, its capacity in {year} is "
                                  f"{row['capacity'].at(year):,.0f} t")
        yearly = float(sum(cc.problem.arc_cost_per_t[k] * s.flow_t[k] for k in np.flatnonzero(s.flow_t > 0)))
        yearly += cc.problem.land_cost_per_m2 * float(area[y & ~existing].sum())
        total += spec.years[t] * yearly + float(open_cost[y & ~before].sum() + close_cost[before & ~y].sum())
        before = y
    violations += _total_check(sol, total)
    return VerificationReport(total, checks, violations)


def _exists(ex: pd.DataFrame | None, facility_id: str, year: int) -> bool:
    """Whether an existing facility's window includes ``year`` (read from the table, not the model)."""
    if ex is None or facility_id not in ex.index:
        return False
    row = ex.loc[facility_id]
    start = -np.inf if row["open_from"] is None or pd.isna(row["open_from"]) else float(row["open_from"])
    until = np.inf if row["open_until"] is None or pd.isna(row["open_until"]) else float(row["open_until"])
    return start <= year <= until


def _total_check(sol: MultiPeriodSolution, total: float) -> list[str]:
    out = []
    if np.isfinite(sol.objective) and abs(total - sol.objective) > 1e-6 * max(1.0, abs(total)):
        out.append(f"objective {sol.objective:.4f} differs from recomputed {total:.4f}")
    if np.isfinite(sol.bound) and sol.bound > total + 1e-6 * max(1.0, abs(total)):
        out.append(f"proven bound {sol.bound:.4f} exceeds the objective {total:.4f}")
    return out
