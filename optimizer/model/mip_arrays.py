"""A MIP as whole arrays: what every matrix formulation builds and the HiGHS adapter takes.

It lives in the model layer so that the formulations that build one (the strengthened location model,
:func:`optimizer.solver.matrices.build_matrices`; the coverage models, :class:`optimizer.model.coverage.CoverageArrays`)
and the adapter that solves it (:mod:`optimizer.solver.highs`, which re-exports it) share one definition without
the model importing the solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy is imported where a scipy matrix is asked for (CscArrays.tocsc), not by every solve
    import scipy.sparse as sp


@dataclass(frozen=True)
class CscArrays:
    """A sparse matrix as the column-wise arrays HiGHS takes: ``start`` (columns + 1), ``index`` (rows), ``value``.

    What :func:`optimizer.solver.matrices.build_matrices` assembles with numpy alone, so that a solve which needs no
    other sparse algebra never imports scipy (0.3–0.4 s of a whole-process solve); :meth:`tocsc` gives the
    ``scipy.sparse`` matrix where one is wanted.
    """

    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    shape: tuple[int, int]

    @classmethod
    def from_triplets(cls, rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
                      shape: tuple[int, int]) -> CscArrays:
        """Entries in any order; repeated (row, column) entries add up, rows sorted within each column (as
        ``scipy.sparse``'s ``tocsc()`` followed by ``sum_duplicates()``)."""
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        values = np.asarray(values, float)
        key = cols * max(int(shape[0]), 1) + rows
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        summed = np.add.reduceat(values[order], first) if len(key) else np.zeros(0)
        index = rows[order][first]
        start = np.searchsorted(cols[order][first], np.arange(shape[1] + 1))
        return cls(start, index, summed, (int(shape[0]), int(shape[1])))

    @property
    def nnz(self) -> int:
        return len(self.value)

    def tocsc(self) -> sp.csc_matrix:
        import scipy.sparse as sp

        return sp.csc_matrix((self.value, self.index, self.start), shape=self.shape)


@dataclass(frozen=True)
class MatrixModel:
    """A MIP ``min c·v  s.t.  row_lower ≤ A v ≤ row_upper, col_lower ≤ v ≤ col_upper`` in column-wise arrays.

    Attributes
    ----------
    matrix
        Constraint matrix ``A`` (rows × columns): a ``scipy.sparse`` matrix or :class:`CscArrays` (call
        ``matrix.tocsc()`` for the scipy form).
    integrality
        ``1`` for integer columns, ``0`` for continuous ones (int32, HiGHS convention).
    n_x, n_y
        Number of arc columns (first) and option columns (after them).
    row_blocks
        Row slice of each constraint family (``assign``, ``link``, ``capacity``, ``counts``, ``land``, ``cover``).
    """

    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    matrix: sp.csc_matrix | CscArrays
    row_lower: np.ndarray
    row_upper: np.ndarray
    n_x: int
    n_y: int
    row_blocks: dict[str, slice]

    @property
    def n_cols(self) -> int:
        return self.n_x + self.n_y

    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]
