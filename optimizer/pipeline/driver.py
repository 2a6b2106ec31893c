"""The one driver: load an instance of any kind, then compile → solve → verify → (export) through its :class:`Job`.

:func:`run` takes a name or a path (what ``siting solve`` and the sweeps call); :func:`solve` takes what a Python
user has in hand — a loaded :class:`~optimizer.data.instance.Instance` (from a manifest or from GeoDataFrames), a
:class:`~optimizer.problem.LocationProblem`, or a name — and returns the same
:class:`~optimizer.output.result.Result`. Each stage reports to an optional ``progress`` callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from optimizer.data.instance import Instance, instance_kind, load_instance
from optimizer.output.export import record_export_time
from optimizer.output.result import Result
from optimizer.pipeline.jobs import Job
from optimizer.pipeline.matrix import MatrixJob
from optimizer.problem import LocationProblem
from optimizer.solver.options import SolveOptions

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def load(name_or_path: str | Path, overrides: Mapping[str, object] | None = None) -> Job:
    """Load and validate the instance ``name_or_path`` of whatever kind it is; ``overrides`` as ``--set`` gives them.

    A folder, or a TOML file with a ``[problem]`` table, is a matrix instance; a manifest with ``[periods]`` a
    multi-period instance; one placing a chain programme a chain instance; any other name or manifest a named
    (location) instance.
    """
    if instance_kind(name_or_path) == "matrix":
        from optimizer.data.matrix_files import load_matrix_instance

        path = Path(name_or_path)
        return MatrixJob(load_matrix_instance(path), source=path, overrides=overrides)
    return job_for(load_instance(name_or_path, overrides))


def job_for(target: Instance | LocationProblem | str | Path, overrides: Mapping[str, object] | None = None) -> Job:
    """The job of an instance, a problem, or a name / path (loaded with ``overrides``)."""
    if isinstance(target, (str, Path)):
        return load(target, overrides)
    if overrides:
        from optimizer.errors import InputError

        msg = ("overrides apply when an instance is loaded: pass them to load_instance(name, overrides), or give "
               "the name to solve()")
        raise InputError(msg, field="overrides")
    if isinstance(target, LocationProblem):
        return MatrixJob(target)
    if isinstance(target, Instance):
        # imported here: a matrix solve needs none of the geography these jobs compile (shapely, geopandas, networkx)
        from optimizer.pipeline.chain import ChainJob
        from optimizer.pipeline.named import NamedJob
        from optimizer.pipeline.periods import PeriodsJob

        if target.periods is not None:  # a timeline of periods, of location programmes or of the chain
            return PeriodsJob(target)
        if any(p.kind == "chain" for p in target.programmes):
            return ChainJob(target)
        return NamedJob(target)
    msg = f"cannot solve a {type(target).__name__}: give an Instance, a LocationProblem or an instance name or path"
    raise TypeError(msg)


def solve_options(parameters: Mapping[str, object], *, time_limit_s: float | None = None,
                  mip_gap: float | None = None, threads: int | None = None, backend: str = "auto") -> SolveOptions:
    """Solver options: what is given here, else the instance's parameters ``time_limit_s``, ``mip_gap``,
    ``threads`` (``threads = 0``: the solver's default)."""
    limit = parameters.get("time_limit_s") if time_limit_s is None else time_limit_s
    gap = parameters.get("mip_gap", 1e-6) if mip_gap is None else mip_gap
    n = (int(parameters.get("threads") or 0) or None) if threads is None else threads
    return SolveOptions(time_limit_s=None if limit is None else float(limit), mip_gap=float(gap), threads=n,
                        backend=backend)


def execute(job: Job, options: SolveOptions, *, out_dir: Path | None = None, geoparquet: bool = False,
            crs: str | None = None, progress: Progress = _noop, load_s: float = 0.0,
            extra_dirs: dict[str, Path] | None = None) -> Result:
    """Run a loaded job through compile → solve → verify and, with ``out_dir``, export; return its result.

    Options that have no meaning for the job's kind are refused before any work (one
    :class:`~optimizer.errors.InputError`); nothing is written unless the verifier passed.
    """
    job.check(options, geoparquet=geoparquet, crs=crs)
    t0 = time.perf_counter() - load_s
    t = time.perf_counter()
    job.compile(progress)
    compile_s = time.perf_counter() - t
    solver_timings = job.solve(options, progress)
    progress("verifying")
    t = time.perf_counter()
    verification = job.verify()
    timings = {"load": load_s, "compile": compile_s, **solver_timings, "verify": time.perf_counter() - t}
    result = job.result(verification, options, timings)
    if out_dir is not None:
        progress("writing results")
        t = time.perf_counter()
        result.summary["timings_s"]["total_before_export"] = round(t - t0, 4)
        result.folder = result.write(out_dir, geoparquet=geoparquet, crs=crs, extra_dirs=extra_dirs)
        if result.has_geometry:
            result.summary["crs"] = crs or result.summary["crs"]
        export_s = time.perf_counter() - t
        result.summary["timings_s"]["export"] = round(export_s, 4)
        record_export_time(result.folder, export_s)
    return result


def run(
    name_or_path: str | Path,
    *,
    overrides: Mapping[str, object] | None = None,
    out_dir: Path | None = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    backend: str = "auto",
    progress: Progress = _noop,
    geoparquet: bool = False,
    crs: str | None = None,
    extra_dirs: dict[str, Path] | None = None,
) -> Result:
    """Load, solve, verify and (if ``out_dir`` is given) export an instance of any kind, given by name or path.

    ``time_limit_s``, ``mip_gap`` and ``threads`` override the instance's parameters; ``geoparquet`` also writes
    every layer as GeoParquet; ``crs`` reprojects the GIS output (default EPSG:31370); ``extra_dirs`` (name ->
    folder) are copied into the result folder in the same atomic move.
    """
    t = time.perf_counter()
    progress("loading instance")
    job = load(name_or_path, overrides)
    options = solve_options(job.parameters, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads,
                            backend=backend)
    return execute(job, options, out_dir=out_dir, geoparquet=geoparquet, crs=crs, progress=progress,
                   load_s=time.perf_counter() - t, extra_dirs=extra_dirs)


def solve(target: Instance | LocationProblem | str | Path, options: SolveOptions | None = None, *,
          overrides: Mapping[str, object] | None = None, progress: Progress = _noop) -> Result:
    """Solve and verify an instance, a problem or a named instance; nothing is written (see ``Result.write``).

    Parameters
    ----------
    target
        An :class:`~optimizer.data.instance.Instance` (``load_instance`` or ``Instance.from_frames``), a
        :class:`~optimizer.problem.LocationProblem` (a matrix instance), or an instance name or path.
    options
        Used as given (``time_limit_s=None``: no limit). Without options the instance's own parameters
        ``time_limit_s``, ``mip_gap`` and ``threads`` apply, as in ``siting solve``.
    overrides
        ``--set`` values, only with a name or path (an :class:`Instance` is already resolved).

    Returns
    -------
    Result
        Verified: facilities, allocations and demand as GeoDataFrames in EPSG:31370, the summary, the status.
    """
    job = job_for(target, overrides)
    return execute(job, options if options is not None else solve_options(job.parameters), progress=progress)
