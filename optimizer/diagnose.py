"""Explain infeasibility in the instance's terms: which region, which programme, which rule.

:func:`presolve_checks` runs cheap counting checks before the solver starts; they name the arrondissement and the
rule that cannot be met. When the solver still proves infeasibility, :func:`explain_infeasible` reports the
checks that come closest and tells which parameters relax the model.
"""

from __future__ import annotations

import numpy as np

from optimizer.formulation import SitingProblem


class InfeasibleError(Exception):
    """The instance has no solution; ``reasons`` are planner-readable sentences."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


def presolve_checks(sp: SitingProblem) -> list[str]:
    """Reasons why ``sp`` cannot be solved, found without the solver (empty list: none found)."""
    p, options, clients = sp.problem, sp.options, sp.clients
    inst = sp.instance
    reasons: list[str] = []
    counts = p.counts.matrix.tocsr()
    for r, name in enumerate(p.counts.names):
        members = counts.indices[counts.indptr[r] : counts.indptr[r + 1]]
        if len(members) < p.counts.lower[r]:
            reasons.append(
                f"{name}: only {len(members)} eligible candidate site(s) — no site in that region meets the zone type, "
                f"access rule ({inst.parameters['access_rules']}) and free-land requirements"
            )
    served = np.bincount(p.arc_client, minlength=p.n_clients)
    for i in np.flatnonzero(served == 0)[:5]:
        c = clients.iloc[i]
        reasons.append(f"{c['programme']}: municipality {c['name']} ({c['nis']}) cannot reach any eligible site")
    if inst.parameters["enforce_capacity"]:
        for prog in inst.programmes:
            opts = options[options["programme"] == prog.id]
            dem = clients[clients["programme"] == prog.id].groupby("region")["demand_t"].sum()
            assignment = prog.assignment if inst.parameters["assignment"] == "programme" else inst.parameters["assignment"]
            per = prog.per_region if prog.per_region is not None else prog.total_count
            if assignment == "own_region" and per is not None:
                best = opts.groupby("region")["capacity_t"].apply(lambda c: np.sort(c.to_numpy())[::-1][:per].sum())
                for region, need in dem.items():
                    have = float(best.get(region, 0.0))
                    if need > have + 1e-6:
                        reasons.append(
                            f"{prog.id}: {prog.region} {region!r} needs {need:,.0f} t/yr but {per} facility(ies) of the "
                            f"allowed size handle at most {have:,.0f} t/yr (capacity assumption "
                            f"{prog.capacity_per_m2}); try --set size_rule=free or enforce_capacity=false"
                        )
    land_need = options.groupby("site")["area_m2"].min()
    free = p.site_free_m2[land_need.index.to_numpy()]
    if len(land_need) and (land_need.to_numpy() > free).all():
        reasons.append("no candidate site has enough free land for any facility")
    return reasons


def explain_infeasible(sp: SitingProblem) -> list[str]:
    """Planner-readable explanation after the solver proved infeasibility."""
    reasons = presolve_checks(sp)
    if reasons:
        return reasons
    return [
        "the solver proved that the rules cannot all hold together (no single region or site check fails on its own): "
        "the shared free land or capacities conflict. Relax with --set enforce_capacity=false, size_rule=free, "
        "assignment=any or access_rules=loose and compare."
    ]
