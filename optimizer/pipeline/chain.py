"""Plastics-chain instances (S2b, S5, S8) as a pipeline job: the multi-echelon flow model of
:mod:`optimizer.model.chain`, solved with HiGHS and checked by :mod:`optimizer.check.chain`."""

from __future__ import annotations

from optimizer.check.chain import chain_routes, recomputed_objective, verify_chain
from optimizer.data.instance import Instance
from optimizer.errors import InfeasibleError, VerificationError
from optimizer.model.chain_compile import CompiledChain, compile_chain
from optimizer.output.chain import CHECKS, chain_demand, chain_extras, chain_gap, chain_objective, chain_tables
from optimizer.output.export import line_layer, network_layer, point_layer
from optimizer.output.result import Result
from optimizer.output.summary import envelope, instance_file
from optimizer.pipeline.jobs import Progress, no_solution, options_dict, refuse
from optimizer.problem import Status
from optimizer.settings import CRS
from optimizer.solver.highs import highs_version
from optimizer.solver.options import SolveOptions


class ChainJob:
    """A multi-echelon chain: municipalities → sorting → mechanical → chemical recycling, existing sites fixed."""

    kind = "chain"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.name = instance.name
        self.parameters = instance.parameters
        self.cc: CompiledChain | None = None
        self.solution = None
        self.routes: dict | None = None
        self.objective_recomputed = float("nan")

    def content_hash(self) -> str:
        return self.instance.content_hash()

    def check(self, options: SolveOptions, *, geoparquet: bool, crs: str | None) -> None:
        if options.backend not in ("auto", "highspy"):
            raise refuse("--backend", self.kind, "the chain model is solved by HiGHS through highspy only "
                                                 "(drop --backend or give highspy)")

    def compile(self, progress: Progress) -> None:
        progress("chain arcs and costs")
        self.cc = compile_chain(self.instance)

    def solve(self, options: SolveOptions, progress: Progress) -> dict[str, float]:
        p = self.cc.problem
        progress(f"solving the chain ({p.n_fac} facilities, {p.n_arcs} arcs)")
        sol = _solve_chain(p, options)
        if sol.status == Status.INFEASIBLE:
            need = p.supply_t.sum() * p.yields[0]
            raise InfeasibleError([f"the chain cannot process its flows: {p.supply_t.sum():,.0f} t PMD, {need:,.0f} t "
                                   f"to mechanical recycling plus {p.gw_supply_t.sum():,.0f} t imports, with at most "
                                   f"{p.new_count[1, 1]:g} new mechanical and {p.new_count[2, 1]:g} new chemical "
                                   "plants"])
        if not sol.status.has_solution:
            raise no_solution(options, "chain solution")
        self.solution = sol
        return dict(sol.timings_s)

    def verify(self) -> dict:
        self.routes = chain_routes(self.cc, self.instance, self.solution.flow_t)  # km per mode on the networks
        violations = verify_chain(self.cc.problem, self.solution, self.cc.coords, routes=self.routes)
        if violations:
            raise VerificationError(violations)
        self.objective_recomputed = recomputed_objective(self.cc.problem, self.solution)
        return {"passed": True, "checks": list(CHECKS), "objective_recomputed": self.objective_recomputed}

    def result(self, verification: dict, options: SolveOptions, timings_s: dict[str, float]) -> Result:
        inst, cc, sol = self.instance, self.cc, self.solution
        fac, flows = chain_tables(cc, sol, self.routes["split"] if self.routes is not None else None)
        demand = chain_demand(cc, flows, inst.demand["population"].to_numpy(float))
        summary = envelope(
            kind=self.kind, instance=inst.name, title=inst.title, instance_path=instance_file(inst.path),
            instance_hash=inst.content_hash(),
            parameters=inst.parameters, overrides=inst.overrides,
            assumptions={k: {"value": a.value, "unit": a.unit} for k, a in sorted(inst.assumptions.items())},
            status=sol.status, objective=chain_objective(sol, flows), bound=sol.bound,
            gap=chain_gap(sol.objective, sol.bound), land_take_ha=float(fac["new_land_ha"].sum()),
            facilities=len(fac),
            size={"clients": len(cc.clients), "options": cc.problem.n_fac, "arcs": cc.problem.n_arcs},
            solver=f"HiGHS {highs_version()} via highspy (plastics chain)", solve_options=options_dict(options),
            timings_s=timings_s, verification=verification, crs=CRS,
        )
        summary.update(chain_extras(inst, cc, sol, fac, flows))
        layers = {"facilities": point_layer(fac), "flows": line_layer(flows), "demand": point_layer(demand),
                  **network_layer()}
        csv = {"facilities.csv": fac, "flows.csv": flows}
        return Result(summary, layers, csv=csv, model=cc, solution=sol, tables={"facilities": fac, "flows": flows,
                                                                               "demand": demand})


def _solve_chain(problem, options: SolveOptions):  # noqa: ANN001, ANN202 - ChainProblem in, ChainSolution out
    from optimizer.settings import solver_threads
    from optimizer.solver.chain import solve_chain

    threads = options.threads if options.threads is not None else solver_threads()
    return solve_chain(problem, options.time_limit_s, options.mip_gap, threads)
