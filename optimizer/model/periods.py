"""Multi-period siting: one problem per period on the same options, coupled by opening and closing decisions.

A :class:`MultiPeriodProblem` holds, for every period ``t`` of a timeline (:class:`~optimizer.data.periods.PeriodSpec`),
a complete single-period problem — a :class:`~optimizer.problem.LocationProblem` (named instances) or a
:class:`~optimizer.model.chain.ChainProblem` (the plastics chain) — with that period's demand, capacities and free
land, on the *same* options in the same order. The periods are coupled through each option's open variable
``y[t, j]``::

    min  Σ_t years_t · cost_t(x_t, y_t)  +  Σ_t Σ_j open_cost_j · o[t, j] + close_cost_j · c[t, j]
    s.t. every single-period row of period t on (x_t, y_t)                        (its own demand, capacity, land)
         o[t, j] ≥ y[t, j] − y[t−1, j],   c[t, j] ≥ y[t−1, j] − y[t, j]            (y[−1, j] = initially open)
         y[t, j] = 0 where option j is not available in t                          (reserve land outside [t0, t1])
         y[t, j] = 1 where it is required                                          (a fixed-open existing facility)
         y[t, j] ≤ y[t−1, j] for existing facilities                               (once closed, gone)

so a facility, once opened, stays open unless closing pays (its closing cost included), and a facility on
temporary land must close — and its programme open elsewhere — when the land's window ends. ``cost_t`` is the
period's yearly objective (transport, land, fixed costs), weighted by the period's length.

:func:`stack_periods` assembles the whole MIP from the periods' own matrices (built by the one matrix builder of
each model) as block-diagonal sparse arrays plus the coupling rows and columns; nothing is built per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from optimizer.problem import Status


@dataclass
class MultiPeriodProblem:
    """Per-period problems on the same options, and what couples them (see the module docstring).

    Arrays indexed ``[t, j]`` have one row per period and one column per option (facility).
    """

    name: str
    labels: tuple[str, ...]
    start: np.ndarray  # first year of each period
    years: np.ndarray  # length of each period (weight of its yearly costs)
    periods: list  # LocationProblem or ChainProblem, one per period
    option_ids: np.ndarray
    available: np.ndarray  # [t, j] may be open
    required: np.ndarray  # [t, j] must be open
    open_cost: np.ndarray  # [j] one-off EUR when it opens
    close_cost: np.ndarray  # [j] one-off EUR when it closes
    initially_open: np.ndarray  # [j] open before the first period (existing facilities)
    no_reopen: np.ndarray  # [j] once closed, never reopened (existing facilities)
    meta: dict = field(default_factory=dict)

    @property
    def n_periods(self) -> int:
        return len(self.labels)

    @property
    def n_options(self) -> int:
        return len(self.option_ids)


@dataclass
class PeriodBlock:
    """One period's MIP in column-wise arrays; ``y_cols`` are the positions of its option columns."""

    cost: np.ndarray
    matrix: sp.spmatrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    y_cols: np.ndarray


@dataclass
class StackedModel:
    """The whole multi-period MIP: columns ``[block_0 | … | block_{T−1} | o (T·m) | c (T·m)]``."""

    cost: np.ndarray
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    block_cols: list[slice]  # columns of each period's block
    y_index: np.ndarray  # [t, j] column of y
    o_index: np.ndarray  # [t, j] column of o
    c_index: np.ndarray  # [t, j] column of c


@dataclass
class MultiPeriodSolution:
    """Open options per period, each period's own solution, the transitions and how the solve ended."""

    open: np.ndarray  # [t, j] bool
    solutions: list  # per period: Solution (LocationProblem) or ChainSolution, objective = the period's yearly cost
    objective: float
    bound: float
    status: Status
    timings_s: dict = field(default_factory=dict)

    def opened(self, initially_open: np.ndarray) -> np.ndarray:
        """[t, j]: opened at the start of period t (closed before)."""
        before = np.vstack([np.asarray(initially_open, bool)[None, :], self.open[:-1]])
        return self.open & ~before

    def closed(self, initially_open: np.ndarray) -> np.ndarray:
        """[t, j]: closed at the start of period t (open before)."""
        before = np.vstack([np.asarray(initially_open, bool)[None, :], self.open[:-1]])
        return before & ~self.open

    @property
    def gap(self) -> float:
        if not np.isfinite(self.objective) or not np.isfinite(self.bound):
            return float("inf")
        return max(0.0, (self.objective - self.bound) / max(abs(self.objective), 1e-9))


def stack_periods(mp: MultiPeriodProblem, blocks: list[PeriodBlock]) -> StackedModel:
    """Assemble the multi-period MIP from the periods' blocks (vectorised; see the module docstring)."""
    t_n, m = mp.n_periods, mp.n_options
    if len(blocks) != t_n or any(len(b.y_cols) != m for b in blocks):
        msg = "every period needs one block with one column per option"
        raise ValueError(msg)
    widths = np.array([b.matrix.shape[1] for b in blocks])
    offsets = np.concatenate([[0], np.cumsum(widths)])
    n_block = int(offsets[-1])
    y_index = np.stack([offsets[t] + np.asarray(b.y_cols) for t, b in enumerate(blocks)])
    o_index = n_block + np.arange(t_n * m).reshape(t_n, m)
    c_index = n_block + t_n * m + np.arange(t_n * m).reshape(t_n, m)
    n_cols = n_block + 2 * t_n * m

    cost = np.concatenate([mp.years[t] * np.asarray(b.cost, float) for t, b in enumerate(blocks)]
                          + [np.tile(mp.open_cost, t_n), np.tile(mp.close_cost, t_n)])
    col_lower = np.concatenate([b.col_lower for b in blocks] + [np.zeros(2 * t_n * m)]).astype(float)
    col_upper = np.concatenate([b.col_upper for b in blocks] + [np.ones(2 * t_n * m)]).astype(float)
    col_lower[y_index] = np.where(mp.required, 1.0, 0.0)
    col_upper[y_index] = np.where(mp.available, 1.0, 0.0)
    integrality = np.concatenate([b.integrality for b in blocks] + [np.zeros(2 * t_n * m)]).astype(np.int32)

    diag = sp.block_diag([sp.csr_matrix(b.matrix) for b in blocks], format="csr")
    diag = sp.hstack([diag, sp.csr_matrix((diag.shape[0], 2 * t_n * m))], format="csr")
    init = np.asarray(mp.initially_open, float)
    # y[t] − y[t−1] − o[t] ≤ 0 and y[t−1] − y[t] − c[t] ≤ 0; for t = 0, y[−1] is the initial state (on the right)
    r = np.arange(t_n * m)
    prev = y_index[:-1].ravel()
    rows_o = [r, r, r[m:]]
    cols_o = [y_index.ravel(), o_index.ravel(), prev]
    vals_o = [np.ones(t_n * m), -np.ones(t_n * m), -np.ones((t_n - 1) * m)]
    opening = sp.csr_matrix((np.concatenate(vals_o), (np.concatenate(rows_o), np.concatenate(cols_o))),
                            shape=(t_n * m, n_cols))
    cols_c = [y_index.ravel(), c_index.ravel(), prev]
    vals_c = [-np.ones(t_n * m), -np.ones(t_n * m), np.ones((t_n - 1) * m)]
    closing = sp.csr_matrix((np.concatenate(vals_c), (np.concatenate(rows_o), np.concatenate(cols_c))),
                            shape=(t_n * m, n_cols))
    first = np.zeros((t_n, m))
    first[0] = init
    blocks_rows = [diag, opening, closing]
    lower = [np.concatenate([b.row_lower for b in blocks]), np.full(t_n * m, -np.inf), np.full(t_n * m, -np.inf)]
    upper = [np.concatenate([b.row_upper for b in blocks]), first.ravel(), -first.ravel()]
    keep = np.flatnonzero(mp.no_reopen)
    if len(keep):  # y[t, j] ≤ y[t−1, j]: an existing facility, once closed, is gone
        jj = np.tile(keep, t_n)
        tt = np.repeat(np.arange(t_n), len(keep))
        rr = np.arange(len(jj))
        later = tt > 0
        no_re = sp.csr_matrix((np.concatenate([np.ones(len(jj)), -np.ones(int(later.sum()))]),
                               (np.concatenate([rr, rr[later]]),
                                np.concatenate([y_index[tt, jj], y_index[tt[later] - 1, jj[later]]]))),
                              shape=(len(jj), n_cols))
        blocks_rows.append(no_re)
        lower.append(np.full(len(jj), -np.inf))
        upper.append(np.where(tt == 0, init[jj], 0.0))
    matrix = sp.vstack(blocks_rows, format="csc")
    return StackedModel(cost, matrix, np.concatenate(lower), np.concatenate(upper), col_lower, col_upper,
                        integrality, [slice(int(offsets[t]), int(offsets[t + 1])) for t in range(t_n)], y_index,
                        o_index, c_index)
