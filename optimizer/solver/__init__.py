"""Solving a :class:`~optimizer.problem.LocationProblem`; results are unverified until :mod:`optimizer.check`.

Inside, imports point one way too: :mod:`~optimizer.solver.options` (settings, deadline) <
:mod:`~optimizer.solver.highs` (the only module that talks to HiGHS) < :mod:`~optimizer.solver.result`,
:mod:`~optimizer.solver.matrices` < :mod:`~optimizer.solver.assign`, :mod:`~optimizer.solver.heuristics` <
:mod:`optimizer.solver.lagrangian` < the strategies (``strategy_*``) < :mod:`~optimizer.solver.strategies` (the
dispatcher) < :mod:`~optimizer.solver.solve` (backends) < :mod:`~optimizer.solver.sparsified`.
"""
