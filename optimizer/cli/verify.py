"""``siting verify RESULT``: re-check a stored result independently (:mod:`optimizer.check.stored`)."""

from __future__ import annotations

from pathlib import Path

import click
from click.exceptions import Exit

from optimizer.cli.app import EXIT_VERIFY, PATH, command, err, guard, option, out, print_json


@command()
@click.argument("result", type=PATH, help="result folder written by `siting solve` (or its result.gpkg)")
@option("--instance", help="instance to check against (default: the one the result records)")
@option("--quiet", "-q", is_flag=True, help="print nothing but the violations")
@option("--json", "as_json", is_flag=True, help="print the findings as JSON")
@guard
def verify(result: Path, instance: str | None = None, quiet: bool = False, as_json: bool = False) -> None:
    """Re-read a stored result (CSV, GeoPackage, summary.json), reload its instance and check every rule, the
    objective and the copies against each other. Exit 0 when it holds, 5 with the violations when it does not."""
    from optimizer.check.stored import verify_stored

    check = verify_stored(result, instance)
    if as_json:
        print_json(check.as_dict())
    else:
        for note in check.notes:
            err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
        if check.violations:
            err.print(f"verification failed: {check.folder} ({check.kind} instance {check.instance}), "
                      f"{len(check.violations)} violation(s):", markup=False, highlight=False, soft_wrap=True)
            for v in check.violations:
                err.print(f"  - {v}", markup=False, highlight=False, soft_wrap=True)
        elif not quiet:
            copies = "" if check.kind == "matrix" else ", and the GeoPackage and CSV copies"
            out.print(f"verified: {check.folder} ({check.kind} instance {check.instance}) — {len(check.checks)} "
                      f"checks hold: every rule and the objective{copies}", markup=False, highlight=False,
                      soft_wrap=True)
    if check.violations:
        raise Exit(EXIT_VERIFY)
