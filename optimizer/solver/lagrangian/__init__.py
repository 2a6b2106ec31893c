"""Lagrangian bounds: one skeleton (:mod:`~optimizer.solver.lagrangian.common`) for two relaxations.

:mod:`~optimizer.solver.lagrangian.uflp` relaxes the assignment rows of uncapacitated problems (p-median, UFLP),
:mod:`~optimizer.solver.lagrangian.cflp` those of multi-source capacitated ones (facility knapsacks with the
covering knapsack of :mod:`~optimizer.solver.lagrangian.cover`).
"""
