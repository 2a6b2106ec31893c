"""Commands that read results: ``siting map``, ``report`` and ``compare``.

``map``, ``report`` and ``compare`` re-check each result first (:func:`optimizer.check.stored.require_verified`, the same
check as ``siting verify``) and refuse one that fails, unless ``--allow-unverified`` marks it UNVERIFIED on every
page. Each command checks its ``--out`` before any work (:func:`optimizer.atomic.check_destination`): files are
written only into a new or empty folder, a result folder, or a folder siting wrote before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli.app import err, guard, nullcontext, out, print_json, print_written

ALLOW_UNVERIFIED = typer.Option("--allow-unverified", help="read a result that fails `siting verify`, marked "
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


@guard
def map_cmd(
    result: Annotated[Path, typer.Argument(help="result folder written by `siting solve` (or its result.gpkg)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for map.png / map.html (default: RESULT)")] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="boundary layer to draw (any GIS file with a CRS)")] = None,
    png: Annotated[bool, typer.Option("--png/--no-png", help="static PNG map")] = True,
    html: Annotated[bool, typer.Option("--html/--no-html", help="interactive HTML map (folium)")] = True,
    allow_unverified: Annotated[bool, ALLOW_UNVERIFIED] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the written files as JSON")] = False,
) -> None:
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


@guard
def report(
    result: Annotated[Path, typer.Argument(help="result folder written by `siting solve` (or its result.gpkg)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for report.html / report.md (default: RESULT)")] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="boundary layer to draw on the map")] = None,
    allow_unverified: Annotated[bool, ALLOW_UNVERIFIED] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the written files as JSON")] = False,
) -> None:
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


@guard
def compare(
    a: Annotated[Path, typer.Argument(help="first result folder (before)")],
    b: Annotated[Path, typer.Argument(help="second result folder (after)")],
    markdown: Annotated[Path | None, typer.Option("--markdown", help="also write the comparison as Markdown")] = None,
    allow_unverified: Annotated[bool, ALLOW_UNVERIFIED] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
) -> None:
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
