"""Scenario sweeps: the definition, Dask vs in-process equality, fault isolation, resume, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT_ROOT, siting

from optimizer.errors import InputError
from optimizer.studies.sweep import run_sweep
from optimizer.studies.sweep_outputs import comparable
from optimizer.studies.sweep_spec import load_sweep

# Two cheap scenarios (assignment = any: the heuristic is proven optimal) from a grid, one with a bad value and
# one whose instance names a table that does not exist.
SWEEP = """
[sweep]
name = "tiny"
instance = "materialenbanken"
set = { assignment = "any" }

[[scenario]]
name = "bad-value"
set = { access_rules = "medium" }

[[scenario]]
name = "missing-table"
instance = "broken.toml"

[[grid]]
name = "any-{size_variant}"
vary = { size_variant = ["final", "poster"] }
"""
ORDER = ["bad-value", "missing-table", "any-final", "any-poster"]


def _write(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = (PROJECT_ROOT / "instances" / "materialenbanken.toml").read_text(encoding="utf-8")
    flanders = (PROJECT_ROOT / "instances" / "flanders").as_posix()
    broken = (manifest.replace('"flanders/municipalities.csv"', f'"{flanders}/no-such-table.csv"')
              .replace('"flanders/candidates.csv"', f'"{flanders}/candidates.csv"'))
    (folder / "broken.toml").write_text(broken, encoding="utf-8")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("sweepdef"), SWEEP)


@pytest.fixture(scope="module")
def sequential(sweep_file: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - SweepResult
    return run_sweep(load_sweep(sweep_file), tmp_path_factory.mktemp("seq"), workers=0)


# ---------------------------------------------------------------------------------------------------------------
# Definition
# ---------------------------------------------------------------------------------------------------------------
def test_load_orders_scenarios_and_expands_the_grid(sweep_file: Path) -> None:
    sweep = load_sweep(sweep_file)
    assert [s.name for s in sweep.scenarios] == ORDER
    assert sweep.scenarios[3].overrides == {"assignment": "any", "size_variant": "poster"}
    assert Path(sweep.scenarios[1].instance).name == "broken.toml" and Path(sweep.scenarios[1].instance).is_absolute()


@pytest.mark.parametrize(("body", "field", "words"), [
    ('[[scenario]]\nname = "a"\nset = { size_variantt = "poster" }', "scenario[1].set.size_variantt",
     "did you mean 'size_variant'"),
    ('[[scenario]]\nname = "a"\n[[scenario]]\nname = "a"', "scenario[2].name", "duplicate scenario name"),
    ("[[grid]]\nvary = {}", "grid[1].vary", "empty grid"),
    ("[[grid]]\nvary = { size_variant = [] }", "grid[1].vary.size_variant", "empty grid axis"),
    ('[[scenario]]\nname = "a"\nset = { threads = 4 }', "scenario[1].set.threads", "--threads-per-scenario"),
    ('[[scenario]]\nname = "a"\nset = { assumption = { no_such = 1 } }', "scenario[1].set.assumption.no_such",
     "unknown assumption"),
    ('[[scenario]]\nname = "a/b"', "scenario[1].name", "folder name"),
    ('[[scenario]]\nname = "a"\ninstance = "no-such-instance"', "scenario[1].instance", "no instance named"),
    ('[[scenarios]]\nname = "a"', "scenarios", "did you mean 'scenario'"),
    ("", None, "no scenarios"),
])
def test_load_rejects_bad_definitions(tmp_path: Path, body: str, field: str | None, words: str) -> None:
    path = _write(tmp_path, '[sweep]\ninstance = "materialenbanken"\n' + body)
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert info.value.file == str(path.resolve()) and info.value.field == field
    assert words in info.value.message


def test_grid_names_and_assumption_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, '[sweep]\ninstance = "materialenbanken"\n[[grid]]\nprefix = "g"\n'
                            'vary = { enforce_capacity = [true, false], assumption = { access_circuity = [1.2] } }')
    names = [s.name for s in load_sweep(path).scenarios]
    assert names == ["g-enforce_capacity=true,access_circuity=1.2", "g-enforce_capacity=false,access_circuity=1.2"]
    assert load_sweep(path).scenarios[0].overrides == {"enforce_capacity": "true", "assumption.access_circuity": "1.2"}


# ---------------------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------------------
def test_failures_are_rows_and_the_others_complete(sequential) -> None:  # noqa: ANN001
    t = sequential.table.set_index("scenario")
    assert list(sequential.table["scenario"]) == ORDER
    assert t.loc["bad-value", "status"] == "input error"
    assert "must be one of strict, loose, none; got 'medium'" in t.loc["bad-value", "error"]
    assert t.loc["missing-table", "status"] == "input error"
    assert "demand table not found" in t.loc["missing-table", "error"]
    for name, ha in (("any-final", 17.0), ("any-poster", 8.5)):
        assert t.loc[name, "status"] == "optimal" and pd.isna(t.loc[name, "error"])
        assert t.loc[name, "land_take_ha"] == pytest.approx(ha)
        assert t.loc[name, "count.materialenbank.large"] == 12 and t.loc[name, "count.materialenbank.small"] == 10
        assert (sequential.out_dir / t.loc[name, "result_dir"] / "summary.json").exists()
    assert not (sequential.out_dir / "scenarios" / "bad-value").exists()
    for key in ("csv", "parquet", "tradeoff_png", "facilities_png", "manifest"):
        assert sequential.files[key].stat().st_size > 0
    manifest = json.loads(sequential.files["manifest"].read_text())
    assert manifest["solved"] == 2 and {f["scenario"] for f in manifest["failed"]} == {"bad-value", "missing-table"}


def test_local_cluster_table_equals_sequential(sequential, sweep_file: Path, tmp_path: Path) -> None:  # noqa: ANN001
    dask = run_sweep(load_sweep(sweep_file), tmp_path, workers=2)
    assert dask.mode == "local cluster" and dask.workers == 2 and dask.threads_per_scenario >= 1
    assert all(w.startswith("tcp://") for w in dask.table["worker"])  # every scenario ran on a worker
    pd.testing.assert_frame_equal(comparable(dask.table), comparable(sequential.table))
    # what was written equals what was returned
    pd.testing.assert_frame_equal(pd.read_parquet(dask.files["parquet"]), dask.table)


def test_resume_skips_solved_scenarios(sequential, sweep_file: Path) -> None:  # noqa: ANN001
    folder = sequential.out_dir / "scenarios" / "any-final"
    before = (folder / "summary.json").stat().st_mtime_ns
    again = run_sweep(load_sweep(sweep_file), sequential.out_dir, workers=0)
    assert again.table.set_index("scenario")["resumed"].to_dict() == {
        "bad-value": False, "missing-table": False, "any-final": True, "any-poster": True}
    assert (folder / "summary.json").stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(comparable(again.table), comparable(sequential.table))


def test_changed_inputs_are_solved_again_and_a_crash_is_a_row(sequential, tmp_path: Path,  # noqa: ANN001
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import optimizer.pipeline

    # same folder name as a solved scenario, different overrides → not resumed; a crashing run → its own row
    text = ('[sweep]\ninstance = "materialenbanken"\n[[scenario]]\nname = "any-final"\n'
            'set = { assignment = "any", access_rules = "loose" }\n[[scenario]]\nname = "any-poster"\n'
            'set = { assignment = "any", size_variant = "poster" }\n')
    path = _write(tmp_path, text)
    calls = []

    def crash(job, options, **kw):  # noqa: ANN001, ANN202
        calls.append(dict(job.instance.overrides))
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(optimizer.pipeline, "execute", crash)
    result = run_sweep(load_sweep(path), sequential.out_dir, workers=0)
    t = result.table.set_index("scenario")
    assert calls == [{"assignment": "any", "access_rules": "loose"}]  # any-poster was resumed, not run
    assert t.loc["any-final", "status"] == "crashed"
    assert t.loc["any-final", "error"].startswith("ZeroDivisionError: boom")
    assert t.loc["any-poster", "status"] == "optimal" and bool(t.loc["any-poster", "resumed"])


def test_cli_sweep(sequential, sweep_file: Path) -> None:  # noqa: ANN001
    ran = siting("sweep", sweep_file, "--workers", "0", "--out", sequential.out_dir)
    assert ran.returncode == 0, ran.stderr
    assert "sweep tiny" in ran.stdout and "2 failed" in ran.stderr  # the table (its width is the terminal's)
    ran = siting("sweep", sweep_file, "--workers", "0", "--out", sequential.out_dir, "--json")
    assert ran.returncode == 0, ran.stderr
    table = json.loads(ran.stdout)["table"]
    assert [r["scenario"] for r in table] == ORDER and all(r["resumed"] for r in table if r["result_dir"])
    assert [r["status"] for r in table] == ["input error", "input error", "optimal", "optimal"]
    bad = siting("sweep", sweep_file.parent / "nope.toml")
    assert bad.returncode == 2 and "sweep file not found" in bad.stderr


def test_a_chain_scenario_is_resumed_not_solved_again(tiny_chain_models: Path, tmp_path: Path) -> None:
    """Chain results record their instance hash and overrides like every result: a rerun resumes them (before,
    a chain scenario with overrides was solved again on every rerun)."""
    text = (f'[sweep]\nname = "chain"\ninstance = "{tiny_chain_models.as_posix()}"\n'
            '[[scenario]]\nname = "base"\n[[scenario]]\nname = "cheap-land"\nset = { land_cost_eur_per_m2 = 0 }\n')
    path = _write(tmp_path / "def", text)
    out = tmp_path / "out"
    first = run_sweep(load_sweep(path), out, workers=0)
    assert first.table["status"].tolist() == ["optimal", "optimal"] and not first.table["resumed"].any()
    summaries = [out / "scenarios" / name / "summary.json" for name in ("base", "cheap-land")]
    stamps = [p.stat().st_mtime_ns for p in summaries]
    assert json.loads(summaries[1].read_text())["overrides"] == {"land_cost_eur_per_m2": "0"}
    again = run_sweep(load_sweep(path), out, workers=0)
    assert again.table["resumed"].all()
    assert [p.stat().st_mtime_ns for p in summaries] == stamps
    pd.testing.assert_frame_equal(comparable(again.table), comparable(first.table))
    assert first.table.set_index("scenario").loc["cheap-land", "land_take_ha"] >= \
        first.table.set_index("scenario").loc["base", "land_take_ha"]
