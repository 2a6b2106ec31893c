"""Benchmark harness: solve a benchmark set, verify every result, compare with published optima and baselines.

Each case of :func:`optimizer.benchmarks.benchmark_set` is solved with :func:`optimizer.solve.solve_problem`
(the project's solver, whatever backend it picks) and checked with :func:`optimizer.verify.verify_problem`; a
result that fails verification or disagrees with a proven optimum is flagged loudly (``MISMATCH``). Baselines run
in the same process, one after the other, with the same time limit:

``highs``
    The plain extensive formulation, written here as a textbook would (index sets of (client, facility) pairs,
    strong ``x ≤ y`` linking), built in Pyomo and solved by HiGHS with its *default* options (only the time limit
    is set; note HiGHS's default relative MIP gap is 1e-4).
``spopt``
    PySAL spopt ``PMedian.from_cost_matrix`` solved by PuLP's bundled CBC (p-median sets only).
``cbc``
    The same textbook formulation in PuLP, solved by CBC (capacitated and uncapacitated facility-location sets).

Every baseline solution is verified against the same :class:`~optimizer.problem.LocationProblem` too. Times are
wall-clock seconds of the whole solve call (model build + solver), excluding reading the instance file.
"""

from __future__ import annotations

import importlib.util
import math
import os
import platform
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.benchmarks import BenchmarkCase, benchmark_set
from optimizer.errors import InputError
from optimizer.problem import LocationProblem, Solution
from optimizer.solve import SolveOptions, solve_problem
from optimizer.verify import verify_problem

MATCH_REL_TOL = 1e-6
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


# ----------------------------------------------------------------------------------------------------------------
# Baselines
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class BaselineResult:
    """Outcome of one baseline solve."""

    objective: float
    bound: float
    status: str
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
        status = "optimal"
    elif sol in (SolutionStatus.feasible, SolutionStatus.optimal):
        status = "feasible"
    elif term in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        status = "infeasible"
    else:
        status = "no_solution"
    objective = float(result.incumbent_objective) if result.incumbent_objective is not None else math.nan
    bound = float(result.objective_bound) if result.objective_bound is not None else -math.inf
    y = x = None
    if status in ("optimal", "feasible"):
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
        status = "infeasible"
    elif sol == pulp.LpSolutionOptimal:
        status = "optimal"
    elif sol == pulp.LpSolutionIntegerFeasible:
        status = "feasible"
    else:
        status = "no_solution"
    y = x = None
    objective = math.nan
    if status in ("optimal", "feasible"):
        y, x = extract()
        x = np.clip(x, 0.0, 1.0)
        x = np.round(x) if problem.single_source else np.where(x < 1e-9, 0.0, x)
        objective = float(pulp.value(prob.objective))
    bound = objective if status == "optimal" else -math.inf  # CBC's bound is not reported through PuLP
    return BaselineResult(objective, bound, status, time.perf_counter() - t0, y, x)


BASELINES: dict[str, Callable[[LocationProblem, float | None], BaselineResult]] = {
    "highs": plain_highs,
    "spopt": spopt_pmedian,
    "cbc": pulp_cbc,
}


# ----------------------------------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------------------------------


def compare(objective: float, bound: float, status: str, known: float | None, known_kind: str) -> str:
    """Classify a result against the published value.

    Returns
    -------
    str
        ``yes`` (optimal and equal to the known optimum within 1e-6 relative), ``better`` (below a best known
        upper bound), ``open`` (not proven optimal, consistent with the known value), ``-`` (no known value or no
        solution), or a loud ``MISMATCH …`` when a proven value disagrees or the bound exceeds a known optimum.
    """
    if known is None or not math.isfinite(known):
        return "-"
    tol = MATCH_REL_TOL * max(1.0, abs(known))
    if status not in ("optimal", "feasible") or not math.isfinite(objective):
        return "-"
    if known_kind == "optimal":
        if objective < known - tol:
            return "MISMATCH (below the published optimum)"
        if math.isfinite(bound) and bound > known + tol:
            return "MISMATCH (bound above the published optimum)"
        if status == "optimal":
            return "yes" if abs(objective - known) <= tol else "MISMATCH"
        return "open"
    # best known upper bound
    if objective < known - tol:
        return "better"
    if abs(objective - known) <= tol:
        return "yes"
    if status == "optimal":
        return "MISMATCH (optimal above the best known value)"
    return "open"


def _verified(problem: LocationProblem, solution: Solution) -> tuple[bool, float, str]:
    if solution.status not in ("optimal", "feasible"):
        return True, math.nan, ""
    report = verify_problem(problem, solution)
    return report.ok, report.objective, "; ".join(report.violations[:3])


def run_case(case: BenchmarkCase, *, time_limit_s: float, baselines: Iterable[str] = (),
             threads: int | None = None, on_stage: Callable[[str], None] | None = None) -> dict:
    """Solve one case with our solver and the applicable baselines; return one result row (a dict)."""
    stage = on_stage or (lambda _s: None)
    stage("reading")
    t0 = time.perf_counter()
    problem = case.load()
    row: dict = {
        "set": case.set_name,
        "instance": case.name,
        "kind": case.problem_kind,
        "n_clients": problem.n_clients,
        "n_facilities": problem.n_options,
        "n_arcs": problem.n_arcs,
        "known": case.known,
        "known_kind": case.known_kind,
        "read_s": time.perf_counter() - t0,
    }
    stage("solving")
    t1 = time.perf_counter()
    try:
        solution = solve_problem(problem, SolveOptions(time_limit_s=time_limit_s, threads=threads))
        elapsed = time.perf_counter() - t1
        ok, _, why = _verified(problem, solution)
        row |= {
            "objective": solution.objective,
            "bound": solution.bound,
            "gap": solution.gap if solution.has_solution else math.inf,
            "status": solution.status,
            "time_s": elapsed,
            "solver": solution.solver,
            "verified": ok,
            "verify_note": why,
        }
        row["match"] = compare(solution.objective, solution.bound, solution.status, case.known, case.known_kind)
        if not ok:
            row["match"] = "MISMATCH (verification failed)"
    except Exception as e:  # noqa: BLE001 - a crash is a result to report, the run goes on
        row |= {"objective": math.nan, "bound": math.nan, "gap": math.inf, "status": f"error: {e}"[:200],
                "time_s": time.perf_counter() - t1, "solver": "", "verified": False,
                "verify_note": traceback.format_exc(limit=2)[-300:], "match": "MISMATCH (solver error)"}

    for name in baselines:
        if case.problem_kind not in BASELINE_KINDS[name]:
            continue
        stage(f"baseline {name}")
        try:
            res = BASELINES[name](problem, time_limit_s)
            sol = Solution(
                open_options=res.open_options if res.open_options is not None else np.zeros(problem.n_options, bool),
                arc_share=res.arc_share if res.arc_share is not None else np.zeros(problem.n_arcs),
                objective=res.objective, bound=res.bound, status=res.status,
            )
            ok, _, why = _verified(problem, sol)
            match = compare(res.objective, res.bound, res.status, case.known, case.known_kind)
            row |= {
                f"{name}_objective": res.objective,
                f"{name}_status": res.status,
                f"{name}_gap": sol.gap if sol.has_solution and math.isfinite(res.bound) else math.nan,
                f"{name}_time_s": res.time_s,
                f"{name}_match": match if ok else "MISMATCH (verification failed)",
                f"{name}_verified": ok,
            }
            if not ok:
                row[f"{name}_note"] = why
        except Exception as e:  # noqa: BLE001
            row |= {f"{name}_status": f"error: {type(e).__name__}: {e}"[:200], f"{name}_time_s": math.nan}
        if row.get("time_s"):
            row[f"{name}_ratio"] = row.get(f"{name}_time_s", math.nan) / max(row["time_s"], 1e-9)
    return row


def run_bench(
    set_name: str,
    *,
    time_limit_s: float = 60.0,
    baselines: Iterable[str] = ALL_BASELINES,
    progress: bool = True,
    threads: int | None = None,
    instances: Iterable[str] | None = None,
    baseline_instances: dict[str, Iterable[str]] | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Solve every case of a benchmark set, verify it, compare with the published value and the baselines.

    Parameters
    ----------
    set_name
        A set of :func:`optimizer.benchmarks.benchmark_sets` (``ci``, ``orlib-cflp``, ``pmed``, …; ``a+b`` joins).
    time_limit_s
        Solver time limit per instance and per method, in seconds.
    baselines
        Any of ``highs``, ``spopt``, ``cbc`` (each runs only on the problem kinds it applies to).
    progress
        Show a ``rich`` progress display and one line per instance.
    threads
        Solver threads for our solver (``None``: default).
    instances
        Restrict to these instance names.
    baseline_instances
        Per baseline, the instance names to run it on (a baseline not in the dict, or ``None``: all instances).
    on_row
        Called with each result row as soon as it is ready (e.g. to save partial results).

    Returns
    -------
    pandas.DataFrame
        One row per instance; see :func:`result_columns` for the main columns.
    """
    baselines = tuple(baselines)
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        msg = f"unknown baseline(s) {sorted(unknown)}; choose from {list(BASELINES)}"
        raise InputError(msg, field="baselines")
    require_baselines(baselines)
    cases = benchmark_set(set_name)
    if instances is not None:
        wanted = set(instances)
        cases = [c for c in cases if c.name in wanted]
    base_only = {b: set(names) for b, names in (baseline_instances or {}).items() if names is not None}
    rows: list[dict] = []

    def solve(case: BenchmarkCase, stage: Callable[[str], None]) -> dict:
        chosen = tuple(b for b in baselines if b not in base_only or case.name in base_only[b])
        return run_case(case, time_limit_s=time_limit_s, baselines=chosen, threads=threads, on_stage=stage)

    if not progress:
        for case in cases:
            rows.append(solve(case, lambda _s: None))
            if on_row:
                on_row(rows[-1])
        return pd.DataFrame(rows)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[stage]}"))
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(set_name, total=len(cases), stage="")
        for case in cases:
            row = solve(case, lambda s, c=case: bar.update(task, stage=f"{c.name}: {s}"))
            rows.append(row)
            if on_row:
                on_row(row)
            bar.console.print(_line(row), highlight=False, soft_wrap=True)
            bar.advance(task)
    frame = pd.DataFrame(rows)
    bad = frame[frame["match"].astype(str).str.startswith("MISMATCH")]
    if len(bad):
        console.print(f"[bold red]{len(bad)} MISMATCH(ES): {', '.join(bad['instance'])}[/]")
    return frame


def _line(row: dict) -> str:
    match = str(row.get("match", ""))
    colour = "red" if match.startswith("MISMATCH") else "green" if match in ("yes", "better") else "yellow"
    base = "".join(
        f"  {b} {row[f'{b}_time_s']:.1f}s ({row.get(f'{b}_status', '')})"
        for b in BASELINES if isinstance(row.get(f"{b}_time_s"), float) and math.isfinite(row[f"{b}_time_s"])
    )
    return (f"{row['instance']:>10} {row['status']:<9} obj {row['objective']:.6g} known {row['known']:.6g} "
            f"gap {row['gap']:.2e} {row['time_s']:.1f}s [{colour}]{match}[/]{base}")


# ----------------------------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------------------------


def _fmt(value: object, digits: int = 12) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.{digits}g}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """The results as a Markdown table: one row per instance, ours then each baseline's time and ratio."""
    present = [b for b in BASELINES if f"{b}_time_s" in frame.columns]
    head = ["instance", "n×m", "known", "ours", "gap", "status", "time s", "match"]
    for b in present:
        head += [f"{b} s", f"{b} status", f"{b}/ours"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in frame.to_dict("records"):
        known = _fmt(r["known"]) + ("" if r.get("known_kind") == "optimal" else " (ub)")
        cells = [str(r["instance"]), f"{r['n_clients']}×{r['n_facilities']}", known, _fmt(r["objective"]),
                 f"{r['gap']:.2e}" if math.isfinite(r["gap"]) else "inf", str(r["status"]), f"{r['time_s']:.2f}",
                 f"**{r['match']}**" if str(r["match"]).startswith("MISMATCH") else str(r["match"])]
        for b in present:
            t = r.get(f"{b}_time_s")
            ok = isinstance(t, float) and math.isfinite(t)
            status = r.get(f"{b}_status")
            ratio = r.get(f"{b}_ratio")
            cells += [f"{t:.2f}" if ok else "", status if isinstance(status, str) else "",
                      f"{ratio:.2f}" if ok and isinstance(ratio, float) and math.isfinite(ratio) else ""]
        lines.append("| " + " | ".join(c.replace("|", "/") if isinstance(c, str) else c for c in cells) + " |")
    return "\n".join(lines) + "\n"


def summary(frame: pd.DataFrame) -> dict:
    """Counts and totals of one results table (matches, open instances, worst gap, times, baseline ratios)."""
    match = frame["match"].astype(str)
    out = {
        "instances": len(frame),
        "match": int((match == "yes").sum()),
        "better": int((match == "better").sum()),
        "open": int((match == "open").sum()),
        "mismatch": int(match.str.startswith("MISMATCH").sum()),
        "optimal": int((frame["status"] == "optimal").sum()),
        "max_gap": float(frame["gap"].replace(np.inf, np.nan).max()) if len(frame) else math.nan,
        "time_s": float(frame["time_s"].sum()),
    }
    for b in BASELINES:
        if f"{b}_time_s" not in frame.columns:
            continue
        ran = frame[f"{b}_time_s"].notna()
        if not ran.any():
            continue
        ratio = frame.loc[ran, f"{b}_ratio"].astype(float)
        bmatch = frame.loc[ran, f"{b}_match"].astype(str)
        out[b] = {
            "instances": int(ran.sum()),
            "optimal": int((frame.loc[ran, f"{b}_status"] == "optimal").sum()),
            "match": int((bmatch == "yes").sum()),
            "mismatch": int(bmatch.str.startswith("MISMATCH").sum()),
            "time_s": float(frame.loc[ran, f"{b}_time_s"].sum()),
            "ours_time_s": float(frame.loc[ran, "time_s"].sum()),
            "ratio_geomean": float(np.exp(np.log(ratio.clip(lower=1e-9)).mean())),
            "ratio_median": float(ratio.median()),
            "ratio_total": float(frame.loc[ran, f"{b}_time_s"].sum() / max(frame.loc[ran, "time_s"].sum(), 1e-9)),
        }
    return out


def summary_markdown(frame: pd.DataFrame, title: str) -> str:
    """A short Markdown paragraph summarising :func:`summary`."""
    s = summary(frame)
    parts = [f"**{title}**: {s['instances']} instances; {s['optimal']} proven optimal; "
             f"{s['match']} equal the published value" + (f", {s['better']} better than the best known" if s["better"]
                                                         else "")
             + f"; {s['open']} not closed in the time limit (max gap {_fmt(s['max_gap'], 3)}); "
             f"**{s['mismatch']} mismatches**; our total time {s['time_s']:.1f} s."]
    for b in BASELINES:
        if b in s:
            t = s[b]
            parts.append(f"  - {BASELINE_LABELS[b]} on {t['instances']} instances: {t['optimal']} optimal, "
                         f"{t['match']} equal the published value, {t['mismatch']} mismatches; "
                         f"total {t['time_s']:.1f} s "
                         f"vs ours {t['ours_time_s']:.1f} s on the same instances; time ratio baseline/ours: "
                         f"geometric mean {t['ratio_geomean']:.2f}, median {t['ratio_median']:.2f}, "
                         f"total {t['ratio_total']:.2f}.")
    return "\n".join(parts) + "\n"


def write_results(frame: pd.DataFrame, csv_path: Path, title: str | None = None) -> tuple[Path, Path]:
    """Write ``frame`` as CSV and, beside it, a Markdown table (``.md``) with its summary."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(csv_path, index=False)
    return csv_path, write_markdown(frame, csv_path.with_suffix(".md"), title or csv_path.stem)


def write_markdown(frame: pd.DataFrame, md_path: Path, title: str) -> Path:
    """Write the summary and the Markdown table of ``frame`` to ``md_path``."""
    md_path = Path(md_path)
    md_path.write_text(f"# {title}\n\n" + summary_markdown(frame, title) + "\n" + markdown_table(frame))
    return md_path


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


def environment() -> dict[str, str]:
    """Machine and package versions for the results' provenance."""
    import importlib.metadata as md

    info = {"python": platform.python_version(), "nproc": str(os.cpu_count())}
    for pkg in ("highspy", "pyomo", "pulp", "spopt", "numpy", "scipy", "pandas"):
        try:
            info[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            info[pkg] = "absent"
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), platform.processor())
        mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal"))
        info |= {"cpu": cpu, "ram_gib": f"{mem_kb / 2**20:.1f}"}
    except (OSError, StopIteration):
        info |= {"cpu": platform.processor(), "ram_gib": "?"}
    return info


def bench_command(set_name: str, time_limit: float, baselines: str, out: Path) -> int:
    """CLI entry (``siting bench SET``): run a set, write ``OUT/SET.csv`` and ``OUT/SET.md``, print the summary.

    Parameters
    ----------
    set_name
        Benchmark set name (see :func:`optimizer.benchmarks.benchmark_sets`).
    time_limit
        Time limit per instance and method, seconds.
    baselines
        Comma-separated baselines (``highs,spopt,cbc``), ``all`` or ``none``.
    out
        Output directory, or a ``.csv`` path.

    Returns
    -------
    int
        Exit status: 0 when every result verified and matched, 1 on any mismatch.
    """
    out = Path(out)
    csv_path = out if out.suffix == ".csv" else out / f"{set_name}.csv"
    frame = run_bench(set_name, time_limit_s=time_limit, baselines=parse_baselines(baselines), progress=True)
    csv_path, md_path = write_results(frame, csv_path, title=set_name)
    print(summary_markdown(frame, set_name))
    print(f"wrote {csv_path} and {md_path}")
    return 1 if frame["match"].astype(str).str.startswith("MISMATCH").any() else 0


def result_columns() -> list[str]:
    """Main result columns (baseline columns ``{name}_objective|status|gap|time_s|ratio|match`` follow)."""
    return ["set", "instance", "kind", "n_clients", "n_facilities", "n_arcs", "known", "known_kind", "objective",
            "bound", "gap", "status", "time_s", "match", "verified", "solver"]
