"""Scenario sweeps: one base instance, many ``--set`` overrides, solved on Dask and compared side by side.

A sweep is a TOML file (see ``docs/sweeps.md``)::

    [sweep]       name, title, description; instance = "materialenbanken" (a name or a manifest path, relative
                  to this file); set = { key = value, ... } applied to every scenario
    [[scenario]]  name = "poster"; set = { size_variant = "poster" }; instance = ... (optional)
    [[grid]]      vary = { size_variant = ["final", "poster"], access_rules = ["strict", "loose"] };
                  set, instance, prefix and name (a template such as "{size_variant}-{access_rules}") optional

Scenarios run in file order: the ``[[scenario]]`` list first, then each grid's product in the order its keys are
written. Each scenario is one :func:`optimizer.pipeline.run` on a Dask worker (a local cluster sized to the
machine, or an existing scheduler) or in-process one after another (``workers=0``); it writes its own result
folder ``scenarios/NAME`` and is skipped on a rerun when its folder already holds a verified result for the same
resolved instance (``instance_hash``) and overrides. A failing scenario becomes a row with its reason. The sweep
writes ``comparison.csv`` / ``comparison.parquet``, two PNG plots and ``sweep.json`` into its out folder.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from optimizer.errors import InputError

SCENARIOS_DIR = "scenarios"
SWEEP_KEY = "sweep-key.json"  # (instance hash, overrides) of a chain result, whose summary.json has no hash
TABLE_CSV, TABLE_PARQUET, MANIFEST = "comparison.csv", "comparison.parquet", "sweep.json"
PLOT_TRADEOFF, PLOT_FACILITIES = "land_take_vs_transport.png", "facilities_per_programme.png"
# Columns that describe how a scenario was executed, not what it found: they differ between runs and worker
# counts and are left out when two sweeps' tables are compared (see comparable()).
EXECUTION_COLUMNS = ("time_s", "solve_s", "resumed", "threads", "worker")
# Overrides a sweep may not set: the sweep chooses the solver threads itself (--threads-per-scenario).
SWEEP_OWNED = {"threads": "solver threads are set by the sweep: use --threads-per-scenario"}
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=,+-]*$")
_SWEEP_KEYS = {"name", "title", "description", "instance", "set"}
_SCENARIO_KEYS = {"name", "instance", "set"}
_GRID_KEYS = {"prefix", "name", "instance", "set", "vary"}


# ---------------------------------------------------------------------------------------------------------------
# Sweep definition
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """One scenario: a name, the instance (a name or an absolute manifest path) and its ``--set`` overrides."""

    name: str
    instance: str
    overrides: dict[str, str]
    origin: str  # where it was defined, e.g. "scenario[2]" or "grid[1]"


@dataclass(frozen=True)
class Sweep:
    """A validated sweep definition."""

    name: str
    title: str
    description: str
    path: Path
    scenarios: tuple[Scenario, ...]
    file_sha256: str = ""


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep definition; raise :class:`InputError` naming the file and field.

    Structure is checked here, once: sections and keys, parameter and assumption names, instance names or paths,
    grid lists, scenario names (unique, usable as folder names). Parameter *values* are checked per scenario by
    the engine, so one bad value fails that scenario only and is reported in the comparison table.

    Parameters
    ----------
    path
        The sweep TOML file.

    Returns
    -------
    Sweep
        Scenarios in run order: the ``[[scenario]]`` list, then each ``[[grid]]`` product.
    """
    from optimizer.programmes import _read_toml

    path = Path(path)
    if not path.exists():
        raise InputError("sweep file not found: check the path", file=path)
    path = path.resolve()
    data = _read_toml(path)
    _check_keys(data, {"sweep", "scenario", "grid"}, path, "", "section")
    head = data.get("sweep", {})
    if not isinstance(head, dict):
        raise InputError("[sweep] must be a table", file=path, field="sweep")
    _check_keys(head, _SWEEP_KEYS, path, "sweep.", "key")
    known = _known_keys()
    base_instance = head.get("instance")
    if base_instance is not None:
        base_instance = _resolve_instance(base_instance, path, "sweep.instance")
    base_set = _overrides(head.get("set", {}), path, "sweep.set", known)

    scenarios: list[Scenario] = []
    listed = data.get("scenario", [])
    if not isinstance(listed, list):
        raise InputError("write scenarios as [[scenario]] tables", file=path, field="scenario")
    for i, spec in enumerate(listed, start=1):
        where = f"scenario[{i}]"
        if not isinstance(spec, dict):
            raise InputError("write scenarios as [[scenario]] tables", file=path, field=where)
        _check_keys(spec, _SCENARIO_KEYS, path, f"{where}.", "key")
        if "name" not in spec:
            raise InputError("every [[scenario]] needs a name", file=path, field=f"{where}.name")
        name = _check_name(spec["name"], path, f"{where}.name")
        instance = _scenario_instance(spec, base_instance, path, where)
        overrides = {**base_set, **_overrides(spec.get("set", {}), path, f"{where}.set", known)}
        scenarios.append(Scenario(name, instance, overrides, where))

    grids = data.get("grid", [])
    if not isinstance(grids, list):
        raise InputError("write grids as [[grid]] tables", file=path, field="grid")
    for g, spec in enumerate(grids, start=1):
        scenarios += _expand_grid(spec, g, path, base_instance, base_set, known)

    if not scenarios:
        raise InputError("the sweep has no scenarios: add [[scenario]] or [[grid]] tables", file=path)
    seen: dict[str, str] = {}
    for sc in scenarios:
        if sc.name in seen:
            msg = f"duplicate scenario name {sc.name!r} (also {seen[sc.name]}): names must be unique"
            raise InputError(msg, file=path, field=f"{sc.origin}.name")
        seen[sc.name] = sc.origin
    return Sweep(
        name=_check_name(head.get("name", path.stem), path, "sweep.name"),
        title=str(head.get("title", "")),
        description=str(head.get("description", "")),
        path=path,
        scenarios=tuple(scenarios),
        file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def _known_keys() -> tuple[dict, dict]:
    from optimizer.instance import PARAMETERS
    from optimizer.programmes import load_assumptions

    return PARAMETERS, load_assumptions()


def _check_keys(table: dict, allowed: set[str], path: Path, prefix: str, what: str) -> None:
    import difflib

    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(sorted(allowed))}"
            raise InputError(f"unknown {what} {key!r}{hint}", file=path, field=f"{prefix}{key}")


def _check_name(value: object, path: Path, where: str) -> str:
    name = str(value).strip() if isinstance(value, (str, int)) else ""
    if not _NAME_OK.match(name):
        msg = (f"scenario name {value!r} cannot be a folder name: use letters, digits and . _ = , + - "
               "(starting with a letter or digit)")
        raise InputError(msg, file=path, field=where)
    return name


def _resolve_instance(value: object, path: Path, where: str) -> str:
    """A named instance stays a name (resolved on the worker); a manifest path becomes absolute."""
    from optimizer.instance import resolve_instance_path

    if not isinstance(value, str) or not value.strip():
        raise InputError("give an instance name (see `siting list`) or a manifest path", file=path, field=where)
    value = value.strip()
    local = (path.parent / value)
    if value.endswith(".toml") or local.exists() or "/" in value:
        if not local.exists():
            raise InputError(f"instance manifest {value!r} not found (relative to the sweep file)", file=path,
                             field=where)
        return str(local.resolve())
    try:
        resolve_instance_path(value)
    except InputError as e:
        raise InputError(e.message, file=path, field=where) from e
    return value


def _scenario_instance(spec: dict, base: str | None, path: Path, where: str) -> str:
    if "instance" in spec:
        return _resolve_instance(spec["instance"], path, f"{where}.instance")
    if base is None:
        raise InputError("no instance: set instance under [sweep] or in the scenario", file=path,
                         field=f"{where}.instance")
    return base


def _as_override(value: object, path: Path, where: str) -> str:
    """A TOML value as the string ``--set`` would pass (true/false for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise InputError(f"a value must be a string, number or boolean, got {value!r}", file=path, field=where)


def _check_override_key(key: str, path: Path, where: str, known: tuple[dict, dict]) -> None:
    from optimizer.instance import _unknown

    parameters, assumptions = known
    if key in SWEEP_OWNED:
        raise InputError(SWEEP_OWNED[key], file=path, field=where)
    if key.startswith("assumption."):
        name = key.removeprefix("assumption.")
        if name not in assumptions:
            raise InputError(_unknown(name, assumptions).replace("parameter", "assumption"), file=path, field=where)
    elif key not in parameters:
        raise InputError(_unknown(key, parameters), file=path, field=where)


def _flatten(table: dict, path: Path, where: str) -> dict[str, object]:
    """``{assumption = {x = 1}}`` and ``{"assumption.x" = 1}`` both give ``{"assumption.x": 1}``."""
    if not isinstance(table, dict):
        raise InputError("'set' is a table: set = { key = value }", file=path, field=where)
    flat: dict[str, object] = {}
    for key, value in table.items():
        if key == "assumption" and isinstance(value, dict):
            for name, v in value.items():
                flat[f"assumption.{name}"] = v
        else:
            flat[key] = value
    return flat


def _overrides(table: object, path: Path, where: str, known: tuple[dict, dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in _flatten(table, path, where).items():  # type: ignore[arg-type]
        _check_override_key(key, path, f"{where}.{key}", known)
        out[key] = _as_override(value, path, f"{where}.{key}")
    return out


def _expand_grid(spec: object, g: int, path: Path, base_instance: str | None, base_set: dict[str, str],
                 known: tuple[dict, dict]) -> list[Scenario]:
    where = f"grid[{g}]"
    if not isinstance(spec, dict):
        raise InputError("write grids as [[grid]] tables", file=path, field=where)
    _check_keys(spec, _GRID_KEYS, path, f"{where}.", "key")
    instance = _scenario_instance(spec, base_instance, path, where)
    fixed = {**base_set, **_overrides(spec.get("set", {}), path, f"{where}.set", known)}
    vary = _flatten(spec.get("vary", {}), path, f"{where}.vary")
    if not vary:
        raise InputError("empty grid: give vary = { key = [value, ...] }", file=path, field=f"{where}.vary")
    axes: list[tuple[str, list[str]]] = []
    for key, values in vary.items():
        at = f"{where}.vary.{key}"
        _check_override_key(key, path, at, known)
        if key in spec.get("set", {}):
            raise InputError(f"{key!r} is both fixed (set) and varied (vary) in this grid", file=path, field=at)
        if not isinstance(values, list) or not values:
            raise InputError("empty grid axis: give a non-empty list of values", file=path, field=at)
        strings = [_as_override(v, path, at) for v in values]
        if len(set(strings)) != len(strings):
            raise InputError("a value is listed twice on this grid axis", file=path, field=at)
        axes.append((key, strings))
    prefix = str(spec.get("prefix", ""))
    template = spec.get("name")
    out = []
    for combo in itertools.product(*(values for _, values in axes)):
        chosen = dict(zip((k for k, _ in axes), combo, strict=True))
        if template is not None:
            name = str(template)
            for key, value in chosen.items():
                name = name.replace("{" + key + "}", value)
            if "{" in name:
                raise InputError(f"name template {template!r} names a key that is not varied", file=path,
                                 field=f"{where}.name")
        else:
            name = prefix + ("-" if prefix else "") + ",".join(f"{k.removeprefix('assumption.')}={v}"
                                                               for k, v in chosen.items())
        out.append(Scenario(_check_name(name, path, f"{where}.name"), instance, {**fixed, **chosen}, where))
    return out


# ---------------------------------------------------------------------------------------------------------------
# One scenario (runs on a Dask worker or in-process)
# ---------------------------------------------------------------------------------------------------------------
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
    from optimizer.diagnose import InfeasibleError
    from optimizer.instance import load_instance
    from optimizer.pipeline import NoSolutionError, run
    from optimizer.verify import VerificationError

    _announce(task)
    t0 = time.perf_counter()
    record = {"order": task.order, "scenario": task.name, "instance": task.instance,
              "overrides": dict(task.overrides), "threads": task.threads, "worker": _worker_name(),
              "resumed": False, "summary": None, "status": "", "error": ""}
    folder = Path(task.out_dir)
    try:
        instance = load_instance(task.instance, task.overrides)
        key = instance.content_hash()
        chain = any(getattr(p, "kind", "") == "chain" for p in instance.programmes)
        previous = _read_summary(folder)
        if previous is not None and _stored_key(folder, previous) == (key, task.overrides):
            record.update(resumed=True, summary=_essentials(previous, key), status=previous["status"])
            record["time_s"] = time.perf_counter() - t0
            return record
        del instance
        if chain:  # a multi-echelon chain instance (S2b, S5, S8) is solved by optimizer.chain, not the pipeline
            from optimizer.chain import run_chain

            run_chain(task.instance, overrides=task.overrides, out_dir=folder)
            _atomic(folder / SWEEP_KEY, lambda p: p.write_text(json.dumps(
                {"instance_hash": key, "overrides": task.overrides}), encoding="utf-8"))
        else:
            run(task.instance, overrides=task.overrides, out_dir=folder, threads=task.threads)
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
    """(instance hash, overrides) of a verified result in ``folder``; chain results keep them in a side file."""
    if not summary.get("verification", {}).get("passed"):
        return None
    if "instance_hash" in summary:
        return summary["instance_hash"], summary.get("overrides")
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
    out_dir = Path(out_dir).resolve()
    (out_dir / SCENARIOS_DIR).mkdir(parents=True, exist_ok=True)
    address = None if client is not None else scheduler_address(scheduler)
    if address is not None and workers is not None:
        raise InputError("--workers sizes a local cluster; with a scheduler address the cluster decides",
                         field="--workers")
    if threads_per_scenario is not None and threads_per_scenario < 1:
        raise InputError("must be ≥ 1", field="--threads-per-scenario")
    if workers is not None and workers < 0:
        raise InputError("must be ≥ 0 (0 runs in-process)", field="--workers")

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
                    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")  # any free port: never clash with :8787
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


# ---------------------------------------------------------------------------------------------------------------
# Comparison table and plots
# ---------------------------------------------------------------------------------------------------------------
def comparison_table(records: list[dict]) -> pd.DataFrame:
    """One row per scenario, in sweep order: what was set, what it cost, the land it took, how it ended.

    Columns: ``order``, ``scenario``, ``instance``, ``overrides``, ``set.KEY`` (the value each scenario gives to
    every key any scenario sets; blank: the instance's own value), ``status``, ``error``, ``objective_total``,
    ``objective_unit``, ``transport_eur_per_yr``, ``transport_tkm_per_yr``, ``land_take_ha``, per programme P
    ``facilities.P``, ``count.P.SIZE``, ``land_take_ha.P``, ``tkm_per_yr.P``, then ``gap``, ``instance_hash``,
    ``result_dir`` and the execution columns ``time_s`` (seconds the scenario took to solve), ``solve_s``,
    ``resumed``, ``threads``, ``worker`` (see :data:`EXECUTION_COLUMNS`).
    """
    records = sorted(records, key=lambda r: r["order"])
    set_keys = list(dict.fromkeys(k for r in records for k in r["overrides"]))
    programmes: dict[str, list[str]] = {}
    for r in records:
        for pid, p in ((r["summary"] or {}).get("programmes") or {}).items():
            sizes = programmes.setdefault(pid, [])
            sizes += [s for s in p["count_per_size"] if s not in sizes]
    rows = []
    for r in records:
        s = r["summary"]
        row: dict[str, object] = {
            "order": r["order"], "scenario": r["scenario"], "instance": r["instance"],
            "overrides": ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "(instance as is)",
        }
        row.update({f"set.{k}": r["overrides"].get(k) for k in set_keys})
        row.update(status=r["status"], error=r["error"] or None)
        obj = (s or {}).get("objective") or {}
        row.update(objective_total=obj.get("total"), objective_unit=obj.get("unit"),
                   transport_eur_per_yr=(s or {}).get("transport_eur_per_yr"),
                   transport_tkm_per_yr=(s or {}).get("transport_tkm_per_yr"),
                   land_take_ha=(s or {}).get("land_take_ha"))
        progs = (s or {}).get("programmes") or {}
        for pid, sizes in programmes.items():
            p = progs.get(pid)
            row[f"facilities.{pid}"] = None if p is None else p["facilities"]
            for size in sizes:
                row[f"count.{pid}.{size}"] = None if p is None else p["count_per_size"].get(size, 0)
            row[f"land_take_ha.{pid}"] = None if p is None else p["land_take_ha"]
            row[f"tkm_per_yr.{pid}"] = None if p is None else p["tkm_per_yr"]
        timings = (s or {}).get("timings_s") or {}
        row.update(gap=(s or {}).get("gap"), instance_hash=(s or {}).get("instance_hash"),
                   result_dir=f"{SCENARIOS_DIR}/{r['scenario']}" if s else None)
        solved_s = (timings.get("total_before_export") or 0) + (timings.get("export") or 0)
        row.update(time_s=solved_s if s else r.get("time_s"), solve_s=timings.get("solve"),
                   resumed=bool(r["resumed"]), threads=r["threads"], worker=r["worker"])
        rows.append(row)
    table = pd.DataFrame(rows)
    for col in table.columns:
        if col.startswith(("facilities.", "count.")) or col in ("order", "threads"):
            table[col] = table[col].astype("Int64")
        elif col.startswith(("land_take_ha", "tkm_per_yr.", "objective_total", "transport_", "gap", "time_s",
                             "solve_s")):
            table[col] = table[col].astype("float64")
        elif col not in ("resumed",):
            table[col] = table[col].astype("string")
    return table


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The table without its execution columns: equal for the same sweep, whatever the workers or resumes."""
    return table.drop(columns=[c for c in EXECUTION_COLUMNS if c in table.columns]).reset_index(drop=True)


def write_outputs(result: SweepResult) -> dict[str, Path]:
    """Write the comparison table (CSV, Parquet), the two plots and ``sweep.json``; each file atomically."""
    out = result.out_dir
    files = {"csv": out / TABLE_CSV, "parquet": out / TABLE_PARQUET, "tradeoff_png": out / PLOT_TRADEOFF,
             "facilities_png": out / PLOT_FACILITIES, "manifest": out / MANIFEST}
    table = result.table
    _atomic(files["csv"], lambda p: table.to_csv(p, index=False))
    _atomic(files["parquet"], lambda p: table.to_parquet(p, index=False))
    _atomic(files["tradeoff_png"], lambda p: plot_tradeoff(table, result.sweep).savefig(p, dpi=150))
    _atomic(files["facilities_png"], lambda p: plot_facilities(table, result.sweep).savefig(p, dpi=150))
    manifest = {
        "sweep": result.sweep.name, "title": result.sweep.title, "file": str(result.sweep.path),
        "file_sha256": result.sweep.file_sha256, "mode": result.mode, "workers": result.workers,
        "threads_per_scenario": result.threads_per_scenario, "wall_s": round(result.wall_s, 3),
        "interrupted": result.interrupted, "scenarios": len(table),
        "solved": int(table["result_dir"].notna().sum()), "resumed": int(table["resumed"].sum()),
        "failed": table.loc[table["result_dir"].isna(), ["scenario", "status", "error"]].to_dict("records"),
    }
    _atomic(files["manifest"], lambda p: p.write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                                      encoding="utf-8"))
    return files


def _atomic(target: Path, write: Callable[[Path], object]) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}{target.suffix}")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _transport_axis(table: pd.DataFrame) -> tuple[str, str, float]:
    """EUR/yr when every solved scenario has it, else t·km/yr (an objective = tkm scenario has no EUR)."""
    solved = table[table["result_dir"].notna()]
    if len(solved) and solved["transport_eur_per_yr"].notna().all():
        return "transport_eur_per_yr", "transport cost (thousand EUR/yr)", 1e3
    return "transport_tkm_per_yr", "transport (million t·km/yr)", 1e6


def plot_tradeoff(table: pd.DataFrame, sweep: Sweep):  # noqa: ANN201 - matplotlib Figure
    """Land take (ha) against transport cost per scenario.

    Each point carries the number(s) of its scenario(s) (scenarios with the same result share a point); the key on
    the right gives the names, failed scenarios with their status.
    """
    from matplotlib.figure import Figure

    col, xlabel, scale = _transport_axis(table)
    solved = table[table["result_dir"].notna()]
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax = fig.add_subplot()
    groups: dict[tuple[float, float], list[int]] = {}
    for _, r in solved.iterrows():
        key = (round(float(r[col]) / scale, 6), round(float(r["land_take_ha"]), 6))
        groups.setdefault(key, []).append(int(r["order"]))
    for (x, y), orders in groups.items():
        ax.scatter([x], [y], s=40 + 15 * (len(orders) - 1), color="#1f77b4", zorder=3)
        ax.annotate(",".join(map(str, orders)), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=8,
                    fontweight="bold")
    xs, ys = [k[0] for k in groups], [k[1] for k in groups]
    if xs and min(xs) > 0 and max(xs) / min(xs) > 30:  # scenarios of very different programmes: log axes
        ax.set_xscale("log")
        if min(ys) > 0 and max(ys) / min(ys) > 30:
            ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("land take (ha)")
    ax.grid(True, alpha=0.3)
    ax.margins(x=0.12, y=0.12)
    ax.set_title(f"{sweep.title or sweep.name}: land take vs transport", fontsize=10)
    key_lines = [f"{int(r.order):>2}  {r.scenario}" + ("" if pd.notna(r.result_dir) else f"  ({r.status})")
                 for r in table.itertuples()]
    ax.text(1.02, 1.0, "\n".join(key_lines), transform=ax.transAxes, fontsize=8, va="top", ha="left",
            family="monospace")
    return fig


def plot_facilities(table: pd.DataFrame, sweep: Sweep):  # noqa: ANN201 - matplotlib Figure
    """Facilities per programme per scenario: bars grouped per scenario (one per programme it places), stacked by
    size, with the counts written on the bars; a failed scenario shows its status instead."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    programmes = [c.removeprefix("facilities.") for c in table.columns if c.startswith("facilities.")]
    sizes = {pid: [c.split(".", 2)[2] for c in table.columns if c.startswith(f"count.{pid}.")] for pid in programmes}
    n = len(table)
    fig = Figure(figsize=(max(6.0, 0.9 * n + 3), 5.5), layout="constrained")
    ax = fig.add_subplot()
    palette = colormaps["tab10"]
    labelled: set[str] = set()
    for i, (_, r) in enumerate(table.iterrows()):
        if pd.isna(r["result_dir"]):
            ax.text(i, 0, str(r["status"]), rotation=90, ha="center", va="bottom", fontsize=8, color="#a00")
            continue
        present = [pid for pid in programmes if pd.notna(r[f"facilities.{pid}"])]
        width = 0.8 / max(1, len(present))
        for j, pid in enumerate(present):
            x = i + (j - (len(present) - 1) / 2) * width
            bottom = 0.0
            colour = palette(programmes.index(pid) % 10)
            for k, size in enumerate(sizes[pid]):
                count = float(r[f"count.{pid}.{size}"])
                if count <= 0:
                    continue
                shade = 1.0 - 0.55 * k / max(1, len(sizes[pid]) - 1)
                label = f"{pid}: {size}"
                ax.bar(x, count, width, bottom=bottom, color=colour, alpha=shade, edgecolor="white",
                       label=None if label in labelled else label)
                labelled.add(label)
                ax.text(x, bottom + count / 2, f"{count:.0f}", ha="center", va="center", fontsize=7)
                bottom += count
    ax.set_xticks(np.arange(n), table["scenario"].astype(str), rotation=35, ha="right", fontsize=8)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylabel("facilities")
    ax.set_title(f"{sweep.title or sweep.name}: facilities per programme and size", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    if labelled:
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda q: (programmes.index(labels[q].split(":")[0]), labels[q]))
        ax.legend([handles[q] for q in order], [labels[q] for q in order], fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
    return fig


def render_table(result: SweepResult):  # noqa: ANN201 - rich Table
    """A terminal summary of the comparison table (the CSV/Parquet hold every column)."""
    from rich.table import Table

    table = result.table
    col, label, scale = _transport_axis(table)
    out = Table(title=f"sweep {result.sweep.name} — {len(table)} scenarios, {result.mode}, "
                      f"{result.workers} workers × {result.threads_per_scenario} solver threads, "
                      f"{result.wall_s:.1f} s")
    for name in ("scenario", "status", label, "land take (ha)", "facilities", "gap", "time (s)", "note"):
        out.add_column(name, justify="right" if name not in ("scenario", "status", "note", "facilities") else "left")
    programmes = [c.removeprefix("facilities.") for c in table.columns if c.startswith("facilities.")]
    for _, r in table.iterrows():
        solved = pd.notna(r["result_dir"])
        counts = []
        for pid in programmes:
            if solved and pd.notna(r[f"facilities.{pid}"]):
                sizes = [c for c in table.columns if c.startswith(f"count.{pid}.")]
                per = " + ".join(f"{int(r[c])} {c.split('.', 2)[2]}" for c in sizes if pd.notna(r[c]) and r[c] > 0)
                counts.append(f"{pid} {int(r[f'facilities.{pid}'])}" + (f" ({per})" if per else ""))
        note = "resumed" if r["resumed"] else ""
        if not solved:
            note = str(r["error"])
        out.add_row(str(r["scenario"]), str(r["status"]),
                    f"{r[col] / scale:,.1f}" if solved else "", f"{r['land_take_ha']:.1f}" if solved else "",
                    "; ".join(counts), "" if pd.isna(r["gap"]) else f"{100 * r['gap']:.3f}%",
                    "" if pd.isna(r["time_s"]) else f"{r['time_s']:.1f}", note)
    return out
