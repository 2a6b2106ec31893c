"""Fixed costs per solve and per process (issue 18, item 1): ours against a direct highspy model, one after the other.

Three measurements, each repeated and alternated (ours, peer, ours, peer, ...) so that both see the same load;
medians per instance; the 1-minute load average is recorded with every figure.

``inprocess``
    OR-Library cap41–cap134 (``../shared/benchmarks``): :func:`optimizer.solver.solve.solve_problem` with its
    defaults against :func:`direct_strong`, a vectorised build of the strong formulation (assignment rows,
    ``x_ij ≤ y_j``, capacity rows) passed to HiGHS with default options, both from the same
    :class:`~optimizer.problem.LocationProblem`, both checked against the published optimum. Ratio = direct / ours.
``process``
    The same instances written in the documented matrix format (``docs/matrix-format.md``, dense costs) under
    ``benchmarks/perf/out/matrix/`` (derived from ../shared, not committed); ``siting solve DIR --out TMP`` (read,
    validate, solve, verify, write the result) against ``python benchmarks/perf/minimal_highspy.py DIR`` (read the
    CSVs with pandas, build, solve, print). Ratio = ours / minimal (target ≤ 1.25).
``cli``
    ``siting --help``, ``siting list`` and ``siting show materialenbanken``: median wall time of whole processes.

Whole processes run with the package's bytecode compiled (``python -m compileall optimizer`` first, into the
git-ignored ``__pycache__`` folders), as an installed package has it: pip compiles a wheel's modules at install.
Without it, and with ``PYTHONDONTWRITEBYTECODE`` set (as on the shared machine), every process would compile the
package's ~80 modules from source again (0.2–0.4 s); ``--no-compile`` measures that case.

    python benchmarks/perf/fixed_costs.py [--parts inprocess,process,cli] [--repeats 3] [--instances cap41,cap131]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from optimizer.bench.readers import benchmark_set  # noqa: E402
from optimizer.problem import LocationProblem  # noqa: E402
from optimizer.solver.options import SolveOptions  # noqa: E402
from optimizer.solver.solve import solve_problem  # noqa: E402

MATRIX_DIR = HERE / "out" / "matrix"
BIN = Path(sys.executable).parent


def load() -> float:
    return os.getloadavg()[0]


def direct_strong(problem: LocationProblem) -> float:
    """The strong formulation built with numpy and solved by HiGHS (defaults, gap 1e-6); returns the objective."""
    import highspy

    k, m, n = problem.n_arcs, problem.n_options, problem.n_clients
    ci, fj = problem.arc_client, problem.arc_option
    capacity = np.asarray(problem.capacity, float)
    rows = np.concatenate([ci, n + np.arange(k), n + np.arange(k), n + k + fj, n + k + np.arange(m)])
    cols = np.concatenate([np.arange(k), np.arange(k), k + fj, np.arange(k), k + np.arange(m)])
    vals = np.concatenate([np.ones(k), np.ones(k), -np.ones(k), problem.demand[ci],
                           -np.where(np.isfinite(capacity), capacity, 0.0)])  # fmt: skip
    order = np.lexsort((rows, cols))
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = k + m, n + k + m
    lp.col_cost_ = np.concatenate([problem.arc_cost, problem.option_cost()]).astype(float)
    lp.col_lower_, lp.col_upper_ = np.zeros(k + m), np.ones(k + m)
    lp.row_lower_ = np.concatenate([np.ones(n), np.full(k + m, -inf)])
    lp.row_upper_ = np.concatenate([np.ones(n), np.zeros(k), np.where(np.isfinite(capacity), 0.0, inf)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(k + m + 1)).astype(np.int32)
    lp.a_matrix_.index_ = rows[order].astype(np.int32)
    lp.a_matrix_.value_ = vals[order]
    x_kind = highspy.HighsVarType.kInteger if problem.single_source else highspy.HighsVarType.kContinuous
    lp.integrality_ = [x_kind] * k + [highspy.HighsVarType.kInteger] * m
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.passModel(lp)
    h.run()
    return float(h.getInfo().objective_function_value)


def export_matrix(case, folder: Path) -> None:  # noqa: ANN001 - BenchmarkCase
    """Write ``case`` in the documented matrix format (dense costs; ``inf`` where a pair is not allowed)."""
    p = case.load()
    folder.mkdir(parents=True, exist_ok=True)
    cost = np.full((p.n_clients, p.n_options), np.inf)
    cost[p.arc_client, p.arc_option] = p.arc_cost
    ids = [f"f{j + 1}" for j in range(p.n_options)]
    clients = [f"c{i + 1}" for i in range(p.n_clients)]
    (folder / "problem.toml").write_text(
        f'[problem]\nname = "{case.name}"\nsingle_source = {"true" if p.single_source else "false"}\n'
        f'cost_unit = "cost"\ndescription = "OR-Library {case.name}, written by benchmarks/perf/fixed_costs.py"\n'
    )
    lines = ["id,demand"] + [f"{c},{d:.10g}" for c, d in zip(clients, p.demand)]
    (folder / "demands.csv").write_text("\n".join(lines) + "\n")
    cap = ["" if not np.isfinite(q) else f"{q:.10g}" for q in p.capacity]
    lines = ["id,capacity,fixed_cost"] + [f"{i},{q},{f:.10g}" for i, q, f in zip(ids, cap, p.fixed_cost)]
    (folder / "facilities.csv").write_text("\n".join(lines) + "\n")
    body = [",".join(["client", *ids])]
    body += [",".join([c] + ["inf" if not np.isfinite(v) else f"{v:.10g}" for v in row]) for c, row in zip(clients, cost)]
    (folder / "costs.csv").write_text("\n".join(body) + "\n")


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run_inprocess(cases: list, repeats: int, out) -> list[dict]:  # noqa: ANN001
    rows = []
    solve_problem(cases[0].load(), SolveOptions())  # warm the imports of both paths once
    direct_strong(cases[0].load())
    for case in cases:
        problem = case.load()
        ours, direct, loads = [], [], []
        for _ in range(repeats):
            loads.append(load())
            t0 = time.perf_counter()
            sol = solve_problem(problem, SolveOptions())
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            obj = direct_strong(problem)
            direct.append(time.perf_counter() - t0)
        ok = abs(sol.objective - case.known) <= 1e-6 * abs(case.known) + 5e-4 and abs(obj - case.known) <= 1e-6 * abs(case.known) + 5e-4
        row = {"part": "inprocess", "instance": case.name, "ours_s": statistics.median(ours),
               "direct_s": statistics.median(direct), "ratio": statistics.median(direct) / statistics.median(ours),
               "status": str(sol.status), "both_equal_published": ok, "solver": sol.solver, "load": statistics.median(loads)}  # fmt: skip
        out.write(json.dumps(row) + "\n")
        out.flush()
        print(f"{case.name:8s} ours {row['ours_s']:.3f}s direct {row['direct_s']:.3f}s ratio {row['ratio']:.2f} ok {ok} load {row['load']:.1f}", flush=True)
        rows.append(row)
    return rows


def compile_package() -> None:
    """Byte-compile the package, as a pip install does (see the module docstring)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "optimizer")], check=True,
                   stdout=subprocess.DEVNULL)


def run_process(cases: list, repeats: int, out) -> list[dict]:  # noqa: ANN001
    rows = []
    siting = str(BIN / "siting")
    minimal = [sys.executable, str(HERE / "minimal_highspy.py")]
    # the same pipeline (read, validate, solve, verify, write) through the Python API, without the CLI layer
    api = [sys.executable, "-c", "import sys; from optimizer.pipeline import run; run(sys.argv[1], out_dir=sys.argv[2])"]
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            folder = MATRIX_DIR / case.name
            if not (folder / "costs.csv").is_file():
                export_matrix(case, folder)
            ours, via_api, peer, loads = [], [], [], []
            for r in range(repeats):
                loads.append(load())
                dest = Path(tmp) / f"{case.name}-{r}"
                ours.append(_timed([siting, "solve", str(folder), "--out", str(dest), "--quiet"]
                                   if _has_quiet() else [siting, "solve", str(folder), "--out", str(dest)]))  # fmt: skip
                shutil.rmtree(dest, ignore_errors=True)
                via_api.append(_timed([*api, str(folder), str(dest)]))
                shutil.rmtree(dest, ignore_errors=True)
                peer.append(_timed([*minimal, str(folder)]))
            row = {"part": "process", "instance": case.name, "siting_s": statistics.median(ours),
                   "api_s": statistics.median(via_api), "minimal_s": statistics.median(peer),
                   "ratio": statistics.median(ours) / statistics.median(peer),
                   "api_ratio": statistics.median(via_api) / statistics.median(peer), "load": statistics.median(loads)}  # fmt: skip
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"{case.name:8s} siting {row['siting_s']:.2f}s api {row['api_s']:.2f}s minimal {row['minimal_s']:.2f}s "
                  f"ratio {row['ratio']:.2f} api {row['api_ratio']:.2f} load {row['load']:.1f}", flush=True)
            rows.append(row)
    return rows


_QUIET: bool | None = None


def _has_quiet() -> bool:
    """Whether ``siting solve`` takes ``--quiet`` (the terminal tables are not what is measured)."""
    global _QUIET
    if _QUIET is None:
        text = subprocess.run([str(BIN / "siting"), "solve", "--help"], capture_output=True, text=True).stdout
        _QUIET = "--quiet" in text
    return _QUIET


def run_cli(repeats: int, out) -> list[dict]:  # noqa: ANN001
    siting = str(BIN / "siting")
    rows = []
    for args in (["--help"], ["list"], ["show", "materialenbanken"]):
        times, loads = [], []
        for _ in range(repeats):
            loads.append(load())
            times.append(_timed([siting, *args]))
        row = {"part": "cli", "command": "siting " + " ".join(args), "median_s": statistics.median(times),
               "min_s": min(times), "max_s": max(times), "runs": repeats, "load": statistics.median(loads)}
        out.write(json.dumps(row) + "\n")
        out.flush()
        print(f"{row['command']:32s} median {row['median_s']:.3f}s (min {row['min_s']:.3f}, max {row['max_s']:.3f}, {repeats} runs) load {row['load']:.1f}", flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="inprocess,process,cli")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cli-repeats", type=int, default=9)
    parser.add_argument("--instances", default=None, help="comma-separated cap names (default: cap41–cap134)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fixed_costs.jsonl")
    parser.add_argument("--no-compile", action="store_true", help="do not byte-compile the package first")
    args = parser.parse_args()
    if not args.no_compile:
        compile_package()
    cases = benchmark_set("orlib-cflp")
    if args.instances:
        wanted = set(args.instances.split(","))
        cases = [c for c in cases if c.name in wanted]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    with args.out.open("a") as out:
        out.write(json.dumps({"meta": {"command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                       "load_avg": os.getloadavg(), "cpus": os.cpu_count(),
                                       "bytecode_compiled": not args.no_compile}}) + "\n")  # fmt: skip
        summary = []
        if "inprocess" in parts:
            rows = run_inprocess(cases, args.repeats, out)
            ratios = [r["ratio"] for r in rows]
            summary.append(f"in process: median ratio direct/ours {statistics.median(ratios):.2f} over {len(rows)} "
                           f"instances (min {min(ratios):.2f}, max {max(ratios):.2f}); all equal to the published "
                           f"optimum: {all(r['both_equal_published'] for r in rows)}; load "
                           f"{min(r['load'] for r in rows):.1f}–{max(r['load'] for r in rows):.1f}")  # fmt: skip
        if "process" in parts:
            rows = run_process(cases, args.repeats, out)
            ratios = [r["ratio"] for r in rows]
            summary.append(f"whole process: median ratio siting/minimal {statistics.median(ratios):.2f} (min "
                           f"{min(ratios):.2f}, max {max(ratios):.2f}); medians siting "
                           f"{statistics.median(r['siting_s'] for r in rows):.2f} s, minimal "
                           f"{statistics.median(r['minimal_s'] for r in rows):.2f} s; the same pipeline through the "
                           f"Python API: median ratio {statistics.median(r['api_ratio'] for r in rows):.2f} (min "
                           f"{min(r['api_ratio'] for r in rows):.2f}, max {max(r['api_ratio'] for r in rows):.2f}), "
                           f"median {statistics.median(r['api_s'] for r in rows):.2f} s; load "
                           f"{min(r['load'] for r in rows):.1f}–{max(r['load'] for r in rows):.1f}")  # fmt: skip
        if "cli" in parts:
            run_cli(args.cli_repeats, out)
        for line in summary:
            print(line)


if __name__ == "__main__":
    main()
