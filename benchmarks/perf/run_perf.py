"""Performance benchmark of the highspy backend against default HiGHS on the plain formulation, in one run.

Suites
------
``capabc``
    OR-Library capa/capb/capc capacity variants (12 × multi-source CFLP, 100 facilities × 1000 customers).
``pmed``
    OR-Library pmed1–pmed40 (p-median, 100–900 vertices).
``cap``, ``holmberg``
    OR-Library cap41–cap134 (multi-source CFLP, 50 × 16–50) and Holmberg p1–p71 (single-source CFLP): the small
    sets, to check the default strategy per problem class does not lose to plain HiGHS there.
``pm2000``
    Seeded p-median, 2,000 clients × 200 candidates, p = 20 (:func:`instances.pmedian_2000x200`), dense and
    sparsified with the certificate of :mod:`optimizer.solver.sparsified`.
``quick``
    A fixed sample that runs in ≤ 10 minutes on the 2-core machine (:data:`QUICK`): small OR-Library CFLP,
    capa/capc, pmed incl. pmed36, Holmberg incl. p57/p58, the Flanders p-median (285 municipalities × 289 sites)
    against spopt + CBC, and the fine-grained Flanders instances; ours and the peer one after the other (the peer
    capped at ``--quick-peer-limit``), then the ratio table with the load average at each solve.

For every instance *ours* (``solve_problem`` with the ``highspy`` backend, its default strategy) and *plain*
(:func:`optimizer.solver.strategy_strong.solve_plain`: default HiGHS on the extensive formulation with strong linking, the
same rows as the Pyomo reference model) are solved one after the other, each checked by
:func:`optimizer.check.verify.verify_problem` and against the published optimum. Times are wall-clock seconds of the
solve call (model build + heuristics + bounds + solver), split into build and the rest. One JSON line per
solve goes to ``--out``; the summary table (medians, totals, ratios) is printed at the end and can be rebuilt
from the JSON lines with ``--summary-only``.

Usage::

    nohup python benchmarks/perf/run_perf.py --suite all > /tmp/perf.log 2>&1 &
    python benchmarks/perf/run_perf.py --suite capabc --plain-limit 120 --limit 60
    python benchmarks/perf/run_perf.py --suite pmed --instances pmed26-pmed40     # a subset (resume a cut run)
    python benchmarks/perf/run_perf.py --suite pm2000 --methods ours,spopt       # spopt PMedian + CBC on pm2000
    python benchmarks/perf/run_perf.py --summary-only --out benchmarks/perf/out/perf.jsonl
    python benchmarks/perf/run_perf.py --suite quick                              # ≤ 10 min, prints the ratios
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from instances import flanders_pmedian, pmedian_2000x200  # noqa: E402

from optimizer.bench.readers import benchmark_set  # noqa: E402
from optimizer.check.verify import verify_problem  # noqa: E402
from optimizer.model.arcs import matrix_cost_block  # noqa: E402
from optimizer.problem import LocationProblem, Solution  # noqa: E402
from optimizer.solver.options import SolveOptions  # noqa: E402
from optimizer.solver.solve import solve_problem  # noqa: E402
from optimizer.solver.sparsified import solve_sparsified  # noqa: E402
from optimizer.solver.strategy_strong import solve_plain  # noqa: E402

SETS = {"capabc": "orlib-capabc", "pmed": "pmed", "cap": "orlib-cflp", "holmberg": "holmberg"}


def _record(suite: str, name: str, method: str, problem: LocationProblem, sol: Solution, seconds: float,
            known: float | None, limit: float) -> dict:
    report = verify_problem(problem, sol) if sol.has_solution else None
    matches = None
    if known is not None and sol.has_solution:
        matches = abs(sol.objective - known) <= 1e-6 * max(1.0, abs(known)) + 5e-4  # tables give 3 decimals
    return {
        "suite": suite, "instance": name, "method": method, "status": sol.status, "objective": sol.objective,
        "bound": sol.bound, "gap": sol.gap, "known": known, "matches_known": matches,
        "verified": None if report is None else report.ok, "seconds": seconds, "limit_s": limit,
        "build_s": sol.timings_s.get("build", float("nan")),
        "rest_s": seconds - sol.timings_s.get("build", 0.0), "timings": sol.timings_s, "solver": sol.solver,
        "n_arcs": problem.n_arcs, "load_avg": os.getloadavg()[0], "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }  # fmt: skip


def _spopt(problem: LocationProblem, limit: float) -> Solution:
    """spopt ``PMedian`` solved by PuLP's CBC (:func:`optimizer.bench.baselines.spopt_pmedian`) as a :class:`Solution`."""
    from optimizer.bench.baselines import spopt_pmedian

    res = spopt_pmedian(problem, limit)
    empty = np.zeros(0)
    return Solution(status=res.status, objective=res.objective, bound=res.bound,
                    open_options=empty if res.open_options is None else res.open_options,
                    arc_share=empty if res.arc_share is None else res.arc_share,
                    solver="spopt PMedian (PuLP/CBC)", timings_s={"solve": res.time_s})  # fmt: skip


def _solve(method: str, problem: LocationProblem, limit: float) -> tuple[Solution, float]:
    t0 = time.perf_counter()
    if method == "spopt":
        sol = _spopt(problem, limit)
    elif method == "plain":
        sol = solve_plain(problem, SolveOptions(time_limit_s=limit))
    else:
        sol = solve_problem(problem, SolveOptions(backend="highspy", time_limit_s=limit))
    return sol, time.perf_counter() - t0


def _emit(out, row: dict) -> None:  # noqa: ANN001
    out.write(json.dumps(row, default=float) + "\n")
    out.flush()
    print(
        f"{row['suite']:8s} {row['instance']:18s} {row['method']:10s} {row['status']:9s} {row['seconds']:8.2f}s "
        f"obj {row['objective']:.6f} bound {row['bound']:.6f} known {row['known']} match {row['matches_known']} "
        f"verified {row['verified']}",
        flush=True,
    )


def run(suites: list[str], out_path: Path, limit: float, plain_limit: float, pmed_plain_limit: float,
        methods: tuple[str, ...], pmed_limit: float, instances: set[str] | None = None,
        spopt_limit: float = 600.0) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("a") as out:
        out.write(json.dumps({"meta": {"command": " ".join(sys.argv), "machine": platform.machine(),
                                       "cpus": os.cpu_count(), "python": platform.python_version(),
                                       "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                       "load_avg": os.getloadavg()}}) + "\n")  # fmt: skip
        for suite in suites:
            if suite in ("capabc", "pmed", "cap", "holmberg"):
                cases = benchmark_set(SETS[suite])
                for case in cases:
                    if instances is not None and case.name not in instances:
                        continue
                    problem = case.load()
                    for method in (m for m in methods if m != "spopt"):
                        if method == "ours":
                            lim = pmed_limit if suite == "pmed" else limit
                        else:
                            lim = pmed_plain_limit if suite == "pmed" else plain_limit
                        sol, seconds = _solve(method, problem, lim)
                        _emit(out, _record(suite, case.name, method, problem, sol, seconds, case.known, lim))
            elif suite == "pm2000":
                problem, raw = pmedian_2000x200()
                for method in methods:
                    lim = {"ours": limit, "spopt": spopt_limit}.get(method, pmed_plain_limit)
                    sol, seconds = _solve(method, problem, lim)
                    _emit(out, _record(suite, problem.name, method, problem, sol, seconds, None, lim))
                if "ours" in methods:
                    cost = (raw["cost_km"] * raw["weights"][:, None]).astype(np.float32)
                    t0 = time.perf_counter()
                    res = solve_sparsified(problem, matrix_cost_block(cost), k=40,
                                           options=SolveOptions(backend="highspy", time_limit_s=limit))
                    seconds = time.perf_counter() - t0
                    row = _record(suite, problem.name, "sparse-k40", res.problem, res.solution, seconds, None, limit)
                    row["certified"], row["rounds"] = res.certified, res.rounds
                    _emit(out, row)
            else:
                msg = f"unknown suite {suite!r}"
                raise ValueError(msg)


# (label, benchmark set or builder, instances, peer): the fixed sample of ``--suite quick``
QUICK: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("cap", "orlib-cflp", ("cap41", "cap71", "cap101", "cap131"), "plain"),
    ("capabc", "orlib-capabc", ("capa8000", "capc5750"), "plain"),
    ("pmed", "pmed", ("pmed1", "pmed16", "pmed26", "pmed36"), "plain"),
    ("holmberg", "holmberg", ("p1", "p30", "p57", "p58"), "plain"),
    ("flanders", "flanders-pmedian", ("flanders-pmedian-p10",), "spopt"),
    ("fine", "named", ("fine-2k-500", "fine-10k-3k", "fine-10k-3k:any"), "plain"),
)


def _named(name: str, limit: float, method: str) -> tuple[LocationProblem, Solution, float]:
    """A named fine-grained instance solved as ``siting solve`` does (compile, solve, certificate), or for the
    peer the compiled dense problem by plain HiGHS; the time is the solve's (compile excluded)."""
    from optimizer.data.instance import load_instance
    from optimizer.model.formulation import compile_instance

    base, _, variant = name.partition(":")  # "NAME:any": the any-assignment variant (--set assignment=any)
    inst = load_instance(base, {"assignment": "any"} if variant == "any" else {})
    sp = compile_instance(inst)
    options = SolveOptions(backend="highspy", time_limit_s=limit, mip_gap=float(inst.parameters["mip_gap"]))
    t0 = time.perf_counter()
    if method == "plain":
        problem = sp.problem if sp.arc_source is None else None
        if problem is None:  # the dense 10k × 3k problem is what the certificate avoids: no peer run
            return sp.problem, Solution(np.zeros(0), np.zeros(0), float("nan"), float("-inf"), "skipped"), 0.0
        sol = solve_plain(problem, SolveOptions(time_limit_s=limit, mip_gap=options.mip_gap))
    elif sp.arc_source is not None:
        res = solve_sparsified(sp.problem, sp.arc_source, k=int(inst.parameters["sparsify_k"]), options=options)
        problem, sol = res.problem, res.solution
    else:
        problem = sp.problem
        sol = solve_problem(problem, options)
    return problem, sol, time.perf_counter() - t0


def run_quick(out_path: Path, limit: float, peer_limit: float) -> list[dict]:
    """The fixed sample :data:`QUICK`: ours then the peer per instance; JSON lines to ``out_path``."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    with out_path.open("a") as out:
        out.write(json.dumps({"meta": {"command": " ".join(sys.argv), "suite": "quick", "cpus": os.cpu_count(),
                                       "python": platform.python_version(), "machine": platform.machine(),
                                       "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                       "load_avg": os.getloadavg()}}) + "\n")  # fmt: skip
        for label, source, names, peer in QUICK:
            for name in names:
                for method in ("ours", peer):
                    lim = limit if method == "ours" else peer_limit
                    if source == "named":
                        problem, sol, seconds = _named(name, lim, method)
                        if sol.status == "skipped":
                            continue
                        known = None
                    elif source == "flanders-pmedian":
                        problem, known = flanders_pmedian(), None
                        sol, seconds = _solve(method, problem, lim)
                    else:
                        case = next(c for c in benchmark_set(source) if c.name == name)
                        problem, known = case.load(), case.known
                        sol, seconds = _solve(method, problem, lim)
                    row = _record(f"quick-{label}", name, method, problem, sol, seconds, known, lim)
                    _emit(out, row)
                    rows.append(row)
    return rows


def quick_table(rows: list[dict]) -> str:
    """Markdown ratio table of a quick run: per instance ours and the peer, the ratio peer/ours, the loads."""
    lines = ["| instance | ours s | ours status | peer | peer s | peer status (gap) | peer/ours | load ours / peer |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    ratios = []
    by_key = {(r["instance"], r["method"]): r for r in rows}
    for (name, method), o in by_key.items():
        if method != "ours":
            continue
        peer = next((r for (n2, m2), r in by_key.items() if n2 == name and m2 != "ours"), None)
        ok = "✓" if o["verified"] and o["matches_known"] in (True, None) else "✗"
        cells = [name, f"{o['seconds']:.1f}", f"{o['status']} {ok} ({100 * o['gap']:.3f} %)"]
        if peer is None:
            cells += ["–", "–", "–", "–", f"{o['load_avg']:.1f} / –"]
        else:
            capped = peer["status"] != "optimal" and peer["seconds"] >= peer["limit_s"] * 0.98
            gap = f"{100 * peer['gap']:.2f} %" if np.isfinite(peer["gap"]) else "no bound"
            ratio = peer["seconds"] / max(o["seconds"], 1e-9)
            ratios.append(ratio)
            cells += [peer["method"], f"{peer['seconds']:.1f}" + (" (≥ limit)" if capped else ""),
                      f"{peer['status']} ({gap})", ("≥ " if capped else "") + f"{ratio:.1f}×",
                      f"{o['load_avg']:.1f} / {peer['load_avg']:.1f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    if ratios:
        lines += ["", f"Median peer/ours ratio {statistics.median(ratios):.1f}× over {len(ratios)} instances "
                      f"(a peer stopped at its limit gives a lower bound of the ratio)."]  # fmt: skip
    loads = [r["load_avg"] for r in rows]
    lines.append(f"1-min load average at the solves: {min(loads):.1f}–{max(loads):.1f} (median "
                 f"{statistics.median(loads):.1f}; {os.cpu_count()} cores).")  # fmt: skip
    return "\n".join(lines)


def summary(out_path: Path) -> str:
    """Markdown summary (medians, totals, ratios) of the last result per (suite, instance, method)."""
    rows: dict[tuple[str, str, str], dict] = {}
    for line in out_path.read_text().splitlines():
        d = json.loads(line)
        if "meta" not in d:
            rows[(d["suite"], d["instance"], d["method"])] = d
    lines = []
    for suite in ("capabc", "pmed", "pm2000", "cap", "holmberg"):
        names = sorted({k[1] for k in rows if k[0] == suite}, key=lambda s: (len(s), s))
        if not names:
            continue
        lines += [f"### {suite}", "", "| instance | ours s (build) | ours status | plain s (build) | plain status | plain gap | ratio |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        tot = {"ours": 0.0, "plain": 0.0}
        ratios = []
        for name in names:
            o, p = rows.get((suite, name, "ours")), rows.get((suite, name, "plain"))
            cells = [name]
            for r in (o, p):
                if r is None:
                    cells += ["–", "–"] + (["–"] if r is p else [])
                    continue
                closed = r["status"] == "optimal"
                cells.append(f"{r['seconds']:.1f} ({r['build_s']:.2f})" + ("" if closed else f" ≥ {r['limit_s']:.0f} limit"))
                ok = "✓" if r["matches_known"] in (True, None) and r["verified"] else "✗"
                cells.append(f"{r['status']} {ok}")
                if r is p:
                    cells.append(f"{100 * r['gap']:.2f} %" if np.isfinite(r["gap"]) else "–")
                tot["ours" if r is o else "plain"] += r["seconds"]
            if o and p:
                ratios.append(p["seconds"] / o["seconds"])
                cells.append(f"{p['seconds'] / o['seconds']:.1f}×")
            else:
                cells.append("–")
            lines.append("| " + " | ".join(cells) + " |")
        med_o = statistics.median([rows[(suite, n, "ours")]["seconds"] for n in names if (suite, n, "ours") in rows])
        meds = [rows[(suite, n, "plain")]["seconds"] for n in names if (suite, n, "plain") in rows]
        lines.append("")
        plain_text = f", plain {tot['plain']:.1f} s (ratio {tot['plain'] / max(tot['ours'], 1e-9):.1f}×)" if meds else ""
        lines.append(f"Total ours {tot['ours']:.1f} s{plain_text}; "
                     f"median ours {med_o:.2f} s" + (f", plain {statistics.median(meds):.2f} s" if meds else "")
                     + (f"; median per-instance ratio {statistics.median(ratios):.1f}×" if ratios else "") + ".")  # fmt: skip
        loads = [r["load_avg"] for k, r in rows.items() if k[0] == suite and r.get("load_avg") is not None]
        if loads:  # the machine is shared: timings under load are upper bounds
            lines.append(f"1-min load average at the solves: {min(loads):.1f}–{max(loads):.1f} "
                         f"(median {statistics.median(loads):.1f}; 2 cores).")  # fmt: skip
        extra = [r for k, r in rows.items() if k[0] == suite and k[2] not in ("ours", "plain")]
        for r in extra:
            ours = rows.get((suite, r["instance"], "ours"))
            vs = f" ({r['seconds'] / ours['seconds']:.1f}× ours)" if ours else ""
            same = "" if ours is None else (", same objective as ours" if abs(r["objective"] - ours["objective"])
                                            <= 1e-6 * max(1.0, abs(ours["objective"])) else ", objective differs from ours")
            cert = f", certified {r.get('certified')}, rounds {r.get('rounds')}" if "certified" in r else ""
            lines.append(f"{r['method']}: {r['seconds']:.1f} s{vs}, {r['status']}, objective {r['objective']:.6f}"
                         f"{same}, verified {r['verified']}{cert}, arcs {r['n_arcs']}, load {r.get('load_avg', float('nan')):.1f}.")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def _instances(text: str | None) -> set[str] | None:
    """``"pmed26-pmed40,capa8000"`` → the set of names (a ``prefixA-prefixB`` range expands the numbers)."""
    if not text:
        return None
    names: set[str] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        if not hi:
            names.add(lo)
            continue
        a, b = re.fullmatch(r"([A-Za-z]+)(\d+)", lo), re.fullmatch(r"([A-Za-z]+)(\d+)", hi)
        if not (a and b and a.group(1) == b.group(1)):
            msg = f"bad range {part!r}: use e.g. pmed26-pmed40"
            raise ValueError(msg)
        names.update(f"{a.group(1)}{k}" for k in range(int(a.group(2)), int(b.group(2)) + 1))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="all", help="capabc,pmed,pm2000 or all")
    parser.add_argument("--limit", type=float, default=60.0, help="time limit of ours on capabc and pm2000 (s)")
    parser.add_argument("--pmed-limit", type=float, default=600.0, help="time limit of ours on pmed (s)")
    parser.add_argument("--plain-limit", type=float, default=120.0, help="time limit of plain HiGHS on capabc (s)")
    parser.add_argument("--pmed-plain-limit", type=float, default=300.0, help="plain HiGHS limit on p-median (s)")
    parser.add_argument("--methods", default="ours,plain", help="ours,plain[,spopt] (spopt: pm2000 only)")
    parser.add_argument("--spopt-limit", type=float, default=600.0, help="CBC time limit of spopt on pm2000 (s)")
    parser.add_argument("--instances", default=None,
                        help="only these instances of the published sets, e.g. pmed26-pmed40 or capa8000,pmed30")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "perf.jsonl")
    parser.add_argument("--quick-peer-limit", type=float, default=30.0, help="peer time limit in --suite quick (s)")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    if args.suite == "quick":
        t0 = time.perf_counter()
        rows = run_quick(args.out.with_name("quick.jsonl") if args.out.name == "perf.jsonl" else args.out,
                         args.limit, args.quick_peer_limit)  # fmt: skip
        print(quick_table(rows))
        print(f"Quick suite: {time.perf_counter() - t0:.0f} s wall.")
        return
    if not args.summary_only:
        suites = ["capabc", "pmed", "pm2000"] if args.suite == "all" else args.suite.split(",")
        run(suites, args.out, args.limit, args.plain_limit, args.pmed_plain_limit, tuple(args.methods.split(",")),
            args.pmed_limit, _instances(args.instances), args.spopt_limit)
    print(summary(args.out))


if __name__ == "__main__":
    main()
