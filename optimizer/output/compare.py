"""What changed between two results: status, objective parts, land take, and per region the facilities that moved
or changed size and the municipalities that were reassigned.

Both results are read from the folders ``siting solve`` wrote; :func:`compare_results` returns plain data,
:func:`to_markdown` and :func:`rich_tables` format it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optimizer.output.maps import Result, read_result

OBJECTIVE_PARTS = ("total", "transport", "fixed", "land")


def compare_results(a: str | Path | Result, b: str | Path | Result) -> dict:
    """Differences between result ``a`` (before) and ``b`` (after).

    Returns
    -------
    dict
        ``headline``: rows (figure, a, b, change) for status, gap, objective parts, t·km, land take;
        ``programmes``: per programme land take and counts per size in a and b;
        ``regions``: per programme and region the facility (site, size) in a and b and what changed;
        ``reassigned``: municipalities whose facility changed (programme, municipality, from, to);
        ``same``: True when nothing in the solution changed.
    """
    ra = a if isinstance(a, Result) else read_result(a)
    rb = b if isinstance(b, Result) else read_result(b)
    sa, sb = ra.summary, rb.summary
    headline = [("instance", sa.get("instance"), sb.get("instance"), ""),
                ("status", sa.get("status"), sb.get("status"), "" if sa.get("status") == sb.get("status") else "changed"),
                ("gap", sa.get("gap"), sb.get("gap"), _delta(sa.get("gap"), sb.get("gap")))]
    oa, ob = sa.get("objective", {}), sb.get("objective", {})
    for part in OBJECTIVE_PARTS:
        headline.append((f"objective {part} ({oa.get('unit', '')})", oa.get(part), ob.get(part),
                         _delta(oa.get(part), ob.get(part))))
    for key, label in (("transport_tkm_per_yr", "transport (t·km/yr)"), ("land_take_ha", "land take (ha)")):
        headline.append((label, sa.get(key), sb.get(key), _delta(sa.get(key), sb.get(key))))

    programmes = []
    for pid in dict.fromkeys([*sa.get("programmes", {}), *sb.get("programmes", {})]):
        pa, pb = sa.get("programmes", {}).get(pid, {}), sb.get("programmes", {}).get(pid, {})
        programmes.append({"programme": pid, "land_take_ha_a": pa.get("land_take_ha"),
                           "land_take_ha_b": pb.get("land_take_ha"),
                           "per_size_a": pa.get("count_per_size", {}), "per_size_b": pb.get("count_per_size", {})})

    fa, fb = _facilities(ra), _facilities(rb)
    merged = fa.merge(fb, on=["programme", "region"], how="outer", suffixes=("_a", "_b")).sort_values(
        ["programme", "region"])
    regions = []
    for r in merged.itertuples():
        moved = r.site_id_a != r.site_id_b
        resized = (not moved) and r.size_a != r.size_b
        change = ("added" if pd.isna(r.site_id_a) else "removed" if pd.isna(r.site_id_b)
                  else "moved" + (" and resized" if r.size_a != r.size_b else "") if moved
                  else "resized" if resized else "")
        regions.append({"programme": r.programme, "region": r.region, "site_a": _s(r.site_a), "size_a": _s(r.size_a),
                        "site_b": _s(r.site_b), "size_b": _s(r.size_b), "change": change})

    da, db = _assignment(ra), _assignment(rb)
    m = da.merge(db, on=["programme", "nis"], how="outer", suffixes=("_a", "_b"))
    m = m[m["site_a"].fillna("") != m["site_b"].fillna("")]
    reassigned = [{"programme": r.programme, "municipality": _s(r.municipality_a) or _s(r.municipality_b),
                   "from": _s(r.site_a), "to": _s(r.site_b)} for r in m.sort_values(["programme", "nis"]).itertuples()]
    same = not reassigned and not any(row["change"] for row in regions)
    return {"a": str(ra.folder), "b": str(rb.folder), "headline": headline, "programmes": programmes,
            "regions": regions, "reassigned": reassigned, "same": same}


def _facilities(result: Result) -> pd.DataFrame:
    f = result.layers["facilities"]
    return pd.DataFrame({"programme": f["programme"].astype(str), "region": f["region"].astype(str),
                         "site_id": f["site_id"].astype(str),
                         "site": f["site_name"].astype(str) + " (" + f["site_id"].astype(str) + ")",
                         "size": f["size"].astype(str)})


def _assignment(result: Result) -> pd.DataFrame:
    """Main facility site of each municipality per programme (the largest share)."""
    a = result.layers["allocations"].sort_values("share", ascending=False).drop_duplicates(["programme", "nis"])
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


def to_markdown(diff: dict) -> str:
    """The comparison as Markdown."""
    lines = ["# Comparison", "", f"A: `{diff['a']}`  ", f"B: `{diff['b']}`", "", "| figure | A | B | change |",
             "|---|---:|---:|---:|"]
    lines += [f"| {f} | {_fmt(a)} | {_fmt(b)} | {c} |" for f, a, b, c in diff["headline"]]
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
    return [head, progs, regions, moved]
