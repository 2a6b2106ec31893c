"""Matrix instances (``docs/matrix-format.md``, or a :class:`LocationProblem` built in Python) as a pipeline job.

A matrix instance is fixed by its files: of the run parameters only the solver's (``time_limit_s``, ``mip_gap``,
``threads``) mean something for it, and ``--set`` of any other is refused, never ignored. It has no
coordinates, so GIS options (``--crs``, ``--geoparquet``) are refused too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from optimizer.check.verify_models import verify_models
from optimizer.data.instance import PARAMETERS, coerce_parameter
from optimizer.errors import InfeasibleError, InputError
from optimizer.model.plan import matrix_groups
from optimizer.output.matrix import matrix_extras, matrix_tables
from optimizer.output.matrix_models import matrix_model_tables
from optimizer.output.result import Result
from optimizer.output.summary import envelope
from optimizer.pipeline.jobs import SOLVER_PARAMETERS, Progress, no_solution, options_dict, refuse
from optimizer.problem import LocationProblem, Solution, Status, objective_parts
from optimizer.solver.options import SolveOptions
from optimizer.solver.models import solve_models

MATRIX_DEFAULTS = {"time_limit_s": None, "mip_gap": 1e-6, "threads": 0}  # no time limit unless asked for


class MatrixJob:
    """A facility-location problem given as numbers (no geometry): clients, facilities and a cost matrix."""

    kind = "matrix"

    def __init__(self, problem: LocationProblem, *, source: Path | None = None,
                 overrides: Mapping[str, object] | None = None) -> None:
        self.problem = problem
        self.name = problem.name
        self.source = source
        self.overrides = dict(overrides or {})
        self.parameters = matrix_parameters(self.overrides)
        self.solution: Solution | None = None
        self.models = None  # optimizer.solver.models.ModelSolution: the instance's model, one part
        self.report = None
        self.objective_recomputed = float("nan")

    def check(self, options: SolveOptions, *, geoparquet: bool, crs: str | None) -> None:
        why = "it has no coordinates (its result is CSV and summary.json): remove the option"
        if crs is not None:
            raise refuse("--crs", self.kind, why)
        if geoparquet:
            raise refuse("--geoparquet", self.kind, why)

    def compile(self, progress: Progress) -> None:
        return None  # the problem is already the model's arrays

    def solve(self, options: SolveOptions, progress: Progress) -> dict[str, float]:
        p = self.problem
        progress(f"solving ({p.n_clients} clients, {p.n_options} facilities, {p.n_arcs} pairs)")
        self.models = solve_models(p, matrix_groups(p), options)  # the instance's model (p-median, LSCP, MCLP...)
        part = self.models.parts[0]
        if part.solution.status == Status.INFEASIBLE:
            raise InfeasibleError([f"{p.name}: " + (part.message or "capacities, counts or required facilities "
                                                    "cannot all hold")])
        if not part.solution.has_solution:
            raise no_solution(options)
        self.solution = self.models.solution
        return dict(part.solution.timings_s)

    def verify(self) -> dict:
        whole, reports = verify_models(self.problem, self.models)
        whole.raise_if_failed()
        self.report = reports[0]
        self.objective_recomputed = self.report.objective
        return {"passed": True, "checks": whole.checks, "objective_recomputed": self.report.objective}

    def result(self, verification: dict, options: SolveOptions, timings_s: dict[str, float]) -> Result:
        p, sol, part = self.problem, self.solution, self.models.parts[0]
        parts = objective_parts(p, sol.open_options, sol.arc_share)
        tables, csv = matrix_tables(p, sol)
        clients, equity, model = matrix_model_tables(p, part, self.report)
        csv["clients.csv"] = clients  # per client its facility, distance and (coverage models) whether covered
        tables["clients"] = clients
        summary = envelope(
            kind=self.kind, instance=p.name, title=str(p.meta.get("description", "")),
            instance_path=None if self.source is None else Path(self.source).resolve(),
            instance_hash=self.content_hash(), parameters=self.parameters, overrides=self.overrides, assumptions={},
            # the model's own objective (a coverage model counts facilities or covered demand); the cost parts
            # are those of the allocation it chose
            status=part.solution.status, objective={"total": float(part.solution.objective),
                                                    **{k: parts[k] for k in ("transport", "fixed", "land")},
                                                    "unit": model.get("objective_unit") or p.cost_unit},
            bound=part.solution.bound, gap=part.gap, land_take_ha=None, facilities=int(sol.open_options.sum()),
            size={"clients": p.n_clients, "options": p.n_options, "arcs": p.n_arcs, "facilities": p.n_options},
            solver=part.solution.solver, solve_options=options_dict(options), timings_s=timings_s,
            verification=verification, crs=None,
        )
        summary.update(matrix_extras(p, sol, self.objective_recomputed))
        summary.update(model=model, equity=equity)
        return Result(summary, tables, csv=csv, model=p, solution=sol)

    def content_hash(self) -> str:
        """sha256 over the instance's files (names and bytes: its manifest and the tables it names), or over the
        arrays of a problem built in Python."""
        digest = hashlib.sha256()
        if self.source is not None:
            from optimizer.data.matrix_files import matrix_files_read

            for f in matrix_files_read(self.source):  # its manifest and tables: not a results/ folder inside it
                digest.update(f.name.encode())
                digest.update(f.read_bytes())
            return digest.hexdigest()
        return problem_hash(self.problem)


def problem_hash(problem: LocationProblem) -> str:
    """sha256 over every array and setting of a problem (for a problem that has no files)."""
    import numpy as np

    digest = hashlib.sha256()
    for name in ("client_ids", "demand", "site_ids", "site_free_m2", "option_ids", "option_site", "capacity",
                 "fixed_cost", "area_m2", "arc_client", "arc_option", "arc_cost"):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(getattr(problem, name)).tobytes() if getattr(problem, name).dtype != object
                      else "\x1f".join(map(str, getattr(problem, name))).encode())
    digest.update(problem.counts.dense().tobytes() if problem.counts.n_rows else b"")
    digest.update(repr((problem.single_source, problem.land_cost_per_m2, problem.cost_unit,
                        problem.counts.lower.tolist(), problem.counts.upper.tolist(),
                        None if problem.required is None else np.asarray(problem.required).tolist())).encode())
    return digest.hexdigest()


def matrix_parameters(overrides: Mapping[str, object]) -> dict[str, object]:
    """The solver parameters of a matrix instance with ``--set`` applied; any other key is refused."""
    params = dict(MATRIX_DEFAULTS)
    for key, value in overrides.items():
        if key not in SOLVER_PARAMETERS:
            msg = (f"a matrix instance has no parameter {key!r}: its model is fixed by its files; --set takes "
                   f"{', '.join(SOLVER_PARAMETERS)} here")
            raise InputError(msg, file="--set", field=key)
        params[key] = coerce_parameter(value, PARAMETERS[key], key, "--set")
    return params
