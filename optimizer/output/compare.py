"""What changed between two results: status, objective parts, land take, and per region the facilities that moved
or changed size and the municipalities that were reassigned.

Both results are read from the folders ``siting solve`` wrote; :func:`compare_results` returns plain data,
:func:`to_markdown` and :func:`rich_tables` format it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optimizer.errors import InputError
from optimizer.output.result import Result, read_result
from optimizer.output.tension import flags_from_summary, tension_lines

OBJECTIVE_PARTS = ("total", "transport", "fixed", "land")


def compare_results(a: str | Path | Result, b: str | Path | Result) -> dict:
    """Differences between result ``a`` (before) and ``b`` (after), of the same instance kind.

    Returns
    -------
    dict
        ``headline``: rows (figure, a, b, change) for status, gap, objective parts, t·km, land take;
        ``programmes``: per programme (a chain: per echelon) land take and counts per size in a and b;
        ``regions``: per programme and region the facilities (site, size) in a and b and what changed;
        ``reassigned``: demand units whose facility changed (programme, municipality or client, from, to);
        ``same``: True when nothing in the solution changed.
    """
    from optimizer.output.report import period_view

    ra = period_view(a if isinstance(a, Result) else read_result(a))[0]  # a multi-period result: its last period
    rb = period_view(b if isinstance(b, Result) else read_result(b))[0]
    if ra.kind != rb.kind:
        msg = (f"cannot compare a {ra.kind} result with a {rb.kind} result: their facilities and flows mean "
               "different things; compare results of the same kind")
        raise InputError(msg, file=rb.folder)
    sa, sb = ra.summary, rb.summary
    headline = [("instance", sa.get("instance"), sb.get("instance"), ""),
                ("status", sa.get("status"), sb.get("status"), "" if sa.get("status") == sb.get("status") else "changed"),
                ("gap", sa.get("gap"), sb.get("gap"), _delta(sa.get("gap"), sb.get("gap")))]
    oa, ob = _objective(sa), _objective(sb)
    for part in OBJECTIVE_PARTS:
        headline.append((f"objective {part} ({oa.get('unit', '')})", oa.get(part), ob.get(part),
                         _delta(oa.get(part), ob.get(part))))
    for key, label in (("transport_tkm_per_yr", "transport (t·km/yr)"), ("land_take_ha", "land take (ha)")):
        headline.append((label, sa.get(key), sb.get(key), _delta(sa.get(key), sb.get(key))))
    headline += model_rows(sa, sb) + equity_rows(sa, sb)

    programmes = []
    for pid in dict.fromkeys([*(sa.get("programmes") or {}), *(sb.get("programmes") or {})]):
        pa, pb = (sa.get("programmes") or {}).get(pid, {}), (sb.get("programmes") or {}).get(pid, {})
        programmes.append({"programme": pid, "land_take_ha_a": pa.get("land_take_ha"),
                           "land_take_ha_b": pb.get("land_take_ha"),
                           "per_size_a": pa.get("count_per_size", {}), "per_size_b": pb.get("count_per_size", {})})

    regions = _facility_changes(_facilities(ra), _facilities(rb))
    da, db = _assignment(ra), _assignment(rb)
    m = da.merge(db, on=["programme", "nis"], how="outer", suffixes=("_a", "_b"))
    m = m[m["site_a"].fillna("") != m["site_b"].fillna("")]
    reassigned = [{"programme": r.programme, "municipality": _s(r.municipality_a) or _s(r.municipality_b),
                   "from": _s(r.site_a), "to": _s(r.site_b)} for r in m.sort_values(["programme", "nis"]).itertuples()]
    same = not reassigned and not any(row["change"] for row in regions)
    located = ra.kind == "named"  # rule tensions are a location instance's (utilisation against its programme's rules)
    flags_a = flags_from_summary(sa, ra.layers.get("facilities")) if located else []
    flags_b = flags_from_summary(sb, rb.layers.get("facilities")) if located else []
    headline += _land_kind_rows(sa, sb)
    return {"a": str(ra.folder), "b": str(rb.folder), "headline": headline, "programmes": programmes,
            "regions": regions, "reassigned": reassigned, "same": same,
            "settings": settings_changed(sa, sb), "rule_cost": rule_cost(sa, sb, same_land=_same_land(ra, rb)),
            "tensions": tension_rows(flags_a, flags_b), "tension_sentences": {"a": tension_lines(flags_a),
                                                                               "b": tension_lines(flags_b)}}


LAND_KINDS = ("existing_zone", "reserve", "greenfield")


def _land_kind_rows(sa: dict, sb: dict) -> list[tuple]:
    """Land take per kind of land (existing zone, reserve, greenfield) when either result used reserve or greenfield."""
    ka, kb = sa.get("land_take_by_kind_ha") or {}, sb.get("land_take_by_kind_ha") or {}
    if not any((ka.get(k) or 0) > 0 or (kb.get(k) or 0) > 0 for k in LAND_KINDS[1:]):
        return []
    return [(f"land take on {k.replace('_', ' ')} (ha)", ka.get(k, 0.0), kb.get(k, 0.0),
             _delta(ka.get(k, 0.0), kb.get(k, 0.0))) for k in LAND_KINDS]


def settings_changed(sa: dict, sb: dict) -> list[dict]:
    """Run parameters and named assumptions whose values differ between the two results."""
    rows = []
    pa, pb = sa.get("parameters") or {}, sb.get("parameters") or {}
    for key in dict.fromkeys([*pa, *pb]):
        if pa.get(key) != pb.get(key) and key not in ("time_limit_s", "threads"):
            rows.append({"setting": key, "a": pa.get(key), "b": pb.get(key)})
    aa, ab = sa.get("assumptions") or {}, sb.get("assumptions") or {}
    for key in dict.fromkeys([*aa, *ab]):
        va, vb = (aa.get(key) or {}).get("value"), (ab.get(key) or {}).get("value")
        if va != vb:
            rows.append({"setting": f"assumption.{key}", "a": va, "b": vb})
    return rows


def _same_land(ra: Result, rb: Result) -> bool:
    """Whether both results offered the same candidate sites with the same free land."""
    ca, cb = ra.layers.get("candidates"), rb.layers.get("candidates")
    if ca is None or cb is None or len(ca) != len(cb) or "free_ha" not in ca or "free_ha" not in cb:
        return False
    a = ca.set_index(ca["site_id"].astype(str))["free_ha"].astype(float).sort_index()
    b = cb.set_index(cb["site_id"].astype(str))["free_ha"].astype(float).sort_index()
    return bool(a.index.equals(b.index) and ((a - b).abs() < 1e-9).all())


def rule_cost(sa: dict, sb: dict, same_land: bool = True) -> dict | None:
    """The price of the reuse-first rule (S7) when one result forbids greenfield and the other allows it.

    The price is the objective of the result that keeps the rule minus the one that lifts it (EUR/yr, the same
    objective and units), and per m² of greenfield the lifted result takes: below that figure per m² and year,
    taking open land would be cheaper than keeping the rule. None when the pair does not differ in that rule.
    """
    ga, gb = (sa.get("parameters") or {}).get("greenfield"), (sb.get("parameters") or {}).get("greenfield")
    if ga == gb or "forbid" not in (ga, gb):
        return None
    kept, lifted = (sa, sb) if ga == "forbid" else (sb, sa)
    ok, ol = (kept.get("objective") or {}), (lifted.get("objective") or {})
    if ok.get("unit") != ol.get("unit") or ok.get("total") is None or ol.get("total") is None:
        return None
    price = float(ok["total"]) - float(ol["total"])
    green_ha = float((lifted.get("land_take_by_kind_ha") or {}).get("greenfield", 0.0))
    per_m2 = price / (green_ha * 1e4) if green_ha > 0 else None
    which = "A" if kept is sa else "B"
    if green_ha > 0:
        penalty = ((lifted.get("assumptions") or {}).get("greenfield_penalty_eur_per_m2") or {}).get("value")
        sentence = (f"the reuse-first rule ({which}: greenfield forbidden) costs {price:,.0f} {ok['unit']} against "
                    f"greenfield = {lifted['parameters']['greenfield']}, which takes {green_ha:.1f} ha of greenfield: "
                    f"on average {per_m2:,.3f} EUR per m² of greenfield avoided per year"
                    + (f" (the named greenfield penalty is {penalty:g} EUR/m²/yr)" if penalty is not None else ""))
    else:
        sentence = (f"the reuse-first rule costs nothing here: with greenfield = {lifted['parameters']['greenfield']} "
                    "no greenfield is taken (existing zones are cheaper)")
    if not same_land:
        sentence += (" — caution: A and B offer different candidate land, so this mixes the rule with the land "
                     "(compare two runs on the same candidates for the rule alone)")
    return {"kept": which, "price": price, "unit": ok["unit"], "greenfield_ha": green_ha, "same_land": same_land,
            "price_per_m2_greenfield": per_m2, "sentence": sentence}


def _util_text(flag: dict | None) -> str:
    if flag is None:
        return ""
    return (f"{100 * flag['min']:.0f}–{100 * flag['max']:.0f} % (median {100 * flag['median']:.0f} %), "
            f"{len(flag['facilities'])} of {flag['n_facilities']} concerned")


def tension_rows(flags_a: list[dict], flags_b: list[dict]) -> list[dict]:
    """Rule tensions of A and B side by side: programme, rule, A, B and whether the flag appeared or went."""
    keyed_a = {(f["programme"], f["rule"]): f for f in flags_a}
    keyed_b = {(f["programme"], f["rule"]): f for f in flags_b}
    rows = []
    for key in dict.fromkeys([*keyed_a, *keyed_b]):
        fa, fb = keyed_a.get(key), keyed_b.get(key)
        change = "new in B" if fa is None else "gone in B" if fb is None else ""
        rows.append({"programme": key[0], "rule": key[1], "a": _util_text(fa), "b": _util_text(fb),
                     "change": change})
    return rows


def model_rows(sa: dict, sb: dict) -> list[tuple]:
    """Headline rows of the coverage models: per programme its model's objective and covered share in A and B."""
    rows = []
    pa, pb = sa.get("programmes") or {}, sb.get("programmes") or {}
    for pid in dict.fromkeys([*pa, *pb]):
        ma, mb = (pa.get(pid) or {}).get("model") or {}, (pb.get(pid) or {}).get("model") or {}
        if ma.get("name", "pmedian") == "pmedian" and mb.get("name", "pmedian") == "pmedian":
            continue
        model = lambda m: (f"{m.get('name', '')} {m['service_km']:g} km" if m.get("service_km") is not None  # noqa: E731
                           else m.get("name", ""))
        rows.append((f"{pid}: model", model(ma), model(mb), "" if model(ma) == model(mb) else "changed"))
        unit = ma.get("objective_unit") or mb.get("objective_unit") or ""
        for key, label in (("objective", f"objective ({unit})"), ("covered_share", "covered share")):
            rows.append((f"{pid}: {label}", ma.get(key), mb.get(key), _delta(ma.get(key), mb.get(key))))
    return rows


def equity_rows(sa: dict, sb: dict) -> list[tuple]:
    """Headline rows of the equity figures: per programme max, p95 and mean distance and every share within."""
    ea, eb = (sa.get("equity") or {}).get("by_programme") or {}, (sb.get("equity") or {}).get("by_programme") or {}
    unit = (sa.get("equity") or sb.get("equity") or {}).get("unit", "km")
    rows = []
    for name in dict.fromkeys([*ea, *eb]):
        a, b = ea.get(name) or {}, eb.get(name) or {}
        for key, label in (("max_km", "max"), ("p95_km", "p95"), ("mean_km", "mean")):
            rows.append((f"equity {name}: {label} ({unit})", a.get(key), b.get(key), _delta(a.get(key), b.get(key))))
        wa, wb = a.get("share_within") or {}, b.get("share_within") or {}
        for d in sorted({*wa, *wb}, key=float):
            rows.append((f"equity {name}: share within {d} {unit}", wa.get(d), wb.get(d), _delta(wa.get(d), wb.get(d))))
    return rows


def _objective(summary: dict) -> dict:
    """The objective parts (summaries before the schema: a matrix kept a bare number, a chain its EUR/yr)."""
    obj = summary.get("objective")
    if isinstance(obj, dict):
        return obj
    total = obj if obj is not None else summary.get("objective_eur_per_yr")
    return {"total": total, "unit": "EUR/yr" if "objective_eur_per_yr" in summary else ""}


def _facility_changes(fa: pd.DataFrame, fb: pd.DataFrame) -> list[dict]:
    """Per programme and region: the facilities kept (same site; resized?), moved (one left, one came), added and
    removed. A region may hold several facilities (a programme counted over Flanders, a chain's echelons)."""
    rows = []
    keys = sorted(set(zip(fa["programme"], fa["region"])) | set(zip(fb["programme"], fb["region"])))
    for prog, region in keys:
        a = fa[(fa["programme"] == prog) & (fa["region"] == region)]
        b = fb[(fb["programme"] == prog) & (fb["region"] == region)]
        common = sorted(set(a["key"]) & set(b["key"]))
        only_a, only_b = a[~a["key"].isin(common)], b[~b["key"].isin(common)]
        for key in common:
            ra, rb = a[a["key"] == key].iloc[0], b[b["key"] == key].iloc[0]
            rows.append(_region_row(prog, region, ra, rb, "resized" if ra["size"] != rb["size"] else ""))
        if len(only_a) == 1 and len(only_b) == 1:
            ra, rb = only_a.iloc[0], only_b.iloc[0]
            rows.append(_region_row(prog, region, ra, rb, "moved" + (" and resized" if ra["size"] != rb["size"] else "")))
            continue
        rows += [_region_row(prog, region, r, None, "removed") for _, r in only_a.iterrows()]
        rows += [_region_row(prog, region, None, r, "added") for _, r in only_b.iterrows()]
    return rows


def _region_row(prog: str, region: str, ra: pd.Series | None, rb: pd.Series | None, change: str) -> dict:
    return {"programme": prog, "region": region, "site_a": "" if ra is None else ra["site"],
            "size_a": "" if ra is None else ra["size"], "site_b": "" if rb is None else rb["site"],
            "size_b": "" if rb is None else rb["size"], "change": change}


def _facilities(result: Result) -> pd.DataFrame:
    f = result.layers["facilities"]
    if result.kind == "matrix":  # no regions, sites or sizes: each facility is its own site
        ids = f["facility_id"].astype(str)
        return pd.DataFrame({"programme": "facility", "region": "", "key": ids, "site": ids, "size": ""})
    # what stays the same facility: its site (a location instance places one per site and programme); a chain
    # may hold two on one site (Doel and Kallo), so its facilities are told apart by their ids
    key = f["facility_id"] if result.kind in ("chain", "chain_periods") else f["site_id"]
    return pd.DataFrame({"programme": f["programme"].astype(str), "region": f["region"].astype(str),
                         "key": key.astype(str),
                         "site": f["site_name"].astype(str) + " (" + f["site_id"].astype(str) + ")",
                         "size": f["size"].astype(str)})


def _assignment(result: Result) -> pd.DataFrame:
    """Main facility site of each demand unit per programme (the largest share)."""
    a = result.allocations
    if result.kind == "matrix":
        a = a.sort_values("share", ascending=False).drop_duplicates("client")
        return pd.DataFrame({"programme": "facility", "nis": a["client"].astype(str),
                             "municipality": a["client"].astype(str), "site": a["facility_id"].astype(str)})
    if result.kind in ("chain", "chain_periods"):
        a = a[a["nis"].astype(str) != ""]  # collection flows: municipality → sorting centre
    a = a.sort_values("share", ascending=False).drop_duplicates(["programme", "nis"])
    return pd.DataFrame({"programme": a["programme"].astype(str), "nis": a["nis"].astype(str),
                         "municipality": a["municipality"].astype(str), "site": a["site_id"].astype(str)})


def _s(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _delta(a: object, b: object) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool):
        return "" if a == b else "changed"
    d = b - a
    if abs(d) < 1e-9:
        return "="
    rel = f" ({100 * d / a:+.1f} %)" if a else ""
    return f"{d:+,.2f}{rel}"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return "" if value is None else str(value)


MARKDOWN_MARK = "<!-- written by siting compare -->"  # a file siting may replace starts with it


def check_markdown_target(path: Path) -> None:
    """``--markdown FILE``: a new file, or one an earlier ``siting compare`` wrote (it starts with
    :data:`MARKDOWN_MARK`); never a link, a folder or a user's file. Checked before any work."""
    from optimizer.errors import InputError

    path = Path(path)
    where = dict(file=path, field="--markdown")
    if path.is_symlink():
        raise InputError("is a symbolic link; siting never writes through a link: give a file name", **where)
    if path.is_dir():
        raise InputError("is a folder; give a file name such as comparison.md", **where)
    if path.exists():
        try:
            with path.open(encoding="utf-8") as fh:
                first = fh.readline().strip()
        except (OSError, UnicodeDecodeError):
            first = ""
        if first != MARKDOWN_MARK:
            raise InputError("exists and was not written by siting compare; siting does not replace it: give a new "
                             "file name", **where)
    if not path.parent.exists() or not path.parent.is_dir():
        raise InputError(f"the folder {path.parent} does not exist; create it or give another file name", **where)


def write_markdown(path: Path, text: str) -> Path:
    """Write the comparison atomically (after :func:`check_markdown_target`)."""
    from optimizer.atomic import write_atomic

    check_markdown_target(path)
    return write_atomic(Path(path), lambda p: p.write_text(text, encoding="utf-8"))


def to_markdown(diff: dict) -> str:
    """The comparison as Markdown (its first line marks it as siting's, so a rerun may replace it)."""
    lines = [MARKDOWN_MARK, "# Comparison", ""]
    for label, violations in (diff.get("unverified") or {}).items():
        lines += [f"> **UNVERIFIED**: result {label.upper()} fails the independent check (`siting verify`): "
                  + "; ".join(violations[:5]), ""]
    lines += [f"A: `{diff['a']}`  ", f"B: `{diff['b']}`", "", "| figure | A | B | change |", "|---|---:|---:|---:|"]
    lines += [f"| {f} | {_fmt(a)} | {_fmt(b)} | {c} |" for f, a, b, c in diff["headline"]]
    if diff.get("rule_cost"):
        lines += ["", f"**Price of the rule**: {diff['rule_cost']['sentence']}."]
    if diff.get("settings"):
        lines += ["", "## Settings that differ", "", "| setting | A | B |", "|---|---|---|"]
        lines += [f"| {r['setting']} | {_fmt(r['a'])} | {_fmt(r['b'])} |" for r in diff["settings"]]
    if diff.get("tensions"):
        lines += ["", "## Rule tensions (utilisation against the assumed capacity)", "",
                  "| programme | flag | A | B | change |", "|---|---|---|---|---|"]
        lines += [f"| {r['programme']} | {r['rule']} | {r['a']} | {r['b']} | {r['change']} |" for r in diff["tensions"]]
        for side in ("a", "b"):
            lines += [f"- {side.upper()}: {line}" for line in diff["tension_sentences"][side]]
    lines += ["", "## Programmes", "", "| programme | land take A (ha) | land take B (ha) | per size A | per size B |",
              "|---|---:|---:|---|---|"]
    lines += [f"| {p['programme']} | {_fmt(p['land_take_ha_a'])} | {_fmt(p['land_take_ha_b'])} | "
              f"{_sizes(p['per_size_a'])} | {_sizes(p['per_size_b'])} |" for p in diff["programmes"]]
    changed = [r for r in diff["regions"] if r["change"]]
    lines += ["", f"## Regions with a change ({len(changed)} of {len(diff['regions'])})", ""]
    if changed:
        lines += ["| programme | region | A | B | change |", "|---|---|---|---|---|"]
        lines += [f"| {r['programme']} | {r['region']} | {r['site_a']} {r['size_a']} | {r['site_b']} {r['size_b']} | "
                  f"{r['change']} |" for r in changed]
    else:
        lines.append("No facility moved or changed size.")
    lines += ["", f"## Municipalities reassigned ({len(diff['reassigned'])})", ""]
    if diff["reassigned"]:
        lines += ["| programme | municipality | from site | to site |", "|---|---|---|---|"]
        lines += [f"| {r['programme']} | {r['municipality']} | {r['from']} | {r['to']} |" for r in diff["reassigned"]]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _sizes(counts: dict) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def rich_tables(diff: dict) -> list:
    """The comparison as rich tables for the terminal."""
    from rich.table import Table

    head = Table("figure", "A", "B", "change", title="A → B")
    for f, a, b, c in diff["headline"]:
        head.add_row(str(f), _fmt(a), _fmt(b), c)
    progs = Table("programme", "land take A (ha)", "land take B (ha)", "per size A", "per size B", title="programmes")
    for p in diff["programmes"]:
        progs.add_row(p["programme"], _fmt(p["land_take_ha_a"]), _fmt(p["land_take_ha_b"]), _sizes(p["per_size_a"]),
                      _sizes(p["per_size_b"]))
    changed = [r for r in diff["regions"] if r["change"]]
    regions = Table("programme", "region", "A", "B", "change",
                    title=f"regions with a change ({len(changed)} of {len(diff['regions'])})")
    for r in changed:
        regions.add_row(r["programme"], r["region"], f"{r['site_a']} {r['size_a']}", f"{r['site_b']} {r['size_b']}",
                        r["change"])
    moved = Table("programme", "municipality", "from site", "to site",
                  title=f"municipalities reassigned ({len(diff['reassigned'])})")
    for r in diff["reassigned"]:
        moved.add_row(r["programme"], r["municipality"], r["from"], r["to"])
    tables = [head]
    if diff.get("rule_cost"):
        cost = Table("price of the rule", title="reuse first (S7)")
        cost.add_row(diff["rule_cost"]["sentence"])
        tables.append(cost)
    if diff.get("settings"):
        settings = Table("setting", "A", "B", title="settings that differ")
        for r in diff["settings"]:
            settings.add_row(r["setting"], _fmt(r["a"]), _fmt(r["b"]))
        tables.append(settings)
    if diff.get("tensions"):
        tension = Table("programme", "flag", "A", "B", "change",
                        title="rule tensions (utilisation against the assumed capacity)")
        for r in diff["tensions"]:
            tension.add_row(r["programme"], r["rule"], r["a"], r["b"], r["change"])
        tables.append(tension)
    return [*tables, progs, regions, moved]
