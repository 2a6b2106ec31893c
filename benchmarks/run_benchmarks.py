"""Run the full benchmark sets, write ``benchmarks/results/*.csv`` and refresh the table in ``benchmarks/README.md``.

Usage (from the project root; the data must be in ``../shared/benchmarks`` or ``$SITING_BENCHMARKS_DIR``)::

    python benchmarks/run_benchmarks.py                      # the four published sets, 60 s per instance
    python benchmarks/run_benchmarks.py --sets pmed --time-limit 120 --baselines highs,spopt
    python benchmarks/run_benchmarks.py --readme-only        # rebuild the README from the CSV files present

Each set is written as soon as it finishes (``results/SET.csv`` + ``results/SET.md``), so an interrupted run keeps
what it had; ``--resume`` skips sets whose CSV already exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from optimizer.bench.baselines import ALL_BASELINES, BASELINE_LABELS, parse_baselines  # noqa: E402
from optimizer.bench.harness import run_bench
from optimizer.bench.readers import benchmark_set  # noqa: E402
from optimizer.bench.report import (
    environment,
    markdown_table,
    summary_markdown,
    write_markdown,
    write_results,
)

RESULTS_DIR = HERE / "results"
README = HERE / "README.md"
DEFAULT_SETS = ("orlib-cflp", "orlib-capabc", "pmed", "holmberg")
START, END = "<!-- results:start -->", "<!-- results:end -->"
# Baselines run on every instance of a set unless a subset is listed here: on 2 cores the full baseline run of the
# large p-median (n = 400..900, 160k..810k assignment variables) and capa/b/c (100k) instances would take hours,
# because the Pyomo/PuLP model builds and CBC's root LP run far past the solver time limit.
BASELINE_SUBSETS: dict[str, dict[str, tuple[str, ...]]] = {
    "holmberg": {  # p1-p28: the 10x50 and first 20x100 instances; p29+ each baseline runs into the time limit
        "highs": tuple(f"p{k}" for k in range(1, 29)),
        "cbc": tuple(f"p{k}" for k in range(1, 29)),
    },
    "pmed": {
        "highs": tuple(f"pmed{k}" for k in range(1, 21)),  # n = 100..400
        "spopt": tuple(f"pmed{k}" for k in range(1, 16)),  # n = 100..300
    },
    # capa/b/c: plain HiGHS on the two variants it closes within about a minute (SOURCE.txt); CBC not run: on
    # capa14000 it was still in root processing after 9 min with a 60 s limit.
    "orlib-capabc": {"highs": ("capa14000", "capc7250"), "cbc": ()},
}


def _read_meta() -> dict:
    path = RESULTS_DIR / "run.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def keep_baselines(frame: pd.DataFrame, previous: pd.DataFrame, ran: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """Copy the columns of the baselines not run now from the previous results, per instance.

    Baseline times do not depend on our solver, so a run of ours alone keeps the comparison; each kept ratio is
    recomputed against our new time. Returns the frame and the baselines kept.
    """
    kept = []
    for b in ALL_BASELINES:
        cols = [c for c in previous.columns if c.startswith(f"{b}_")]
        if b in ran or f"{b}_time_s" not in previous or previous[f"{b}_time_s"].isna().all():
            continue
        old = previous.set_index("instance")[cols]
        frame = frame.drop(columns=[c for c in cols if c in frame], errors="ignore")
        frame = frame.join(old, on="instance")
        frame[f"{b}_ratio"] = frame[f"{b}_time_s"] / frame["time_s"]
        kept.append(b)
    return frame, kept


def run(sets: list[str], time_limit_s: float, baselines: tuple[str, ...], resume: bool, command: str,
        keep: bool = False) -> None:
    """Run ``sets`` one after the other, writing each set's results as soon as it is done.

    With ``keep`` the baseline columns of the previous ``results/SET.csv`` are kept for the baselines not run now
    (:func:`keep_baselines`), and ``run.json`` records when and by which command they were measured.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    meta = _read_meta()
    meta.setdefault("sets", {})
    meta["environment"] = environment()
    for set_name in sets:
        csv_path = RESULTS_DIR / f"{set_name}.csv"
        if resume and csv_path.is_file():
            print(f"{set_name}: {csv_path} exists, skipped (--resume)")
            continue
        t0 = time.perf_counter()
        partial_path = RESULTS_DIR / f"{set_name}.partial.csv"
        partial: list[dict] = []
        if resume and partial_path.is_file():  # go on after the instances an interrupted run finished
            partial = pd.read_csv(partial_path).to_dict("records")
            print(f"{set_name}: resuming after {len(partial)} instances in {partial_path}")
        done = {str(r["instance"]) for r in partial}
        remaining = [c.name for c in benchmark_set(set_name) if c.name not in done]

        def save(row: dict, partial: list[dict] = partial, path: Path = partial_path) -> None:
            row["load_avg_1min"] = os.getloadavg()[0]  # other work on the machine slows wall-clock times
            partial.append(row)
            pd.DataFrame(partial).to_csv(path, index=False)  # survives an interrupted run

        run_bench(set_name, time_limit_s=time_limit_s, baselines=baselines, progress=True, instances=remaining,
                  baseline_instances=BASELINE_SUBSETS.get(set_name), on_row=save)
        frame = pd.DataFrame(partial)
        partial_path.unlink(missing_ok=True)
        wall = time.perf_counter() - t0
        meta = {**_read_meta(), "environment": meta["environment"]}  # another run may have written meanwhile
        meta.setdefault("sets", {})
        before = meta["sets"].get(set_name, {})
        kept: list[str] = []
        if keep and csv_path.is_file():
            frame, kept = keep_baselines(frame, pd.read_csv(csv_path), baselines)
        write_results(frame, csv_path, title=set_name)
        meta["sets"][set_name] = {
            "time_limit_s": time_limit_s,
            "baselines": list(baselines) + kept,
            "baseline_subset": BASELINE_SUBSETS.get(set_name),
            "wall_s": round(wall, 1),
            "command": command,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        if kept:  # where the kept columns come from (an earlier keep passes its origin on)
            origin = before.get("baselines_kept_from") or {
                "finished": before.get("finished"), "command": before.get("command")}
            meta["sets"][set_name]["baselines_kept"] = kept
            meta["sets"][set_name]["baselines_kept_from"] = origin
        (RESULTS_DIR / "run.json").write_text(json.dumps(meta, indent=2))
        print(summary_markdown(frame, set_name))
        write_readme()


def _names(names: list[str]) -> str:
    """``pmed1..pmed15`` for a numbered run, else the names joined."""
    nums = [re.fullmatch(r"([a-z]+)(\d+)", n) for n in names]
    if len(names) > 3 and all(nums) and len({m.group(1) for m in nums}) == 1:
        ks = [int(m.group(2)) for m in nums]
        if ks == list(range(ks[0], ks[0] + len(ks))):
            return f"{names[0]}–{names[-1]}"
    return ", ".join(names)


def write_readme() -> None:
    """Replace the generated section of the README with the tables of every ``results/*.csv`` present."""
    meta = _read_meta()
    env = meta.get("environment", environment())
    order = [s for s in (*DEFAULT_SETS, *sorted(meta.get("sets", {}))) if (RESULTS_DIR / f"{s}.csv").is_file()]
    order = list(dict.fromkeys(order))
    frames = {s: pd.read_csv(RESULTS_DIR / f"{s}.csv") for s in order}
    parts = [
        START,
        "",
        "## Latest results",
        "",
        f"Machine: {env.get('nproc')} CPUs ({env.get('cpu')}), {env.get('ram_gib')} GiB RAM. "
        f"Versions: Python {env.get('python')}, highspy {env.get('highspy')}, Pyomo {env.get('pyomo')}, "
        f"PuLP {env.get('pulp')} (bundled CBC), spopt {env.get('spopt')}, numpy {env.get('numpy')}, "
        f"scipy {env.get('scipy')}, pandas {env.get('pandas')}.",
        "",
        "Baselines: " + "; ".join(f"`{k}` = {v}" for k, v in BASELINE_LABELS.items()) + ".",
        "",
        "Runs share the machine: the 1-minute load average sampled after each instance is shown per set (2.0 = both "
        "cores busy); other work on the machine slows wall-clock times and can keep an instance from closing within "
        "the limit.",
        "",
        "| set | finished | time limit s | wall time s | load avg (mean / max) | our solver | baselines | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in order:
        info = meta.get("sets", {}).get(s, {})
        subset = info.get("baseline_subset") or {}
        ran = [b for b in info.get("baselines", []) if frames[s].get(f"{b}_time_s") is not None
               and frames[s][f"{b}_time_s"].notna().any()]
        base = ", ".join(b + (f" (only {_names(subset[b])})" if b in subset else "") for b in ran) or "none"
        if info.get("baselines_kept"):
            origin = info.get("baselines_kept_from") or {}
            base += (f"; {', '.join(info['baselines_kept'])} not re-run: times from the run of "
                     f"{origin.get('finished', '?')} (`{origin.get('command', '?')}`), ratios against our new times")
        load = frames[s].get("load_avg_1min")
        load_text = f"{load.mean():.1f} / {load.max():.1f}" if load is not None and load.notna().any() else "n/a"
        solvers = ", ".join(sorted(set(frames[s]["solver"].dropna().astype(str)))) if "solver" in frames[s] else ""
        parts.append(f"| {s} | {info.get('finished', '')} | {info.get('time_limit_s', '')} | {info.get('wall_s', '')} "
                     f"| {load_text} | {solvers} | {base} | `{info.get('command', '')}` |")
    parts += ["", "### Summary", ""]
    for s, frame in frames.items():
        parts.append(summary_markdown(frame, s))
    for s, frame in frames.items():
        parts += [f"### {s}", "", markdown_table(frame)]
    parts.append(END)
    block = "\n".join(parts) + "\n"
    text = README.read_text() if README.is_file() else ""
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END) + r"\n?", lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block
    README.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(DEFAULT_SETS), help="comma-separated set names")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance and method")
    parser.add_argument("--baselines", default="all", help="highs,spopt,cbc | all | none")
    parser.add_argument("--resume", action="store_true", help="skip sets whose results CSV exists")
    parser.add_argument("--readme-only", action="store_true", help="only rebuild the README from results/*.csv")
    parser.add_argument("--keep-baselines", action="store_true",
                        help="keep the previous CSV's columns of the baselines not run now (e.g. with --baselines none)")
    args = parser.parse_args(argv)
    if args.readme_only:
        for csv_path in sorted(p for p in RESULTS_DIR.glob("*.csv") if not p.stem.endswith(".partial")):
            write_markdown(pd.read_csv(csv_path), csv_path.with_suffix(".md"), csv_path.stem)
        write_readme()
        return 0
    command = "python benchmarks/run_benchmarks.py " + " ".join(argv if argv is not None else sys.argv[1:])
    run([s for s in args.sets.split(",") if s], args.time_limit, parse_baselines(args.baselines), args.resume,
        command.strip(), keep=args.keep_baselines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
