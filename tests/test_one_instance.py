"""One Dagster instance and one code location for every entry point: what `kb-pipeline run` did is
in the instance the UI reads (materializations and check results), `dagster`/`dg` commands started
from the project root find the same `dagster_home/`, and every way of loading the definitions names
the location alike."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import dagster as dg
import pytest

from kb_pipeline.defs import defs
from kb_pipeline.defs.streams import STREAMS
from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
from kb_pipeline.instance import CODE_LOCATION, PROJECT_HOME, dagster_home, write_workspace
from kb_pipeline.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_kb_pipeline_run_records_materializations_and_checks_in_the_shared_instance(
    sandbox: SandboxServer, tmp_path: Path, own_dagster_home: Path
) -> None:
    # an instance of its own: the session's has seen other tenants' documents, which this run's
    # smaller one would fail the no-sharp-drop checks against
    export_sandbox_environment()
    config = write_sandbox_config(sandbox.url, sandbox.dataset, tmp_path / "data")
    lingma = [key for key, (source, _) in STREAMS.items() if source.name == "lingma"]

    result = subprocess.run(
        [BIN / "kb-pipeline", "run", "--config", str(config), "--source", "lingma"],
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    checks = [check for check in defs.resolve_asset_graph().asset_check_keys if check.asset_key in lingma]
    with dg.DagsterInstance.get() as instance:  # DAGSTER_HOME
        for key in lingma:
            event = instance.get_latest_materialization_event(key)
            assert event is not None, key
            run = instance.get_run_by_id(event.run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(checks)
    assert checks and set(latest) == set(checks)
    outcomes = {key.to_user_string(): (record.status.value, record.run_id) for key, record in latest.items()}
    assert {status for status, _ in outcomes.values()} == {"SUCCEEDED"}, outcomes


def test_without_dagster_home_the_project_instance_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME")
    assert dagster_home() == PROJECT_HOME
    assert (PROJECT_HOME / "dagster.yaml").exists()


def test_dagster_commands_from_the_project_root_read_dagster_home_from_dot_env() -> None:
    env = {name: value for name, value in os.environ.items() if name != "DAGSTER_HOME"}
    probe = (
        "from dagster._cli.utils import get_possibly_temporary_instance_for_cli\n"
        "with get_possibly_temporary_instance_for_cli() as instance:\n"
        "    print(instance.root_directory)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, "PWD": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == PROJECT_HOME


def test_every_way_of_loading_the_definitions_names_one_code_location(tmp_path: Path) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["dagster"]["code_location_name"] == CODE_LOCATION  # dagster dev
    assert pyproject["tool"]["dg"]["project"]["code_location_name"] == CODE_LOCATION  # dg dev, dg launch
    workspace = write_workspace(tmp_path)  # kb-pipeline ui
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    (origin,) = WorkspaceFileTarget(paths=[str(workspace)]).create_origins()
    assert origin.location_name == CODE_LOCATION

    checked = subprocess.run(
        [BIN / "dg", "check", "defs"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
