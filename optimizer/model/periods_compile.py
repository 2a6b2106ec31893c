"""Compile a multi-period instance (a manifest with ``[periods]``) into a :class:`MultiPeriodProblem`.

The instance is compiled once, as a single period (:func:`~optimizer.model.formulation.compile_instance` or
:func:`~optimizer.model.chain_compile.compile_chain`); each period's problem is then the same arrays with that
period's figures (:class:`~optimizer.data.periods.PeriodSpec`), all vectorised:

* demand (and so the cost of every arc, which carries a client's whole flow) × the programme's demand factor;
* free land of the existing zones × the coexistence share while linear and circular activities coexist
  (L12697-12699); reserve land only inside its window [t0, t1] (S6, L12175-12179), elsewhere its options are
  unavailable;
* an existing facility's capacity from its schedule in the period's first year (P2C: 26,000 t/yr, 65,000 t/yr
  from 2028, L10751-10754), available only inside its own window, required while ``fixed_open``;
* for the chain: the sorted share (× ``sorted_share_factor``) and the import volumes (× ``import_factor``).

Each period also gets a :class:`SitingProblem` (or chain problem) of its own, so the result tables and the
independent verifier of a single period apply to every period unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.data.existing import in_window
from optimizer.data.instance import Instance
from optimizer.data.programmes import Assumption
from optimizer.errors import InputError
from optimizer.model.chain_compile import CompiledChain, chain_existing, compile_chain
from optimizer.model.existing import existing_capacity
from optimizer.model.formulation import SitingProblem, compile_instance
from optimizer.model.periods import MultiPeriodProblem
from optimizer.settings import M2_PER_HA


@dataclass
class PeriodSiting:
    """A compiled multi-period named instance: the coupled problem and one :class:`SitingProblem` per period."""

    mp: MultiPeriodProblem
    base: SitingProblem
    periods: list[SitingProblem]


@dataclass
class PeriodChain:
    """A compiled multi-period chain: the coupled problem and one compiled chain per period."""

    mp: MultiPeriodProblem
    base: CompiledChain
    periods: list[CompiledChain]
    instance: Instance


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].astype(str).str.strip().str.lower().isin(["true", "1", "yes"]).to_numpy()


def _existing_windows(instance: Instance, ids: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[t, j] whether existing facility ``ids[j]`` exists in period t, and whether it is fixed open then."""
    if not len(ids):
        empty = np.zeros((len(start), 0), dtype=bool)
        return empty, empty
    ex = instance.existing.set_index("facility_id").loc[ids].reset_index()
    inside = np.stack([in_window(ex, int(y)) for y in start])
    return inside, inside & (ex["status"].to_numpy() == "fixed_open")[None, :]


def compile_siting_periods(instance: Instance) -> PeriodSiting:
    """Per-period location problems of a multi-period named instance (see the module docstring)."""
    spec = instance.periods
    if spec is None:
        raise InputError("not a multi-period instance: add a [periods] section", file=instance.path, field="periods")
    base = compile_instance(instance, closure_options=False)
    if base.arc_source is not None:
        raise InputError("a multi-period instance is solved on dense arcs; set sparsify = \"off\"",
                         file=instance.path, field="parameters.sparsify")
    p, opts = base.problem, base.options
    t_n, m = spec.n, p.n_options
    existing = opts["existing"].fillna(False).to_numpy(bool) if "existing" in opts else np.zeros(m, bool)
    ex_ids = opts.loc[existing, "existing_id"].to_numpy() if existing.any() else np.array([], dtype=object)
    reserve = _flag(base.sites, "reserve")
    zone = ~reserve & (base.sites["zone_type"].to_numpy() != "existing")
    available = np.ones((t_n, m), dtype=bool)
    available &= ~(reserve[p.option_site][None, :] & ~spec.reserve_open()[:, None])
    required = np.zeros((t_n, m), dtype=bool)
    inside, fixed = _existing_windows(instance, ex_ids, spec.start)
    available[:, existing] = inside
    required[:, existing] = fixed
    client_prog = base.clients["programme"].to_numpy()
    per_inh = {prog.id: prog.demand_per_inhabitant for prog in instance.programmes}
    names = {}
    for pid, a in per_inh.items():
        if a in names and names[a] != pid and not np.allclose(spec.factor(pid), spec.factor(names[a])):
            raise InputError(f"programmes {names[a]!r} and {pid!r} share the assumption {a!r} but not a demand "
                             "factor", file=instance.path, field="periods.demand_factor")
        names[a] = pid
    periods = []
    for t in range(t_n):
        factor = np.array([spec.factor(pid)[t] for pid in client_prog]) if len(client_prog) else np.zeros(0)
        free = np.where(zone, p.site_free_m2 * spec.free_land_share()[t], p.site_free_m2)
        capacity = p.capacity.copy()
        if existing.any():
            capacity[existing] = _period_capacity(instance, opts[existing], int(spec.start[t]))
        prob_t = dataclasses.replace(p, demand=p.demand * factor, arc_cost=p.arc_cost * factor[p.arc_client],
                                     site_free_m2=free, capacity=capacity, required=required[t].copy())
        assumptions = dict(instance.assumptions)
        for pid, a in per_inh.items():
            old = instance.assumptions[a]
            assumptions[a] = Assumption(a, float(old.value) * spec.factor(pid)[t], old.unit,
                                        f"{old.basis} [× {spec.factor(pid)[t]:g} in period {spec.labels[t]}]", old.file)
        inst_t = dataclasses.replace(instance, assumptions=assumptions)
        sites_t = base.sites.assign(free_ha=free / M2_PER_HA)
        clients_t = base.clients.assign(demand_t=base.clients["demand_t"].to_numpy(float) * factor)
        periods.append(dataclasses.replace(base, instance=inst_t, problem=prob_t, clients=clients_t, sites=sites_t))
    open_cost = np.where(existing, 0.0, spec.opening_cost_per_m2 * p.area_m2)
    close_cost = np.where(existing, 0.0, spec.closing_cost_per_m2 * p.area_m2)
    if existing.any():
        close_cost[existing] = instance.existing.set_index("facility_id").loc[ex_ids, "close_cost_eur"].to_numpy(float)
    mp = MultiPeriodProblem(name=instance.name, labels=spec.labels, start=spec.start, years=spec.years,
                            periods=[s.problem for s in periods], option_ids=p.option_ids, available=available,
                            required=required, open_cost=open_cost, close_cost=close_cost,
                            initially_open=np.where(existing, available[0], False), no_reopen=existing.copy(),
                            meta={"kind": "siting"})
    return PeriodSiting(mp, base, periods)


def _period_capacity(instance: Instance, options: pd.DataFrame, year: int) -> np.ndarray:
    """Capacity of existing-facility options in ``year`` (their schedule), as the single period derives it."""
    rows = instance.existing.set_index("facility_id").loc[options["existing_id"].to_numpy()].reset_index()
    out = np.empty(len(rows))
    for pid in rows["programme"].unique():
        prog = next(p for p in instance.programmes if p.id == pid)
        cap = instance.assumption(prog.capacity_per_m2) if prog.capacity_per_m2 else np.inf
        on = (rows["programme"] == pid).to_numpy()
        out[on] = existing_capacity(rows[on], cap, bool(instance.parameters["enforce_capacity"]), year)
    return out


def compile_chain_periods(instance: Instance) -> PeriodChain:
    """Per-period chain problems of a multi-period chain instance (the P2C ramp-up; module docstring)."""
    spec = instance.periods
    if spec is None:
        raise InputError("not a multi-period instance: add a [periods] section", file=instance.path, field="periods")
    base = compile_chain(instance)
    p, fac = base.problem, base.facilities
    t_n, m = spec.n, p.n_fac
    existing = fac["existing"].to_numpy(bool)
    ex_ids = fac.loc[existing, "existing_id"].to_numpy()
    available = np.ones((t_n, m), dtype=bool)
    required = np.zeros((t_n, m), dtype=bool)
    inside, fixed = _existing_windows(instance, ex_ids, spec.start)
    available[:, existing] = inside
    required[:, existing] = fixed
    zone = instance.candidates["zone_type"].to_numpy() != "existing"
    rows = chain_existing(instance, base.spec, {})
    rows = rows.set_index("facility_id").loc[ex_ids].reset_index() if len(ex_ids) else rows
    sorted_f = spec.sorted_share_factor if spec.sorted_share_factor is not None else np.ones(t_n)
    import_f = spec.import_factor if spec.import_factor is not None else np.ones(t_n)
    periods = []
    for t in range(t_n):
        cap = p.fac_capacity_t.copy()
        stated = np.array([c.at(int(spec.start[t])) if c is not None else np.nan for c in rows["capacity"]])
        cap[existing] = np.where(np.isfinite(stated), stated, cap[existing])
        yields = p.yields.copy()
        yields[0] *= sorted_f[t]
        on = existing.copy()
        on[existing] = inside[t]
        prob_t = dataclasses.replace(
            p, fac_capacity_t=cap, yields=yields, gw_supply_t=p.gw_supply_t * import_f[t],
            site_free_m2=np.where(zone, p.site_free_m2 * spec.free_land_share()[t], p.site_free_m2),
            fac_existing=on)
        periods.append(dataclasses.replace(base, problem=prob_t, facilities=base.facilities.assign(capacity_t=cap)))
    open_cost = np.where(existing, 0.0, spec.opening_cost_per_m2 * p.fac_area_m2)
    close_cost = np.where(existing, 0.0, spec.closing_cost_per_m2 * p.fac_area_m2)
    close_cost[existing] = rows["close_cost_eur"].to_numpy(float)
    mp = MultiPeriodProblem(name=instance.name, labels=spec.labels, start=spec.start, years=spec.years,
                            periods=[c.problem for c in periods], option_ids=p.fac_ids, available=available,
                            required=required, open_cost=open_cost, close_cost=close_cost,
                            initially_open=np.where(existing, available[0], False), no_reopen=existing.copy(),
                            meta={"kind": "chain"})
    return PeriodChain(mp, base, periods, instance)
