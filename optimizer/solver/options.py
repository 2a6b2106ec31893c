"""Solver settings and time: :class:`SolveOptions`, the shared :class:`Deadline` and the one "time left" rule.

Every backend and strategy takes a :class:`SolveOptions`; all phases of one solve (heuristics, Lagrangian
bounds, tree nodes, HiGHS) share one :class:`Deadline`, so together they stay within the limit and HiGHS only
gets what is left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

MIN_HIGHS_S = 0.1  # below this much time left HiGHS is not started when an incumbent is already known
# HiGHS 1.16 does not check its time limit before the root LP (presolve can overrun it by seconds: figures in
# benchmarks/perf/README.md, "Notes"). With an incumbent in hand, HiGHS is not started with less time left than
# this many seconds per nonzero of its model.
HIGHS_SETUP_S_PER_NNZ = 3e-5


@dataclass(frozen=True)
class SolveOptions:
    """Solver settings that every backend honours.

    Parameters
    ----------
    time_limit_s
        Wall-clock limit for the solver in seconds (``None``: no limit).
    mip_gap
        Relative MIP gap at which the solver may stop (HiGHS ``mip_rel_gap``).
    threads
        Solver threads (``None``: ``$SITING_THREADS``, else the HiGHS default). Sweeps set this to avoid
        oversubscribing cores.
    backend
        ``"pyomo"`` (reference formulation) or ``"highspy"`` (vectorised matrix build), or ``"auto"``.
    log
        Show the solver's log.
    warm_start
        Boolean mask of open options (length ``n_options``) to start from; the highspy backend completes it to an
        incumbent (assignment, repair) and passes it to HiGHS. Ignored by the Pyomo backend.
    """

    time_limit_s: float | None = None
    mip_gap: float = 1e-6
    threads: int | None = None
    backend: str = "auto"
    log: bool = False
    warm_start: np.ndarray | None = None


def time_left(limit_s: float | None, elapsed_s: float, *, floor_s: float = 0.0) -> float | None:
    """Seconds left of ``limit_s`` after ``elapsed_s``, at least ``floor_s`` (``None``: no limit)."""
    return None if limit_s is None else max(floor_s, float(limit_s) - elapsed_s)


def with_time_left(options: SolveOptions, elapsed_s: float, *, floor_s: float = 0.0) -> SolveOptions:
    """``options`` with the time limit reduced to what is left after ``elapsed_s`` (see :func:`time_left`)."""
    if options.time_limit_s is None:
        return options
    return replace(options, time_limit_s=time_left(options.time_limit_s, elapsed_s, floor_s=floor_s))


@dataclass(frozen=True)
class Deadline:
    """Wall-clock end of a solve (``perf_counter`` seconds; ``None``: no limit), shared by all its phases.

    Every phase (heuristics, subgradient, tree nodes, HiGHS) asks :meth:`left` instead of owning a fixed
    share of the limit, so the phases together stay within it and HiGHS only gets what is left.
    """

    end: float | None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.perf_counter() + max(float(seconds), 0.0))

    def left(self) -> float | None:
        """Seconds left (≥ 0), ``None`` without a limit."""
        return None if self.end is None else max(0.0, self.end - time.perf_counter())

    def share(self, fraction: float, cap: float | None = None) -> float | None:
        """``fraction`` of the time left, at most ``cap`` (``cap`` alone without a limit)."""
        left = self.left()
        if left is None:
            return cap
        return fraction * left if cap is None else min(cap, fraction * left)

    def expired(self, margin: float = 0.0) -> bool:
        """Whether at most ``margin`` seconds are left."""
        left = self.left()
        return left is not None and left <= margin

    def too_short_for(self, nnz: int) -> bool:
        """Whether the time left cannot cover HiGHS' set-up of a model with ``nnz`` nonzeros
        (:data:`HIGHS_SETUP_S_PER_NNZ`), which ignores the limit; callers with an incumbent then skip HiGHS and keep
        their own bound."""
        return self.expired(max(MIN_HIGHS_S, HIGHS_SETUP_S_PER_NNZ * nnz))

    def options(self, options: SolveOptions) -> SolveOptions:
        """``options`` with the time limit set to what is left (unchanged without a limit)."""
        left = self.left()
        if left is None:
            return options
        return replace(options, time_limit_s=left)
