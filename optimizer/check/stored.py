"""Re-check a stored result: the folder a solve wrote, read back and verified independently (``siting verify``).

A result can be edited after it was written (a municipality moved to another region's bank, a facility deleted,
the objective lowered by hand) or its copies can drift apart. :func:`verify_stored` reads the folder — CSV
tables, GeoPackage layers, ``summary.json`` — reloads the instance it was solved from (with the same overrides),
and runs the same independent verifiers as before writing, on the *stored* tables:

* named instances: :func:`~optimizer.check.verify.verify_problem` (every constraint, the objective and bound)
  on the stored facilities and allocations, and :func:`~optimizer.check.verify.verify_siting` (the study's rules
  re-derived from the instance tables, distances from coordinates);
* matrix instances: :func:`~optimizer.check.verify.verify_problem` on the stored facilities and assignments;
* chain instances: :func:`~optimizer.check.chain.verify_chain` on the stored facilities and flows;
* multi-period instances (``periods``, ``chain_periods``): each period's rows as above, then across periods by
  :mod:`optimizer.check.periods` (reserve-land windows, free land per period, existing facilities' windows and
  capacities, every opening and closing and the total over the horizon recomputed);

and in every case: the GeoPackage layers against the CSV tables (same rows, same values, points where the CSV
says), the ``summary.json`` figures against the tables, and the instance hash (a changed instance is reported as a
note: the result is then checked against the instance as it is now). Nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.atomic import RESULT_MARKER, folder_marker
from optimizer.check.stored_common import (
    StoredCheck,
    check_copies_and_gap,
    close,
    load_stored_instance,
    number,
    objective_total,
    read_table,
)
from optimizer.check.stored_kinds import check_chain, check_matrix
from optimizer.check.stored_periods import check_chain_periods, check_periods
from optimizer.errors import InputError, VerificationError

class UnverifiedResultError(VerificationError):
    """A stored result that fails the independent check, refused by a command that reads results."""

    def __init__(self, check: StoredCheck, what: str) -> None:
        super().__init__(check.violations)
        head = "; ".join(check.violations[:3]) + (f" (+{len(check.violations) - 3} more)" if len(check.violations) > 3
                                                  else "")
        self.text = (f"{what} refused: {check.folder} fails the independent check ({head}); run `siting verify "
                     f"{check.folder}` for the full list, or pass --allow-unverified to mark it UNVERIFIED")

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------
def result_folder(path: str | Path) -> Path:
    """The result folder of ``path`` (the folder, or its ``result.gpkg`` / ``summary.json``); refuse anything else."""
    path = Path(path)
    folder = path.parent if path.suffix.lower() in (".gpkg", ".json") else path
    if not folder.is_dir():
        raise InputError("no result folder here: give the folder `siting solve --out` wrote", file=path)
    if folder_marker(folder) != "result":
        what = folder_marker(folder)
        msg = (f"is a siting {what} folder, not a single result" if what else
               f"is not a siting result (no {RESULT_MARKER} with the result marker): give the folder "
               "`siting solve --out` wrote")
        raise InputError(msg, file=folder)
    return folder.resolve()


def read_summary(folder: Path) -> dict:
    try:
        return json.loads((folder / RESULT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {RESULT_MARKER} ({e}); the result is incomplete", file=folder) from None


def kind_of(summary: dict, folder: Path) -> str:
    """named, matrix, chain, periods or chain_periods (also for summaries written before the ``kind`` key)."""
    kind = summary.get("kind")
    if kind in ("named", "matrix", "chain", "periods", "chain_periods"):
        return kind
    periods = summary.get("periods")
    if isinstance(periods, list):  # a multi-period summary written before the kind key
        chain = any(isinstance(p, dict) and "facilities_per_echelon" in p for p in periods)
        return "chain_periods" if chain else "periods"
    if "facilities_per_echelon" in summary:
        return "chain"
    if (folder / "assignments.csv").is_file():
        return "matrix"
    return "named"


def find_instance(folder: Path, summary: dict, instance: str | Path | None) -> str | Path:
    """The instance a result was solved from: given, inside the result (``siting locate``), recorded, or named."""
    if instance is not None:
        return instance
    inside = sorted((folder / "instance").glob("*.toml")) if (folder / "instance").is_dir() else []
    if len(inside) == 1:
        return inside[0]
    recorded = summary.get("instance_path")
    if recorded and Path(recorded).exists():
        return Path(recorded)
    name = summary.get("instance")
    if summary.get("kind") != "matrix" and isinstance(name, str):
        from optimizer.data.instance import INSTANCES_DIR

        if (INSTANCES_DIR / f"{name}.toml").is_file():
            return name
    where = f" (recorded: {recorded})" if recorded else ""
    raise InputError(f"cannot find the instance this result was solved from{where}: give it with --instance "
                     "NAME_OR_PATH", file=folder, field="instance")


# ---------------------------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------------------------
def verify_stored(path: str | Path, instance: str | Path | None = None) -> StoredCheck:
    """Re-check the stored result at ``path`` independently (see the module docstring).

    Parameters
    ----------
    path
        The result folder (or its ``result.gpkg``).
    instance
        The instance to check against (name or path); default: the one the result records.

    Returns
    -------
    StoredCheck
        ``violations`` is empty when every check holds.

    Raises
    ------
    InputError
        When ``path`` is not a result folder, a file is missing or unreadable, or the instance cannot be loaded.
    """
    from optimizer.output.export import no_gdal_sidecars

    no_gdal_sidecars()
    folder = result_folder(path)
    summary = read_summary(folder)
    kind = kind_of(summary, folder)
    source = find_instance(folder, summary, instance)
    check = StoredCheck(folder, kind, str(summary.get("instance", "")))
    checker = {"named": _check_named, "matrix": check_matrix, "chain": check_chain,
               "periods": check_periods, "chain_periods": check_chain_periods}[kind]
    checker(folder, summary, source, check)
    return check


# --- named instances ----------------------------------------------------------------------------------------------
def _check_named(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    from optimizer.check.verify import verify_siting
    from optimizer.model.formulation import compile_instance
    from optimizer.output.tables import ResultTables

    fac, alloc = read_table(folder / "facilities.csv"), read_table(folder / "allocations.csv")
    inst = load_stored_instance(summary, source, check)
    sp = compile_instance(inst)
    objective = objective_total(summary, check)
    bound = number(summary.get("bound"))
    problem, sol = stored_named_solution(sp, fac, alloc, objective, bound, str(summary.get("status", "")), check)
    _check_named_problem(sp, problem, sol, check)
    demand_csv = folder / "demand.csv"  # per demand unit: covered flags of a coverage model
    tables = ResultTables(fac, alloc, read_table(demand_csv) if demand_csv.is_file() else pd.DataFrame(), pd.DataFrame())
    try:
        domain = verify_siting(sp, sol, tables)
        check.checks += [f"the study's rules: {c}" for c in domain.checks]
        check.violations += domain.violations
    except (KeyError, ValueError, IndexError) as e:  # a table edited out of shape: ids the rules cannot look up
        check.violations.append(f"the stored tables do not fit the instance ({type(e).__name__}: {str(e)[:80]})")
    check_named_summary(summary, fac, alloc, check)
    check_copies_and_gap(folder, {"facilities": fac, "allocations": alloc}, summary, objective, check)


def stored_named_solution(sp, fac: pd.DataFrame, alloc: pd.DataFrame, objective: float,  # noqa: ANN001
                          bound: float | None, status: str, check: StoredCheck, label: str = ""):  # noqa: ANN201
    """The stored facilities and allocations of a location instance as the compiled problem's arrays:
    ``(problem, solution)``, the problem's arcs being the stored allocations (so an allocation the solver could not
    have made is still checked), their costs looked up in the instance. Ids the instance does not know, pairs it
    does not allow and stored costs that differ from the instance's become violations (prefixed with ``label``)."""
    from optimizer.problem import Solution

    p = sp.problem
    y = np.zeros(p.n_options, dtype=bool)
    option = pd.Index(p.option_ids).get_indexer(fac["facility_id"])
    for k in np.flatnonzero(option < 0)[:3]:
        check.violations.append(f"{label}facilities.csv: {fac['facility_id'].iloc[k]!r} is not a facility option of "
                                "the instance (site, programme and size)")
    y[option[option >= 0]] = True
    client = pd.Index(p.client_ids).get_indexer(alloc["programme"] + ":" + alloc["demand_id"])
    opt = pd.Index(p.option_ids).get_indexer(alloc["facility_id"])
    for k in np.flatnonzero(client < 0)[:3]:
        check.violations.append(f"{label}allocations.csv: demand unit {alloc['demand_id'].iloc[k]!r} of programme "
                                f"{alloc['programme'].iloc[k]!r} is not in the instance")
    known = (client >= 0) & (opt >= 0)
    cost, km, allowed = _pair_costs(sp, client[known], opt[known])
    rows = np.flatnonzero(known)
    for k in rows[~allowed][:3]:
        check.violations.append(f"{label}allocations.csv: {alloc['municipality'].iloc[k]} → "
                                f"{alloc['facility_id'].iloc[k]} is not an allowed pair of the instance (assignment "
                                "rule)")
    share = alloc["share"].to_numpy(float)[rows]
    problem = dataclasses.replace(p, arc_client=client[known].astype(np.int64), arc_option=opt[known].astype(np.int64),
                                  arc_cost=np.where(allowed, cost, 0.0), arc_km=km)
    sol = Solution(open_options=y, arc_share=np.clip(share, -1.0, 2.0), objective=objective,
                   bound=bound if bound is not None else -np.inf, status=status)
    stored_cost = alloc["cost"].to_numpy(float)[rows]
    bad = np.flatnonzero(allowed & ~np.isclose(stored_cost, cost * share, rtol=1e-6, atol=1e-6))
    for k in bad[:3]:
        r = rows[k]
        check.violations.append(f"{label}allocations.csv row {r + 2}: cost {stored_cost[k]:.6g}, the instance gives "
                                f"{cost[k] * share[k]:.6g} for {alloc['municipality'].iloc[r]} → "
                                f"{alloc['site_id'].iloc[r]}")
    return problem, sol


def _check_named_problem(sp, problem, sol, check: StoredCheck) -> None:  # noqa: ANN001 - SitingProblem, arrays
    """The array-level check of the stored allocation: every constraint, the objective and the bound.

    Programmes placed by a coverage model (LSCP, MCLP, ...) may leave demand unserved by design: the default
    model's part is checked as a whole problem of its own, the coverage parts by the coverage rules the domain
    check re-derives from coordinates (:func:`optimizer.check.verify.verify_siting`), and the objective — the cost
    of the stored allocation — is recomputed over everything.
    """
    from optimizer.check.verify import verify_problem
    from optimizer.model.plan import is_whole, subproblem
    from optimizer.problem import Solution, objective_parts

    groups = getattr(sp, "groups", None) or []
    if not groups or is_whole(sp.problem, groups) or all(g.spec is None for g in groups):
        check.add_report(verify_problem(problem, sol))
        return
    for group in groups:
        if group.spec is not None:
            continue
        sub, arcs = subproblem(problem, group)
        part = Solution(np.asarray(sol.open_options)[group.options], np.asarray(sol.arc_share)[arcs], float("nan"),
                        -np.inf, sol.status)
        report = verify_problem(sub, part)
        label = f"{', '.join(group.programmes)}: " if group.programmes else ""
        check.checks += [f"stored tables: {label}{c}" for c in report.checks]
        check.violations += [f"{label}{v}" for v in report.violations]
    check.checks.append("stored tables: objective recomputed (cost of the stored allocation)")
    total = objective_parts(problem, np.asarray(sol.open_options, bool), np.asarray(sol.arc_share, float))["total"]
    if np.isfinite(sol.objective) and not close(total, sol.objective):
        check.violations.append(f"objective {sol.objective:.6f} differs from recomputed {total:.6f}")


def _pair_costs(sp, client: np.ndarray, option: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """Cost, km and whether allowed, of each (client, option) pair, from the compiled instance: its arcs, or for a
    sparsified instance the arc source (every allowed pair, not just the k nearest)."""
    p = sp.problem
    if sp.arc_source is None:
        lookup = pd.Series(np.arange(p.n_arcs), index=p.arc_client.astype(np.int64) * p.n_options + p.arc_option)
        lookup = lookup[~lookup.index.duplicated()]
        arc = lookup.reindex(client.astype(np.int64) * p.n_options + option).to_numpy()
        allowed = ~np.isnan(arc)
        a = np.where(allowed, arc, 0).astype(np.int64)
        km = p.arc_km[a] if p.arc_km is not None else np.full(len(a), np.nan)
        return np.where(allowed, p.arc_cost[a], np.nan), np.where(allowed, km, np.nan), allowed
    cost, km, allowed = sp.arc_source.pairs(client, option)  # network pair costs (cached on disk)
    return np.where(allowed, cost, np.nan), np.where(allowed, km, np.nan), allowed


def check_named_summary(summary: dict, fac: pd.DataFrame, alloc: pd.DataFrame, check: StoredCheck) -> None:
    """Land take, counts per programme and transport in ``summary`` against the stored tables (a named result, or
    one period of a multi-period result)."""
    check.checks.append("summary: land take and counts per programme against the tables")
    land = float(fac["area_m2"].sum()) / 10_000.0
    stated = number(summary.get("land_take_ha"))
    if stated is not None and not close(stated, land):
        check.violations.append(f"summary.json: land take {stated:.4f} ha, the facilities take {land:.4f} ha")
    for pid, p in (summary.get("programmes") or {}).items():
        f = fac[fac["programme"] == pid]
        if isinstance(p, dict) and p.get("facilities") is not None and int(p["facilities"]) != len(f):
            check.violations.append(f"summary.json: {pid} has {p['facilities']} facilities, facilities.csv lists {len(f)}")
    tkm = number(summary.get("transport_tkm_per_yr"))
    if tkm is not None and "tkm" in alloc and not close(tkm, float(alloc["tkm"].sum())):
        check.violations.append(f"summary.json: transport {tkm:,.2f} t·km/yr, the allocations sum to "
                                f"{float(alloc['tkm'].sum()):,.2f}")


def require_verified(path: str | Path, what: str, *, allow_unverified: bool = False) -> StoredCheck:
    """Verify a stored result before a command reads it: refuse a failing one (exit 5) unless allowed.

    A result whose instance cannot be found (an older result of a manifest that moved) cannot be verified: it is
    refused too (exit 2, saying so), or with ``allow_unverified`` read and marked unverified.
    """
    try:
        check = verify_stored(path)
    except InputError as e:
        if e.field != "instance":
            raise
        if not allow_unverified:
            raise InputError(f"{e.message}; or pass --allow-unverified to {what} it marked UNVERIFIED", file=e.file,
                             field=e.field) from None
        summary = read_summary(result_folder(path))
        return StoredCheck(result_folder(path), kind_of(summary, result_folder(path)), str(summary.get("instance")),
                           violations=[f"not verified: {e.message}"])
    if check.violations and not allow_unverified:
        raise UnverifiedResultError(check, what)
    return check
