"""Multi-period instances (a manifest with ``[periods]``: named programmes or the plastics chain, docs/periods.md)
as a pipeline job: per-period problems coupled by opening and closing in one HiGHS MIP, every period verified."""

from __future__ import annotations

from optimizer.check.diagnose import explain_infeasible, presolve_checks
from optimizer.data.instance import Instance
from optimizer.errors import InfeasibleError, VerificationError
from optimizer.output.export import network_layer_of
from optimizer.output.result import Result
from optimizer.pipeline.jobs import Progress, no_solution, options_dict, refuse
from optimizer.problem import Status
from optimizer.solver.options import SolveOptions


class PeriodsJob:
    """A timeline of periods (S6 over time, the P2C ramp-up): kind ``periods`` (location programmes) or
    ``chain_periods`` (the plastics chain)."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.name = instance.name
        self.parameters = instance.parameters
        self.chain = any(p.kind == "chain" for p in instance.programmes)
        self.kind = "chain_periods" if self.chain else "periods"
        self.compiled = None
        self.solution = None
        self.report = None
        self.tables = None  # location periods: (per-period tables, combined tables, transitions)

    def content_hash(self) -> str:
        return self.instance.content_hash()

    def check(self, options: SolveOptions, *, geoparquet: bool, crs: str | None) -> None:
        if options.backend not in ("auto", "highspy"):
            raise refuse("--backend", "multi-period", "its periods are one HiGHS MIP through highspy (drop --backend "
                         "or give highspy)")

    def compile(self, progress: Progress) -> None:
        from optimizer.model.periods_compile import compile_chain_periods, compile_siting_periods

        progress("model arrays per period")
        self.compiled = compile_chain_periods(self.instance) if self.chain else compile_siting_periods(self.instance)
        if not self.chain:
            reasons = [f"{label}: {r}" for label, sp in zip(self.compiled.mp.labels, self.compiled.periods)
                       for r in presolve_checks(sp)]
            if reasons:
                raise InfeasibleError(reasons)

    def solve(self, options: SolveOptions, progress: Progress) -> dict[str, float]:
        from optimizer.solver.periods import solve_periods

        mp = self.compiled.mp
        progress(f"solving {mp.n_periods} periods × {mp.n_options} options")
        sol = solve_periods(mp, options)
        if sol.status == Status.INFEASIBLE:
            reasons = [] if self.chain else [
                f"{label}: {r}" for label, sp in zip(mp.labels, self.compiled.periods)
                for r in explain_infeasible(sp) if not r.startswith("the rules cannot all hold")]
            raise InfeasibleError(reasons or [
                f"{self.name}: HiGHS proved the periods infeasible, and no period's rules conflict in its LP "
                "relaxation: whole facilities do not fit the land of some period, or the reserve-land and existing "
                "facilities' windows cannot hold in sequence; relax the timeline's assumptions (docs/periods.md) "
                "and compare"])
        if not sol.status.has_solution:
            raise no_solution(options)
        self.solution = sol
        return dict(sol.timings_s)

    def verify(self) -> dict:
        from optimizer.check.periods import verify_chain_periods, verify_siting_periods
        from optimizer.output.periods import siting_period_tables

        if self.chain:
            report = verify_chain_periods(self.compiled, self.solution)
        else:
            self.tables = siting_period_tables(self.compiled, self.solution)
            report = verify_siting_periods(self.compiled, self.solution, self.tables[0])
        if report.violations:
            raise VerificationError(report.violations)
        return {"passed": True, "per_period": True, "checks": report.checks, "objective_recomputed": report.objective}

    def result(self, verification: dict, options: SolveOptions, timings_s: dict[str, float]) -> Result:
        from optimizer.output import periods as out

        labels = self.compiled.mp.labels
        if self.chain:
            summary, fac, flows, trans = out.chain_periods_summary(self.compiled, self.solution, verification,
                                                                   options_dict(options))
            layers, csv = out.chain_periods_outputs(fac, flows, trans, labels)
            tables = {"facilities": fac, "flows": flows, "transitions": trans}
        else:
            per, combined, trans = self.tables
            summary = out.siting_periods_summary(self.compiled, self.solution, per, trans, verification,
                                                 options_dict(options))
            layers, csv = out.siting_periods_outputs(combined, per, trans, labels,
                                                     network_layer_of(self.compiled.base))
            tables = {"per_period": per, "combined": combined, "transitions": trans}
        summary["timings_s"] = {k: round(float(v), 4) for k, v in timings_s.items()}
        return Result(summary, layers, csv=csv, model=self.compiled, solution=self.solution, tables=tables)
