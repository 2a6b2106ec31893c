"""Commands that read results: ``siting map``, ``report`` and ``compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli.app import guard, nullcontext, out, print_json, print_written


@guard
def map_cmd(
    result: Annotated[Path, typer.Argument(help="result folder written by `siting solve` (or its result.gpkg)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for map.png / map.html (default: RESULT)")] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="boundary layer to draw (any GIS file with a CRS)")] = None,
    png: Annotated[bool, typer.Option("--png/--no-png", help="static PNG map")] = True,
    html: Annotated[bool, typer.Option("--html/--no-html", help="interactive HTML map (folium)")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the written files as JSON")] = False,
) -> None:
    """Draw a result: static PNG map (EPSG:31370) and interactive HTML map."""
    from optimizer.output.maps import make_maps

    with out.status("drawing maps", spinner="dots") if not (quiet or as_json) else nullcontext():
        written = make_maps(result, out_dir, boundaries, png=png, html=html)
    print_written(written, quiet=quiet, as_json=as_json)


@guard
def report(
    result: Annotated[Path, typer.Argument(help="result folder written by `siting solve` (or its result.gpkg)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for report.html / report.md (default: RESULT)")] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="boundary layer to draw on the map")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the written files as JSON")] = False,
) -> None:
    """Write a self-contained HTML report (and Markdown) of a result for policy makers."""
    from optimizer.output.report import make_report

    with out.status("writing report", spinner="dots") if not (quiet or as_json) else nullcontext():
        written = make_report(result, out_dir, boundaries)
    print_written(written, quiet=quiet, as_json=as_json)


@guard
def compare(
    a: Annotated[Path, typer.Argument(help="first result folder (before)")],
    b: Annotated[Path, typer.Argument(help="second result folder (after)")],
    markdown: Annotated[Path | None, typer.Option("--markdown", help="also write the comparison as Markdown")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
) -> None:
    """Show what changed between two results: status, objective, land take, moved facilities, reassignments."""
    from optimizer.output.compare import compare_results, rich_tables, to_markdown

    diff = compare_results(a, b)
    if markdown is not None:
        from optimizer.atomic import write_atomic

        write_atomic(markdown, lambda p: p.write_text(to_markdown(diff), encoding="utf-8"))
    if as_json:
        print_json(diff)
    elif not quiet:
        for table in rich_tables(diff):
            out.print(table)
        if markdown is not None:
            out.print(f"written {markdown}", markup=False)
