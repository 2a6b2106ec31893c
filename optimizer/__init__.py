"""circular-siting: where should Flanders put the infrastructure of its circular economy?

The Python API (``docs/api.md``), for notebooks and scripts::

    import optimizer
    inst = optimizer.load_instance("materialenbanken", overrides={"size_variant": "poster"})
    # or: optimizer.Instance.from_frames(demand=gdf, candidates=gdf, programmes=["materialenbank"], ...)
    result = optimizer.solve(inst, optimizer.SolveOptions(time_limit_s=60))
    result.facilities        # GeoDataFrame, EPSG:31370
    result.to_gpkg("out.gpkg")

The names below are imported when first used, so ``import optimizer`` (and ``siting --help``) stays fast.

The package is layered; data flows down this list and imports point the other way only (an import-linter
contract in ``pyproject.toml`` enforces it):

``cli``       thin commands by group (``siting``)
``studies``   pareto fronts and scenario sweeps, built from many solves;  ``bench``: public benchmark sets
``pipeline``  one solve end to end for every instance kind: load -> compile -> solve -> verify -> export
``check``     the independent verifier (of the solution and of the planner tables) and the infeasibility diagnosis
``output``    the Result, result tables, GeoPackage/CSV/summary export, QGIS styles, maps, reports, comparisons
``solver``    options and deadline, the HiGHS adapter, matrices, heuristics, Lagrangian methods, strategies
``model``     instance -> LocationProblem arrays, row builders, arcs and sparsification, the Pyomo model, the chain
``geo``       distances, networks (one module per task), access, typology
``data``      instances (from manifests or GeoDataFrames), programmes, tables and their validators, the matrix format
base          ``problem`` (the contract between the layers), ``settings``, ``errors``, ``atomic``
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from optimizer.settings import VERSION as __version__  # the package version, kept in settings

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names are imported on first use
    from optimizer.data.instance import Instance, load_instance
    from optimizer.data.matrix import matrix_problem
    from optimizer.errors import InfeasibleError, InputError, NoSolutionError, VerificationError
    from optimizer.output.result import Result, read_result
    from optimizer.pipeline import solve
    from optimizer.problem import LocationProblem, Status
    from optimizer.solver.options import SolveOptions

_API = {
    "load_instance": "optimizer.data.instance",
    "Instance": "optimizer.data.instance",
    "solve": "optimizer.pipeline",
    "SolveOptions": "optimizer.solver.options",
    "Result": "optimizer.output.result",
    "read_result": "optimizer.output.result",
    "Status": "optimizer.problem",
    "LocationProblem": "optimizer.problem",
    "matrix_problem": "optimizer.data.matrix",
    "InputError": "optimizer.errors",
    "InfeasibleError": "optimizer.errors",
    "NoSolutionError": "optimizer.errors",
    "VerificationError": "optimizer.errors",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> object:
    """Import an API name on first use (PEP 562)."""
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'optimizer' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
