"""The stored-result checks of matrix and chain instances (named instances: :mod:`optimizer.check.stored`;
multi-period results: :mod:`optimizer.check.stored_periods`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.check.stored_common import (
    StoredCheck,
    check_copies_and_gap,
    check_gap,
    close,
    hash_note,
    load_stored_instance,
    number,
    objective_total,
    read_table,
    recorded_bound,
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
    sol = Solution(open_options=y, arc_share=x, objective=objective, bound=recorded_bound(summary),
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
    check.add_report(report)
    stated = summary.get("open_facilities")
    if stated is not None and int(stated) != int(y.sum()):
        check.violations.append(f"summary.json: {stated} open facilities, facilities.csv opens {int(y.sum())}")
    check_gap(summary, objective, check)


def check_chain(folder: Path, summary: dict, source: str | Path, check: StoredCheck) -> None:
    from optimizer.check.chain import chain_routes, verify_chain
    from optimizer.model.chain_compile import compile_chain

    fac, flows = read_table(folder / "facilities.csv"), read_table(folder / "flows.csv")
    inst = load_stored_instance(summary, source, check, parameters_fallback=True)
    cc = compile_chain(inst)
    objective = objective_total(summary, check)
    bound = number(summary.get("bound"))
    sol = stored_chain_solution(cc, fac, flows, objective, bound, str(summary.get("status", "")), check,
                                instance=inst)
    check.checks += [f"stored tables: {c}" for c in CHAIN_CHECKS]
    check.violations += verify_chain(cc.problem, sol, cc.coords, routes=chain_routes(cc, inst, sol.flow_t))
    transport = number(summary.get("transport_eur_per_yr"))
    if transport is not None and not close(transport, float((flows["tonnes"] * flows["eur_per_t"]).sum())):
        check.violations.append(f"summary.json: transport {transport:,.2f} EUR/yr, the flows cost "
                                f"{float((flows['tonnes'] * flows['eur_per_t']).sum()):,.2f}")
    check_copies_and_gap(folder, {"facilities": fac, "flows": flows}, summary, objective, check)


CHAIN_CHECKS = ("supply", "imports", "capacity", "yields per stream", "echelon order", "existing open", "new counts",
                "free land", "km per mode and cost of every flow's route on the networks",
                "routes: allowed modes, mode changes, not shorter than the straight line", "objective")


def stored_chain_solution(cc, fac: pd.DataFrame, flows: pd.DataFrame, objective: float,  # noqa: ANN001, ANN201
                          bound: float | None, status: str, check: StoredCheck, label: str = "",
                          instance=None):  # noqa: ANN001 - an Instance (the rates of the network routes)
    """The stored facilities and flows of a chain as its compiled arrays (a ``ChainSolution``): facilities and
    flows the instance does not have, and km (in all and per mode), transhipments or EUR/t that differ from the
    route the instance gives the arc on the networks (:func:`optimizer.check.chain.chain_routes`, with
    ``instance``), become violations (``label`` first)."""
    from optimizer.model.chain import ChainSolution
    from optimizer.output.chain import stream_names

    p = cc.problem
    ids = pd.Index(p.fac_ids)
    where = ids.get_indexer(fac["facility_id"])
    for k in np.flatnonzero(where < 0)[:3]:
        check.violations.append(f"{label}facilities.csv: {fac['facility_id'].iloc[k]!r} is not a facility of the "
                                "instance")
    y = np.zeros(p.n_fac, dtype=bool)
    y[where[where >= 0]] = True
    names = {"collect": cc.clients["name"].astype(str).to_numpy(), "import": np.asarray(p.gw_ids, dtype=str),
             "link": np.asarray(p.fac_ids, dtype=str)}
    # an arc is its kind, ends and polymer stream (PS and PO bales travel the same link as two arcs); results
    # written before the streams have no stream column: their arcs are matched on kind and ends
    streams = stream_names(p, p.arc_streams) if "stream" in flows else np.full(p.n_arcs, "")
    keys = pd.Index([f"{kind}\x1f{names[kind][i]}\x1f{p.fac_ids[j]}\x1f{k}"
                     for kind, i, j, k in zip(p.arc_kind, p.arc_from, p.arc_to, streams)])
    first = pd.Series(np.arange(len(keys)), index=keys)
    first = first[~first.index.duplicated()]
    stored = flows["stream"].astype(str) if "stream" in flows else pd.Series("", index=flows.index)
    arc = first.reindex(flows["kind"] + "\x1f" + flows["from"] + "\x1f" + flows["to"] + "\x1f" + stored
                        ).fillna(-1).to_numpy(np.int64)
    for k in np.flatnonzero(arc < 0)[:3]:
        check.violations.append(f"{label}flows.csv row {flows.index[k] + 2}: {flows['kind'].iloc[k]} flow "
                                f"{flows['from'].iloc[k]!r} → {flows['to'].iloc[k]!r} is not an arc of the instance")
    ok = arc >= 0
    f = np.zeros(p.n_arcs)
    np.add.at(f, arc[ok], flows["tonnes"].to_numpy(float)[ok])
    columns = {"km": p.arc_km, "eur_per_t": p.arc_cost_per_t}
    if instance is not None:  # network routes: km per mode of every stored flow, recomputed on the networks
        from optimizer.check.chain import chain_routes

        split = np.nan_to_num(chain_routes(cc, instance, f)["split"])
        columns.update({"km": split[:, :3].sum(axis=1),
                        **{c: split[:, i] for i, c in enumerate(("road_km", "water_km", "rail_km", "transhipments"))}})
    for col, values in columns.items():
        if col not in flows:
            continue
        bad = np.flatnonzero(~np.isclose(flows[col].to_numpy(float)[ok], values[arc[ok]], rtol=1e-6, atol=1e-6))
        for k in bad[:2]:
            check.violations.append(f"{label}flows.csv: {col} of {flows['from'].to_numpy()[ok][k]} → "
                                    f"{flows['to'].to_numpy()[ok][k]} differs from the instance")
    return ChainSolution(open_fac=y, flow_t=f, objective=objective, bound=bound if bound is not None else -np.inf,
                         status=status)
