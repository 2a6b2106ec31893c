"""Commands that read results: ``siting map``, ``report`` and ``compare``.

``map``, ``report`` and ``compare`` re-check each result first (:func:`optimizer.check.stored.require_verified`, the same
check as ``siting verify``) and refuse one that fails, unless ``--allow-unverified`` marks it UNVERIFIED on every
page. Each command checks its ``--out`` before any work (:func:`optimizer.atomic.check_destination`): files are
written only into a new or empty folder, a result folder, or a folder siting wrote before.
"""

from __future__ import annotations

from pathlib import Path

import click

from optimizer.cli.app import PATH, command, err, guard, nullcontext, option, out, print_json, print_written

ALLOW_UNVERIFIED = option("--allow-unverified", is_flag=True, help="read a result that fails `siting verify`, marked "
                                                                   "UNVERIFIED on every page (default: refuse it)")


def _readable(result: Path, command: str) -> str:
    """The kind of the result folder ``result`` (any kind a solve writes); refused in one line before any work when
    it is not a siting result, or when ``command`` draws maps and the result has no coordinates (a matrix instance)."""
    from optimizer.check.stored import read_summary, result_folder
    from optimizer.errors import InputError
    from optimizer.output.summary import kind_of

    folder = result_folder(result)
    kind = kind_of(read_summary(folder))
    if kind == "matrix" and command in ("map", "report"):
        raise InputError(f"`siting {command}` needs coordinates, and a matrix instance has none; its result is the "
                         "tables facilities.csv, assignments.csv and clients.csv and summary.json", file=folder)
    return kind


def _warn_unverified(check) -> list[str] | None:  # noqa: ANN001 - StoredCheck
    for note in check.notes:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if check.violations:
        err.print(f"warning: {check.folder} fails the independent check ({len(check.violations)} violation(s)); "
                  "marked UNVERIFIED", markup=False, highlight=False, soft_wrap=True)
        return check.violations
    return None


@command("map")
@click.argument("result", type=PATH, help="result folder written by `siting solve` (or its result.gpkg)")
@option("--out", "out_dir", type=PATH, help="folder for map.png / map.html (default: RESULT)")
@option("--boundaries", type=PATH, help="boundary layer to draw (any GIS file with a CRS)")
@option("--png/--no-png", default=True, help="static PNG map")
@option("--html/--no-html", default=True, help="interactive HTML map (folium)")
@ALLOW_UNVERIFIED
@option("--quiet", "-q", is_flag=True, help="print nothing but errors")
@option("--json", "as_json", is_flag=True, help="print the written files as JSON")
@guard
def map_cmd(result: Path, out_dir: Path | None = None, boundaries: Path | None = None, png: bool = True,
            html: bool = True, allow_unverified: bool = False, quiet: bool = False, as_json: bool = False) -> None:
    """Draw a result: static PNG map (EPSG:31370) and interactive HTML map."""
    from optimizer.atomic import check_destination
    from optimizer.check.stored import require_verified
    from optimizer.output.maps import make_maps, read_boundaries
    from optimizer.output.report import UNVERIFIED_BANNER

    _readable(result, "map")
    if out_dir is not None:
        check_destination(out_dir, kind="files", names=[n for n, on in (("map.png", png), ("map.html", html)) if on])
    bnd = read_boundaries(boundaries) if boundaries is not None else None  # checked before drawing anything
    with out.status("checking the result", spinner="dots") if not (quiet or as_json) else nullcontext() as status:
        unverified = _warn_unverified(require_verified(result, "map", allow_unverified=allow_unverified))
        if status is not None:
            status.update("drawing maps")
        written = make_maps(result, out_dir, bnd, png=png, html=html,
                            banner=UNVERIFIED_BANNER if unverified else None)
    print_written(written, quiet=quiet, as_json=as_json)


@command()
@click.argument("result", type=PATH, help="result folder written by `siting solve` (or its result.gpkg)")
@option("--out", "out_dir", type=PATH, help="folder for report.html / report.md (default: RESULT)")
@option("--boundaries", type=PATH, help="boundary layer to draw on the map")
@ALLOW_UNVERIFIED
@option("--quiet", "-q", is_flag=True, help="print nothing but errors")
@option("--json", "as_json", is_flag=True, help="print the written files as JSON")
@guard
def report(result: Path, out_dir: Path | None = None, boundaries: Path | None = None, allow_unverified: bool = False,
           quiet: bool = False, as_json: bool = False) -> None:
    """Write a self-contained HTML report (and Markdown) of a result for policy makers."""
    from optimizer.atomic import check_destination
    from optimizer.check.stored import require_verified
    from optimizer.output.maps import read_boundaries
    from optimizer.output.report import make_report

    _readable(result, "report")
    if out_dir is not None:
        check_destination(out_dir, kind="files", names=["report.html", "report.md", "map.png"])
    bnd = read_boundaries(boundaries) if boundaries is not None else None
    with out.status("checking the result", spinner="dots") if not (quiet or as_json) else nullcontext() as status:
        unverified = _warn_unverified(require_verified(result, "report", allow_unverified=allow_unverified))
        if status is not None:
            status.update("writing report")
        written = make_report(result, out_dir, bnd, unverified=unverified)
    print_written(written, quiet=quiet, as_json=as_json)


@command()
@click.argument("a", type=PATH, help="first result folder (before)")
@click.argument("b", type=PATH, help="second result folder (after)")
@option("--markdown", type=PATH, help="also write the comparison as Markdown")
@ALLOW_UNVERIFIED
@option("--quiet", "-q", is_flag=True, help="print nothing but errors")
@option("--json", "as_json", is_flag=True, help="print the comparison as JSON")
@guard
def compare(a: Path, b: Path, markdown: Path | None = None, allow_unverified: bool = False, quiet: bool = False,
            as_json: bool = False) -> None:
    """Show what changed between two results: status, objective, land take, moved facilities, reassignments."""
    from optimizer.check.stored import require_verified
    from optimizer.output.compare import compare_results, rich_tables, to_markdown, write_markdown

    for r in (a, b):
        _readable(r, "compare")
    if markdown is not None:
        from optimizer.output.compare import check_markdown_target

        check_markdown_target(markdown)
    marks = {}
    for label, r in (("a", a), ("b", b)):
        violations = _warn_unverified(require_verified(r, "compare", allow_unverified=allow_unverified))
        if violations:
            marks[label] = violations
    diff = compare_results(a, b)
    diff["unverified"] = marks
    if markdown is not None:
        write_markdown(markdown, to_markdown(diff))
    if as_json:
        print_json(diff)
    elif not quiet:
        for label in marks:
            out.print(f"[bold red]UNVERIFIED[/bold red]: result {label.upper()} ({diff[label]}) fails the "
                      "independent check (`siting verify`)")
        for table in rich_tables(diff):
            out.print(table)
        if markdown is not None:
            out.print(f"written {markdown}", markup=False)
