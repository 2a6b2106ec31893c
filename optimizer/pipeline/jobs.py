"""What every instance kind provides to the one pipeline: the :class:`Job` protocol.

A job is one loaded instance on its way to a result. The driver (:mod:`optimizer.pipeline.driver`) calls its
stages in order — :meth:`~Job.check` the options, :meth:`~Job.compile`, :meth:`~Job.solve`, :meth:`~Job.verify`,
:meth:`~Job.result` — and writes nothing unless every stage passed. The kinds: :class:`~optimizer.pipeline.named.NamedJob`,
:class:`~optimizer.pipeline.matrix.MatrixJob`, :class:`~optimizer.pipeline.chain.ChainJob`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from optimizer.errors import InputError, NoSolutionError
from optimizer.output.result import Result
from optimizer.solver.options import SolveOptions

Progress = Callable[[str], None]
SOLVER_PARAMETERS = ("time_limit_s", "mip_gap", "threads")  # the parameters every kind honours


class Job(Protocol):
    """One instance of some kind on its way through load → compile → solve → verify → export."""

    kind: str  # "named", "matrix" or "chain"
    name: str
    parameters: dict  # resolved parameters; time_limit_s, mip_gap and threads at least

    def content_hash(self) -> str:
        """sha256 of everything the result depends on (files, tables, parameters): the key of a sweep's resume."""

    def check(self, options: SolveOptions, *, geoparquet: bool, crs: str | None) -> None:
        """Refuse, with one :class:`InputError`, an option that has no meaning for this kind (before any work)."""

    def compile(self, progress: Progress) -> None:
        """Build the model arrays (raise :class:`~optimizer.errors.InfeasibleError` when a check already fails)."""

    def solve(self, options: SolveOptions, progress: Progress) -> dict[str, float]:
        """Solve and return the solver's timings (raise InfeasibleError or NoSolutionError when there is no
        solution to report)."""

    def verify(self) -> dict:
        """Check the solution independently: ``{"passed", "checks", "objective_recomputed"}``; raise
        :class:`~optimizer.errors.VerificationError` on any violation."""

    def result(self, verification: dict, options: SolveOptions, timings_s: dict[str, float]) -> Result:
        """The verified result: layers, CSV tables and the summary (common envelope + the kind's keys)."""


def options_dict(options: SolveOptions) -> dict:
    """The solve options as recorded in ``summary.json`` (the warm start as its number of open options)."""
    out = dict(options.__dict__)
    if out.get("warm_start") is not None:
        out["warm_start"] = f"{int(sum(bool(v) for v in out['warm_start']))} options open"
    return out


def no_solution(options: SolveOptions, what: str = "solution") -> NoSolutionError:
    """The error of a solve that found no ``what`` in its time: it names the limit, to raise with --time-limit."""
    limit = "no limit" if options.time_limit_s is None else f"{options.time_limit_s:g} s"
    return NoSolutionError(f"no feasible {what} within the time limit ({limit}); raise --time-limit")


def refuse(flag: str, kind: str, why: str) -> InputError:
    """The one-line refusal of an option that has no meaning for a kind."""
    return InputError(f"{flag} has no meaning for a {kind} instance: {why}", field=flag)
