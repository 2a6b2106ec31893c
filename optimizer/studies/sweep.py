"""Scenario sweeps: one base instance, many ``--set`` overrides, solved on Dask and compared side by side.

A sweep is a TOML file (see ``docs/sweeps.md``)::

    [sweep]       name, title, description; instance = "materialenbanken" (a name or a manifest path, relative
                  to this file); set = { key = value, ... } applied to every scenario
    [[scenario]]  name = "poster"; set = { size_variant = "poster" }; instance = ... (optional)
    [[grid]]      vary = { size_variant = ["final", "poster"], access_rules = ["strict", "loose"] };
                  set, instance, prefix and name (a template such as "{size_variant}-{access_rules}") optional

Scenarios run in file order: the ``[[scenario]]`` list first, then each grid's product in the order its keys are
written (the definition is read by :mod:`optimizer.studies.sweep_spec`). Each scenario is one run of the pipeline
(:func:`optimizer.pipeline.execute`, any instance kind) on a Dask worker (a local cluster sized to the
machine, or an existing scheduler) or in-process one after another (``workers=0``); it writes its own result
folder ``scenarios/NAME`` and is skipped on a rerun when its folder already holds a verified result for the same
resolved instance (``instance_hash``) and overrides. A failing scenario becomes a row with its reason. The sweep
writes ``comparison.csv`` / ``comparison.parquet``, two PNG plots and ``sweep.json`` into its out folder
(:mod:`optimizer.studies.sweep_outputs`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from optimizer.atomic import SWEEP_FORMAT, SWEEP_MARKER, check_destination, write_atomic
from optimizer.errors import InfeasibleError, InputError, NoSolutionError, VerificationError
from optimizer.studies.sweep_outputs import SCENARIOS_DIR, comparison_table, write_outputs
from optimizer.studies.sweep_spec import Scenario, Sweep

SWEEP_KEY = "sweep-key.json"  # (instance hash, overrides) of a chain result written before the summary schema


@dataclass(frozen=True)
class ScenarioTask:
    """What a worker needs to run one scenario (small and picklable)."""

    order: int
    name: str
    instance: str
    overrides: dict[str, str]
    out_dir: str
    threads: int | None
    topic: str | None = None  # Dask event topic for "started" messages (progress bar)


def run_scenario(task: ScenarioTask) -> dict:
    """Run one scenario and return its record; never raises for a scenario's own failure.

    A verified result already in ``task.out_dir`` for the same resolved instance and overrides is reused
    (``resumed``). Failures become records with a status (input error, infeasible, no solution, verification
    failed, crashed) and a one-line reason.
    """
    from optimizer import pipeline  # looked up at call time: tests replace its functions

    _announce(task)
    t0 = time.perf_counter()
    record = {"order": task.order, "scenario": task.name, "instance": task.instance,
              "overrides": dict(task.overrides), "threads": task.threads, "worker": _worker_name(),
              "resumed": False, "summary": None, "status": "", "error": ""}
    folder = Path(task.out_dir)
    try:
        job = pipeline.load(task.instance, task.overrides)  # any kind: named, chain or matrix
        key = job.content_hash()
        previous = _read_summary(folder)
        if previous is not None and _stored_key(folder, previous) == (key, task.overrides):
            record.update(resumed=True, summary=_essentials(previous, key), status=previous["status"])
            record["time_s"] = time.perf_counter() - t0
            return record
        options = pipeline.solve_options(job.parameters, threads=task.threads)
        pipeline.execute(job, options, out_dir=folder, load_s=time.perf_counter() - t0)
        summary = _read_summary(folder)  # the written manifest: resumed and fresh rows come from the same bytes
        if summary is None:
            raise RuntimeError(f"no summary.json in {folder} after the run")
        record.update(summary=_essentials(summary, key), status=summary["status"])
    except InputError as e:
        record.update(status="input error", error=str(e))
    except InfeasibleError as e:
        record.update(status="infeasible", error="; ".join(map(str, e.reasons)))
    except NoSolutionError as e:
        record.update(status="no solution", error=str(e))
    except VerificationError as e:
        record.update(status="verification failed", error=str(e))
    except Exception as e:  # noqa: BLE001 - fault isolation: any crash is this scenario's row, not the sweep's end
        frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        at = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
        record.update(status="crashed", error=f"{type(e).__name__}: {e}{at}")
    record["time_s"] = time.perf_counter() - t0
    return record


def _announce(task: ScenarioTask) -> None:
    """Tell the client that this scenario started (Dask event); silent outside a worker."""
    if task.topic is None:
        return
    try:
        from distributed import get_worker

        get_worker().log_event(task.topic, {"order": task.order})
    except Exception:  # noqa: BLE001 - progress is cosmetic; never fail a scenario for it
        pass


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:  # noqa: BLE001 - not on a worker
        return "in-process"


def _read_summary(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _stored_key(folder: Path, summary: dict) -> tuple[str | None, dict | None] | None:
    """(instance hash, overrides) of a verified result in ``folder``, from its summary (every kind records both);
    a chain result written before the summary schema kept them in a side file."""
    if not summary.get("verification", {}).get("passed"):
        return None
    if "instance_hash" in summary and "overrides" in summary:
        return summary["instance_hash"], summary["overrides"]
    try:
        side = json.loads((folder / SWEEP_KEY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no key (e.g. interrupted right after the chain wrote its result): solve again
    return side.get("instance_hash"), side.get("overrides")


def _essentials(summary: dict, key: str) -> dict:
    """The parts of summary.json the comparison table uses (a chain summary mapped onto the same fields)."""
    if "programmes" not in summary and "facilities_per_echelon" in summary:
        land = summary.get("land_take_per_echelon_ha") or {}
        programmes = {f"chain_{e}": {"facilities": sum(n.values()), "count_per_size": dict(n),
                                     "land_take_ha": float(land.get(e, 0.0)), "tkm_per_yr": None}
                      for e, n in summary["facilities_per_echelon"].items()}
        timings = summary.get("timings_s") or {}
        return {"instance": summary.get("instance"), "instance_hash": key, "status": summary.get("status"),
                "gap": summary.get("gap"),
                "objective": {"total": summary.get("objective_eur_per_yr"), "unit": "EUR/yr"},
                "transport_eur_per_yr": summary.get("transport_eur_per_yr"), "transport_tkm_per_yr": None,
                "land_take_ha": summary.get("new_land_take_ha"), "programmes": programmes,
                "timings_s": {**timings, "total_before_export": float(sum(v for v in timings.values()
                                                                          if isinstance(v, (int, float))))}}
    keys = ("instance", "instance_hash", "status", "gap", "objective", "transport_eur_per_yr", "transport_tkm_per_yr",
            "land_take_ha", "programmes", "timings_s")
    return {k: summary.get(k) for k in keys}


# ---------------------------------------------------------------------------------------------------------------
# Running a sweep
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """A finished (or interrupted) sweep: the comparison table and where everything was written."""

    sweep: Sweep
    table: pd.DataFrame
    out_dir: Path
    files: dict[str, Path]
    wall_s: float
    mode: str  # "in-process", "local cluster" or "scheduler tcp://..."
    workers: int
    threads_per_scenario: int | None
    interrupted: bool = False
    records: list[dict] = field(default_factory=list)


def available_cores() -> int:
    """Cores this process may use (CPU affinity, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def scheduler_address(explicit: str | None = None) -> str | None:
    """``--scheduler``, else Dask's ``scheduler-address`` setting (``DASK_SCHEDULER_ADDRESS``), else None."""
    if explicit:
        return explicit
    import dask

    return dask.config.get("scheduler-address", None) or None


def run_sweep(
    sweep: Sweep,
    out_dir: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: object | None = None,
    threads_per_scenario: int | None = None,
    console: object | None = None,
) -> SweepResult:
    """Run every scenario of ``sweep`` and write the comparison table, plots and ``sweep.json`` into ``out_dir``.

    Parameters
    ----------
    sweep
        From :func:`load_sweep`.
    out_dir
        Sweep folder; scenario results go to ``out_dir/scenarios/NAME``. With a remote scheduler it must be on a
        file system the workers share.
    workers
        ``0``: in-process, one scenario after another. ``None`` or ``N``: a local Dask cluster of ``N`` worker
        processes (default: one per core) with one thread each. Ignored when ``client`` or a scheduler is given.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); default: Dask's ``scheduler-address`` setting
        (``DASK_SCHEDULER_ADDRESS``), else a local cluster.
    client
        An existing ``distributed.Client`` to use as is (the caller closes it).
    threads_per_scenario
        Solver threads per scenario; default cores // workers on a local cluster (so workers do not
        oversubscribe the cores), all cores in-process, 1 on a remote scheduler.
    console
        A ``rich`` console for the progress bar; ``None`` shows none.

    Returns
    -------
    SweepResult
        The table has one row per scenario in sweep order. On Ctrl-C the table of what finished is still written
        (``interrupted`` is True) and ``KeyboardInterrupt`` is re-raised with the result as its argument.
    """
    out_dir = check_destination(Path(out_dir), kind="sweep", need_bytes=0)  # a user's folder is never written into
    address = None if client is not None else scheduler_address(scheduler)
    if address is not None and workers is not None:
        raise InputError("--workers sizes a local cluster; with a scheduler address the cluster decides",
                         field="--workers")
    if threads_per_scenario is not None and threads_per_scenario < 1:
        raise InputError("must be ≥ 1", field="--threads-per-scenario")
    if workers is not None and workers < 0:
        raise InputError("must be ≥ 0 (0 runs in-process)", field="--workers")
    (out_dir / SCENARIOS_DIR).mkdir(parents=True, exist_ok=True)
    mark_sweep_folder(out_dir, sweep.name)

    t0 = time.perf_counter()
    records: dict[int, dict] = {}
    tracker = _Progress(len(sweep.scenarios), console)
    cluster = own_client = None
    mode, n_workers, threads = "in-process", 0, threads_per_scenario
    interrupted = False
    try:
        with tracker:
            if client is None and address is None and workers == 0:
                threads = threads or available_cores()
                for task in _tasks(sweep, out_dir, threads, topic=None):
                    tracker.started(task.order)
                    records[task.order] = run_scenario(task)
                    tracker.finished(records[task.order])
            else:
                from distributed import Client, LocalCluster

                if client is None and address is None:
                    n = workers or available_cores()
                    # the worker processes' resource tracker would warn about semaphores after a Ctrl-C
                    os.environ.setdefault("PYTHONWARNINGS", "ignore:resource_tracker:UserWarning")
                    with _workers_ignore_interrupt():
                        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address=":0",  # any free port: never clash with :8787
                                               silence_logs=logging.CRITICAL)  # failures are rows
                    own_client = client = Client(cluster)
                    mode = "local cluster"
                    threads = threads or max(1, available_cores() // n)
                elif client is None:
                    own_client = client = Client(address)
                    mode = f"scheduler {address}"
                    threads = threads or 1
                else:
                    mode = f"client of {client.scheduler.address}"
                    threads = threads or 1
                n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
                _run_on_dask(client, sweep, out_dir, threads, tracker, records)
    except KeyboardInterrupt:
        interrupted = True
        _quiet_shutdown()  # cancelled tasks and stopped workers are expected now, not warnings for the planner
    finally:
        if own_client is not None:
            own_client.close()
        if cluster is not None:
            cluster.close()
    wall_s = time.perf_counter() - t0
    ordered = [records.get(i) or _not_run(sc, i) for i, sc in enumerate(sweep.scenarios, start=1)]
    result = SweepResult(sweep, comparison_table(ordered), out_dir, {}, wall_s, mode, n_workers, threads,
                         interrupted, ordered)
    result.files = write_outputs(result)
    if interrupted:
        raise KeyboardInterrupt(result)
    return result


def mark_sweep_folder(out_dir: Path, name: str) -> None:
    """Mark ``out_dir`` as a sweep folder (``sweep.json``) before anything else is written into it, so a rerun (a
    resume) knows it as siting's; the finished sweep rewrites the file with its manifest."""
    if not (out_dir / SWEEP_MARKER).exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(out_dir / SWEEP_MARKER, lambda p: p.write_text(json.dumps(
            {"format": SWEEP_FORMAT, "format_version": 1, "sweep": name, "status": "running"}, indent=2) + "\n",
            encoding="utf-8"))


@contextmanager
def _workers_ignore_interrupt() -> Iterator[None]:
    """Start worker processes with Ctrl-C ignored: a terminal sends SIGINT to the whole process group, and workers
    that die on it print tracebacks; the client alone stops the sweep and closes the cluster in order. (A Ctrl-C
    while the cluster starts is ignored too.)"""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the processes started now
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_shutdown() -> None:
    """After Ctrl-C: Dask's cancellation and worker-shutdown warnings (and tracebacks) are expected, not news."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _tasks(sweep: Sweep, out_dir: Path, threads: int | None, topic: str | None) -> list[ScenarioTask]:
    return [ScenarioTask(i, sc.name, sc.instance, dict(sc.overrides), str(out_dir / SCENARIOS_DIR / sc.name),
                         threads, topic) for i, sc in enumerate(sweep.scenarios, start=1)]


def _run_on_dask(client, sweep: Sweep, out_dir: Path, threads: int | None, tracker: "_Progress",  # noqa: ANN001
                 records: dict[int, dict]) -> None:
    from distributed import as_completed

    topic = f"siting-sweep-{uuid.uuid4().hex}"
    client.subscribe_topic(topic, lambda event: tracker.started(int(event[1]["order"])))
    futures, by_key = [], {}
    try:
        for task in _tasks(sweep, out_dir, threads, topic):
            # pure=False: a rerun must really run (resume is decided by the task from the files, not by Dask)
            fut = client.submit(run_scenario, task, key=f"{topic}-{task.order}", pure=False, retries=0,
                                priority=-task.order)
            futures.append(fut)
            by_key[fut.key] = task
        for fut in as_completed(futures):
            task = by_key[fut.key]
            try:
                record = fut.result()
            except Exception as e:  # noqa: BLE001 - e.g. KilledWorker: the worker died running this scenario
                record = {"order": task.order, "scenario": task.name, "instance": task.instance,
                          "overrides": dict(task.overrides), "threads": task.threads, "worker": "",
                          "resumed": False, "summary": None, "status": "crashed",
                          "error": f"{type(e).__name__}: {e}", "time_s": math.nan}
            records[task.order] = record
            tracker.finished(record)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        try:
            client.unsubscribe_topic(topic)
        except Exception:  # noqa: BLE001 - the client may already be closing
            pass


def _not_run(sc: Scenario, order: int) -> dict:
    return {"order": order, "scenario": sc.name, "instance": sc.instance, "overrides": dict(sc.overrides),
            "threads": None, "worker": "", "resumed": False, "summary": None, "status": "not run",
            "error": "sweep interrupted before this scenario finished; rerun the sweep to resume", "time_s": math.nan}


class _Progress:
    """Rich progress bar: scenarios done / running / failed (thread-safe: Dask events arrive on another thread)."""

    def __init__(self, total: int, console: object | None) -> None:
        self.total, self.console = total, console
        self.running: set[int] = set()
        self._finished: set[int] = set()
        self.done = self.failed = self.resumed = 0
        self._lock = threading.Lock()
        self._bar = None
        self._task = None

    def __enter__(self) -> "_Progress":
        if self.console is not None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]sweep[/bold]"), BarColumn(),
                TextColumn("{task.completed}/{task.total} done · {task.fields[running]} running · "
                           "[red]{task.fields[failed]} failed[/red] · {task.fields[resumed]} resumed"),
                TimeElapsedColumn(), console=self.console, transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("sweep", total=self.total, running=0, failed=0, resumed=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def started(self, order: int) -> None:
        with self._lock:
            if order not in self._finished:  # a late "started" event must not count a finished scenario
                self.running.add(order)
            self._refresh()

    def finished(self, record: dict) -> None:
        with self._lock:
            self.running.discard(record["order"])
            self._finished.add(record["order"])
            self.done += 1
            self.failed += record["summary"] is None
            self.resumed += bool(record["resumed"])
            self._refresh()

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, running=len(self.running), failed=self.failed,
                             resumed=self.resumed)
