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
    """The strong formulation built with numpy and solved by HiGHS (defaults, gap 1e-6); returns the objective.

    The model of the minimal script (:func:`minimal_highspy.solve_strong`) on the problem's arcs."""
    from minimal_highspy import solve_strong

    return solve_strong(problem.arc_client, problem.arc_option, problem.arc_cost, problem.demand,
                        np.asarray(problem.capacity, float), problem.option_cost(), problem.single_source)


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


def _record(out, rows: list[dict], row: dict, line: str) -> None:  # noqa: ANN001 - text file
    """Append ``row`` to the JSON-lines file at once (a stopped run keeps what it measured), print ``line``."""
    out.write(json.dumps(row) + "\n")
    out.flush()
    print(line, flush=True)
    rows.append(row)


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
        _record(out, rows, row, f"{case.name:8s} ours {row['ours_s']:.3f}s direct {row['direct_s']:.3f}s ratio "
                                f"{row['ratio']:.2f} ok {ok} load {row['load']:.1f}")
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
            _record(out, rows, row, f"{case.name:8s} siting {row['siting_s']:.2f}s api {row['api_s']:.2f}s minimal "
                                    f"{row['minimal_s']:.2f}s ratio {row['ratio']:.2f} api {row['api_ratio']:.2f} "
                                    f"load {row['load']:.1f}")
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
        _record(out, rows, row, f"{row['command']:32s} median {row['median_s']:.3f}s (min {row['min_s']:.3f}, max "
                                f"{row['max_s']:.3f}, {repeats} runs) load {row['load']:.1f}")
    return rows


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def _spread(rows: list[dict], key: str) -> str:
    """``median ratio M (min A, max B)`` of one column of the rows."""
    values = [r[key] for r in rows]
    return f"median ratio {statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def _loads(rows: list[dict]) -> str:
    return f"load {min(r['load'] for r in rows):.1f}–{max(r['load'] for r in rows):.1f}"


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
            summary.append(f"in process: {_spread(rows, 'ratio')} direct/ours over {len(rows)} instances; all equal "
                           f"to the published optimum: {all(r['both_equal_published'] for r in rows)}; {_loads(rows)}")
        if "process" in parts:
            rows = run_process(cases, args.repeats, out)
            summary.append(f"whole process: {_spread(rows, 'ratio')} siting/minimal; medians siting "
                           f"{_median(rows, 'siting_s'):.2f} s, minimal {_median(rows, 'minimal_s'):.2f} s; the same "
                           f"pipeline through the Python API: {_spread(rows, 'api_ratio')}, median "
                           f"{_median(rows, 'api_s'):.2f} s; {_loads(rows)}")
        if "cli" in parts:
            run_cli(args.cli_repeats, out)
        for line in summary:
            print(line)


if __name__ == "__main__":
    main()
