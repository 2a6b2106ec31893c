"""Sweep definitions: the TOML file of ``siting sweep``, validated once into a :class:`Sweep` of scenarios.

Structure is checked here (sections and keys, parameter and assumption names, instance names or paths, grid
lists, unique scenario names usable as folder names); parameter *values* are checked per scenario by the engine,
so one bad value fails that scenario only (:mod:`optimizer.studies.sweep`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from optimizer.data.instance import PARAMETERS, resolve_instance_path, unknown_message
from optimizer.data.programmes import load_assumptions
from optimizer.data.tomlfile import read_toml
from optimizer.errors import InputError

# Overrides a sweep may not set: the sweep chooses the solver threads itself (--threads-per-scenario).
SWEEP_OWNED = {"threads": "solver threads are set by the sweep: use --threads-per-scenario"}
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=,+-]*$")
_SWEEP_KEYS = {"name", "title", "description", "instance", "set"}
_SCENARIO_KEYS = {"name", "instance", "set"}
_GRID_KEYS = {"prefix", "name", "instance", "set", "vary"}


@dataclass(frozen=True)
class Scenario:
    """One scenario: a name, the instance (a name or an absolute manifest path) and its ``--set`` overrides."""

    name: str
    instance: str
    overrides: dict[str, str]
    origin: str  # where it was defined, e.g. "scenario[2]" or "grid[1]"


@dataclass(frozen=True)
class Sweep:
    """A validated sweep definition."""

    name: str
    title: str
    description: str
    path: Path
    scenarios: tuple[Scenario, ...]
    file_sha256: str = ""


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep definition; raise :class:`InputError` naming the file and field.

    Structure is checked here, once: sections and keys, parameter and assumption names, instance names or paths,
    grid lists, scenario names (unique, usable as folder names). Parameter *values* are checked per scenario by
    the engine, so one bad value fails that scenario only and is reported in the comparison table.

    Parameters
    ----------
    path
        The sweep TOML file.

    Returns
    -------
    Sweep
        Scenarios in run order: the ``[[scenario]]`` list, then each ``[[grid]]`` product.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("sweep file not found: check the path", file=path)
    path = path.resolve()
    data = read_toml(path)
    _check_keys(data, {"sweep", "scenario", "grid"}, path, "", "section")
    head = data.get("sweep", {})
    if not isinstance(head, dict):
        raise InputError("[sweep] must be a table", file=path, field="sweep")
    _check_keys(head, _SWEEP_KEYS, path, "sweep.", "key")
    known = _known_keys()
    base_instance = head.get("instance")
    if base_instance is not None:
        base_instance = _resolve_instance(base_instance, path, "sweep.instance")
    base_set = _overrides(head.get("set", {}), path, "sweep.set", known)

    scenarios: list[Scenario] = []
    listed = data.get("scenario", [])
    if not isinstance(listed, list):
        raise InputError("write scenarios as [[scenario]] tables", file=path, field="scenario")
    for i, spec in enumerate(listed, start=1):
        where = f"scenario[{i}]"
        if not isinstance(spec, dict):
            raise InputError("write scenarios as [[scenario]] tables", file=path, field=where)
        _check_keys(spec, _SCENARIO_KEYS, path, f"{where}.", "key")
        if "name" not in spec:
            raise InputError("every [[scenario]] needs a name", file=path, field=f"{where}.name")
        name = _check_name(spec["name"], path, f"{where}.name")
        instance = _scenario_instance(spec, base_instance, path, where)
        overrides = {**base_set, **_overrides(spec.get("set", {}), path, f"{where}.set", known)}
        scenarios.append(Scenario(name, instance, overrides, where))

    grids = data.get("grid", [])
    if not isinstance(grids, list):
        raise InputError("write grids as [[grid]] tables", file=path, field="grid")
    for g, spec in enumerate(grids, start=1):
        scenarios += _expand_grid(spec, g, path, base_instance, base_set, known)

    if not scenarios:
        raise InputError("the sweep has no scenarios: add [[scenario]] or [[grid]] tables", file=path)
    seen: dict[str, str] = {}
    for sc in scenarios:
        if sc.name in seen:
            msg = f"duplicate scenario name {sc.name!r} (also {seen[sc.name]}): names must be unique"
            raise InputError(msg, file=path, field=f"{sc.origin}.name")
        seen[sc.name] = sc.origin
    return Sweep(
        name=_check_name(head.get("name", path.stem), path, "sweep.name"),
        title=str(head.get("title", "")),
        description=str(head.get("description", "")),
        path=path,
        scenarios=tuple(scenarios),
        file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def _known_keys() -> tuple[dict, dict]:
    return PARAMETERS, load_assumptions()


def _check_keys(table: dict, allowed: set[str], path: Path, prefix: str, what: str) -> None:
    import difflib

    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(sorted(allowed))}"
            raise InputError(f"unknown {what} {key!r}{hint}", file=path, field=f"{prefix}{key}")


def _check_name(value: object, path: Path, where: str) -> str:
    name = str(value).strip() if isinstance(value, (str, int)) else ""
    if not _NAME_OK.match(name):
        msg = (f"scenario name {value!r} cannot be a folder name: use letters, digits and . _ = , + - "
               "(starting with a letter or digit)")
        raise InputError(msg, file=path, field=where)
    return name


def _resolve_instance(value: object, path: Path, where: str) -> str:
    """A named instance stays a name (resolved on the worker); a manifest path becomes absolute."""
    if not isinstance(value, str) or not value.strip():
        raise InputError("give an instance name (see `siting list`) or a manifest path", file=path, field=where)
    value = value.strip()
    local = (path.parent / value)
    if value.endswith(".toml") or local.is_file() or "/" in value:  # a folder named like an instance is no manifest
        if not local.exists():
            raise InputError(f"instance manifest {value!r} not found (relative to the sweep file)", file=path,
                             field=where)
        return str(local.resolve())
    try:
        resolve_instance_path(value)
    except InputError as e:
        raise InputError(e.message, file=path, field=where) from e
    return value


def _scenario_instance(spec: dict, base: str | None, path: Path, where: str) -> str:
    if "instance" in spec:
        return _resolve_instance(spec["instance"], path, f"{where}.instance")
    if base is None:
        raise InputError("no instance: set instance under [sweep] or in the scenario", file=path,
                         field=f"{where}.instance")
    return base


def _as_override(value: object, path: Path, where: str) -> str:
    """A TOML value as the string ``--set`` would pass (true/false for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise InputError(f"a value must be a string, number or boolean, got {value!r}", file=path, field=where)


def _check_override_key(key: str, path: Path, where: str, known: tuple[dict, dict]) -> None:
    parameters, assumptions = known
    if key in SWEEP_OWNED:
        raise InputError(SWEEP_OWNED[key], file=path, field=where)
    if key.startswith("assumption."):
        name = key.removeprefix("assumption.")
        if name not in assumptions:
            raise InputError(unknown_message(name, assumptions).replace("parameter", "assumption"), file=path, field=where)
    elif key not in parameters:
        raise InputError(unknown_message(key, parameters), file=path, field=where)


def _flatten(table: dict, path: Path, where: str) -> dict[str, object]:
    """``{assumption = {x = 1}}`` and ``{"assumption.x" = 1}`` both give ``{"assumption.x": 1}``."""
    if not isinstance(table, dict):
        raise InputError("'set' is a table: set = { key = value }", file=path, field=where)
    flat: dict[str, object] = {}
    for key, value in table.items():
        if key == "assumption" and isinstance(value, dict):
            for name, v in value.items():
                flat[f"assumption.{name}"] = v
        else:
            flat[key] = value
    return flat


def _overrides(table: object, path: Path, where: str, known: tuple[dict, dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in _flatten(table, path, where).items():  # type: ignore[arg-type]
        _check_override_key(key, path, f"{where}.{key}", known)
        out[key] = _as_override(value, path, f"{where}.{key}")
    return out


def _expand_grid(spec: object, g: int, path: Path, base_instance: str | None, base_set: dict[str, str],
                 known: tuple[dict, dict]) -> list[Scenario]:
    where = f"grid[{g}]"
    if not isinstance(spec, dict):
        raise InputError("write grids as [[grid]] tables", file=path, field=where)
    _check_keys(spec, _GRID_KEYS, path, f"{where}.", "key")
    instance = _scenario_instance(spec, base_instance, path, where)
    fixed = {**base_set, **_overrides(spec.get("set", {}), path, f"{where}.set", known)}
    vary = _flatten(spec.get("vary", {}), path, f"{where}.vary")
    if not vary:
        raise InputError("empty grid: give vary = { key = [value, ...] }", file=path, field=f"{where}.vary")
    axes: list[tuple[str, list[str]]] = []
    for key, values in vary.items():
        at = f"{where}.vary.{key}"
        _check_override_key(key, path, at, known)
        if key in spec.get("set", {}):
            raise InputError(f"{key!r} is both fixed (set) and varied (vary) in this grid", file=path, field=at)
        if not isinstance(values, list) or not values:
            raise InputError("empty grid axis: give a non-empty list of values", file=path, field=at)
        strings = [_as_override(v, path, at) for v in values]
        if len(set(strings)) != len(strings):
            raise InputError("a value is listed twice on this grid axis", file=path, field=at)
        axes.append((key, strings))
    prefix = str(spec.get("prefix", ""))
    template = spec.get("name")
    out = []
    for combo in itertools.product(*(values for _, values in axes)):
        chosen = dict(zip((k for k, _ in axes), combo, strict=True))
        if template is not None:
            name = str(template)
            for key, value in chosen.items():
                name = name.replace("{" + key + "}", value)
            if "{" in name:
                raise InputError(f"name template {template!r} names a key that is not varied", file=path,
                                 field=f"{where}.name")
        else:
            name = prefix + ("-" if prefix else "") + ",".join(f"{k.removeprefix('assumption.')}={v}"
                                                               for k, v in chosen.items())
        out.append(Scenario(_check_name(name, path, f"{where}.name"), instance, {**fixed, **chosen}, where))
    return out
