"""Public benchmark sets (OR-Library, Holmberg, UflLib): readers, baselines and the race harness of ``siting bench``.

Kept apart from the engine: it reads ``../shared/benchmarks`` and compares the solver with published optima and
other solvers; nothing in the engine imports it.
"""
