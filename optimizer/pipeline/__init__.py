"""One solve, end to end, for every instance kind: load → compile → solve → verify → export.

A named instance (a manifest and its Flanders tables), a matrix instance (``docs/matrix-format.md``) and a
plastics-chain instance (S2b, S5, S8) each come as a :class:`~optimizer.pipeline.jobs.Job` with the same five
stages; :func:`execute` drives any of them and returns the same :class:`~optimizer.output.result.Result`, whose
``summary.json`` has one versioned schema (``docs/summary-schema.md``). Nothing is written until the independent
verifier has passed.

:func:`run` is what ``siting solve`` and the sweeps call (a name or path in, a result folder out);
:func:`solve` is the Python API (an instance, frames or a problem in, a :class:`Result` out).
"""

from optimizer.pipeline.driver import Progress, execute, load, run, solve, solve_options

__all__ = ["Progress", "execute", "load", "run", "solve", "solve_options"]
