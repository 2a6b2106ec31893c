"""circular-siting: where should Flanders put the infrastructure of its circular economy?

The package is layered; data flows down this list and imports point the other way only (an import-linter
contract in ``pyproject.toml`` enforces it):

``cli``       thin commands by group (``siting``)
``studies``   pareto fronts and scenario sweeps, built from many solves;  ``bench``: public benchmark sets
``pipeline``  one solve end to end: load -> compile -> solve -> verify -> export
``check``     the independent verifier (of the solution and of the planner tables) and the infeasibility diagnosis
``output``    result tables, GeoPackage/CSV/summary export, QGIS styles, maps, reports, comparisons
``solver``    options and deadline, the HiGHS adapter, matrices, heuristics, Lagrangian methods, strategies
``model``     instance -> LocationProblem arrays, row builders, arcs and sparsification, the Pyomo model, the chain
``geo``       distances, networks (one module per task), access, typology
``data``      instances, programmes, tables and their validators, the matrix format, generators
base          ``problem`` (the contract between the layers), ``settings``, ``errors``, ``atomic``
"""
