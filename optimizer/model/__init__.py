"""The model: instances become :class:`~optimizer.problem.LocationProblem` arrays (no I/O, no solver).

:mod:`~optimizer.model.formulation` compiles an instance, :mod:`~optimizer.model.rows` builds the rows every
solver path shares, :mod:`~optimizer.model.arcs` the k-nearest arcs and the certifying relaxation,
:mod:`~optimizer.model.pyomo_model` the readable reference formulation, :mod:`~optimizer.model.chain` and
:mod:`~optimizer.model.chain_compile` the multi-echelon plastics chain.
"""
