"""``siting locate``: solve on GIS layers instead of a manifest.

The command reads the planner's layers (:mod:`optimizer.data.layers`), writes the generated instance (manifest +
CSV tables) into a temporary folder, runs the ordinary pipeline on it and writes the result folder atomically with
the instance inside (``OUT/instance/NAME.toml``), so ``siting solve OUT/instance/NAME.toml --out OTHER`` repeats the
run. ``--progress jsonl`` streams stages and notes as JSON lines on stderr (:mod:`optimizer.cli.progress`), which
is what the QGIS plugin (``qgis_plugin/``) shows in the Processing log.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli.app import guard, nullcontext, out, print_json
from optimizer.cli.progress import Progress, progress_option


def _command_line() -> str:
    """The command as the user typed it (recorded in the generated manifest), when run as ``siting`` or ``python -m
    optimizer.cli``; empty when called from Python (a test, a notebook)."""
    script = Path(sys.argv[0])
    if script.stem == "siting" or (script.stem in ("__main__", "cli") and script.parent.name in ("cli", "optimizer")):
        return shlex.join(["siting", *sys.argv[1:]])
    return ""


def _name_from(out_dir: Path) -> str:
    """An instance name from the result folder's name (letters, digits, '-', '_')."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", out_dir.resolve().name).strip("-")
    return name or "located"


@guard
def locate(
    demand: Annotated[str, typer.Option("--demand", help="demand layer, FILE or FILE::LAYER (points or polygons)",
                                        rich_help_panel="demand")],
    weight: Annotated[str, typer.Option("--weight", help="numeric field: inhabitants (or t/yr, --weight-unit t)",
                                        rich_help_panel="demand")],
    candidates: Annotated[str, typer.Option("--candidates", help="candidate-zone layer, FILE or FILE::LAYER "
                                                                 "(polygons or points)", rich_help_panel="candidates")],
    free_area: Annotated[str, typer.Option("--free-area", help="numeric field: free land of the zone",
                                           rich_help_panel="candidates")],
    programme: Annotated[str, typer.Option("--programme", help="programme of models/ (see `siting programmes`)",
                                           rich_help_panel="rules")],
    out_dir: Annotated[Path, typer.Option("--out", help="result folder (the generated instance goes in "
                                                        "OUT/instance/)")],
    weight_unit: Annotated[str, typer.Option("--weight-unit", help="inhabitants (× the programme's t per "
                                             "inhabitant) or t (t/yr)", rich_help_panel="demand")] = "inhabitants",
    demand_id: Annotated[str | None, typer.Option("--demand-id", help="unique id field (default: feature number)",
                                                  rich_help_panel="demand")] = None,
    demand_name: Annotated[str | None, typer.Option("--demand-name", help="name field (default: the id)",
                                                    rich_help_panel="demand")] = None,
    demand_area: Annotated[str | None, typer.Option("--demand-area", help="area field in km² for the intrazonal "
                                                    "distance (default: polygon area; points 0)",
                                                    rich_help_panel="demand")] = None,
    demand_centrumstad: Annotated[str | None, typer.Option("--demand-centrumstad", help="yes/no field: the unit is a "
                                                           "centrumstad (size rule)", rich_help_panel="demand")] = None,
    demand_uitrustingsgraad: Annotated[str | None, typer.Option("--demand-uitrustingsgraad", help="uitrustingsgraad "
                                                                "class field (a0..c2; type environments)",
                                                                rich_help_panel="demand")] = None,
    free_area_unit: Annotated[str, typer.Option("--free-area-unit", help="ha or m2 (also for --total-area)",
                                                rich_help_panel="candidates")] = "ha",
    candidate_id: Annotated[str | None, typer.Option("--candidate-id", help="unique id field (default: feature "
                                                     "number)", rich_help_panel="candidates")] = None,
    candidate_name: Annotated[str | None, typer.Option("--candidate-name", help="name field (default: the id)",
                                                       rich_help_panel="candidates")] = None,
    zone_type: Annotated[str | None, typer.Option("--zone-type", help="zone-type field (economic_zone, seaport, ...; "
                                                  "default: the programme's first)", rich_help_panel="candidates")] = None,
    total_area: Annotated[str | None, typer.Option("--total-area", help="numeric field: total area (a seaport may "
                                                   "leave free area blank)", rich_help_panel="candidates")] = None,
    candidate_demand: Annotated[str | None, typer.Option("--candidate-demand", help="field with the id of the demand "
                                                         "unit the zone lies in (default: by location)",
                                                         rich_help_panel="candidates")] = None,
    regions: Annotated[str | None, typer.Option("--regions", help="region polygon layer, FILE or FILE::LAYER",
                                                rich_help_panel="regions")] = None,
    regions_name: Annotated[str | None, typer.Option("--regions-name", help="name field of the region layer "
                                                     "(default: feature number)", rich_help_panel="regions")] = None,
    region_field: Annotated[str | None, typer.Option("--region-field", help="region field of the demand layer",
                                                     rich_help_panel="regions")] = None,
    size_variant: Annotated[str | None, typer.Option("--size-variant", help="final (study text) or poster",
                                                     rich_help_panel="rules")] = None,
    size_rule: Annotated[str | None, typer.Option("--size-rule", help="programme (the study's rule) or free",
                                                  rich_help_panel="rules")] = None,
    assignment: Annotated[str | None, typer.Option("--assignment", help="programme, own_region or any",
                                                   rich_help_panel="rules")] = None,
    capacity: Annotated[bool | None, typer.Option("--capacity/--no-capacity", help="enforce the facilities' "
                                                  "capacity (default: enforced)", rich_help_panel="rules")] = None,
    land_cost: Annotated[float | None, typer.Option("--land-cost", help="EUR per m² per year of land take in the "
                                                    "objective (default 0)", rich_help_panel="rules")] = None,
    access_rules: Annotated[str | None, typer.Option("--access-rules", help="strict, loose or none",
                                                     rich_help_panel="rules")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="solver time limit, seconds")] = None,
    mip_gap: Annotated[float | None, typer.Option("--mip-gap", help="relative MIP gap to stop at")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a parameter or assumption.NAME: "
                                                   "key=value (repeatable)")] = None,
    name: Annotated[str | None, typer.Option("--name", help="instance name (default: the --out folder's name)")] = None,
    repair_geometry: Annotated[bool, typer.Option("--repair-geometry", help="repair invalid polygons "
                                                  "(make_valid) instead of refusing them")] = False,
    progress: Annotated[str, typer.Option("--progress", help="none, or jsonl: JSON progress lines on stderr")] = "none",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Locate facilities from GIS layers: demand + candidate zones (+ regions) → a generated instance, solved,
    verified and written with the instance inside (OUT/instance/NAME.toml repeats the run with `siting solve`)."""
    import tempfile

    from optimizer.atomic import check_destination
    from optimizer.cli.app import check_solver_options
    from optimizer.cli.solve import print_summary
    from optimizer.data.instance import parse_overrides
    from optimizer.data.layers import (
        CandidateSpec,
        DemandSpec,
        LayerSource,
        LocateRequest,
        RegionSpec,
        build_instance,
        write_instance,
    )
    from optimizer.errors import InputError
    from optimizer.pipeline import run

    progress = progress_option(progress)
    check_solver_options(time_limit, mip_gap, None)
    layer_files = tuple(Path(v.split("::", 1)[0]) for v in (demand, candidates, regions) if v)
    check_destination(out_dir, layer_files)  # before reading the layers: a refused --out costs nothing
    overrides = parse_overrides(set_ or [])
    parameters = {k: v for k, v in overrides.items() if not k.startswith("assumption.")}
    assumptions = {k.removeprefix("assumption."): v for k, v in overrides.items() if k.startswith("assumption.")}
    explicit = {"size_variant": size_variant, "size_rule": size_rule, "assignment": assignment,
                "enforce_capacity": capacity, "land_cost_eur_per_m2": land_cost, "access_rules": access_rules,
                "time_limit_s": time_limit, "mip_gap": mip_gap}
    for key, value in explicit.items():
        if value is None:
            continue
        if key in parameters:
            raise InputError(f"{key} is given twice (an option and --set); give it once", file="--set", field=key)
        parameters[key] = str(value).lower() if isinstance(value, bool) else str(value)
    request = LocateRequest(
        demand=DemandSpec(LayerSource.parse(demand, "--demand"), weight, weight_unit, demand_id, demand_name,
                          demand_area, demand_centrumstad, demand_uitrustingsgraad),
        candidates=CandidateSpec(LayerSource.parse(candidates, "--candidates"), free_area, free_area_unit,
                                 candidate_id, candidate_name, zone_type, total_area, candidate_demand),
        programme=programme,
        regions=RegionSpec(region_field, LayerSource.parse(regions, "--regions") if regions else None, regions_name),
        name=name or _name_from(out_dir),
        parameters=parameters,
        assumptions=assumptions,
        repair_geometry=repair_geometry,
        command=_command_line(),
    )
    spinner = progress == "none" and not (quiet or as_json)
    with out.status("reading layers", spinner="dots") if spinner else nullcontext() as status:
        report = Progress(progress, quiet=quiet, status=status)
        report.stage("reading layers")
        notes: list[str] = []
        try:
            generated = build_instance(request, notes)
        finally:  # what was converted is worth knowing also when a later check fails
            for note in notes:
                report.note(note)
        with tempfile.TemporaryDirectory(prefix="siting-locate-") as tmp:
            report.stage("writing the instance")
            folder = Path(tmp) / "instance"
            manifest = write_instance(generated, folder)
            try:
                result = run(manifest, out_dir=out_dir, progress=report.stage, extra_dirs={"instance": folder})
            except InputError as e:
                raise generated.translate(e, folder) from None
        report.stage("done")
    summary = {**result.summary, "out_dir": str(result.out_dir),
               "instance_manifest": str(Path(result.out_dir) / "instance" / manifest.name)}
    if as_json:
        print_json(summary)
    elif not quiet:
        print_summary(result.summary, result.out_dir)
        out.print(f"instance: {summary['instance_manifest']} (repeat: siting solve "
                  f"{summary['instance_manifest']} --out ANOTHER_FOLDER)", markup=False, highlight=False)
