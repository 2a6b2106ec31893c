"""The stored-result checks of multi-period results (kinds ``periods`` and ``chain_periods``, ``docs/periods.md``).

A multi-period result folder holds every period's rows in one table with a ``period`` field (``facilities.csv``,
``allocations.csv`` or ``flows.csv``). Each period's rows are read back as that period's problem (as a single
result is, :func:`optimizer.check.stored.stored_named_solution`,
:func:`optimizer.check.stored_kinds.stored_chain_solution`), then the same verifiers as before writing check them
period by period and across periods (:mod:`optimizer.check.periods`): reserve-land windows, free land per period,
existing facilities' windows and capacities, every opening and closing and the total over the horizon, recomputed
from the instance and the stored tables.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from optimizer.check import stored_common as common


def _period_rows(frame: pd.DataFrame, name: str, labels: tuple[str, ...],
                 check: common.StoredCheck) -> dict[str, pd.DataFrame]:
    """The rows of ``frame`` per period label; rows of a period the instance does not have are violations."""
    if "period" not in frame:
        check.violations.append(f"{name} has no period column; a multi-period result gives each row its period")
        return {label: frame.iloc[:0] for label in labels}
    period = frame["period"].astype(str)
    for label in sorted(set(period) - set(labels))[:3]:
        check.violations.append(f"{name}: period {label!r} is not a period of the instance ({', '.join(labels)})")
    return {label: frame[period == label] for label in labels}


def _stored_periods(summary: dict, labels: tuple[str, ...], check: common.StoredCheck) -> list[dict]:
    """The summary's ``periods`` entries in the instance's order (an empty dict for a period it lacks)."""
    given = {str(p.get("period")): p for p in summary.get("periods") or [] if isinstance(p, dict)}
    missing = [label for label in labels if label not in given]
    if missing:
        check.violations.append(f"summary.json: no entry for period(s) {', '.join(missing)}")
    return [given.get(label, {}) for label in labels]


def _period_objective(entry: dict, key: str) -> float:
    value = entry.get(key)
    value = value.get("total") if isinstance(value, dict) else value
    return float(value) if common.number(value) is not None else float("nan")


def _claimed(summary: dict, solutions: list, objective: float) -> SimpleNamespace:
    """The stored result as the multi-period verifiers read a solve's: per-period solutions, objective and bound."""
    return SimpleNamespace(solutions=solutions, objective=objective, bound=common.recorded_bound(summary))


def _period_figures(entry: dict, fac: pd.DataFrame, alloc: pd.DataFrame, label: str,
                    check: common.StoredCheck) -> None:
    """A period's figures in ``summary.json`` against its rows: land take, facilities, and per programme the counts
    and transport (as for a named result, :func:`optimizer.check.stored.check_named_summary`)."""
    from optimizer.check.stored import check_named_summary

    one = common.StoredCheck(check.folder, check.kind, check.instance)
    check_named_summary(entry, fac, alloc, one)
    check.violations += [v.replace("summary.json: ", f"summary.json: {label} ", 1) for v in one.violations]
    if common.number(entry.get("facilities")) is not None and int(entry["facilities"]) != len(fac):
        check.violations.append(f"summary.json: {label} has {entry['facilities']} facilities, facilities.csv lists "
                                f"{len(fac)}")


def check_periods(folder: Path, summary: dict, source: str | Path, check: common.StoredCheck) -> None:
    """A multi-period location result: every period's facilities and allocations against that period's problem."""
    from optimizer.check.periods import verify_siting_periods
    from optimizer.check.stored import stored_named_solution
    from optimizer.model.periods_compile import compile_siting_periods
    from optimizer.output.tables import ResultTables

    fac, alloc = common.read_table(folder / "facilities.csv"), common.read_table(folder / "allocations.csv")
    demand_csv = folder / "demand.csv"
    demand = common.read_table(demand_csv) if demand_csv.is_file() else pd.DataFrame({"period": []})
    inst = common.load_stored_instance(summary, source, check)
    ps = compile_siting_periods(inst)
    labels = tuple(ps.mp.labels)
    objective = common.objective_total(summary, check)
    entries = _stored_periods(summary, labels, check)
    fac_t, alloc_t = _period_rows(fac, "facilities.csv", labels, check), _period_rows(alloc, "allocations.csv",
                                                                                       labels, check)
    dem_t = _period_rows(demand, "demand.csv", labels, check) if len(demand) else {label: demand for label in labels}
    periods, solutions, tables = [], [], []
    for label, sp_t, entry in zip(labels, ps.periods, entries):
        problem, sol = stored_named_solution(sp_t, fac_t[label], alloc_t[label], _period_objective(entry, "objective"),
                                             None, str(summary.get("status", "")), check, label=f"{label}: ")
        stored_sp = copy.copy(sp_t)
        stored_sp.problem = problem  # the stored allocations are the arcs the verifier checks
        periods.append(stored_sp)
        solutions.append(sol)
        tables.append(ResultTables(fac_t[label], alloc_t[label], dem_t[label], pd.DataFrame()))
        _period_figures(entry, fac_t[label], alloc_t[label], label, check)
    claimed = _claimed(summary, solutions, objective)
    try:
        check.add_report(verify_siting_periods(dataclasses.replace(ps, periods=periods), claimed, tables))
    except (KeyError, ValueError, IndexError) as e:  # a table edited out of shape: ids the rules cannot look up
        check.violations.append(f"the stored tables do not fit the instance ({type(e).__name__}: {str(e)[:80]})")
    common.check_copies_and_gap(folder, {"facilities": fac, "allocations": alloc}, summary, objective, check)


def check_chain_periods(folder: Path, summary: dict, source: str | Path, check: common.StoredCheck) -> None:
    """A multi-period chain result: every period's facilities and flows against that period's chain."""
    from optimizer.check.periods import verify_chain_periods
    from optimizer.check.stored_kinds import stored_chain_solution
    from optimizer.model.periods_compile import compile_chain_periods

    fac, flows = common.read_table(folder / "facilities.csv"), common.read_table(folder / "flows.csv")
    inst = common.load_stored_instance(summary, source, check, parameters_fallback=True)
    pc = compile_chain_periods(inst)
    labels = tuple(pc.mp.labels)
    objective = common.objective_total(summary, check)
    entries = _stored_periods(summary, labels, check)
    fac_t, flows_t = _period_rows(fac, "facilities.csv", labels, check), _period_rows(flows, "flows.csv", labels, check)
    solutions = []
    for label, cc, entry in zip(labels, pc.periods, entries):
        solutions.append(stored_chain_solution(cc, fac_t[label], flows_t[label], _period_objective(entry,
                                               "yearly_cost_eur"), None, str(summary.get("status", "")), check,
                                               label=f"{label}: ", instance=inst))
        land = float(fac_t[label]["new_land_ha"].sum()) if "new_land_ha" in fac_t[label] else float("nan")
        stated = common.number(entry.get("new_land_take_ha"))
        if stated is not None and not common.close(stated, land):
            check.violations.append(f"summary.json: {label} new land take {stated:.4f} ha, its facilities take "
                                    f"{land:.4f} ha")
    check.add_report(verify_chain_periods(pc, _claimed(summary, solutions, objective)))
    common.check_copies_and_gap(folder, {"facilities": fac, "flows": flows}, summary, objective, check)
