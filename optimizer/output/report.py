"""A report of one result for a policy maker: self-contained HTML (inline CSS, map embedded) and Markdown.

Read from the folder ``siting solve`` wrote: key figures (t·km, EUR transport, land take per programme,
greenfield share, counts per size), a table per region (arrondissement) with the facility, its size, load,
utilisation, the municipalities it serves and their t·km, the map, solver status and gap, and the named
assumptions with their values, units and basis (``models/*.toml``). The HTML needs no network: no scripts, no
fonts, no stylesheets from elsewhere.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.output.maps import read_boundaries, render_png
from optimizer.output.result import Result, read_result, require_geometry
from optimizer.output.tension import flags_from_summary, tension_lines

BASE_ASSUMPTIONS = ("access_circuity", "cost_road_eur_per_tkm", "intrazonal_distance_factor", "seaport_free_share",
                    "utilisation_floor")
CHAIN_ASSUMPTIONS = ("chain_", "pmd_", "sorting_", "cost_", "transhipment", "link_detour")
CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.sub{color:#666;margin-top:0}.status{display:inline-block;padding:.15em .6em;border-radius:3px;font-weight:bold}
.ok{background:#e5f5e0;color:#006d2c}.warn{background:#fee0d2;color:#a50f15}
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:12em}
.card .v{font-size:1.35em;font-weight:bold}.card .l{color:#555;font-size:.9em}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.6em 0}
th,td{border-bottom:1px solid #e5e5e5;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.over td{background:#fff5eb}.flag{background:#fff5eb;border-left:4px solid #e6550d;padding:.4em .8em}img{max-width:100%;border:1px solid #ddd}
.basis{color:#555;font-size:.85em}details summary{cursor:pointer;color:#225}footer{color:#888;font-size:.8em;margin-top:2em}
"""


@dataclass
class ReportData:
    """Everything the report shows, as plain values and tables (no formatting)."""

    result: Result
    key_figures: list[tuple[str, str, str]]  # (label, value, note)
    programmes: pd.DataFrame
    regions: pd.DataFrame
    assumptions: pd.DataFrame
    greenfield_share: float | None
    tensions: list[str] = field(default_factory=list)  # rule-tension sentences (optimizer.output.tension)
    equity: pd.DataFrame | None = None  # per programme: max, p95, mean km, shares within (optimizer.output.equity)
    models: pd.DataFrame | None = None  # per coverage programme: model, service distance, objective, coverage
    periods: pd.DataFrame | None = None  # one row per period of a multi-period result (docs/periods.md)


def period_view(result: Result) -> tuple[Result, pd.DataFrame | None]:
    """A multi-period result as its last period (map, regions) plus a table per period; others unchanged."""
    s = result.summary
    if not s.get("periods") or "period" not in result.layers.get("facilities", {}):
        return result, None
    last = s.get("programmes_period", s["periods"][-1]["period"])
    layers = {k: (v[v["period"] == last] if k in ("facilities", "allocations") and "period" in v else v)
              for k, v in result.layers.items()}
    rows = [{"period": p["period"], "years": p["years"], "facilities": p["facilities"], "opened": len(p["opened"]),
             "closed": len(p["closed"]), "land_take_ha": p["land_take_ha"],
             "reserve_ha": p.get("land_take_by_kind_ha", {}).get("reserve", 0.0),
             "yearly_cost": p["objective"]["total"], "one_off_eur": p["opening_cost_eur"] + p["closing_cost_eur"]}
            for p in s["periods"]]
    return Result(s, layers, result.folder), pd.DataFrame(rows)


def report_data(result: Result) -> ReportData:
    """Collect the report's figures from a written result (a location instance or a chain; a multi-period one: its
    last period, and a table per period)."""
    result, periods = period_view(result)
    s = result.summary
    chain = result.kind in ("chain", "chain_periods")
    fac = pd.DataFrame(result.layers["facilities"].drop(columns="geometry"))
    alloc = pd.DataFrame(result.allocations.drop(columns="geometry"))
    served = alloc[alloc["nis"].astype(str) != ""] if chain else alloc  # a chain's links serve no municipality
    per_fac = served.groupby("facility_id").agg(municipalities=("municipality", lambda m: ", ".join(sorted(m))),
                                                n_municipalities=("nis", "nunique"))
    tkm = alloc.groupby("facility_id")["tkm"].sum()
    util = fac["utilisation"] if fac["utilisation"].notna().any() else fac.get("utilisation_nominal")  # older results
    regions = pd.DataFrame({
        "programme": fac["programme"], "region": fac["region"], "facility": fac["name"] if chain else fac["site_name"],
        "site_id": fac["site_id"],
        "size": fac["size"], "area_m2": fac["area_m2"], "load_t": fac["load_t"],
        "utilisation": util if util is not None else np.nan,
        "n_municipalities": fac["facility_id"].map(per_fac["n_municipalities"]).fillna(0).astype(int),
        "municipalities": fac["facility_id"].map(per_fac["municipalities"]).fillna(""),
        "tkm": fac["facility_id"].map(tkm).fillna(0.0),
    }).sort_values(["programme", "region"] if not chain else ["programme", "size", "facility"]).reset_index(drop=True)
    programmes = pd.DataFrame([
        {"programme": pid, "facilities": p["facilities"],
         "per_size": ", ".join(f"{v} {k}" for k, v in sorted(p["count_per_size"].items())),
         "land_take_ha": p["land_take_ha"], "tonnes_per_yr": p["tonnes_per_yr"], "tkm_per_yr": p["tkm_per_yr"]}
        for pid, p in s.get("programmes", {}).items()])
    green = _greenfield_share(result)
    eur = s.get("transport_eur_per_yr")
    gap = s.get("gap")
    land = s.get("land_take_ha")
    key = [
        ("transport", f"{s.get('transport_tkm_per_yr') or alloc['tkm'].sum():,.0f} t·km/yr",
         "tonnes × modelled km, all flows"),
        ("transport cost", f"€ {eur:,.0f} /yr" if eur is not None else "n/a", "at the assumed cost per t·km"),
        ("new land take" if chain else "land take",
         f"{land if land is not None else fac['area_m2'].sum() / 1e4:,.1f} ha",
         "new plots (existing sites take none)" if chain else "all programmes"),
        ("greenfield share", f"{100 * green:.0f} %" if green is not None else "n/a",
         "of the land taken" if green is not None else "no greenfield candidates in this instance"),
        ("facilities", f"{len(fac)}", ", ".join(f"{n} {k}" for k, n in fac.groupby("size").size().items())),
        ("solver", f"{s.get('status', '?')}", f"proven gap {100 * gap:.4f} %" if gap is not None else "gap unknown"),
    ]
    if chain:
        t = s.get("tonnes") or {}
        key.insert(3, ("PMD collected", f"{t.get('pmd_collected', 0):,.0f} t/yr",
                       f"imports {t.get('imports', 0):,.0f} t/yr; into chemical {t.get('into_chemical', 0):,.0f} t/yr"))
    tensions = [] if chain else tension_lines(flags_from_summary(s, result.layers["facilities"]))
    return ReportData(result, key, programmes, regions, assumptions_table(s), green, tensions, equity_table(s),
                      models_table(s), periods)

def equity_table(summary: dict) -> pd.DataFrame:
    """The summary's equity figures as one row per programme (empty for a result written before they existed)."""
    eq = summary.get("equity") or {}
    rows = []
    for name, e in (eq.get("by_programme") or {}).items():
        row = {"programme": name, "max_km": e.get("max_km"), "p95_km": e.get("p95_km"), "mean_km": e.get("mean_km"),
               "unserved_share": e.get("unserved_share")}
        row.update({f"within {k} {eq.get('unit', 'km')}": v for k, v in (e.get("share_within") or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def models_table(summary: dict) -> pd.DataFrame:
    """One row per programme placed by a coverage model: model, service distance (and its assumption), objective,
    covered and beyond-reach share (empty when every programme used the default p-median)."""
    rows = []
    for pid, p in (summary.get("programmes") or {}).items():
        m = p.get("model") or {}
        if m.get("name", "pmedian") == "pmedian":
            continue
        total = (m.get("covered_demand") or 0.0) / m["covered_share"] if m.get("covered_share") else None
        rows.append({"programme": pid, "model": m["name"], "service_km": m.get("service_km"),
                     "assumption": m.get("service_assumption") or "", "objective": m.get("objective"),
                     "unit": m.get("objective_unit", ""), "status": m.get("status", ""),
                     "covered_share": m.get("covered_share"),
                     "beyond_reach_share": (m.get("beyond_reach_demand") or 0.0) / total if total else None})
    return pd.DataFrame(rows)


def _share(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * float(value):.1f} %"


def _num(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{float(value):,.{digits}f}"


def _equity_rows(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and text rows of the equity table (shares in %, distances with two decimals)."""
    within = [c for c in frame.columns if c.startswith("within ")]
    header = ["programme", "max", "p95", "mean", *within, "unserved"]
    rows = [[r["programme"], _num(r["max_km"]), _num(r["p95_km"]), _num(r["mean_km"]),
             *(_share(r[c]) for c in within), _share(r["unserved_share"])] for _, r in frame.iterrows()]
    return header, rows


def _model_rows(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["programme", "model", "service distance", "objective", "status", "covered", "beyond reach"]
    rows = [[r["programme"], r["model"],
             ("—" if r["service_km"] is None or pd.isna(r["service_km"]) else f"{r['service_km']:g} km")
             + (f" ({r['assumption']})" if r["assumption"] else ""),
             f"{_num(r['objective'], 0 if r['unit'] == 'facilities' else 2)} {r['unit']}", r["status"],
             _share(r["covered_share"]), _share(r["beyond_reach_share"])] for _, r in frame.iterrows()]
    return header, rows


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _html_models_equity(data: ReportData) -> str:
    """The Models and Equity sections of the HTML report (empty strings for results without them)."""
    out = ""
    if data.models is not None and not data.models.empty:
        out += ("<h2>Coverage models</h2><p>Programmes placed by a coverage model (docs/programmes.md, 'Models'): the "
                "service distance is a named assumption; the objective is the model's own.</p>"
                + _html_table(*_model_rows(data.models)))
    if data.equity is not None and not data.equity.empty:
        out += ("<h2>Equity</h2><p>Distance from each demand unit to the facility that serves it, weighted by its "
                "demand: the largest, the 95th percentile, the mean, and the share of demand within each "
                "distance.</p>" + _html_table(*_equity_rows(data.equity)))
    return out


def _md_models_equity(data: ReportData) -> list[str]:
    out: list[str] = []
    if data.models is not None and not data.models.empty:
        out += ["## Coverage models", "", _md_table(*_model_rows(data.models)), ""]
    if data.equity is not None and not data.equity.empty:
        out += ["## Equity", "", "Distance from each demand unit to the facility that serves it, demand-weighted.", "",
                _md_table(*_equity_rows(data.equity)), ""]
    return out


def _greenfield_share(result: Result) -> float | None:
    """Share of the land taken on greenfield candidates, when the instance marks any candidate as greenfield."""
    fac, cand = result.layers["facilities"], result.layers.get("candidates")
    taken = fac["area_m2"].to_numpy(float)
    if "greenfield" in fac:
        green = fac["greenfield"].astype(str).str.lower().isin(["true", "1", "yes"]).to_numpy()
    elif cand is not None and "greenfield" in cand:
        flag = cand.set_index("site_id")["greenfield"].astype(str).str.lower().isin(["true", "1", "yes"])
        green = fac["site_id"].map(flag).fillna(False).to_numpy(bool)
    else:
        return None
    return float(taken[green].sum() / taken.sum()) if taken.sum() > 0 else None


def assumptions_table(summary: dict) -> pd.DataFrame:
    """The named assumptions of the run: value and unit as recorded in the summary, basis from ``models/*.toml``.

    Returns
    -------
    DataFrame
        Columns name, value, unit, basis, used (the programmes and transport refer to it), overridden.
    """
    from optimizer.errors import InputError
    from optimizer.data.programmes import load_assumptions, load_programme

    from optimizer.output.summary import kind_of

    defined = load_assumptions()
    used = set(BASE_ASSUMPTIONS)
    if kind_of(summary) == "chain":  # the chain's flows, yields, costs and gateway volumes
        used |= {k for k in defined if k.startswith(CHAIN_ASSUMPTIONS)}
    for pid, entry in summary.get("programmes", {}).items():
        used |= {(entry.get("model") or {}).get("service_assumption")} - {None}  # a coverage model's distance
        try:
            prog = load_programme(pid)
        except InputError:
            continue
        used |= {a for a in (prog.demand_per_inhabitant, prog.capacity_per_m2) if a}
        used |= {a for a in (prog.per_region, prog.total_count, prog.p) if isinstance(a, str)}
    recorded = summary.get("assumptions") or {k: {"value": a.value, "unit": a.unit} for k, a in defined.items()}
    overrides = summary.get("overrides", {})
    rows = []
    for name, rec in sorted(recorded.items()):
        a = defined.get(name)
        rec = rec if isinstance(rec, dict) else {"value": rec}  # summaries before the schema kept bare values
        rows.append({"name": name, "value": rec.get("value"), "unit": rec.get("unit", a.unit if a else ""),
                     "basis": a.basis if a else "(not defined in models/ of this version)",
                     "used": name in used, "overridden": f"assumption.{name}" in overrides})
    return pd.DataFrame(rows, columns=["name", "value", "unit", "basis", "used", "overridden"])


# ---------------------------------------------------------------------------------------------------------------
# HTML and Markdown
# ---------------------------------------------------------------------------------------------------------------
def _esc(value: object) -> str:
    return html.escape(str(value))


def _fmt_util(u: float) -> str:
    return "" if not np.isfinite(u) else f"{100 * u:.0f} %"


def _png_bytes(result: Result, boundaries=None, banner: str | None = None) -> bytes:
    """The default map, drawn afresh (a map.png left in the folder may belong to an earlier run)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return render_png(result, Path(tmp) / "map.png", boundaries=boundaries, banner=banner).read_bytes()


UNVERIFIED_BANNER = "UNVERIFIED — this result fails the independent check (siting verify)"


def run_parameters(summary: dict) -> dict:
    """The run's parameters as used: the solver's time limit, gap and threads from ``solve_options`` (a
    ``--time-limit`` given on the command line), not the manifest's defaults."""
    params = dict(summary.get("parameters", {}))
    used = summary.get("solve_options") or {}
    for key, option in (("time_limit_s", "time_limit_s"), ("mip_gap", "mip_gap"), ("threads", "threads")):
        if used.get(option) is not None:
            params[key] = used[option]
    return params


def to_html(data: ReportData, map_png: bytes, unverified: list[str] | None = None) -> str:
    """The report as one self-contained HTML page (inline CSS, the map as a base64 data URI).

    ``unverified``: the violations of a result that failed ``siting verify`` and is reported anyway
    (``--allow-unverified``); the page then says so at its top, in the map and at its foot.
    """
    s = data.result.summary
    ok = s.get("status") == "optimal"
    status = (f"<span class='status {'ok' if ok else 'warn'}'>{_esc(s.get('status', '?'))}"
              f"{'' if ok else ' — NOT OPTIMAL'}</span>")
    cards = "".join(f"<div class='card'><div class='l'>{_esc(label)}</div><div class='v'>{_esc(v)}</div>"
                    f"<div class='l'>{_esc(note)}</div></div>" for label, v, note in data.key_figures)
    prog_rows = "".join(
        f"<tr><td>{_esc(r.programme)}</td><td class='n'>{r.facilities}</td><td>{_esc(r.per_size)}</td>"
        f"<td class='n'>{r.land_take_ha:,.1f}</td><td class='n'>{r.tonnes_per_yr:,.0f}</td>"
        f"<td class='n'>{r.tkm_per_yr:,.0f}</td></tr>" for r in data.programmes.itertuples())
    reg_rows = "".join(
        f"<tr class='{'over' if np.isfinite(r.utilisation) and r.utilisation > 1 + 1e-9 else ''}'>"
        f"<td>{_esc(r.region)}</td><td>{_esc(r.facility)}<br><span class='basis'>{_esc(r.site_id)} · "
        f"{_esc(r.programme)}</span></td><td>{_esc(r.size)} ({r.area_m2:,.0f} m²)</td><td class='n'>{r.load_t:,.0f}</td>"
        f"<td class='n'>{_fmt_util(r.utilisation)}</td><td class='n'>{r.n_municipalities}</td>"
        f"<td class='n'>{r.tkm:,.0f}</td><td class='basis'>{_esc(r.municipalities)}</td></tr>"
        for r in data.regions.itertuples())

    def assumption_rows(frame: pd.DataFrame) -> str:
        return "".join(f"<tr><td><code>{_esc(r.name)}</code>{' <b>(overridden)</b>' if r.overridden else ''}</td>"
                       f"<td class='n'>{_esc(r.value)}</td><td>{_esc(r.unit)}</td><td class='basis'>{_esc(r.basis)}</td>"
                       "</tr>" for r in frame.itertuples())

    used, other = data.assumptions[data.assumptions["used"]], data.assumptions[~data.assumptions["used"]]
    a_head = "<tr><th>assumption</th><th class='n'>value</th><th>unit</th><th>basis</th></tr>"
    params = "".join(f"<tr><td><code>{_esc(k)}</code></td><td>{_esc(v)}</td></tr>"
                     for k, v in run_parameters(s).items())
    warning = ""
    if unverified:
        items = "".join(f"<li>{_esc(v)}</li>" for v in unverified[:10])
        warning = (f"<div class='status warn' style='display:block;padding:.6em'>{_esc(UNVERIFIED_BANNER)}:"
                   f"<ul>{items}</ul></div>")
    gap = s.get("gap")
    notes = [f"<p class='flag'><b>Rule tension</b> — {_esc(line)}</p>" for line in data.tensions]
    if data.tensions:
        notes.append("<p class='basis'>Facilities above 100 % are shaded in the table per region. Utilisation = load "
                     "/ (plot area × the programme's assumed throughput); the floor is the named assumption "
                     "<code>utilisation_floor</code>.</p>")
    if data.periods is not None:
        notes.append("<h2>Per period</h2><table><tr><th>period</th><th class='n'>years</th><th class='n'>facilities"
                     "</th><th class='n'>opened</th><th class='n'>closed</th><th class='n'>land take (ha)</th>"
                     "<th class='n'>on reserve land (ha)</th><th class='n'>yearly cost</th><th class='n'>one-off "
                     "(EUR)</th></tr>" + "".join(
                         f"<tr><td>{_esc(r.period)}</td><td class='n'>{r.years:g}</td><td class='n'>{r.facilities}</td>"
                         f"<td class='n'>{r.opened}</td><td class='n'>{r.closed}</td><td class='n'>{r.land_take_ha:,.1f}"
                         f"</td><td class='n'>{r.reserve_ha:,.1f}</td><td class='n'>{r.yearly_cost:,.0f}</td>"
                         f"<td class='n'>{r.one_off_eur:,.0f}</td></tr>" for r in data.periods.itertuples())
                     + "</table><p class='basis'>The map and the tables below show the last period; every period "
                     "is a layer of the GeoPackage.</p>")
    img = base64.b64encode(map_png).decode("ascii")
    title = s.get("title") or data.result.name
    versions = s.get("versions", {})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(data.result.name)} — siting report</title><style>{CSS}</style></head>
<body>
{warning}
<h1>{_esc(title)}</h1>
<p class="sub">instance <code>{_esc(data.result.name)}</code> · solver status {status} · proven gap
{f"{100 * gap:.4f} %" if gap is not None else "unknown"} · result verified independently:
{"NO — UNVERIFIED" if unverified else "yes" if s.get("verification", {}).get("passed") else "no"}</p>
<h2>Key figures</h2>
<div class="cards">{cards}</div>
{''.join(notes)}
<table><tr><th>programme</th><th class="n">facilities</th><th>per size</th><th class="n">land take (ha)</th>
<th class="n">t/yr</th><th class="n">t·km/yr</th></tr>{prog_rows}</table>
{_html_models_equity(data)}
<h2>Map</h2>
<img alt="map of the facilities, allocations, candidate sites and networks" src="data:image/png;base64,{img}">
<h2>{"Per facility" if data.result.kind in ("chain", "chain_periods") else "Per region"}</h2>
<table><tr><th>region</th><th>facility</th><th>size</th><th class="n">load (t/yr)</th><th class="n">utilisation</th>
<th class="n">municipalities</th><th class="n">t·km/yr</th><th>municipalities served</th></tr>{reg_rows}</table>
<p class="basis">Utilisation is the load against the plot's assumed capacity: plot area × the programme's assumed
throughput (named assumption below), whether or not the run enforces it.</p>
<h2>Assumptions used</h2>
<p>The study gives sizes and counts but no tonnages, capacities or transport costs; every such figure is a named
assumption with its basis, defined once in <code>models/assumptions.toml</code> or <code>models/access.toml</code>.</p>
<table>{a_head}{assumption_rows(used)}</table>
<details><summary>all other named assumptions recorded with this run ({len(other)})</summary>
<table>{a_head}{assumption_rows(other)}</table></details>
<h2>Run</h2>
<table><tr><th>parameter</th><th>value</th></tr>{params}
<tr><td>objective</td><td>{s.get("objective", {}).get("total", float("nan")):,.2f} {_esc(s.get("objective", {}).get("unit", ""))}</td></tr>
<tr><td>instance hash</td><td><code>{_esc(s.get("instance_hash", ""))}</code></td></tr>
<tr><td>solver</td><td>{_esc(s.get("solver", ""))}</td></tr></table>
<footer>{_esc(UNVERIFIED_BANNER) + " · " if unverified else ""}circular-siting {_esc(versions.get("circular-siting", ""))} · coordinates EPSG:31370 (Belgian Lambert 72) ·
result folder {_esc(data.result.folder.name)}</footer>
</body></html>
"""


def _md_table(header: list[str], rows: list[list[object]], right: set[int] | None = None) -> str:
    right = right or set()
    line = "| " + " | ".join(header) + " |"
    sep = "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"
    body = ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def to_markdown(data: ReportData, map_name: str = "map.png", unverified: list[str] | None = None) -> str:
    """The report as Markdown (the map as a relative image link next to the file)."""
    s = data.result.summary
    gap = s.get("gap")
    warning = ([f"> **{UNVERIFIED_BANNER}**:", *[f"> - {v}" for v in unverified[:10]], ""] if unverified else [])
    out = [*warning, f"# {s.get('title') or data.result.name}", "",
           f"Instance `{data.result.name}` · solver status **{s.get('status', '?')}**"
           + ("" if s.get("status") == "optimal" else " (NOT OPTIMAL)")
           + f" · proven gap {f'{100 * gap:.4f} %' if gap is not None else 'unknown'}", "",
           "## Key figures", "", _md_table(["figure", "value", "note"], [list(k) for k in data.key_figures]), "",
           _md_table(["programme", "facilities", "per size", "land take (ha)", "t/yr", "t·km/yr"],
                     [[r.programme, r.facilities, r.per_size, f"{r.land_take_ha:,.1f}", f"{r.tonnes_per_yr:,.0f}",
                       f"{r.tkm_per_yr:,.0f}"] for r in data.programmes.itertuples()], {1, 3, 4, 5}), "",
           *[part for line in data.tensions for part in (f"**Rule tension** — {line}", "")],
           *_md_models_equity(data),
           *(["## Per period", "", _md_table(
               ["period", "years", "facilities", "opened", "closed", "land take (ha)", "on reserve land (ha)",
                "yearly cost", "one-off (EUR)"],
               [[r.period, f"{r.years:g}", r.facilities, r.opened, r.closed, f"{r.land_take_ha:,.1f}",
                 f"{r.reserve_ha:,.1f}", f"{r.yearly_cost:,.0f}", f"{r.one_off_eur:,.0f}"]
                for r in data.periods.itertuples()], {1, 2, 3, 4, 5, 6, 7, 8}), "",
              "The map and the tables below show the last period; every period is a layer of the GeoPackage.", ""]
             if data.periods is not None else []),
           "## Map", "", f"![map]({map_name})", "",
           "## Per facility" if data.result.kind in ("chain", "chain_periods") else "## Per region", "",
           _md_table(["region", "facility", "size", "load (t/yr)", "utilisation", "municipalities", "t·km/yr"],
                     [[r.region, f"{r.facility} ({r.site_id})", r.size, f"{r.load_t:,.0f}", _fmt_util(r.utilisation),
                       r.n_municipalities, f"{r.tkm:,.0f}"] for r in data.regions.itertuples()], {3, 4, 5, 6}), "",
           "## Assumptions used", "",
           _md_table(["assumption", "value", "unit", "basis"],
                     [[f"`{r.name}`" + (" (overridden)" if r.overridden else ""), r.value, r.unit, r.basis]
                      for r in data.assumptions[data.assumptions["used"]].itertuples()]), "",
           "## Run", "",
           _md_table(["parameter", "value"], [[f"`{k}`", v] for k, v in run_parameters(s).items()]), ""]
    if unverified:
        out.append(f"*{UNVERIFIED_BANNER}.*")
    return "\n".join(out)


def make_report(path: str | Path, out_dir: Path | None = None, boundaries=None,  # noqa: ANN001 - path or GeoDataFrame
                unverified: list[str] | None = None) -> dict[str, Path]:
    """Write ``report.html`` (self-contained), ``report.md`` and ``map.png`` for the result at ``path``.

    Parameters
    ----------
    path : str or Path
        Result folder (or its ``result.gpkg``).
    out_dir : Path, optional
        Where to write (default: the result folder); files go only where siting may write
        (:func:`optimizer.atomic.write_output_file`).
    boundaries : str, Path or GeoDataFrame, optional
        A boundary layer to draw on the map.
    unverified : list of str, optional
        Violations of a result that failed ``siting verify``: every page is marked UNVERIFIED.

    Returns
    -------
    dict
        ``{"html": ..., "markdown": ..., "png": ...}`` paths.
    """
    from optimizer.atomic import write_output_file

    result = read_result(path)
    require_geometry(result, "a report (its map)")
    bnd = read_boundaries(boundaries) if isinstance(boundaries, (str, Path)) else boundaries
    target = Path(out_dir) if out_dir is not None else result.folder
    png = _png_bytes(period_view(result)[0], bnd, UNVERIFIED_BANNER if unverified else None)
    data = report_data(result)
    html_path = write_output_file(target, "report.html", lambda p: p.write_text(to_html(data, png, unverified),
                                                                                 encoding="utf-8"))
    md_path = write_output_file(target, "report.md", lambda p: p.write_text(to_markdown(data, unverified=unverified),
                                                                             encoding="utf-8"))
    png_path = write_output_file(target, "map.png", lambda p: p.write_bytes(png))
    return {"html": html_path, "markdown": md_path, "png": png_path}


__all__ = ["ReportData", "assumptions_table", "make_report", "report_data", "to_html", "to_markdown"]
