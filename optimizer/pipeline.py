"""One solve, end to end: load → compile → solve → verify → export, for each instance kind.

:func:`run` (named instances and manifests) is what ``siting solve`` calls; it is also the Python API for scripts
and sweeps. Each stage reports to an optional ``progress`` callback so the CLI can show it; nothing is written
until the verifier has passed. Matrix instances (:func:`run_matrix`) and plastics-chain instances
(:func:`run_chain`) take the same stages with their own model, verifier and summary (one schema for all three is
the next step, issue 14); so do multi-period instances of either kind (:func:`run_periods`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimizer.check.diagnose import explain_infeasible, presolve_checks
from optimizer.check.verify import verify_problem, verify_siting
from optimizer.check.verify_models import verify_models
from optimizer.data.instance import Instance, load_instance
from optimizer.errors import InfeasibleError, NoSolutionError, VerificationError
from optimizer.model.formulation import SitingProblem, compile_instance
from optimizer.output.export import network_layer, record_export_time, write_result
from optimizer.output.tables import ResultTables, result_tables, summary_dict
from optimizer.problem import Solution, Status
from optimizer.solver.options import SolveOptions
from optimizer.solver.models import ModelSolution, solve_models
from optimizer.solver.solve import solve_problem

Progress = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced: the solution, its tables, the manifest and where it was written."""

    siting: SitingProblem
    solution: Solution
    tables: ResultTables
    summary: dict
    out_dir: Path | None


def _noop(_: str) -> None:
    return None


def solve_instance(
    instance: Instance,
    *,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    backend: str = "auto",
    progress: Progress = _noop,
) -> tuple[SitingProblem, Solution, ResultTables, dict]:
    """Compile, solve and verify ``instance``; raise on infeasibility, no solution or a failed verification."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    progress("distances and model arrays")
    sp = compile_instance(instance)
    timings["compile"] = time.perf_counter() - t
    reasons = presolve_checks(sp)
    if reasons:
        raise InfeasibleError(reasons)
    params = instance.parameters
    options = SolveOptions(
        time_limit_s=float(params["time_limit_s"]) if time_limit_s is None else time_limit_s,
        mip_gap=float(params["mip_gap"]) if mip_gap is None else mip_gap,
        threads=(int(params["threads"]) or None) if threads is None else threads,
        backend=backend,
    )
    models = None
    if sp.arc_source is not None:
        progress(f"solving sparsified ({sp.problem.n_clients} clients, {sp.problem.n_options} options, "
                 f"{sp.sparsify['pairs']:,} pairs, k-nearest arcs with a certificate)")
        solution, sparsify_summary = _solve_sparsified(sp, options, int(params["sparsify_k"]))
    else:
        progress(f"solving ({sp.problem.n_clients} clients, {sp.problem.n_options} options, {sp.problem.n_arcs} arcs"
                 + "".join(f"; {g.model}: {', '.join(g.programmes)}" for g in sp.groups if g.spec is not None) + ")")
        models = solve_models(sp.problem, sp.groups, options)
        solution = models.solution
        sparsify_summary = {**sp.sparsify, "certified": None}
    solution.timings_s = {"compile": timings["compile"], **solution.timings_s}
    if solution.status == Status.INFEASIBLE:
        raise InfeasibleError(explain_models(sp, models))
    if not solution.has_solution:
        msg = f"no feasible solution within the time limit of {options.time_limit_s:g} s; raise --time-limit"
        raise NoSolutionError(msg)
    progress("verifying")
    t = time.perf_counter()
    generic = verify_problem(sp.problem, solution) if models is None else verify_models(sp.problem, models)[0]
    tables = result_tables(sp, solution)
    domain = verify_siting(sp, solution, tables)
    if generic.violations or domain.violations:
        raise VerificationError(generic.violations + domain.violations)
    solution.timings_s["verify"] = time.perf_counter() - t
    verification = {"passed": True, "checks": generic.checks + domain.checks,
                    "objective_recomputed": domain.objective}
    summary = summary_dict(sp, solution, tables, verification,
                           {"solve_options": options.__dict__, "sparsify": sparsify_summary}, models)
    return sp, solution, tables, summary


def explain_models(sp: SitingProblem, models: ModelSolution | None) -> list[str]:
    """Why a solve found no solution, in the instance's terms: a coverage part's reason, or the p-median diagnosis."""
    failed = models.failed if models is not None else None
    if failed is None or failed.coverage is None:
        return explain_infeasible(sp)
    spec = failed.group.spec
    within = "" if spec.service_km is None else f" within {spec.service_km:g} km"
    reason = failed.message or ("the count, land and required-facility rules cannot all hold with every demand unit "
                                "covered")
    return [f"programme {', '.join(failed.group.programmes)} ({spec.model}{within}): {reason}"]


def _solve_sparsified(sp: SitingProblem, options: SolveOptions, k: int) -> tuple[Solution, dict]:
    """Solve on k-nearest arcs, certified against the dense problem (:func:`optimizer.solver.sparsified.solve_sparsified`).

    ``sp.problem`` becomes the final sparse problem, so the verifier and the export see the arcs the solution
    refers to; the verifier still recomputes every allocation's distance and cost from the coordinates.
    """
    import numpy as np

    from optimizer.solver.sparsified import solve_sparsified

    result = solve_sparsified(sp.problem, sp.arc_source, k=k, options=options)
    sp.problem = result.problem
    history = [{key: ((float(v) if np.isfinite(v) else None) if isinstance(v, (float, np.floating)) else v)
                for key, v in row.items()} for row in result.history]  # JSON has no inf
    summary = {
        **sp.sparsify,
        "certified": bool(result.certified),
        "rounds": int(result.rounds),
        "history": history,
        "k_initial": k,
        "k_final": {"min": int(result.k.min()), "median": float(np.median(result.k)),
                    "mean": float(result.k.mean()), "max": int(result.k.max())},
        "arcs_final": int(result.problem.n_arcs),
        "guarantee": ("the sparse optimum equals the dense optimum within the MIP gap: the last relaxation "
                      "(k-nearest arcs plus a 'beyond' arc per client at its cheapest left-out cost) used no "
                      "beyond arc" if result.certified else
                      "NOT certified: the bound is the relaxations' (valid for the dense problem), the solution "
                      "is the sparse problem's"),
    }
    return result.solution, summary


def run(
    name_or_path: str | Path,
    *,
    overrides: dict[str, str] | None = None,
    out_dir: Path | None = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    backend: str = "auto",
    progress: Progress = _noop,
    geoparquet: bool = False,
    crs: str | None = None,
    extra_dirs: dict[str, Path] | None = None,
) -> RunResult:
    """Load, solve, verify and (if ``out_dir`` is given) export a named instance or manifest path.

    ``geoparquet`` also writes every layer as GeoParquet; ``crs`` reprojects the GIS output (default EPSG:31370);
    ``extra_dirs`` (name -> folder) are copied into the result folder in the same atomic move.
    """
    t0 = time.perf_counter()
    progress("loading instance")
    instance = load_instance(name_or_path, overrides or {})
    sp, solution, tables, summary = solve_instance(
        instance, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads, backend=backend, progress=progress
    )
    written = None
    if out_dir is not None:
        progress("writing results")
        t = time.perf_counter()
        summary["timings_s"]["total_before_export"] = round(t - t0, 4)
        written = write_result(out_dir, tables, summary,
                               extra_layers=_network_layer(sp),
                               geoparquet=geoparquet, crs=crs, extra_dirs=extra_dirs)
        summary["timings_s"]["export"] = round(time.perf_counter() - t, 4)
        record_export_time(written, summary["timings_s"]["export"])
    return RunResult(sp, solution, tables, summary, written)


def run_matrix(
    path: Path,
    *,
    out_dir: Path | None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    backend: str = "auto",
) -> dict:
    """Solve the matrix instance at ``path`` (``docs/matrix-format.md``) with its model, verify it, and write
    ``facilities.csv``, ``assignments.csv``, ``clients.csv`` (per client its facility, distance and whether it is
    covered) and ``summary.json``; returns the summary."""
    import hashlib

    import numpy as np
    import pandas as pd

    from optimizer.atomic import atomic_directory, result_marker
    from optimizer.data.matrix_files import load_matrix_instance, matrix_files_read
    from optimizer.model.plan import matrix_groups
    from optimizer.output.export import strict_dumps
    from optimizer.output.matrix_models import matrix_model_tables
    from optimizer.output.tables import versions

    t0 = time.perf_counter()
    problem = load_matrix_instance(path)
    t_load = time.perf_counter() - t0
    options = SolveOptions(time_limit_s=time_limit_s, mip_gap=1e-6 if mip_gap is None else mip_gap, threads=threads,
                           backend=backend)
    models = solve_models(problem, matrix_groups(problem), options)
    part = models.parts[0]
    solution = part.solution  # the model's own objective and bound (a coverage model: facilities, covered demand...)
    if solution.status == Status.INFEASIBLE:
        raise InfeasibleError([f"{problem.name}: " + (part.message or "capacities, counts or required facilities "
                                                      "cannot all hold")])
    if not solution.has_solution:
        raise NoSolutionError(f"no feasible solution within {time_limit_s} s")
    whole, reports = verify_models(problem, models)
    whole.raise_if_failed()
    report = reports[0]
    digest = hashlib.sha256()
    for f in matrix_files_read(path):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    used = np.flatnonzero(solution.arc_share > 1e-9)
    assignments = pd.DataFrame(
        {
            "client": problem.client_ids[problem.arc_client[used]],
            "facility": problem.option_ids[problem.arc_option[used]],
            "share": solution.arc_share[used],
            "cost": problem.arc_cost[used] * solution.arc_share[used],
        }
    )
    facilities = pd.DataFrame({"facility": problem.option_ids, "open": solution.open_options})
    clients, equity, model = matrix_model_tables(problem, part, report)
    summary = {
        **result_marker(),
        "kind": "matrix",
        "instance": problem.name,
        "instance_path": str(Path(path).resolve()),
        "instance_hash": digest.hexdigest(),
        "status": solution.status,
        "optimal": solution.status == Status.OPTIMAL,
        "objective": solution.objective,
        "objective_recomputed": report.objective,
        "bound": solution.bound,
        "gap": part.gap if np.isfinite(part.gap) else None,  # in the model's own sense (MCLP maximises)
        "open_facilities": int(solution.open_options.sum()),
        "size": {"clients": problem.n_clients, "facilities": problem.n_options, "arcs": problem.n_arcs},
        "solver": solution.solver,
        "timings_s": {"load": t_load, **solution.timings_s},
        "verification": {"passed": True, "checks": whole.checks},
        "solve_options": options.__dict__,
        "versions": versions(),
        "model": model,
        "equity": equity,
    }
    if out_dir is not None:
        out_dir = Path(out_dir).resolve()
        with atomic_directory(out_dir) as tmp:
            facilities.to_csv(tmp / "facilities.csv", index=False)
            assignments.to_csv(tmp / "assignments.csv", index=False)
            clients.to_csv(tmp / "clients.csv", index=False)
            (tmp / "summary.json").write_text(strict_dumps(summary) + "\n", encoding="utf-8")
        summary["out_dir"] = str(out_dir)
    return summary


def _network_layer(sp: SitingProblem) -> dict:
    """The network links around the instance (its demand and candidate points) for the result's GeoPackage."""
    points = np.vstack([sp.instance.demand[["x", "y"]].to_numpy(float), sp.sites[["x", "y"]].to_numpy(float)])
    return network_layer(sp.geography.tables if sp.geography else None, points)


def run_chain(name_or_path: str | Path, overrides: dict[str, str] | None = None, out_dir: Path | None = None,
              time_limit_s: float | None = None) -> dict:
    """Load, compile, solve, verify and (optionally) export a chain instance (S2b, S5, S8); returns the summary."""
    from optimizer.check.chain import chain_routes, verify_chain
    from optimizer.model.chain_compile import compile_chain
    from optimizer.output.chain import chain_summary, chain_tables, write_chain
    from optimizer.solver.chain import solve_chain

    inst = load_instance(name_or_path, overrides or {})
    cc = compile_chain(inst)
    limit = float(inst.parameters["time_limit_s"]) if time_limit_s is None else time_limit_s
    sol = solve_chain(cc.problem, limit, float(inst.parameters["mip_gap"]))
    if sol.status == Status.INFEASIBLE:
        p = cc.problem
        need = p.supply_t.sum() * p.yields[0]
        raise InfeasibleError([f"the chain cannot process its flows: {p.supply_t.sum():,.0f} t PMD, {need:,.0f} t "
                               f"to mechanical recycling plus {p.gw_supply_t.sum():,.0f} t imports, with at most "
                               f"{p.new_count[1, 1]:g} new mechanical and {p.new_count[2, 1]:g} new chemical plants"])
    if not sol.status.has_solution:
        raise NoSolutionError(f"no feasible chain solution within {limit:g} s (status {sol.status})")
    routes = chain_routes(cc, inst, sol.flow_t)
    violations = verify_chain(cc.problem, sol, cc.coords, routes=routes)
    if violations:
        raise VerificationError(violations)
    fac, flows = chain_tables(cc, sol, routes["split"])
    summary = chain_summary(inst, cc, sol, fac, flows)
    if out_dir is not None:
        write_chain(Path(out_dir), fac, flows, summary)
        summary["out_dir"] = str(out_dir)
    return summary


def run_periods(name_or_path: str | Path, overrides: dict[str, str] | None = None, out_dir: Path | None = None,
                time_limit_s: float | None = None, mip_gap: float | None = None, threads: int | None = None,
                progress: Progress = _noop) -> dict:
    """Load, compile, solve, verify every period and (optionally) export a multi-period instance (a manifest with
    ``[periods]``: named programmes or the plastics chain, docs/periods.md); returns the summary."""
    from optimizer.check.periods import verify_chain_periods, verify_siting_periods
    from optimizer.model.periods_compile import compile_chain_periods, compile_siting_periods
    from optimizer.output import periods as out
    from optimizer.solver.periods import solve_periods

    t0 = time.perf_counter()
    progress("loading instance")
    inst = load_instance(name_or_path, overrides or {})
    params = inst.parameters
    options = SolveOptions(time_limit_s=float(params["time_limit_s"]) if time_limit_s is None else time_limit_s,
                           mip_gap=float(params["mip_gap"]) if mip_gap is None else mip_gap,
                           threads=(int(params["threads"]) or None) if threads is None else threads)
    chain = any(p.kind == "chain" for p in inst.programmes)
    progress("model arrays per period")
    compiled = compile_chain_periods(inst) if chain else compile_siting_periods(inst)
    t_compile = time.perf_counter() - t0
    if not chain:
        reasons = [f"{label}: {r}" for label, sp in zip(compiled.mp.labels, compiled.periods)
                   for r in presolve_checks(sp)]
        if reasons:
            raise InfeasibleError(reasons)
    progress(f"solving {compiled.mp.n_periods} periods × {compiled.mp.n_options} options")
    sol = solve_periods(compiled.mp, options)
    sol.timings_s = {"compile": t_compile, **sol.timings_s}
    if sol.status == Status.INFEASIBLE:
        reasons = [] if chain else [f"{label}: {r}" for label, sp in zip(compiled.mp.labels, compiled.periods)
                                    for r in explain_infeasible(sp) if not r.startswith("the rules cannot all hold")]
        raise InfeasibleError(reasons or [
            f"{inst.name}: HiGHS proved the periods infeasible, and no period's rules conflict in its LP relaxation: "
            "whole facilities do not fit the land of some period, or the reserve-land and existing facilities' "
            "windows cannot hold in sequence; relax the timeline's assumptions (docs/periods.md) and compare"])
    if not sol.status.has_solution:
        raise NoSolutionError(f"no feasible solution within the time limit of {options.time_limit_s:g} s; raise "
                              "--time-limit")
    progress("verifying every period")
    t = time.perf_counter()
    if chain:
        report = verify_chain_periods(compiled, sol)
    else:
        per, combined, transitions = out.siting_period_tables(compiled, sol)
        report = verify_siting_periods(compiled, sol, per)
    if report.violations:
        raise VerificationError(report.violations)
    sol.timings_s["verify"] = time.perf_counter() - t
    verification = {"passed": True, "per_period": True, "checks": report.checks,
                    "objective_recomputed": report.objective}
    if chain:
        summary, fac, flows, transitions = out.chain_periods_summary(compiled, sol, verification)
    else:
        summary = out.siting_periods_summary(compiled, sol, per, transitions, verification,
                                             {"solve_options": options.__dict__})
    if out_dir is not None:
        progress("writing results")
        if chain:
            out.write_chain_periods(Path(out_dir), fac, flows, transitions, summary, compiled.mp.labels)
        else:
            out.write_siting_periods(Path(out_dir), combined, per, transitions, summary, compiled.mp.labels,
                                     networks=_network_layer(compiled.base))
        summary["out_dir"] = str(out_dir)
    return summary
