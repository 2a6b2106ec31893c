"""Transport cost vs land take: the ε-constraint trade-off front of an instance (``siting pareto``).

Land take (hectares of plot taken by all opened facilities, digest O1 'ruimtezuinig', L308-311) is the second
objective next to transport. The front is traced by the ε-constraint method:

1. end point *T*: minimum transport (the instance's own single-objective solve), land take minimised among the
   transport-optimal solutions by a negligible land weight;
2. end point *L*: minimum land take (transport costs set to zero), then minimum transport at that land take;
3. between them, ``points - 2`` solves of "minimum transport subject to land take ≤ ε" for ε evenly spaced.

Each point is a full solve of the instance's :class:`~optimizer.problem.LocationProblem` plus one extra row
(``Σ area·y ≤ ε``), verified by :func:`optimizer.check.verify.verify_problem` (every constraint and the objective)
and :func:`optimizer.check.verify.verify_siting` (the study's rules) before it is kept. Because every point is solved to
optimality, less land take never costs less transport: the front is monotone, and :func:`trace` checks it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.check.verify import verify_problem, verify_siting
from optimizer.data.instance import Instance
from optimizer.errors import InputError, ParetoError, VerificationError
from optimizer.model.formulation import SitingProblem, compile_instance
from optimizer.output.tables import result_tables
from optimizer.problem import CountRows, LocationProblem, Solution, Status, objective_parts
from optimizer.settings import M2_PER_HA
from optimizer.solver.options import SolveOptions
from optimizer.solver.solve import solve_problem

TIE_WEIGHT = 1e-7  # land weight (objective units per m²·(transport scale)) that breaks ties without moving the optimum


@dataclass
class ParetoPoint:
    """One point of the front: its ε, the optimum found there and what was opened."""

    epsilon_ha: float
    transport: float
    land_take_ha: float
    facilities: int
    per_programme_ha: dict[str, float]
    status: str
    gap: float


def _with_rows(problem: LocationProblem, *, epsilon_m2: float | None, land_weight: float,
               zero_transport: bool = False) -> LocationProblem:
    counts = problem.counts
    if epsilon_m2 is not None:
        row = CountRows.from_matrix(sp.csr_matrix(problem.area_m2.reshape(1, -1)), np.array([0.0]),
                                    np.array([epsilon_m2]), (f"land take ≤ {epsilon_m2 / M2_PER_HA:.4f} ha (ε-constraint)",))
        counts = counts.stack(row)
    return dataclasses.replace(
        problem,
        counts=counts,
        land_cost_per_m2=land_weight,
        arc_cost=np.zeros_like(problem.arc_cost) if zero_transport else problem.arc_cost,
    )


def _solve(problem: LocationProblem, options: SolveOptions) -> Solution:
    sol = solve_problem(problem, options)
    if sol.status != Status.OPTIMAL:
        msg = f"a point of the front ended with status {str(sol.status)!r}; raise the time limit"
        raise ParetoError(msg)
    return sol


def _verified_point(sp_: SitingProblem, problem: LocationProblem, sol: Solution, eps_m2: float | None) -> ParetoPoint:
    """Verify a point (generic + domain) and summarise it."""
    generic = verify_problem(problem, sol)
    params = {**sp_.instance.parameters, "land_cost_eur_per_m2": problem.land_cost_per_m2}
    inst = dataclasses.replace(sp_.instance, parameters=params)
    sp2 = dataclasses.replace(sp_, instance=inst, problem=problem)
    tables = result_tables(sp2, sol)
    domain = verify_siting(sp2, sol, tables)
    violations = generic.violations + domain.violations
    land_m2 = float(tables.facilities["area_m2"].sum())
    if eps_m2 is not None and land_m2 > eps_m2 + 1e-6:
        violations.append(f"land take {land_m2:.0f} m² exceeds ε {eps_m2:.0f} m²")
    if violations:
        raise VerificationError(violations)
    parts = objective_parts(problem, sol.open_options, sol.arc_share)
    per = (tables.facilities.groupby("programme")["area_m2"].sum() / M2_PER_HA).round(6).to_dict()
    return ParetoPoint(
        epsilon_ha=(eps_m2 / M2_PER_HA) if eps_m2 is not None else float("nan"),
        transport=parts["transport"],
        land_take_ha=land_m2 / M2_PER_HA,
        facilities=int(sol.open_options.sum()),
        per_programme_ha={str(k): float(v) for k, v in per.items()},
        status=sol.status,
        gap=sol.gap,
    )


def trace(instance: Instance, points: int = 7, *, time_limit_s: float | None = None,
          siting: SitingProblem | None = None) -> pd.DataFrame:
    """ε-constraint front of transport vs land take (see module docstring).

    Parameters
    ----------
    instance
        A loaded instance (its own land-cost parameter is replaced by the ε-constraint).
    points
        Number of points including both end points (≥ 2).
    time_limit_s
        Time limit per solve in seconds (default: the instance's ``time_limit_s``).

    Returns
    -------
    pandas.DataFrame
        One row per point, from the minimum-transport end to the minimum-land end: ``point``, ``epsilon_ha``,
        ``land_take_ha``, ``transport`` (in the instance's cost unit), ``facilities``, ``land_<programme>_ha``,
        ``status``, ``gap``, ``verified``.
    """
    if points < 2:
        msg = "a front needs at least 2 points (its two end points)"
        raise ValueError(msg)
    sp_ = siting or compile_instance(instance)
    fixed = fixed_land_take_m2(sp_.problem)
    if fixed is not None:
        raise InputError(_no_tradeoff(instance, fixed, "the count and the size of every facility are fixed by the "
                                      "rules"), file=instance.path)
    base = dataclasses.replace(sp_.problem, land_cost_per_m2=0.0)
    options = SolveOptions(time_limit_s=float(time_limit_s or instance.parameters["time_limit_s"]),
                           mip_gap=1e-9, backend="highspy")
    # end point T: minimum transport; the tiny land weight picks the least land among transport optima
    first = _solve(base, options)
    scale = max(abs(first.objective), 1.0) / max(float(base.area_m2.sum()), 1.0)
    weight = TIE_WEIGHT * scale
    p_t = _with_rows(base, epsilon_m2=None, land_weight=weight)
    sol_t = _solve(p_t, options)
    point_t = _verified_point(sp_, p_t, sol_t, None)
    # end point L: minimum land take, then minimum transport at that land take
    p_l0 = _with_rows(base, epsilon_m2=None, land_weight=1.0, zero_transport=True)
    land_min_m2 = float(np.dot(p_l0.area_m2, _solve(p_l0, options).open_options))
    land_max_m2 = point_t.land_take_ha * M2_PER_HA
    collapsed = land_max_m2 - land_min_m2 <= 1e-6 * max(land_max_m2, 1.0)
    rows = [point_t]
    if collapsed:  # every ε equals the end point's land take: the ε-problem is point T's, no need to solve it again
        rows += [dataclasses.replace(point_t) for _ in range(points - 1)]
    else:
        for e in np.linspace(land_max_m2, land_min_m2, points)[1:]:
            p_e = _with_rows(base, epsilon_m2=float(e), land_weight=weight)
            rows.append(_verified_point(sp_, p_e, _solve(p_e, options), float(e)))
    rows[0].epsilon_ha = land_max_m2 / M2_PER_HA
    frame = pd.DataFrame(
        {
            "point": np.arange(len(rows)),
            "epsilon_ha": [r.epsilon_ha for r in rows],
            "land_take_ha": [r.land_take_ha for r in rows],
            "transport": [r.transport for r in rows],
            "facilities": [r.facilities for r in rows],
            "status": [r.status for r in rows],
            "gap": [r.gap for r in rows],
            "verified": True,
        }
    )
    progs = sorted({k for r in rows for k in r.per_programme_ha})
    for k in progs:
        frame[f"land_{k}_ha"] = [r.per_programme_ha.get(k, 0.0) for r in rows]
    frame.attrs["cost_unit"] = sp_.problem.cost_unit
    if collapsed:
        frame.attrs["note"] = (f"{instance.name}: the front is a single point — the least-transport solution already "
                               f"takes the least land ({land_max_m2 / M2_PER_HA:,.2f} ha), so every point repeats it; "
                               "no land can be traded for transport here (open the count or enforce capacity)")
    check_monotone(frame)
    return frame


def fixed_land_take_m2(problem: LocationProblem) -> float | None:
    """The land take every feasible solution has, when the count rows fix it; else None.

    Land take is fixed when every option lies in exactly one count row with lower = upper (a fixed count) and all
    options of such a row have the same area (one size per region): then every solution takes
    Σ count × area m². This is a structural test, no solve.
    """
    counts = problem.counts
    fixed_rows = np.flatnonzero(counts.lower == counts.upper)
    if len(fixed_rows) == 0 or problem.n_options == 0:
        return None
    rows = counts.matrix[fixed_rows].tocsr()
    if not np.array_equal(np.asarray(rows.sum(axis=0)).ravel(), np.ones(problem.n_options)):
        return None  # an option outside the fixed-count rows, or in two of them
    starts, lengths = rows.indptr[:-1], np.diff(rows.indptr)
    keep = lengths > 0
    area = problem.area_m2[rows.indices]
    lo = np.minimum.reduceat(area, starts[keep]) if keep.any() else np.zeros(0)
    hi = np.maximum.reduceat(area, starts[keep]) if keep.any() else np.zeros(0)
    if np.any(hi - lo > 1e-9 * np.maximum(hi, 1.0)):
        return None  # a region may choose between sizes
    return float(np.dot(counts.lower[fixed_rows][keep], lo))


def _no_tradeoff(instance: Instance, land_m2: float, why: str) -> str:
    """One line for an instance whose land take cannot vary (raised before any solve, exit 2)."""
    return (f"{instance.name}: every solution takes the same land, {land_m2 / M2_PER_HA:,.2f} ha ({why}), so there is "
            "no transport vs land-take trade-off to trace; use an instance whose count or size is open, e.g. "
            "s2c-sorteercentra-open, or --set size_rule=free --set enforce_capacity=true")


def check_monotone(front: pd.DataFrame, rel_tol: float = 1e-6) -> None:
    """Less land take never costs less transport: raise :class:`ParetoError` otherwise."""
    ordered = front.sort_values("land_take_ha")
    t = ordered["transport"].to_numpy()
    tol = rel_tol * np.maximum(np.abs(t[:-1]), 1.0)
    if np.any(np.diff(t) > tol):
        msg = "the front is not monotone: a point with more land take has higher transport"
        raise ParetoError(msg)


def plot(front: pd.DataFrame, path: Path, title: str) -> Path:
    """A planner-readable PNG: transport per year against hectares taken, one labelled marker per point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit = front.attrs.get("cost_unit", "EUR/yr")
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    # distinct solutions only (two ε may give the same one); land take is discrete, so between two sampled points
    # the point to the left is surely achievable (a staircase; more --points may find better ones in between)
    ordered = front.sort_values("land_take_ha").drop_duplicates(["land_take_ha", "transport"])
    ax.step(ordered["land_take_ha"], ordered["transport"], where="post", color="#1f5f8b", lw=1.5, alpha=0.6)
    ax.plot(ordered["land_take_ha"], ordered["transport"], "o", color="#1f5f8b", ms=7)
    for row in ordered.itertuples():
        ax.annotate(f"{row.facilities} fac.", (row.land_take_ha, row.transport), textcoords="offset points",
                    xytext=(6, 6), fontsize=8, color="#333333")
    ax.set_xlabel("land take (ha of plot)")
    ax.set_ylabel(f"transport cost ({unit})")
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    if front.attrs.get("note"):
        ax.text(0.01, 0.02, front.attrs["note"], transform=ax.transAxes, ha="left", va="bottom", fontsize=7,
                color="#a50f15", wrap=True)
    ax.text(0.99, 0.98, "each point: minimum transport for at most that land take\n(ε-constraint, verified; "
            "between points the step is surely\nachievable; more --points may find better)",
            transform=ax.transAxes, ha="right", va="top", fontsize=8, color="#555555")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write(front: pd.DataFrame, out_dir: Path, title: str, instance: Instance | None = None) -> dict[str, Path]:
    """Write ``pareto.csv``, ``pareto.png`` and ``summary.json`` into ``out_dir``, as one atomic folder.

    ``summary.json`` (``"format": "circular-siting/pareto"``) is the run manifest and the marker that lets a later
    run replace the folder (the previous front is kept as ``NAME.previous``, :mod:`optimizer.atomic`).
    """
    import json

    from optimizer.atomic import PARETO_FORMAT, atomic_directory
    from optimizer.output.summary import versions

    out_dir = Path(out_dir)
    summary = {"format": PARETO_FORMAT, "format_version": 1, "kind": "pareto", "title": title,
               "instance": instance.name if instance is not None else None,
               "instance_path": str(instance.path) if instance is not None else None,
               "instance_hash": instance.content_hash() if instance is not None else None,
               "overrides": dict(instance.overrides) if instance is not None else {},
               "points": int(len(front)), "cost_unit": front.attrs.get("cost_unit", ""),
               "all_verified": bool(front["verified"].all()) if "verified" in front else None,
               "versions": versions()}
    with atomic_directory(out_dir, kind="pareto") as tmp:
        front.to_csv(tmp / "pareto.csv", index=False)
        plot(front, tmp / "pareto.png", title)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    out_dir = out_dir.resolve()
    return {"csv": out_dir / "pareto.csv", "png": out_dir / "pareto.png", "summary": out_dir / "summary.json"}
