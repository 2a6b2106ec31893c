"""A MIP as whole arrays: what every matrix formulation builds and the HiGHS adapter takes.

It lives in the model layer so that the formulations that build one (the strengthened location model,
:func:`optimizer.solver.matrices.build_matrices`; the coverage models, :class:`optimizer.model.coverage.CoverageArrays`)
and the adapter that solves it (:mod:`optimizer.solver.highs`, which re-exports it) share one definition without
the model importing the solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class MatrixModel:
    """A MIP ``min c·v  s.t.  row_lower ≤ A v ≤ row_upper, col_lower ≤ v ≤ col_upper`` in column-wise arrays.

    Attributes
    ----------
    matrix
        Constraint matrix ``A`` (CSC, rows × columns).
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
    matrix: sp.csc_matrix
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
