"""Baselines of the benchmark race, each verified against the same :class:`~optimizer.problem.LocationProblem`.

``highs``
    The plain extensive formulation, written here as a textbook would (index sets of (client, facility) pairs,
    strong ``x ≤ y`` linking), built in Pyomo and solved by HiGHS with its *default* options (only the time limit
    is set; note HiGHS's default relative MIP gap is 1e-4).
``spopt``
    PySAL spopt ``PMedian.from_cost_matrix`` solved by PuLP's bundled CBC (p-median sets only).
``cbc``
    The same textbook formulation in PuLP, solved by CBC (capacitated and uncapacitated facility-location sets).

Times are wall-clock seconds of the whole solve call (model build + solver), excluding reading the instance file.
"""

from __future__ import annotations

import importlib.util
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from optimizer.errors import InputError
from optimizer.problem import LocationProblem, Status

ALL_BASELINES = ("highs", "spopt", "cbc")
BASELINE_KINDS = {
    "highs": {"cflp", "sscflp", "uflp", "pmedian"},
    "spopt": {"pmedian"},
    "cbc": {"cflp", "sscflp", "uflp"},
}
BASELINE_LABELS = {
    "highs": "plain Pyomo+HiGHS (default options)",
    "spopt": "spopt PMedian (PuLP/CBC)",
    "cbc": "PuLP+CBC",
}


@dataclass
class BaselineResult:
    """Outcome of one baseline solve."""

    objective: float
    bound: float
    status: Status
    time_s: float
    open_options: np.ndarray | None = None
    arc_share: np.ndarray | None = None
    note: str = ""


def plain_highs(problem: LocationProblem, time_limit_s: float | None) -> BaselineResult:
    """The textbook extensive formulation in Pyomo, solved by HiGHS with default options.

    Written plainly on purpose: a set of (i, j) pairs, one constraint per client, per pair and per facility::

        min Σ_ij c_ij x_ij + Σ_j f_j y_j
        s.t. Σ_j x_ij = 1 ∀i;  x_ij ≤ y_j ∀(i,j);  Σ_i d_i x_ij ≤ Q_j y_j ∀j (finite Q);  Σ_j y_j = p (if any)
    """
    import pyomo.environ as pyo
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
    from pyomo.contrib.solver.solvers.highs import Highs

    t0 = time.perf_counter()
    pairs = list(zip(problem.arc_client.tolist(), problem.arc_option.tolist(), strict=True))
    cost = dict(zip(pairs, problem.arc_cost.tolist(), strict=True))
    demand = problem.demand.tolist()
    capacity = problem.capacity.tolist()
    fixed = problem.option_cost().tolist()
    m = pyo.ConcreteModel()
    m.I = pyo.Set(initialize=range(problem.n_clients))
    m.J = pyo.Set(initialize=range(problem.n_options))
    m.A = pyo.Set(initialize=pairs, dimen=2)
    m.x = pyo.Var(m.A, within=pyo.Binary if problem.single_source else pyo.UnitInterval)
    m.y = pyo.Var(m.J, within=pyo.Binary)
    m.obj = pyo.Objective(expr=sum(cost[a] * m.x[a] for a in m.A) + sum(fixed[j] * m.y[j] for j in m.J))
    by_client: dict[int, list] = {i: [] for i in m.I}
    by_facility: dict[int, list] = {j: [] for j in m.J}
    for i, j in pairs:
        by_client[i].append((i, j))
        by_facility[j].append((i, j))
    m.assign = pyo.Constraint(m.I, rule=lambda mm, i: sum(mm.x[a] for a in by_client[i]) == 1)
    m.link = pyo.Constraint(m.A, rule=lambda mm, i, j: mm.x[i, j] <= mm.y[j])
    finite = [j for j in m.J if math.isfinite(capacity[j])]
    m.cap = pyo.Constraint(finite, rule=lambda mm, j: sum(demand[i] * mm.x[i, jj] for i, jj in by_facility[j])
                           <= capacity[j] * mm.y[j])
    counts = problem.counts.matrix.tocsr()
    m.count = pyo.ConstraintList()
    for r in range(counts.shape[0]):
        members = counts.indices[counts.indptr[r] : counts.indptr[r + 1]].tolist()
        m.count.add(pyo.inequality(problem.counts.lower[r], sum(m.y[j] for j in members), problem.counts.upper[r]))
    for j in np.flatnonzero(problem.required_mask()).tolist():
        m.y[j].fix(1)

    config = {"load_solutions": False, "raise_exception_on_nonoptimal_result": False}
    if time_limit_s is not None:
        config["time_limit"] = float(time_limit_s)
    result = Highs().solve(m, **config)
    term, sol = result.termination_condition, result.solution_status
    if sol == SolutionStatus.optimal and term == TerminationCondition.convergenceCriteriaSatisfied:
        status = Status.OPTIMAL
    elif sol in (SolutionStatus.feasible, SolutionStatus.optimal):
        status = Status.FEASIBLE
    elif term in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        status = Status.INFEASIBLE
    else:
        status = Status.NO_SOLUTION
    objective = float(result.incumbent_objective) if result.incumbent_objective is not None else math.nan
    bound = float(result.objective_bound) if result.objective_bound is not None else -math.inf
    y = x = None
    if status.has_solution:
        result.solution_loader.load_vars()
        y = np.array([pyo.value(m.y[j]) for j in m.J]) > 0.5
        x = np.clip(np.array([pyo.value(m.x[a]) for a in pairs], dtype=float), 0.0, 1.0)
        x = np.round(x) if problem.single_source else np.where(x < 1e-9, 0.0, x)
    return BaselineResult(objective, bound, status, time.perf_counter() - t0, y, x)


def _quiet_pulp(func: Callable[..., BaselineResult]) -> Callable[..., BaselineResult]:
    """Silence PuLP 3.x's per-variable notices about its 4.0 API (thousands of lines per model)."""

    def wrapper(*args: object, **kwargs: object) -> BaselineResult:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return func(*args, **kwargs)

    wrapper.__doc__, wrapper.__name__ = func.__doc__, func.__name__
    return wrapper


@_quiet_pulp
def pulp_cbc(problem: LocationProblem, time_limit_s: float | None) -> BaselineResult:
    """The same textbook formulation in PuLP, solved by the CBC binary bundled with PuLP (default options)."""
    import pulp

    t0 = time.perf_counter()
    k = problem.n_arcs
    prob = pulp.LpProblem(problem.name.replace(" ", "_") or "cflp", pulp.LpMinimize)
    cat = pulp.LpBinary if problem.single_source else pulp.LpContinuous
    x = [pulp.LpVariable(f"x_{a}", 0, 1, cat) for a in range(k)]
    y = [pulp.LpVariable(f"y_{j}", cat=pulp.LpBinary) for j in range(problem.n_options)]
    cost, fixed = problem.arc_cost.tolist(), problem.option_cost().tolist()
    prob += pulp.lpSum(c * v for c, v in zip(cost, x, strict=True)) + pulp.lpSum(
        f * v for f, v in zip(fixed, y, strict=True))
    arc_client, arc_option = problem.arc_client.tolist(), problem.arc_option.tolist()
    by_client: list[list[int]] = [[] for _ in range(problem.n_clients)]
    by_option: list[list[int]] = [[] for _ in range(problem.n_options)]
    for a in range(k):
        by_client[arc_client[a]].append(a)
        by_option[arc_option[a]].append(a)
    for arcs in by_client:
        prob += pulp.lpSum(x[a] for a in arcs) == 1
    for a in range(k):
        prob += x[a] <= y[arc_option[a]]
    demand = problem.demand.tolist()
    for j, arcs in enumerate(by_option):
        if math.isfinite(problem.capacity[j]):
            prob += pulp.lpSum(demand[arc_client[a]] * x[a] for a in arcs) <= float(problem.capacity[j]) * y[j]
    counts = problem.counts.matrix.tocsr()
    for r in range(counts.shape[0]):
        total = pulp.lpSum(y[j] for j in counts.indices[counts.indptr[r] : counts.indptr[r + 1]])
        if math.isfinite(problem.counts.lower[r]):
            prob += total >= float(problem.counts.lower[r])
        if math.isfinite(problem.counts.upper[r]):
            prob += total <= float(problem.counts.upper[r])
    for j in np.flatnonzero(problem.required_mask()).tolist():
        prob += y[j] == 1
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)
    prob.solve(solver)
    return _pulp_result(prob, t0, lambda: (np.array([v.varValue or 0.0 for v in y]) > 0.5,
                                           np.array([v.varValue or 0.0 for v in x], dtype=float)), problem)


@_quiet_pulp
def spopt_pmedian(problem: LocationProblem, time_limit_s: float | None) -> BaselineResult:
    """PySAL spopt ``PMedian.from_cost_matrix`` (PuLP model) solved by CBC; p-median problems only."""
    import pulp
    from spopt.locate import PMedian

    t0 = time.perf_counter()
    p = int(problem.counts.upper[0])
    cost = np.full((problem.n_clients, problem.n_options), np.inf)
    cost[problem.arc_client, problem.arc_option] = problem.arc_cost / problem.demand[problem.arc_client]
    model = PMedian.from_cost_matrix(cost, problem.demand, p_facilities=p, name=problem.name)
    try:
        model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s), results=False)
    except RuntimeError:  # spopt raises when CBC did not report "optimal"; the status is read below
        pass

    def extract() -> tuple[np.ndarray, np.ndarray]:
        y = np.array([v.varValue or 0.0 for v in model.fac_vars]) > 0.5
        z = np.vectorize(lambda v: v.varValue or 0.0, otypes=[float])(model.cli_assgn_vars)
        return y, z[problem.arc_client, problem.arc_option]

    return _pulp_result(model.problem, t0, extract, problem)


def _pulp_result(prob, t0: float, extract: Callable[[], tuple[np.ndarray, np.ndarray]],  # noqa: ANN001
                 problem: LocationProblem) -> BaselineResult:
    import pulp

    # sol_status: 1 optimal, 2 integer feasible (limit reached); PuLP's ``status`` says "Optimal" for both
    sol = getattr(prob, "sol_status", None)
    if prob.status == pulp.LpStatusInfeasible:
        status = Status.INFEASIBLE
    elif sol == pulp.LpSolutionOptimal:
        status = Status.OPTIMAL
    elif sol == pulp.LpSolutionIntegerFeasible:
        status = Status.FEASIBLE
    else:
        status = Status.NO_SOLUTION
    y = x = None
    objective = math.nan
    if status.has_solution:
        y, x = extract()
        x = np.clip(x, 0.0, 1.0)
        x = np.round(x) if problem.single_source else np.where(x < 1e-9, 0.0, x)
        objective = float(pulp.value(prob.objective))
    bound = objective if status == Status.OPTIMAL else -math.inf  # CBC's bound is not reported through PuLP
    return BaselineResult(objective, bound, status, time.perf_counter() - t0, y, x)


BASELINES: dict[str, Callable[[LocationProblem, float | None], BaselineResult]] = {
    "highs": plain_highs,
    "spopt": spopt_pmedian,
    "cbc": pulp_cbc,
}


def parse_baselines(text: str) -> tuple[str, ...]:
    """``"highs,spopt,cbc"``, ``"all"`` or ``"none"`` → a tuple of baseline names."""
    text = (text or "").strip().lower()
    if text in ("", "none", "-"):
        return ()
    if text == "all":
        return ALL_BASELINES
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        msg = f"unknown baseline(s) {unknown}; choose from {list(BASELINES)}, 'all' or 'none'"
        raise InputError(msg, field="--baselines")
    return names


#: The Python packages each baseline imports (HiGHS ships with the engine; PuLP/spopt come with ``[bench]``).
BASELINE_PACKAGES: dict[str, tuple[str, ...]] = {"highs": ("highspy",), "cbc": ("pulp",), "spopt": ("pulp", "spopt")}


def missing_baseline_packages(baselines: Iterable[str]) -> dict[str, list[str]]:
    """Per requested baseline, the packages it needs that are not installed (empty dict: all can run)."""
    missing = {b: [p for p in BASELINE_PACKAGES.get(b, ()) if importlib.util.find_spec(p) is None] for b in baselines}
    return {b: pkgs for b, pkgs in missing.items() if pkgs}


def require_baselines(baselines: Iterable[str]) -> None:
    """Refuse, before any solve, baselines whose packages are absent (a race silently missing a peer misleads)."""
    missing = missing_baseline_packages(baselines)
    if missing:
        what = "; ".join(f"{b} needs {', '.join(p)}" for b, p in missing.items())
        msg = f"baseline(s) not installed: {what}; install them with pip install -e '.[bench]'"
        raise InputError(msg, field="--baselines")
