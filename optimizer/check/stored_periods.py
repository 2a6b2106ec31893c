"""Re-check a stored multi-period result (``siting verify`` of a folder a ``[periods]`` solve wrote).

The tables of every period are read back (the ``period`` field of ``facilities.csv`` and ``allocations.csv`` /
``flows.csv``), the instance is reloaded and compiled per period, and the same verifiers as before writing run on
the *stored* rows: :func:`~optimizer.check.periods.verify_siting_periods` (each period's constraints and rules,
reserve-land windows, free land under the coexistence share, openings and closings, the total over the horizon) or
:func:`~optimizer.check.periods.verify_chain_periods` (each period's chain with its routes on the networks, the
existing capacities from their schedules, the transitions and the total). Costs per pair come from the instance
(network pair costs, cached on disk), never from the stored tables.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.check.stored_common import (
    StoredCheck,
    check_copies,
    check_gap,
    hash_note,
    number,
    objective_total,
    read_table,
    recorded_overrides,
)


def _period_rows(frame: pd.DataFrame, label: str, name: str, check: StoredCheck) -> pd.DataFrame:
    if "period" not in frame:
        check.violations.append(f"{name} has no period field: not a multi-period result")
        return frame.iloc[0:0]
    return frame[frame["period"].astype(str) == label].reset_index(drop=True)


def _periods_solution(summary: dict, solutions: list, open_rows: list[np.ndarray], objective: float):  # noqa: ANN202
    from optimizer.model.periods import MultiPeriodSolution

    bound = number(summary.get("bound"))
    return MultiPeriodSolution(open=np.vstack(open_rows), solutions=solutions, objective=objective,
                               bound=bound if bound is not None else -np.inf, status=str(summary.get("status", "")))


def check_periods(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    """A multi-period named-instance result: every period as a stored single-period result, then across periods."""
    from optimizer.check.periods import verify_siting_periods
    from optimizer.check.stored import check_named_summary, stored_solution
    from optimizer.data.instance import load_instance
    from optimizer.model.periods_compile import compile_siting_periods
    from optimizer.output.tables import ResultTables

    fac, alloc = read_table(folder / "facilities.csv"), read_table(folder / "allocations.csv")
    inst = load_instance(source, recorded_overrides(summary))
    hash_note(check, summary.get("instance_hash"), inst.content_hash())
    ps = compile_siting_periods(inst)
    objective = objective_total(summary, check)
    parts = summary.get("periods") or []
    if len(parts) != len(ps.periods):
        check.violations.append(f"summary.json lists {len(parts)} periods, the instance has {len(ps.periods)}")
        return
    periods, solutions, tables, open_rows = [], [], [], []
    for label, sp_t, part in zip(ps.mp.labels, ps.periods, parts):
        f_t, a_t = _period_rows(fac, label, "facilities.csv", check), _period_rows(alloc, label, "allocations.csv", check)
        before = len(check.violations)
        problem, sol = stored_solution(sp_t, f_t, a_t, check, float("nan"), -np.inf, str(summary.get("status", "")))
        check_named_summary(part, f_t, a_t, check)  # the period's figures in summary.json against its rows
        check.violations[before:] = [f"{label}: {v}" for v in check.violations[before:]]
        periods.append(dataclasses.replace(sp_t, problem=problem))
        solutions.append(sol)
        tables.append(ResultTables(f_t, a_t, pd.DataFrame(), pd.DataFrame()))
        open_rows.append(pd.Index(ps.mp.option_ids).isin(f_t["facility_id"]))
    try:
        report = verify_siting_periods(dataclasses.replace(ps, periods=periods),
                                       _periods_solution(summary, solutions, open_rows, objective), tables)
        check.checks += [f"stored tables: {c}" for c in report.checks]
        check.violations += report.violations
    except (KeyError, ValueError, IndexError) as e:  # a table edited out of shape: ids the rules cannot look up
        check.violations.append(f"the stored tables do not fit the instance ({type(e).__name__}: {str(e)[:80]})")
    check_copies(folder, {"facilities": fac, "allocations": alloc}, summary, check)
    check_gap(summary, objective, check)


def check_chain_periods(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    """A multi-period chain result: each period's stored flows on its compiled chain, then across periods."""
    from optimizer.check.periods import verify_chain_periods
    from optimizer.check.stored_kinds import stored_chain_solution
    from optimizer.data.instance import load_instance
    from optimizer.model.periods_compile import compile_chain_periods

    fac, flows = read_table(folder / "facilities.csv"), read_table(folder / "flows.csv")
    overrides = recorded_overrides(summary) or {k: str(v) for k, v in (summary.get("parameters") or {}).items()}
    inst = load_instance(source, overrides)
    hash_note(check, summary.get("instance_hash"), inst.content_hash())
    pc = compile_chain_periods(inst)
    objective = objective_total(summary, check)
    solutions, open_rows = [], []
    for label, cc in zip(pc.mp.labels, pc.periods):
        f_t, fl_t = _period_rows(fac, label, "facilities.csv", check), _period_rows(flows, label, "flows.csv", check)
        before = len(check.violations)
        sol = stored_chain_solution(cc, inst, f_t, fl_t, check, float("nan"), -np.inf, str(summary.get("status", "")))
        check.violations[before:] = [f"{label}: {v}" for v in check.violations[before:]]
        solutions.append(sol)
        open_rows.append(np.asarray(sol.open_fac, bool))
    report = verify_chain_periods(pc, _periods_solution(summary, solutions, open_rows, objective))
    check.checks += [f"stored tables: {c}" for c in report.checks]
    check.violations += report.violations
    check_copies(folder, {"facilities": fac, "flows": flows}, summary, check)
    check_gap(summary, objective, check)
