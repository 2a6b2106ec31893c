"""Readers for the published facility-location benchmark libraries and their optimum tables.

The data live outside the repository, in ``../shared/benchmarks`` relative to the project root (override with
``$SITING_BENCHMARKS_DIR``, :func:`optimizer.settings.benchmarks_dir`); each folder's ``SOURCE.txt`` documents
origin, format and pitfalls. Every reader returns a :class:`~optimizer.problem.LocationProblem` (through
:func:`optimizer.data.matrix.matrix_problem`), so the
benchmarks exercise exactly the path a user's matrix instance takes. Known optima are read from the *original*
optimum tables (``capopt.txt``, ``pmedopt.txt``, ``os``, …), not re-typed.

Pitfalls honoured (see the ``SOURCE.txt`` files):

* OR-Library ``cap*``: each customer's costs are the cost of allocating *all* its demand (our ``arc_cost``
  convention); ``capa/capb/capc`` carry the literal word ``capacity`` that a variant replaces (capa8000 …).
* OR-Library ``pmed*``: undirected edge lists; a repeated edge overwrites the earlier one (the *last* occurrence
  wins, not the minimum), then all-pairs shortest paths give the vertex-to-vertex cost.
* Holmberg (and the single-source OR set): costs are given facility-major; files are truncated at the first NUL
  byte before tokenising (37 upstream files carry NUL padding, p47 junk tokens after it).
* UflLib: facility rows ``index open_cost c_1 … c_m``; the M* files use the OR-Library layout with capacities
  ignored; ``.bub`` values are best known upper bounds, not proven optima.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse import csgraph

from optimizer.data.matrix import matrix_problem
from optimizer.errors import InputError
from optimizer.problem import LocationProblem
from optimizer.settings import BENCHMARKS_DIR_ENV, benchmarks_dir
CAPABC_CAPACITIES = {
    "capa": (8000, 10000, 12000, 14000),
    "capb": (5000, 6000, 7000, 8000),
    "capc": (5000, 5750, 6500, 7250),
}


def benchmarks_available() -> bool:
    """Whether the benchmark folder exists (tests and the harness skip cleanly otherwise)."""
    return (benchmarks_dir() / "INDEX.txt").is_file()


@dataclass(frozen=True)
class BenchmarkCase:
    """One benchmark instance, loaded lazily.

    Attributes
    ----------
    set_name
        Set it belongs to (``orlib-cflp``, ``pmed``, …).
    name
        Instance name as in the optimum table (``cap41``, ``capa8000``, ``pmed1``, ``p1``, …).
    path
        Data file.
    known
        Published value (``None`` if none); ``known_kind`` says whether it is a proven ``optimal`` value or a
        best known ``upper_bound``.
    problem_kind
        ``cflp``, ``sscflp``, ``uflp`` or ``pmedian`` (selects the baselines that apply).
    """

    set_name: str
    name: str
    path: Path
    known: float | None
    known_kind: str
    problem_kind: str
    reader: Callable[[], LocationProblem]

    def load(self) -> LocationProblem:
        """Read and build the problem (not cached: the big instances are read only when solved)."""
        return self.reader()


# ----------------------------------------------------------------------------------------------------------------
# Tokenising
# ----------------------------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:  # Holmberg files: NUL padding (and, in p47, junk) after the data
        raw = raw[:nul]
    return raw.decode("latin-1")


def _numbers(tokens: list[str], path: Path, what: str) -> np.ndarray:
    try:
        return np.array(tokens, dtype=float)
    except ValueError as e:
        msg = f"non-numeric token in the {what}: {e}"
        raise InputError(msg, file=path) from e


def _tokens(path: Path, header: int) -> list[str]:
    """The whitespace-separated tokens of a benchmark file; ``empty file`` when it lacks its ``header`` counts."""
    tokens = _read_text(path).split()
    if len(tokens) < header:
        msg = "empty file"
        raise InputError(msg, file=path)
    return tokens


def _expect(tokens: list[str], count: int, path: Path, layout: str) -> None:
    if len(tokens) != count:
        msg = f"{len(tokens)} tokens, expected exactly {count} for {layout}"
        raise InputError(msg, file=path)


# ----------------------------------------------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------------------------------------------


def read_orlib_cap(
    path: str | os.PathLike[str],
    *,
    capacity: float | None = None,
    uncapacitated: bool = False,
    single_source: bool = False,
    name: str | None = None,
) -> LocationProblem:
    """Read an OR-Library capacitated warehouse file (Beasley ``capinfo`` format, also the UflLib M* files).

    Layout: ``m n``; m lines ``capacity fixed_cost``; per customer ``demand`` then m costs, wrapped over lines.
    Each cost is that of allocating the customer's *whole* demand to the warehouse.

    Parameters
    ----------
    path
        The ``cap*.txt`` file.
    capacity
        Value substituted for the literal word ``capacity`` (capa/capb/capc templates; required for them unless
        ``uncapacitated``).
    uncapacitated
        Ignore the capacity column (OR-Library UFLP, UflLib M*).
    single_source
        Build the single-source variant.
    name
        Problem name (default: file stem, plus the capacity for a template).

    Returns
    -------
    LocationProblem
        Multi-source CFLP (or UFLP) with the file's costs as ``arc_cost``.
    """
    path = Path(path)
    tokens = _tokens(path, 2)
    m, n = int(tokens[0]), int(tokens[1])
    _expect(tokens, 2 + 2 * m + n * (m + 1), path, f"OR-Library cap layout with m={m}, n={n}")
    head = np.array(tokens[2 : 2 + 2 * m], dtype=object).reshape(m, 2)
    cap_tokens = head[:, 0]
    template = cap_tokens == "capacity"
    if uncapacitated:
        caps = np.full(m, np.inf)
    else:
        if template.any() and capacity is None:
            msg = "the capacity column holds the word 'capacity': pass capacity=… (e.g. 8000 for capa8000)"
            raise InputError(msg, file=path, field="capacity")
        caps = np.where(template, "0", cap_tokens)
        caps = _numbers(list(caps), path, "capacities")
        caps[template] = capacity
    fixed = _numbers(list(head[:, 1]), path, "fixed costs")
    body = _numbers(tokens[2 + 2 * m :], path, "customer block").reshape(n, m + 1)
    default = path.stem + ("" if not template.any() or uncapacitated else f"{capacity:g}")
    return matrix_problem(
        body[:, 0], caps, fixed, body[:, 1:], single_source=single_source, name=name or default,
        cost_unit="OR-Library cost",
    )


def read_pmed(path: str | os.PathLike[str], *, name: str | None = None) -> LocationProblem:
    """Read an OR-Library p-median file (``pmedinfo``): a graph whose all-pairs shortest paths are the costs.

    Layout: ``n_vertices n_edges p``; then ``i j cost`` per undirected edge (1-based). As in Beasley's recipe,
    edges are applied in turn, so a repeated edge keeps its *last* cost (not the minimum); then shortest paths.

    Parameters
    ----------
    path
        The ``pmed*.txt`` file.
    name
        Problem name (default: file stem).

    Returns
    -------
    LocationProblem
        Every vertex is a client (demand 1) and a candidate facility (no fixed cost, uncapacitated); exactly p
        facilities open.
    """
    path = Path(path)
    tokens = _tokens(path, 3)
    n, e, p = (int(t) for t in tokens[:3])
    _expect(tokens, 3 + 3 * e, path, f"p-median layout with {e} edges")
    edges = _numbers(tokens[3:], path, "edge list").reshape(e, 3)
    i, j = edges[:, 0].astype(np.int64) - 1, edges[:, 1].astype(np.int64) - 1
    if i.min() < 0 or j.min() < 0 or max(i.max(), j.max()) >= n:
        msg = f"edge endpoint outside 1..{n}"
        raise InputError(msg, file=path)
    graph = pmed_graph(n, i, j, edges[:, 2])
    dist = csgraph.shortest_path(graph, method="D", directed=False)
    return matrix_problem(
        np.ones(n), None, np.zeros(n), dist, p=p, name=name or path.stem, cost_unit="OR-Library cost",
        client_ids=np.arange(1, n + 1), facility_ids=np.arange(1, n + 1),
    )


def pmed_graph(n: int, i: np.ndarray, j: np.ndarray, cost: np.ndarray) -> sp.csr_matrix:
    """Symmetric sparse graph of an edge list where a repeated edge keeps its *last* cost (Beasley's rule).

    ``(i, j)`` and ``(j, i)`` are the same undirected edge. Self-loops are dropped (a vertex serves itself at 0).
    """
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    # last occurrence per key: unique on the reversed arrays returns first occurrences there
    _, first_rev = np.unique(key[::-1], return_index=True)
    keep = len(key) - 1 - first_rev
    keep = keep[lo[keep] != hi[keep]]
    rows = np.concatenate([lo[keep], hi[keep]])
    cols = np.concatenate([hi[keep], lo[keep]])
    vals = np.concatenate([cost[keep], cost[keep]])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def read_holmberg(
    path: str | os.PathLike[str], *, single_source: bool = True, name: str | None = None
) -> LocationProblem:
    """Read a Holmberg-format SSCFLP file (Holmberg et al. 1999; also the single-source OR-Library set).

    Layout: ``m n``; m lines ``capacity fixed_cost``; n demands; then m·n costs **facility-major** (m rows of n
    customer costs). The file is cut at its first NUL byte; the token count must then be exactly
    ``2 + 2m + n + m·n``.

    Parameters
    ----------
    path
        The instance file (``p1`` …).
    single_source
        Each customer served by one facility (the published optima assume it).
    name
        Problem name (default: file name).

    Returns
    -------
    LocationProblem
        Capacitated single-source problem; cost = cost of assigning the customer.
    """
    path = Path(path)
    tokens = _tokens(path, 2)
    m, n = int(tokens[0]), int(tokens[1])
    _expect(tokens, 2 + 2 * m + n + m * n, path, f"Holmberg layout with m={m}, n={n}")
    values = _numbers(tokens[2:], path, "data")
    head = values[: 2 * m].reshape(m, 2)
    demand = values[2 * m : 2 * m + n]
    cost = values[2 * m + n :].reshape(m, n).T  # facility-major in the file
    return matrix_problem(
        demand, head[:, 0], head[:, 1], cost, single_source=single_source, name=name or path.name,
        cost_unit="cost",
    )


def read_ufllib(path: str | os.PathLike[str], *, name: str | None = None) -> LocationProblem:
    """Read a UflLib-format UFLP file (Bilde-Krarup, Galvão-Raggi, Körkel-Ghosh; ``.gz`` allowed).

    Layout: ``FILE: name``; ``n m 0`` (facilities, cities); n lines ``index open_cost c_1 … c_m``.

    Parameters
    ----------
    path
        Instance file.
    name
        Problem name (default: the ``FILE:`` header).

    Returns
    -------
    LocationProblem
        Uncapacitated, demand 1 per city.
    """
    path = Path(path)
    tokens = _read_text(path).split()
    if len(tokens) < 5 or tokens[0] != "FILE:":
        msg = "expected a UflLib header 'FILE: <name>' then 'n m 0'"
        raise InputError(msg, file=path, row=1)
    label = tokens[1]
    n_fac, m_cities = int(tokens[2]), int(tokens[3])
    _expect(tokens, 5 + n_fac * (m_cities + 2), path, f"UflLib layout with {n_fac} facilities, {m_cities} cities")
    block = _numbers(tokens[5:], path, "facility rows").reshape(n_fac, m_cities + 2)
    if not np.array_equal(block[:, 0], np.arange(1, n_fac + 1)):
        msg = "facility rows are not numbered 1..n in order"
        raise InputError(msg, file=path, field="index")
    return matrix_problem(
        np.ones(m_cities), None, block[:, 1], block[:, 2:].T, name=name or label, cost_unit="cost",
    )


# ----------------------------------------------------------------------------------------------------------------
# Optimum tables
# ----------------------------------------------------------------------------------------------------------------


def read_value_table(path: str | os.PathLike[str]) -> dict[str, float]:
    """``name value`` lines (``capopt.txt``, ``capopt_abc.txt``, ``pmedopt.txt``, ``uncapopt.txt``) as a dict.

    A ``.txt`` suffix on the name (``uncapopt.txt``) is dropped.
    """
    out: dict[str, float] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[re.sub(r"\.txt$", "", parts[0])] = float(parts[1])
    return out


def read_os(path: str | os.PathLike[str]) -> list[float]:
    """The ``os`` file of the SSCFLP sets: optimal values of p1, p2, … in order, whitespace separated."""
    return [float(t) for t in Path(path).read_text().split()]


def read_solution_file(path: str | os.PathLike[str]) -> tuple[np.ndarray, float]:
    """A UflLib ``.opt``/``.bub`` file: the facility (0-based) serving each city, then the objective value."""
    tokens = Path(path).read_text().split()
    return np.array(tokens[:-1], dtype=np.int64), float(tokens[-1])


# ----------------------------------------------------------------------------------------------------------------
# Sets
# ----------------------------------------------------------------------------------------------------------------


def _natural(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def _listed_set(folder: Path, table: str, set_name: str, kind: str, reader: Callable[[Path], LocationProblem], *,
                present_only: bool = False) -> list[BenchmarkCase]:
    """A set whose optima a value table lists: one case per ``<name>.txt`` of ``folder``, in natural name order
    (``present_only``: only the files that are there)."""
    known = read_value_table(folder / table)
    return [
        BenchmarkCase(set_name, name, folder / f"{name}.txt", value, "optimal", kind,
                      lambda path=folder / f"{name}.txt": reader(path))
        for name, value in sorted(known.items(), key=lambda kv: _natural(kv[0]))
        if not present_only or (folder / f"{name}.txt").is_file()
    ]


def _orlib_cflp(root: Path) -> list[BenchmarkCase]:
    return _listed_set(root / "orlib-cflp", "capopt.txt", "orlib-cflp", "cflp", read_orlib_cap)


def _orlib_capabc(root: Path) -> list[BenchmarkCase]:
    folder = root / "orlib-cflp"
    known = read_value_table(folder / "capopt_abc.txt")
    cases = []
    for base, capacities in CAPABC_CAPACITIES.items():
        for cap in capacities:
            name = f"{base}{cap}"
            path = folder / f"{base}.txt"
            cases.append(BenchmarkCase("orlib-capabc", name, path, known[name], "optimal", "cflp",
                                       lambda path=path, cap=cap, name=name: read_orlib_cap(path, capacity=cap,
                                                                                             name=name)))
    return cases


def _orlib_uflp(root: Path) -> list[BenchmarkCase]:
    folder = root / "orlib-uflp"
    known = read_value_table(folder / "uncapopt.txt")
    cases = []
    for name, value in known.items():
        path = folder / f"{name}.txt"
        if not path.is_file():  # capa/capb/capc: the CFLP template with its capacity column ignored
            path = root / "orlib-cflp" / f"{name}.txt"
        cases.append(BenchmarkCase("orlib-uflp", name, path, value, "optimal", "uflp",
                                   lambda path=path, name=name: read_orlib_cap(path, uncapacitated=True, name=name)))
    return cases


def _pmed(root: Path) -> list[BenchmarkCase]:
    return _listed_set(root / "orlib-pmed", "pmedopt.txt", "pmed", "pmedian", read_pmed, present_only=True)


def _os_set(root: Path, folder_name: str, set_name: str) -> list[BenchmarkCase]:
    folder = root / folder_name
    values = read_os(folder / "os")
    return [
        BenchmarkCase(set_name, f"p{k}", folder / f"p{k}", value, "optimal", "sscflp",
                      lambda path=folder / f"p{k}", k=k: read_holmberg(path, name=f"p{k}"))
        for k, value in enumerate(values, start=1)
    ]


def _ufllib(root: Path, families: tuple[str, ...], set_name: str) -> list[BenchmarkCase]:
    folder = root / "ufllib"
    table = pd.read_csv(folder / "ufllib_optima.csv", dtype={"instance": str})
    table = table[table["set"].str.split("/").str[0].isin(families)]
    cases = []
    for row in table.itertuples(index=False):
        base = folder / row.set / row.instance
        path = base if base.is_file() else base.with_name(base.name + ".gz")
        if not path.is_file():  # MS1/MT1: only the solution file is in the snapshot
            continue
        kind = "optimal" if row.status == "optimal" else "upper_bound"
        if row.set.startswith("M/"):
            reader = lambda path=path, name=row.instance: read_orlib_cap(path, uncapacitated=True, name=name)  # noqa: E731
        else:
            reader = lambda path=path, name=row.instance: read_ufllib(path, name=name)  # noqa: E731
        cases.append(BenchmarkCase(set_name, row.instance, path, float(row.objective), kind, "uflp", reader))
    return sorted(cases, key=lambda c: _natural(str(c.path.relative_to(folder))))


def benchmark_sets() -> dict[str, list[BenchmarkCase]]:
    """All benchmark sets found under :func:`benchmarks_dir` (empty dict when the folder is absent).

    Returns
    -------
    dict[str, list[BenchmarkCase]]
        ``orlib-cflp`` (cap41–cap134, 37), ``orlib-capabc`` (capa/capb/capc capacity variants, 12),
        ``orlib-uflp`` (15), ``pmed`` (40), ``holmberg`` (SSCFLP p1–p71), ``sscflp-orlib`` (OR-Library cap files
        as single-source, 24), ``ufllib-bk``, ``ufllib-gr``, ``ufllib-kg``, ``ufllib-m``, and ``ci``
        (cap41–cap134, pmed1–5, Holmberg p1–p10).
    """
    root = benchmarks_dir()
    if not (root / "INDEX.txt").is_file():
        return {}
    sets = {
        "orlib-cflp": _orlib_cflp(root),
        "orlib-capabc": _orlib_capabc(root),
        "orlib-uflp": _orlib_uflp(root),
        "pmed": _pmed(root),
        "holmberg": _os_set(root, "sscflp-holmberg", "holmberg"),
        "sscflp-orlib": _os_set(root, "sscflp-orlib-small", "sscflp-orlib"),
        "ufllib-bk": _ufllib(root, ("BildeKrarup",), "ufllib-bk"),
        "ufllib-gr": _ufllib(root, ("GalvaoRaggi",), "ufllib-gr"),
        "ufllib-kg": _ufllib(root, ("KoerkelGhosh-sym",), "ufllib-kg"),
        "ufllib-m": _ufllib(root, ("M",), "ufllib-m"),
    }
    sets["ci"] = sets["orlib-cflp"] + sets["pmed"][:5] + sets["holmberg"][:10]
    return sets


def benchmark_set(set_name: str) -> list[BenchmarkCase]:
    """One set by name; ``a+b`` joins sets. Raises ``KeyError`` listing the known names."""
    sets = benchmark_sets()
    if not sets:
        msg = f"benchmark data not found at {benchmarks_dir()} (set ${BENCHMARKS_DIR_ENV})"
        raise FileNotFoundError(msg)
    cases: list[BenchmarkCase] = []
    for part in set_name.split("+"):
        if part not in sets:
            msg = f"unknown benchmark set {part!r}; known: {', '.join(sorted(sets))}"
            raise KeyError(msg)
        cases += sets[part]
    return cases
