"""The stored-result checks of matrix and chain instances (named instances: :mod:`optimizer.check.stored`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.check.stored_common import (
    StoredCheck,
    check_copies,
    check_gap,
    close,
    hash_note,
    number,
    objective_total,
    read_table,
    recorded_overrides,
)

def check_matrix(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    import hashlib

    from types import SimpleNamespace

    from optimizer.check.verify import verify_problem
    from optimizer.check.verify_coverage import verify_coverage
    from optimizer.data.matrix_files import load_matrix_instance, matrix_files_read
    from optimizer.model.plan import matrix_groups
    from optimizer.problem import Solution

    fac, assign = read_table(folder / "facilities.csv"), read_table(folder / "assignments.csv")
    problem = load_matrix_instance(source)
    digest = hashlib.sha256()
    for f in matrix_files_read(source):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    hash_note(check, summary.get("instance_hash"), digest.hexdigest())
    objective = objective_total(summary, check)
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
    bound = number(summary.get("bound"))
    sol = Solution(open_options=y, arc_share=x, objective=objective, bound=bound if bound is not None else -np.inf,
                   status=str(summary.get("status", "")))
    group = matrix_groups(problem)[0]
    if group.spec is None:
        report = verify_problem(problem, sol)
    else:  # a coverage model (docs/matrix-format.md): its own objective, coverage recomputed from the open set
        clients = folder / "clients.csv"
        frame = read_table(clients) if clients.is_file() else None
        covered = (frame["covered"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
                   if frame is not None and "covered" in frame and len(frame) == problem.n_clients else None)
        claimed = SimpleNamespace(open_options=y, arc_share=x, objective=objective, bound=sol.bound,
                                  **({"covered": covered} if covered is not None else {}))
        report = verify_coverage(problem, group.spec, claimed)
    check.checks += [f"stored tables: {c}" for c in report.checks]
    check.violations += report.violations
    stated = summary.get("open_facilities")
    if stated is not None and int(stated) != int(y.sum()):
        check.violations.append(f"summary.json: {stated} open facilities, facilities.csv opens {int(y.sum())}")
    check_gap(summary, objective, check)


def check_chain(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    from optimizer.check.chain import chain_routes, verify_chain
    from optimizer.data.instance import load_instance
    from optimizer.model.chain_compile import compile_chain

    fac, flows = read_table(folder / "facilities.csv"), read_table(folder / "flows.csv")
    overrides = recorded_overrides(summary) or {k: str(v) for k, v in (summary.get("parameters") or {}).items()}
    inst = load_instance(source, overrides)
    hash_note(check, summary.get("instance_hash"), inst.content_hash())
    cc = compile_chain(inst)
    objective = objective_total(summary, check)
    bound = number(summary.get("bound"))
    sol = stored_chain_solution(cc, inst, fac, flows, check, objective, bound if bound is not None else -np.inf,
                                str(summary.get("status", "")))
    check.checks += [f"stored tables: {c}" for c in ("supply", "imports", "capacity", "yields per stream",
                                                        "echelon order", "existing open", "new counts", "free land",
                                                        "arc costs from each route's km per mode (networks)",
                                                        "routes: allowed modes, mode changes, not shorter than the "
                                                        "straight line", "objective")]
    check.violations += verify_chain(cc.problem, sol, cc.coords, routes=chain_routes(cc, inst, sol.flow_t))
    transport = number(summary.get("transport_eur_per_yr"))
    if transport is not None and not close(transport, float((flows["tonnes"] * flows["eur_per_t"]).sum())):
        check.violations.append(f"summary.json: transport {transport:,.2f} EUR/yr, the flows cost "
                                f"{float((flows['tonnes'] * flows['eur_per_t']).sum()):,.2f}")
    check_copies(folder, {"facilities": fac, "flows": flows}, summary, check)
    check_gap(summary, objective, check)


def stored_chain_solution(cc, inst, fac: pd.DataFrame, flows: pd.DataFrame, check: StoredCheck,  # noqa: ANN001
                          objective: float, bound: float, status: str):  # noqa: ANN201 - ChainSolution
    """The stored facilities and flows as a solution of the compiled chain ``cc``: ids the chain does not know are
    recorded in ``check``, and so is every stored km (in all and per mode), transhipment count and cost per tonne
    that differs from the route the instance gives the arc on the networks."""
    from optimizer.check.chain import chain_routes
    from optimizer.model.chain import ChainSolution, stream_names

    p = cc.problem
    where = pd.Index(p.fac_ids).get_indexer(fac["facility_id"])
    for k in np.flatnonzero(where < 0)[:3]:
        check.violations.append(f"facilities.csv: {fac['facility_id'].iloc[k]!r} is not a facility of the instance")
    y = np.zeros(p.n_fac, dtype=bool)
    y[where[where >= 0]] = True
    names = {"collect": cc.clients["name"].astype(str).to_numpy(), "import": np.asarray(p.gw_ids, dtype=str),
             "link": np.asarray(p.fac_ids, dtype=str)}
    # an arc is its kind, ends and stream (sorting → mechanical → chemical arcs exist once per stream)
    stream = stream_names(p, p.arc_streams)
    keys = pd.Index([f"{kind}\x1f{names[kind][i]}\x1f{p.fac_ids[j]}\x1f{s}"
                     for kind, i, j, s in zip(p.arc_kind, p.arc_from, p.arc_to, stream)])
    stored_stream = flows["stream"].astype(str) if "stream" in flows else pd.Series(stream[0], index=flows.index)
    arc = keys.get_indexer(flows["kind"] + "\x1f" + flows["from"] + "\x1f" + flows["to"] + "\x1f" + stored_stream)
    for k in np.flatnonzero(arc < 0)[:3]:
        check.violations.append(f"flows.csv row {k + 2}: {flows['kind'].iloc[k]} flow {flows['from'].iloc[k]!r} → "
                                f"{flows['to'].iloc[k]!r} is not an arc of the instance")
    ok = arc >= 0
    f = np.zeros(p.n_arcs)
    np.add.at(f, arc[ok], flows["tonnes"].to_numpy(float)[ok])
    split = chain_routes(cc, inst, f)["split"]  # km per mode of every stored flow's route, on the networks
    split = np.where(np.isnan(split), 0.0, split)
    stored = {"km": split[:, :3].sum(axis=1), "eur_per_t": p.arc_cost_per_t,
              **{c: split[:, i] for i, c in enumerate(("road_km", "water_km", "rail_km", "transhipments"))}}
    for col, values in stored.items():
        if col not in flows:
            continue
        bad = np.flatnonzero(~np.isclose(flows[col].to_numpy(float)[ok], values[arc[ok]], rtol=1e-6, atol=1e-6))
        for k in bad[:2]:
            check.violations.append(f"flows.csv: {col} of {flows['from'].to_numpy()[ok][k]} → "
                                    f"{flows['to'].to_numpy()[ok][k]} differs from the instance's route")
    return ChainSolution(open_fac=y, flow_t=f, objective=objective, bound=bound, status=status)
