"""Re-check a stored result: the folder a solve wrote, read back and verified independently (``siting verify``).

A result can be edited after it was written (a municipality moved to another region's bank, a facility deleted,
the objective lowered by hand) or its copies can drift apart. :func:`verify_stored` reads the folder — CSV
tables, GeoPackage layers, ``summary.json`` — reloads the instance it was solved from (with the same overrides),
and runs the same independent verifiers as before writing, on the *stored* tables:

* named instances: :func:`~optimizer.check.verify.verify_problem` (every constraint, the objective and bound)
  on the stored facilities and allocations, and :func:`~optimizer.check.verify.verify_siting` (the study's rules
  re-derived from the instance tables, distances from coordinates);
* matrix instances: :func:`~optimizer.check.verify.verify_problem` on the stored facilities and assignments;
* chain instances: :func:`~optimizer.check.chain.verify_chain` on the stored facilities and flows;

and in every case: the GeoPackage layers against the CSV tables (same rows, same values, points where the CSV
says), the ``summary.json`` figures against the tables, and the instance hash (a changed instance is reported as a
note: the result is then checked against the instance as it is now). Nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.atomic import RESULT_MARKER, folder_marker
from optimizer.errors import InputError, VerificationError

GPKG_NAME = "result.gpkg"
REL_TOL, ABS_TOL = 1e-6, 1e-6
ID_COLUMNS = {"facility_id", "programme", "site_id", "site_name", "zone_type", "nis", "region", "size", "land_kind",
              "demand_id", "municipality", "client", "facility", "kind", "from", "to", "name", "echelon", "source",
              "type_environment"}


@dataclass
class StoredCheck:
    """What :func:`verify_stored` found: the violations (empty when the result holds), notes and checks made."""

    folder: Path
    kind: str
    instance: str
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {"result": str(self.folder), "kind": self.kind, "instance": self.instance, "verified": self.ok,
                "violations": self.violations, "notes": self.notes, "checks": self.checks}


class UnverifiedResultError(VerificationError):
    """A stored result that fails the independent check, refused by a command that reads results."""

    def __init__(self, check: StoredCheck, what: str) -> None:
        super().__init__(check.violations)
        head = "; ".join(check.violations[:3]) + (f" (+{len(check.violations) - 3} more)" if len(check.violations) > 3
                                                  else "")
        self.text = (f"{what} refused: {check.folder} fails the independent check ({head}); run `siting verify "
                     f"{check.folder}` for the full list, or pass --allow-unverified to mark it UNVERIFIED")

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------
def result_folder(path: str | Path) -> Path:
    """The result folder of ``path`` (the folder, or its ``result.gpkg`` / ``summary.json``); refuse anything else."""
    path = Path(path)
    folder = path.parent if path.suffix.lower() in (".gpkg", ".json") else path
    if not folder.is_dir():
        raise InputError("no result folder here: give the folder `siting solve --out` wrote", file=path)
    if folder_marker(folder) != "result":
        what = folder_marker(folder)
        msg = (f"is a siting {what} folder, not a single result" if what else
               f"is not a siting result (no {RESULT_MARKER} with the result marker): give the folder "
               "`siting solve --out` wrote")
        raise InputError(msg, file=folder)
    return folder.resolve()


def read_summary(folder: Path) -> dict:
    try:
        return json.loads((folder / RESULT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {RESULT_MARKER} ({e}); the result is incomplete", file=folder) from None


def kind_of(summary: dict, folder: Path) -> str:
    """named, matrix or chain (also for summaries written before the ``kind`` key)."""
    kind = summary.get("kind")
    if kind in ("named", "matrix", "chain"):
        return kind
    if "facilities_per_echelon" in summary:
        return "chain"
    if (folder / "assignments.csv").is_file():
        return "matrix"
    return "named"


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path.name} is missing; the result is incomplete", file=path.parent)
    frame = pd.read_csv(path, dtype={c: str for c in ID_COLUMNS}, keep_default_na=True)
    for col in ID_COLUMNS & set(frame.columns):
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def _read_layer(gpkg: Path, layer: str):  # noqa: ANN202 - GeoDataFrame
    import pyogrio

    return pyogrio.read_dataframe(gpkg, layer=layer)


def find_instance(folder: Path, summary: dict, instance: str | Path | None) -> str | Path:
    """The instance a result was solved from: given, inside the result (``siting locate``), recorded, or named."""
    if instance is not None:
        return instance
    inside = sorted((folder / "instance").glob("*.toml")) if (folder / "instance").is_dir() else []
    if len(inside) == 1:
        return inside[0]
    recorded = summary.get("instance_path")
    if recorded and Path(recorded).exists():
        return Path(recorded)
    name = summary.get("instance")
    if summary.get("kind") != "matrix" and isinstance(name, str):
        from optimizer.data.instance import INSTANCES_DIR

        if (INSTANCES_DIR / f"{name}.toml").is_file():
            return name
    where = f" (recorded: {recorded})" if recorded else ""
    raise InputError(f"cannot find the instance this result was solved from{where}: give it with --instance "
                     "NAME_OR_PATH", file=folder, field="instance")


# ---------------------------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------------------------
def verify_stored(path: str | Path, instance: str | Path | None = None) -> StoredCheck:
    """Re-check the stored result at ``path`` independently (see the module docstring).

    Parameters
    ----------
    path
        The result folder (or its ``result.gpkg``).
    instance
        The instance to check against (name or path); default: the one the result records.

    Returns
    -------
    StoredCheck
        ``violations`` is empty when every check holds.

    Raises
    ------
    InputError
        When ``path`` is not a result folder, a file is missing or unreadable, or the instance cannot be loaded.
    """
    from optimizer.output.export import no_gdal_sidecars

    no_gdal_sidecars()
    folder = result_folder(path)
    summary = read_summary(folder)
    kind = kind_of(summary, folder)
    source = find_instance(folder, summary, instance)
    check = StoredCheck(folder, kind, str(summary.get("instance", "")))
    {"named": _check_named, "matrix": _check_matrix, "chain": _check_chain}[kind](folder, summary, source, check)
    return check


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ABS_TOL + REL_TOL * max(abs(a), abs(b))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _hash_note(check: StoredCheck, recorded: object, current: str) -> None:
    check.checks.append("instance hash")
    if recorded != current:
        check.notes.append(f"the instance has changed since this result was written (hash {str(recorded)[:12]} then, "
                           f"{current[:12]} now): the result is checked against the instance as it is now")


def _check_gap(summary: dict, objective: float, check: StoredCheck) -> None:
    bound, gap = _number(summary.get("bound")), _number(summary.get("gap"))
    check.checks.append("summary: status, bound and gap")
    if summary.get("status") not in ("optimal", "feasible"):
        check.violations.append(f"summary.json: status {summary.get('status')!r} is not a solved result")
    if bound is not None and gap is not None:
        want = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
        if abs(want - gap) > 1e-6 + 1e-6 * abs(want):
            check.violations.append(f"summary.json: gap {gap:.6g} does not follow from objective and bound ({want:.6g})")


def _overrides(summary: dict) -> dict[str, str]:
    given = summary.get("overrides")
    if isinstance(given, dict):
        return {str(k): str(v) for k, v in given.items()}
    return {}


# --- named instances ----------------------------------------------------------------------------------------------
def _check_named(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    from optimizer.check.verify import verify_problem, verify_siting
    from optimizer.data.instance import load_instance
    from optimizer.model.formulation import compile_instance
    from optimizer.output.tables import ResultTables
    from optimizer.problem import Solution

    fac, alloc = _read_csv(folder / "facilities.csv"), _read_csv(folder / "allocations.csv")
    inst = load_instance(source, _overrides(summary))
    _hash_note(check, summary.get("instance_hash"), inst.content_hash())
    sp = compile_instance(inst)
    p = sp.problem
    objective = _objective_total(summary, check)

    y = np.zeros(p.n_options, dtype=bool)
    option = pd.Index(p.option_ids).get_indexer(fac["facility_id"])
    for k in np.flatnonzero(option < 0)[:3]:
        check.violations.append(f"facilities.csv: {fac['facility_id'].iloc[k]!r} is not a facility option of the "
                                "instance (site, programme and size)")
    y[option[option >= 0]] = True
    client = pd.Index(p.client_ids).get_indexer(alloc["programme"] + ":" + alloc["demand_id"])
    opt = pd.Index(p.option_ids).get_indexer(alloc["facility_id"])
    for k in np.flatnonzero(client < 0)[:3]:
        check.violations.append(f"allocations.csv: demand unit {alloc['demand_id'].iloc[k]!r} of programme "
                                f"{alloc['programme'].iloc[k]!r} is not in the instance")
    known = (client >= 0) & (opt >= 0)
    cost, km, allowed = _pair_costs(sp, client[known], opt[known])
    rows = np.flatnonzero(known)
    for k in rows[~allowed][:3]:
        check.violations.append(f"allocations.csv: {alloc['municipality'].iloc[k]} → {alloc['facility_id'].iloc[k]} is "
                                "not an allowed pair of the instance (assignment rule)")
    share = alloc["share"].to_numpy(float)[rows]
    problem = dataclasses.replace(p, arc_client=client[known].astype(np.int64), arc_option=opt[known].astype(np.int64),
                                  arc_cost=np.where(allowed, cost, 0.0), arc_km=km)
    bound = _number(summary.get("bound"))
    sol = Solution(open_options=y, arc_share=np.clip(share, -1.0, 2.0), objective=objective,
                   bound=bound if bound is not None else -np.inf, status=str(summary.get("status", "")))
    generic = verify_problem(problem, sol)
    check.checks += [f"stored tables: {c}" for c in generic.checks]
    check.violations += generic.violations
    stored_cost = alloc["cost"].to_numpy(float)[rows]
    bad = np.flatnonzero(allowed & ~np.isclose(stored_cost, cost * share, rtol=1e-6, atol=1e-6))
    for k in bad[:3]:
        r = rows[k]
        check.violations.append(f"allocations.csv row {r + 2}: cost {stored_cost[k]:.6g}, the instance gives "
                                f"{cost[k] * share[k]:.6g} for {alloc['municipality'].iloc[r]} → {alloc['site_id'].iloc[r]}")
    tables = ResultTables(fac, alloc, pd.DataFrame(), pd.DataFrame())
    try:
        domain = verify_siting(sp, sol, tables)
        check.checks += [f"the study's rules: {c}" for c in domain.checks]
        check.violations += domain.violations
    except (KeyError, ValueError, IndexError) as e:  # a table edited out of shape: ids the rules cannot look up
        check.violations.append(f"the stored tables do not fit the instance ({type(e).__name__}: {str(e)[:80]})")
    _check_named_summary(summary, fac, alloc, check)
    _check_gpkg(folder, {"facilities": fac, "allocations": alloc}, summary, check)
    _check_gap(summary, objective, check)


def _objective_total(summary: dict, check: StoredCheck) -> float:
    obj = summary.get("objective")
    total = _number(obj.get("total")) if isinstance(obj, dict) else _number(obj)
    if total is None:
        total = _number(summary.get("objective_eur_per_yr"))
    if total is None:
        check.violations.append("summary.json: no objective recorded")
        return float("nan")
    return total


def _pair_costs(sp, client: np.ndarray, option: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """Cost, km and whether allowed, of each (client, option) pair, from the compiled instance: its arcs, or for a
    sparsified instance the arc source (every allowed pair, not just the k nearest)."""
    p = sp.problem
    if sp.arc_source is None:
        lookup = pd.Series(np.arange(p.n_arcs), index=p.arc_client.astype(np.int64) * p.n_options + p.arc_option)
        lookup = lookup[~lookup.index.duplicated()]
        arc = lookup.reindex(client.astype(np.int64) * p.n_options + option).to_numpy()
        allowed = ~np.isnan(arc)
        a = np.where(allowed, arc, 0).astype(np.int64)
        km = p.arc_km[a] if p.arc_km is not None else np.full(len(a), np.nan)
        return np.where(allowed, p.arc_cost[a], np.nan), np.where(allowed, km, np.nan), allowed
    src = sp.arc_source
    allowed = src.client_group[client] == src.option_group[option]
    d = np.hypot(*(src.client_xy[client] - src.option_xy[option]).T) / 1000.0
    km = src.road_km(d, client)
    return src.cost_per_km[client] * km, km, allowed


def _check_named_summary(summary: dict, fac: pd.DataFrame, alloc: pd.DataFrame, check: StoredCheck) -> None:
    check.checks.append("summary: land take and counts per programme against the tables")
    land = float(fac["area_m2"].sum()) / 10_000.0
    stated = _number(summary.get("land_take_ha"))
    if stated is not None and not _close(stated, land):
        check.violations.append(f"summary.json: land take {stated:.4f} ha, the facilities take {land:.4f} ha")
    for pid, p in (summary.get("programmes") or {}).items():
        f = fac[fac["programme"] == pid]
        if isinstance(p, dict) and p.get("facilities") is not None and int(p["facilities"]) != len(f):
            check.violations.append(f"summary.json: {pid} has {p['facilities']} facilities, facilities.csv lists {len(f)}")
    tkm = _number(summary.get("transport_tkm_per_yr"))
    if tkm is not None and "tkm" in alloc and not _close(tkm, float(alloc["tkm"].sum())):
        check.violations.append(f"summary.json: transport {tkm:,.2f} t·km/yr, the allocations sum to "
                                f"{float(alloc['tkm'].sum()):,.2f}")


# --- GeoPackage against CSV ---------------------------------------------------------------------------------------
def _check_gpkg(folder: Path, tables: dict[str, pd.DataFrame], summary: dict, check: StoredCheck) -> None:
    """Every layer of ``result.gpkg`` that has a CSV copy holds the same rows, values and points."""
    import pyogrio

    gpkg = folder / GPKG_NAME
    if not gpkg.is_file():
        check.violations.append(f"{GPKG_NAME} is missing")
        return
    try:
        layers = {str(n) for n, _ in pyogrio.list_layers(gpkg)}
    except Exception as e:  # noqa: BLE001 - an unreadable GeoPackage is a finding, not a crash
        check.violations.append(f"{GPKG_NAME} cannot be read ({str(e)[:80]})")
        return
    for layer, csv in tables.items():
        check.checks.append(f"{GPKG_NAME} layer {layer} equals {layer}.csv")
        if layer not in layers:
            check.violations.append(f"{GPKG_NAME} has no layer {layer!r}")
            continue
        gdf = _read_layer(gpkg, layer)
        if gdf.crs is not None and gdf.crs.to_epsg() != 31370:
            gdf = gdf.to_crs("EPSG:31370")
        check.violations += _compare_layer(layer, gdf, csv)
    meta = (pyogrio.read_info(gpkg, layer=next(iter(tables))).get("dataset_metadata") or {})
    for key in ("instance_hash", "status"):
        if key in meta and key in summary and str(meta[key]) != str(summary[key]):
            check.violations.append(f"{GPKG_NAME} metadata says {key} {meta[key]!r}, summary.json {summary[key]!r}")
    obj = summary.get("objective")
    total = _number(obj.get("total")) if isinstance(obj, dict) else None
    if "objective" in meta and total is not None and not _close(float(meta["objective"]), total):
        check.violations.append(f"{GPKG_NAME} metadata says objective {meta['objective']}, summary.json {total:.6f}")


def _text(values: pd.Series) -> np.ndarray:
    """Values as text, every spelling of a missing value (written by pandas or the GeoPackage) as ''."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    return text.replace({"nan": "", "None": "", "<NA>": "", "NaN": ""}).to_numpy()


def _compare_layer(layer: str, gdf, csv: pd.DataFrame) -> list[str]:  # noqa: ANN001 - GeoDataFrame
    name = f"{GPKG_NAME} layer {layer} and {layer}.csv"
    if len(gdf) != len(csv):
        return [f"{name} differ: {len(gdf)} rows in the GeoPackage, {len(csv)} in the CSV"]
    out: list[str] = []
    for col in [c for c in csv.columns if c in gdf.columns and c != "geometry"]:
        a, b = gdf[col], csv[col]
        if col in ID_COLUMNS or b.dtype == object:
            diff = np.flatnonzero(_text(a) != _text(b))
        else:
            x, y = pd.to_numeric(a, errors="coerce").to_numpy(float), pd.to_numeric(b, errors="coerce").to_numpy(float)
            diff = np.flatnonzero(~(np.isclose(x, y, rtol=1e-9, atol=1e-9) | (np.isnan(x) & np.isnan(y))))
        if diff.size:
            k = int(diff[0])
            out.append(f"{name} differ in row {k + 2}, column {col}: {str(a.iloc[k])[:40]!r} in the GeoPackage, "
                       f"{str(b.iloc[k])[:40]!r} in the CSV")
    if {"x", "y"} <= set(csv.columns) and len(gdf):
        geom = gdf.geometry
        start = geom.apply(lambda g: g.coords[0] if g is not None and not g.is_empty else (np.nan, np.nan))
        xy = np.array(list(start), dtype=float)
        far = np.flatnonzero(np.hypot(xy[:, 0] - csv["x"].to_numpy(float), xy[:, 1] - csv["y"].to_numpy(float)) > 1.0)
        if far.size:
            out.append(f"{name} differ in row {int(far[0]) + 2}: the geometry lies elsewhere than x/y")
    return out[:5]


# --- matrix instances ---------------------------------------------------------------------------------------------
def _check_matrix(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    import hashlib

    from optimizer.check.verify import verify_problem
    from optimizer.data.matrix_files import load_matrix_instance, matrix_files_read
    from optimizer.problem import Solution

    fac, assign = _read_csv(folder / "facilities.csv"), _read_csv(folder / "assignments.csv")
    problem = load_matrix_instance(source)
    digest = hashlib.sha256()
    for f in matrix_files_read(source):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    _hash_note(check, summary.get("instance_hash"), digest.hexdigest())
    objective = _objective_total(summary, check)
    index = pd.Index(problem.option_ids)
    where = index.get_indexer(fac["facility"])
    for k in np.flatnonzero(where < 0)[:3]:
        check.violations.append(f"facilities.csv: {fac['facility'].iloc[k]!r} is not a facility of the instance")
    opened = fac["open"].astype(str).str.strip().str.lower().isin(["true", "1", "yes"]).to_numpy()
    y = np.zeros(problem.n_options, dtype=bool)
    y[where[(where >= 0) & opened]] = True
    client = pd.Index(problem.client_ids).get_indexer(assign["client"])
    opt = index.get_indexer(assign["facility"])
    lookup = pd.Series(np.arange(problem.n_arcs), index=problem.arc_client.astype(np.int64) * problem.n_options
                       + problem.arc_option)
    arc = lookup.reindex(client.astype(np.int64) * problem.n_options + opt).to_numpy()
    x = np.zeros(problem.n_arcs)
    for k in np.flatnonzero(np.isnan(arc) | (client < 0) | (opt < 0))[:3]:
        check.violations.append(f"assignments.csv row {k + 2}: {assign['client'].iloc[k]!r} → "
                                f"{assign['facility'].iloc[k]!r} is not an allowed pair of the instance")
    ok = ~np.isnan(arc) & (client >= 0) & (opt >= 0)
    a = arc[ok].astype(np.int64)
    share = assign["share"].to_numpy(float)[ok]
    if len(np.unique(a)) != len(a):
        check.violations.append("assignments.csv lists a client-facility pair twice")
    np.add.at(x, a, share)
    stored = assign["cost"].to_numpy(float)[ok]
    for k in np.flatnonzero(~np.isclose(stored, problem.arc_cost[a] * share, rtol=1e-6, atol=1e-6))[:3]:
        check.violations.append(f"assignments.csv: cost {stored[k]:.6g} for {problem.client_ids[problem.arc_client[a[k]]]}"
                                f", the instance gives {problem.arc_cost[a[k]] * share[k]:.6g}")
    bound = _number(summary.get("bound"))
    sol = Solution(open_options=y, arc_share=x, objective=objective, bound=bound if bound is not None else -np.inf,
                   status=str(summary.get("status", "")))
    report = verify_problem(problem, sol)
    check.checks += [f"stored tables: {c}" for c in report.checks]
    check.violations += report.violations
    stated = summary.get("open_facilities")
    if stated is not None and int(stated) != int(y.sum()):
        check.violations.append(f"summary.json: {stated} open facilities, facilities.csv opens {int(y.sum())}")
    _check_gap(summary, objective, check)


# --- chain instances ----------------------------------------------------------------------------------------------
def _check_chain(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    from optimizer.check.chain import verify_chain
    from optimizer.data.instance import load_instance
    from optimizer.model.chain import ChainSolution
    from optimizer.model.chain_compile import compile_chain

    fac, flows = _read_csv(folder / "facilities.csv"), _read_csv(folder / "flows.csv")
    overrides = _overrides(summary) or {k: str(v) for k, v in (summary.get("parameters") or {}).items()}
    inst = load_instance(source, overrides)
    _hash_note(check, summary.get("instance_hash"), inst.content_hash())
    cc = compile_chain(inst)
    p = cc.problem
    objective = _objective_total(summary, check)
    ids = pd.Index(p.fac_ids)
    where = ids.get_indexer(fac["facility_id"])
    for k in np.flatnonzero(where < 0)[:3]:
        check.violations.append(f"facilities.csv: {fac['facility_id'].iloc[k]!r} is not a facility of the instance")
    y = np.zeros(p.n_fac, dtype=bool)
    y[where[where >= 0]] = True
    names = {"collect": cc.clients["name"].astype(str).to_numpy(), "import": np.asarray(p.gw_ids, dtype=str),
             "link": np.asarray(p.fac_ids, dtype=str)}
    keys = pd.Index([f"{kind}\x1f{names[kind][i]}\x1f{p.fac_ids[j]}"
                     for kind, i, j in zip(p.arc_kind, p.arc_from, p.arc_to)])
    arc = keys.get_indexer(flows["kind"] + "\x1f" + flows["from"] + "\x1f" + flows["to"])
    for k in np.flatnonzero(arc < 0)[:3]:
        check.violations.append(f"flows.csv row {k + 2}: {flows['kind'].iloc[k]} flow {flows['from'].iloc[k]!r} → "
                                f"{flows['to'].iloc[k]!r} is not an arc of the instance")
    ok = arc >= 0
    f = np.zeros(p.n_arcs)
    np.add.at(f, arc[ok], flows["tonnes"].to_numpy(float)[ok])
    for col, values in (("km", p.arc_km), ("eur_per_t", p.arc_cost_per_t)):
        bad = np.flatnonzero(~np.isclose(flows[col].to_numpy(float)[ok], values[arc[ok]], rtol=1e-6, atol=1e-6))
        for k in bad[:2]:
            check.violations.append(f"flows.csv: {col} of {flows['from'].to_numpy()[ok][k]} → "
                                    f"{flows['to'].to_numpy()[ok][k]} differs from the instance")
    bound = _number(summary.get("bound"))
    sol = ChainSolution(open_fac=y, flow_t=f, objective=objective, bound=bound if bound is not None else -np.inf,
                        status=str(summary.get("status", "")))
    check.checks += [f"stored tables: {c}" for c in ("supply", "imports", "capacity", "yields", "echelon order",
                                                        "existing open", "new counts", "free land",
                                                        "arc costs from coordinates", "objective")]
    check.violations += verify_chain(p, sol, cc.coords, cc.costs)
    transport = _number(summary.get("transport_eur_per_yr"))
    if transport is not None and not _close(transport, float((flows["tonnes"] * flows["eur_per_t"]).sum())):
        check.violations.append(f"summary.json: transport {transport:,.2f} EUR/yr, the flows cost "
                                f"{float((flows['tonnes'] * flows['eur_per_t']).sum()):,.2f}")
    _check_gpkg(folder, {"facilities": fac, "flows": flows}, summary, check)
    _check_gap(summary, objective, check)


def require_verified(path: str | Path, what: str, *, allow_unverified: bool = False) -> StoredCheck:
    """Verify a stored result before a command reads it: refuse a failing one (exit 5) unless allowed.

    A result whose instance cannot be found (an older result of a manifest that moved) cannot be verified: it is
    refused too (exit 2, saying so), or with ``allow_unverified`` read and marked unverified.
    """
    try:
        check = verify_stored(path)
    except InputError as e:
        if e.field != "instance":
            raise
        if not allow_unverified:
            raise InputError(f"{e.message}; or pass --allow-unverified to {what} it marked UNVERIFIED", file=e.file,
                             field=e.field) from None
        summary = read_summary(result_folder(path))
        return StoredCheck(result_folder(path), kind_of(summary, result_folder(path)), str(summary.get("instance")),
                           violations=[f"not verified: {e.message}"])
    if check.violations and not allow_unverified:
        raise UnverifiedResultError(check, what)
    return check
