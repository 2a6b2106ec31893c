"""Every shipped sweep (``instances/sweeps/*.toml``) compares scenarios that differ (issue 17 item 4).

A scenario that reproduces another under a new name shows the planner nothing (the old strict-vs-loose pair on
materialenbanken was one: banks have no multimodal rule). The fast test compiles every scenario and fails when two
compile to the same problem; the slow test solves the location scenarios and fails when two have the same
objective and the same sites.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT

from optimizer.data.instance import load_instance
from optimizer.studies.sweep_spec import Scenario, load_sweep

SWEEPS = sorted((PROJECT_ROOT / "instances" / "sweeps").glob("*.toml"))
RUN_ONLY = {"time_limit_s", "mip_gap", "threads", "sparsify", "sparsify_k"}  # how a problem is solved, not which


def _digest(obj: object, h: hashlib._Hash) -> None:
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            h.update(f.name.encode())
            _digest(getattr(obj, f.name), h)
    elif isinstance(obj, np.ndarray):
        h.update(str(obj.dtype).encode() + str(obj.shape).encode())
        h.update(np.ascontiguousarray(obj).tobytes() if obj.dtype != object else repr(obj.tolist()).encode())
    elif hasattr(obj, "tocsr"):  # a scipy sparse matrix (count rows)
        m = obj.tocsr()
        for part in (m.data, m.indices, m.indptr, np.asarray(m.shape)):
            _digest(np.asarray(part), h)
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            if k == "meta":
                continue
            h.update(str(k).encode())
            _digest(obj[k], h)
    else:
        h.update(repr(obj).encode())


def problem_fingerprint(sc: Scenario) -> str:
    """A hash of the problem a scenario poses: the compiled arrays (location or chain model), not its name."""
    inst = load_instance(sc.instance, {k: v for k, v in sc.overrides.items() if k not in RUN_ONLY})
    h = hashlib.sha256()
    if any(p.kind == "chain" for p in inst.programmes):
        from optimizer.model.chain_compile import compile_chain

        problem = compile_chain(inst).problem
        problem = dataclasses.replace(problem, meta={})
    else:
        from optimizer.model.formulation import compile_instance

        problem = dataclasses.replace(compile_instance(inst).problem, name="")
    _digest(problem, h)
    return h.hexdigest()


def _duplicates(keys: dict[str, object]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in itertools.combinations(keys, 2) if keys[a] == keys[b]]


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_every_shipped_sweep_poses_different_problems(path: Path) -> None:
    sweep = load_sweep(path)
    prints = {sc.name: problem_fingerprint(sc) for sc in sweep.scenarios}
    assert _duplicates(prints) == [], f"{path.name}: scenarios that pose the same problem"


def test_the_fingerprint_sees_a_pair_that_changes_nothing() -> None:
    """The old pair: strict vs loose access on materialenbanken compile to the same problem (banks have no rule)."""
    strict = Scenario("strict", "materialenbanken", {"access_rules": "strict"}, "test")
    loose = Scenario("loose", "materialenbanken", {"access_rules": "loose", "time_limit_s": "5"}, "test")
    sorting = Scenario("loose-sorting", "s2-sorteercentra", {"access_rules": "loose"}, "test")
    assert problem_fingerprint(strict) == problem_fingerprint(loose)
    assert problem_fingerprint(strict) != problem_fingerprint(sorting)


@pytest.mark.slow
@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_every_shipped_sweep_gives_different_results(path: Path, solved_named) -> None:  # noqa: ANN001
    """Solve the location scenarios (the chain's ambition levels differ in their flows, checked above); each as
    ``siting solve`` solves it, once per session (the same runs the other tests of those instances read)."""
    from optimizer.data.instance import is_chain_instance
    from optimizer.errors import InfeasibleError

    results: dict[str, object] = {}
    for sc in load_sweep(path).scenarios:
        if is_chain_instance(sc.instance):
            continue
        try:
            r = solved_named(sc.instance, sc.overrides)
        except InfeasibleError:
            results[sc.name] = "infeasible"
            continue
        fac = r.tables.facilities
        sites = frozenset(zip(fac["programme"], fac["site_id"], fac["size"], strict=True))
        results[sc.name] = (round(float(r.summary["objective"]["total"]), 2), round(float(r.summary["land_take_ha"]), 4),
                            sites)
    assert _duplicates(results) == [], f"{path.name}: scenarios with the same objective, land take and sites"
