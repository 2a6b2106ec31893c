"""Named instances (a manifest and its tables, or an instance built from GeoDataFrames) as a pipeline job."""

from __future__ import annotations

import numpy as np

from optimizer.check.diagnose import explain_infeasible, presolve_checks
from optimizer.check.verify import verify_problem, verify_siting
from optimizer.check.verify_models import verify_models
from optimizer.data.instance import Instance
from optimizer.errors import InfeasibleError, NoSolutionError, VerificationError
from optimizer.model.formulation import SitingProblem, compile_instance
from optimizer.output.export import line_layer, network_layer_of, point_layer, polygon_layer
from optimizer.output.result import Result
from optimizer.output.tables import ResultTables, named_summary, result_tables
from optimizer.pipeline.jobs import Progress, options_dict
from optimizer.problem import Solution, Status
from optimizer.solver.models import ModelSolution, solve_models
from optimizer.solver.options import SolveOptions


class NamedJob:
    """A location instance: programmes placed on candidate sites (every named instance but the chains)."""

    kind = "named"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.name = instance.name
        self.parameters = instance.parameters
        self.sp: SitingProblem | None = None
        self.solution: Solution | None = None
        self.tables: ResultTables | None = None
        self.models: ModelSolution | None = None  # the parts by model (None: solved sparsified, one default model)
        self.sparsify: dict = {}

    def content_hash(self) -> str:
        return self.instance.content_hash()

    def check(self, options: SolveOptions, *, geoparquet: bool, crs: str | None) -> None:
        return None  # every option has its meaning here

    def compile(self, progress: Progress) -> None:
        progress("distances and model arrays")
        self.sp = compile_instance(self.instance)
        reasons = presolve_checks(self.sp)
        if reasons:
            raise InfeasibleError(reasons)

    def solve(self, options: SolveOptions, progress: Progress) -> dict[str, float]:
        sp = self.sp
        if sp.arc_source is not None:
            progress(f"solving sparsified ({sp.problem.n_clients} clients, {sp.problem.n_options} options, "
                     f"{sp.sparsify['pairs']:,} pairs, k-nearest arcs with a certificate)")
            solution, self.sparsify = _solve_sparsified(sp, options, int(self.parameters["sparsify_k"]))
        else:
            progress(f"solving ({sp.problem.n_clients} clients, {sp.problem.n_options} options, {sp.problem.n_arcs} arcs"
                     + "".join(f"; {g.model}: {', '.join(g.programmes)}" for g in sp.groups if g.spec is not None)
                     + ")")
            self.models = solve_models(sp.problem, sp.groups, options)  # each programme by its model (coverage...)
            solution = self.models.solution
            self.sparsify = {**sp.sparsify, "certified": None}
        if solution.status == Status.INFEASIBLE:
            raise InfeasibleError(explain_models(sp, self.models))
        if not solution.has_solution:
            msg = f"no feasible solution within the time limit of {options.time_limit_s:g} s; raise --time-limit"
            raise NoSolutionError(msg)
        self.solution = solution
        return dict(solution.timings_s)

    def verify(self) -> dict:
        generic = (verify_problem(self.sp.problem, self.solution) if self.models is None
                   else verify_models(self.sp.problem, self.models)[0])
        self.tables = result_tables(self.sp, self.solution)
        domain = verify_siting(self.sp, self.solution, self.tables)
        if generic.violations or domain.violations:
            raise VerificationError(generic.violations + domain.violations)
        return {"passed": True, "checks": generic.checks + domain.checks, "objective_recomputed": domain.objective}

    def result(self, verification: dict, options: SolveOptions, timings_s: dict[str, float]) -> Result:
        sp, sol, tables = self.sp, self.solution, self.tables
        summary = named_summary(sp, sol, tables, verification, solve_options=options_dict(options),
                                timings_s=timings_s, models=self.models, extra={"sparsify": self.sparsify})
        zones = tables.zones if getattr(tables, "zones", None) is not None and len(tables.zones) else None
        layers = {"facilities": point_layer(tables.facilities), "allocations": line_layer(tables.allocations),
                  "demand": point_layer(tables.demand), "candidates": point_layer(tables.candidates),
                  **({"zones": polygon_layer(zones)} if zones is not None else {}), **network_layer_of(sp)}
        csv = {"allocations.csv": tables.allocations, "facilities.csv": tables.facilities,
               "demand.csv": tables.demand}  # per demand unit: its facility, km, covered flag
        return Result(summary, layers, csv=csv, model=sp, solution=sol, tables=tables)


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
        "guarantee": result.guarantee or ("the sparse optimum equals the dense optimum within the MIP gap: the last relaxation "
                      "(k-nearest arcs plus a 'beyond' arc per client at its cheapest left-out cost) used no "
                      "beyond arc" if result.certified else
                      "NOT certified: the bound is the relaxations' (valid for the dense problem), the solution "
                      "is the sparse problem's"),
    }
    return result.solution, summary
