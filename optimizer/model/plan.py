"""Which model solves which part of a problem: the default p-median / CFLP, or a coverage model per programme.

Every programme names its model (``models/*.toml``; ``--set model=...`` for all of them). The programmes of one
instance are separable — each has its own clients, options and count rows, and only the land of a shared site
couples them — so a problem is solved as one :class:`ModelGroup` per distinct model (programmes with the same model
and parameters share a group, and with it their land rows). An instance whose programmes all use the default model
is one group: the whole problem, solved exactly as before the coverage models existed.

Groups with different models may not compete for the land of one site (one MIP cannot weigh shops against tonne-
kilometres): :func:`check_separable` refuses that with a clear message instead of solving it one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.model.coverage import CoverageSpec
from optimizer.problem import CountRows, LocationProblem

DEFAULT_MODEL = "pmedian"


@dataclass(frozen=True)
class ModelGroup:
    """A part of a problem solved by one model.

    Attributes
    ----------
    spec
        The coverage model and its parameters; ``None`` for the default p-median / CFLP.
    programmes
        Programme ids in the group (``()`` for a matrix instance).
    clients, options
        Indices into the problem's clients and options.
    references
        Assumption names behind the spec's figures (``service_km`` → ``s3c_shop_cycle_km``), for the reports.
    """

    spec: CoverageSpec | None
    programmes: tuple[str, ...]
    clients: np.ndarray
    options: np.ndarray
    references: dict[str, str]

    @property
    def model(self) -> str:
        """The model's name: ``pmedian`` or the coverage model."""
        return DEFAULT_MODEL if self.spec is None else self.spec.model

    @property
    def minimises_cost(self) -> bool:
        """Whether the group's objective is the problem's cost (p-median, also with a service distance)."""
        return self.spec is None or self.spec.model == "pmedian_max"


def programme_spec(programme: object) -> CoverageSpec | None:
    """The coverage spec of a resolved :class:`~optimizer.data.programmes.Programme` (``None``: the default model).

    ``p`` becomes a count row of the programme in :func:`optimizer.model.formulation.compile_instance`, so the spec
    carries none.
    """
    if programme.model == DEFAULT_MODEL:
        return None
    return CoverageSpec(programme.model, service_km=programme.service_km, p=None,
                        lscp_objective=programme.lscp_objective, cover_zero_demand=programme.cover_zero_demand,
                        cover=programme.cover)


def siting_groups(programmes: list, clients: pd.DataFrame, options: pd.DataFrame) -> list[ModelGroup]:
    """The groups of a compiled named instance: programmes with equal specs share one."""
    by_spec: dict[CoverageSpec | None, list] = {}
    for prog in programmes:
        by_spec.setdefault(programme_spec(prog), []).append(prog)
    groups = []
    for spec, progs in by_spec.items():
        ids = tuple(p.id for p in progs)
        refs: dict[str, str] = {}
        for p in progs:
            refs.update({k: v for k, v in p.references.items() if k == "service_km"})
        groups.append(ModelGroup(spec, ids, np.flatnonzero(clients["programme"].isin(ids).to_numpy()),
                                 np.flatnonzero(options["programme"].isin(ids).to_numpy()), refs))
    return groups


def matrix_groups(problem: LocationProblem) -> list[ModelGroup]:
    """The one group of a matrix instance: its ``[problem] model`` (``problem.meta["model"]``) over everything."""
    settings = problem.meta.get("model") or {}
    model = settings.get("model", DEFAULT_MODEL)
    spec = None if model == DEFAULT_MODEL else CoverageSpec(
        model, service_km=settings.get("service"), p=None, lscp_objective=settings.get("lscp_objective", "count"),
        cover_zero_demand=bool(settings.get("cover_zero_demand", True)), cover=settings.get("cover", "all"))
    return [ModelGroup(spec, (), np.arange(problem.n_clients), np.arange(problem.n_options), {})]


def is_whole(problem: LocationProblem, groups: list[ModelGroup]) -> bool:
    """Whether one default-model group covers the whole problem (solved as it always was)."""
    return len(groups) == 1 and groups[0].spec is None and len(groups[0].clients) == problem.n_clients


def subproblem(problem: LocationProblem, group: ModelGroup) -> tuple[LocationProblem, np.ndarray]:
    """The part of ``problem`` a group solves, and the problem arc of each of its arcs.

    Clients, options, arcs between them and the count rows over its options; every site is kept (with its full
    free land), so site indices stay those of the problem.
    """
    if len(group.clients) == problem.n_clients and len(group.options) == problem.n_options:
        return problem, np.arange(problem.n_arcs)
    client_new = np.full(problem.n_clients, -1)
    client_new[group.clients] = np.arange(len(group.clients))
    option_new = np.full(problem.n_options, -1)
    option_new[group.options] = np.arange(len(group.options))
    arcs = np.flatnonzero((client_new[problem.arc_client] >= 0) & (option_new[problem.arc_option] >= 0))
    counts = problem.counts
    inside = np.zeros(problem.n_options, bool)
    inside[group.options] = True
    members = counts.matrix.astype(bool)
    rows = np.flatnonzero(np.asarray(members @ inside.astype(float)).ravel() > 0)
    spill = np.asarray(members[rows] @ (~inside).astype(float)).ravel() > 0
    if spill.any():
        msg = f"count row {counts.names[rows[np.flatnonzero(spill)[0]]]!r} spans programmes solved by different models"
        raise InputError(msg, field="model")
    sub_counts = CountRows.from_matrix(counts.matrix[rows][:, group.options].tocsr(), counts.lower[rows],
                                       counts.upper[rows], tuple(counts.names[r] for r in rows))
    required = None if problem.required is None else np.asarray(problem.required, bool)[group.options]
    sub = replace(
        problem,
        client_ids=problem.client_ids[group.clients], demand=problem.demand[group.clients],
        option_ids=problem.option_ids[group.options], option_site=problem.option_site[group.options],
        option_programme=problem.option_programme[group.options], option_size=problem.option_size[group.options],
        capacity=problem.capacity[group.options], fixed_cost=problem.fixed_cost[group.options],
        area_m2=problem.area_m2[group.options],
        arc_client=client_new[problem.arc_client[arcs]], arc_option=option_new[problem.arc_option[arcs]],
        arc_cost=problem.arc_cost[arcs], arc_km=None if problem.arc_km is None else problem.arc_km[arcs],
        counts=sub_counts, required=required,
    )
    return sub, arcs


def check_separable(problem: LocationProblem, groups: list[ModelGroup], site_names: np.ndarray | None = None) -> None:
    """Refuse groups of different models that compete for the free land of one site.

    A site competes when it holds options of two or more groups and its free land cannot take the largest option of
    every programme there at once (one size per programme and site). Raises :class:`InputError` naming the site and
    the programmes.
    """
    if len(groups) < 2:
        return
    free = np.asarray(problem.site_free_m2, float)
    need = np.zeros(len(free))
    groups_at = np.zeros(len(free), int)
    for g in groups:
        sites = problem.option_site[g.options]
        frame = pd.DataFrame({"site": sites, "programme": problem.option_programme[g.options],
                              "area": problem.area_m2[g.options]})
        largest = frame.groupby(["site", "programme"])["area"].max().groupby(level="site").sum()
        need[largest.index.to_numpy()] += largest.to_numpy()
        groups_at[np.unique(sites)] += 1
    clash = np.flatnonzero((groups_at > 1) & np.isfinite(free) & (need > free + 1e-6))
    if clash.size:
        s = int(clash[0])
        progs = sorted({str(problem.option_programme[j]) for j in np.flatnonzero(problem.option_site == s)})
        name = site_names[s] if site_names is not None else problem.site_ids[s]
        msg = (f"programmes {', '.join(progs)} are placed by different models and compete for the free land of "
               f"site {name} ({free[s]:,.0f} m² free, up to {need[s]:,.0f} m² asked); give them the same model "
               "(--set model=...) or separate candidates")
        raise InputError(msg, field="model")
