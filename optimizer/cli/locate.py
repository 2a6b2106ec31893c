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

from optimizer.cli.app import PATH, command, guard, nullcontext, option, out, print_json
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


@command()
@option("--demand", required=True, help="demand layer, FILE or FILE::LAYER (points or polygons)", panel="demand")
@option("--weight", required=True, help="numeric field: inhabitants (or t/yr, --weight-unit t)", panel="demand")
@option("--candidates", required=True, help="candidate-zone layer, FILE or FILE::LAYER (polygons or points)",
        panel="candidates")
@option("--free-area", required=True, help="numeric field: free land of the zone", panel="candidates")
@option("--programme", required=True, help="programme of models/ (see `siting programmes`)", panel="rules")
@option("--out", "out_dir", type=PATH, required=True,
        help="result folder (the generated instance goes in OUT/instance/)")
@option("--weight-unit", default="inhabitants", help="inhabitants (× the programme's t per inhabitant) or t (t/yr)",
        panel="demand")
@option("--demand-id", help="unique id field (default: feature number)", panel="demand")
@option("--demand-name", help="name field (default: the id)", panel="demand")
@option("--demand-area", help="area field in km² for the intrazonal distance (default: polygon area; points 0)",
        panel="demand")
@option("--demand-centrumstad", help="yes/no field: the unit is a centrumstad (size rule)", panel="demand")
@option("--demand-uitrustingsgraad", help="uitrustingsgraad class field (a0..c2; type environments)", panel="demand")
@option("--free-area-unit", default="ha", help="ha or m2 (also for --total-area)", panel="candidates")
@option("--candidate-id", help="unique id field (default: feature number)", panel="candidates")
@option("--candidate-name", help="name field (default: the id)", panel="candidates")
@option("--zone-type", help="zone-type field (economic_zone, seaport, ...; default: the programme's first)",
        panel="candidates")
@option("--total-area", help="numeric field: total area (a seaport may leave free area blank)", panel="candidates")
@option("--candidate-demand", help="field with the id of the demand unit the zone lies in (default: by location)",
        panel="candidates")
@option("--regions", help="region polygon layer, FILE or FILE::LAYER", panel="regions")
@option("--regions-name", help="name field of the region layer (default: feature number)", panel="regions")
@option("--region-field", help="region field of the demand layer", panel="regions")
@option("--size-variant", help="final (study text) or poster", panel="rules")
@option("--size-rule", help="programme (the study's rule) or free", panel="rules")
@option("--assignment", help="programme, own_region or any", panel="rules")
@option("--capacity/--no-capacity", default=None, help="enforce the facilities' capacity (default: enforced)",
        panel="rules")
@option("--land-cost", type=float, help="EUR per m² per year of land take in the objective (default 0)", panel="rules")
@option("--access-rules", help="strict, loose or none", panel="rules")
@option("--time-limit", type=float, help="solver time limit, seconds")
@option("--mip-gap", type=float, help="relative MIP gap to stop at")
@option("--set", "set_", multiple=True, help="override a parameter or assumption.NAME: key=value (repeatable)")
@option("--name", help="instance name (default: the --out folder's name)")
@option("--repair-geometry", is_flag=True, help="repair invalid polygons (make_valid) instead of refusing them")
@option("--progress", default="none", help="none, or jsonl: JSON progress lines on stderr")
@option("--quiet", "-q", is_flag=True, help="print nothing but errors")
@option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@guard
def locate(
    demand: str, weight: str, candidates: str, free_area: str, programme: str, out_dir: Path,
    weight_unit: str = "inhabitants", demand_id: str | None = None, demand_name: str | None = None,
    demand_area: str | None = None, demand_centrumstad: str | None = None, demand_uitrustingsgraad: str | None = None,
    free_area_unit: str = "ha", candidate_id: str | None = None, candidate_name: str | None = None,
    zone_type: str | None = None, total_area: str | None = None, candidate_demand: str | None = None,
    regions: str | None = None, regions_name: str | None = None, region_field: str | None = None,
    size_variant: str | None = None, size_rule: str | None = None, assignment: str | None = None,
    capacity: bool | None = None, land_cost: float | None = None, access_rules: str | None = None,
    time_limit: float | None = None, mip_gap: float | None = None, set_: tuple[str, ...] = (),
    name: str | None = None, repair_geometry: bool = False, progress: str = "none", quiet: bool = False,
    as_json: bool = False,
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
    overrides = parse_overrides(list(set_))
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
