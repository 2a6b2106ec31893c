"""One solve, end to end: instance → distances/model → solve → verify → export.

:func:`run` is what ``siting solve`` calls; it is also the Python API for scripts and sweeps. Each stage reports
to an optional ``progress`` callback so the CLI can show it; nothing is written until the verifier has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optimizer.diagnose import InfeasibleError, explain_infeasible, presolve_checks
from optimizer.export import ResultTables, result_tables, summary_dict, write_result
from optimizer.formulation import SitingProblem, compile_instance
from optimizer.instance import Instance, load_instance
from optimizer.problem import Solution
from optimizer.solve import SolveOptions, solve_problem
from optimizer.verify import VerificationError, verify_problem, verify_siting

Progress = Callable[[str], None]


class NoSolutionError(Exception):
    """The time limit ran out before the solver found any feasible solution."""


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
    if sp.arc_source is not None:
        progress(f"solving sparsified ({sp.problem.n_clients} clients, {sp.problem.n_options} options, "
                 f"{sp.sparsify['pairs']:,} pairs, k-nearest arcs with a certificate)")
        solution, sparsify_summary = _solve_sparsified(sp, options, int(params["sparsify_k"]))
    else:
        progress(f"solving ({sp.problem.n_clients} clients, {sp.problem.n_options} options, {sp.problem.n_arcs} arcs)")
        solution = solve_problem(sp.problem, options)
        sparsify_summary = {**sp.sparsify, "certified": None}
    solution.timings_s = {"compile": timings["compile"], **solution.timings_s}
    if solution.status == "infeasible":
        raise InfeasibleError(explain_infeasible(sp))
    if not solution.has_solution:
        msg = f"no feasible solution within the time limit of {options.time_limit_s:g} s; raise --time-limit"
        raise NoSolutionError(msg)
    progress("verifying")
    t = time.perf_counter()
    generic = verify_problem(sp.problem, solution)
    tables = result_tables(sp, solution)
    domain = verify_siting(sp, solution, tables)
    if generic.violations or domain.violations:
        raise VerificationError(generic.violations + domain.violations)
    solution.timings_s["verify"] = time.perf_counter() - t
    verification = {"passed": True, "checks": generic.checks + domain.checks,
                    "objective_recomputed": domain.objective}
    summary = summary_dict(sp, solution, tables, verification,
                           {"solve_options": options.__dict__, "sparsify": sparsify_summary})
    return sp, solution, tables, summary


def _solve_sparsified(sp: SitingProblem, options: SolveOptions, k: int) -> tuple[Solution, dict]:
    """Solve on k-nearest arcs, certified against the dense problem (:func:`optimizer.sparsify.solve_sparsified`).

    ``sp.problem`` becomes the final sparse problem, so the verifier and the export see the arcs the solution
    refers to; the verifier still recomputes every allocation's distance and cost from the coordinates.
    """
    import numpy as np

    from optimizer.sparsify import solve_sparsified

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
) -> RunResult:
    """Load, solve, verify and (if ``out_dir`` is given) export a named instance or manifest path.

    ``geoparquet`` also writes every layer as GeoParquet; ``crs`` reprojects the GIS output (default EPSG:31370).
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
        written = write_result(out_dir, tables, summary, extra_layers=_network_layers(), geoparquet=geoparquet,
                               crs=crs)
        summary["timings_s"]["export"] = round(time.perf_counter() - t, 4)
        _add_export_time(written, summary["timings_s"]["export"])
    return RunResult(sp, solution, tables, summary, written)


def _add_export_time(out_dir: Path, seconds: float) -> None:
    """Record the export's own duration in the written summary.json (one atomic file replace: either version is
    a complete manifest)."""
    import json
    import os

    path = Path(out_dir) / "summary.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("timings_s", {})["export"] = seconds
    tmp = path.with_name(f".summary.json.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _network_layers() -> dict:
    """The strategic networks used, as a line layer for the GeoPackage."""
    import geopandas as gpd
    import shapely

    from optimizer.networks import load_strategic_networks
    from optimizer.settings import CRS

    nets = load_strategic_networks()
    nodes = nets.nodes.set_index("node_id")
    links = nets.links
    a = nodes.loc[links["from_node"], ["x", "y"]].to_numpy()
    b = nodes.loc[links["to_node"], ["x", "y"]].to_numpy()
    geoms = shapely.linestrings(__import__("numpy").stack([a, b], axis=1))
    keep = [c for c in ("link_id", "mode", "route", "cemt_class", "freight", "length_km") if c in links]
    return {"networks": gpd.GeoDataFrame(links[keep].reset_index(drop=True), geometry=geoms, crs=CRS)}
