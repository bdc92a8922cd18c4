"""The one Dagster instance every entry point shares, and the runs a dead process left behind.

`kb-pipeline demo|run|ui` use `$DAGSTER_HOME`, else the project's `dagster_home/`, and pass it on to
what they start; `dagster dev`, `dg dev` and `dg launch` started from the project root read the
same directory from the project's `.env`. So runs, materializations, check results and schedule
state land in one place, under one code location name, whoever started them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.instance.ref import InstanceRef

from kb_pipeline.compute_logs import ThreadedComputeLogManager
from kb_pipeline.event_log_storage import PooledSqliteEventLogStorage

CODE_LOCATION = "kb_pipeline"
"""The code location's name, as pyproject.toml's [tool.dagster] and [tool.dg.project] give it."""
PROJECT_HOME = Path(__file__).resolve().parents[1] / "dagster_home"
OWNER_TAGS = ("kb_pipeline/host", "kb_pipeline/pid")
"""Tags of runs executed inside a `kb-pipeline` process: where to look for the process."""
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def dagster_home() -> Path:
    """`$DAGSTER_HOME` when set, else the project's `dagster_home/` (`./dagster_home` for an install
    without the source tree)."""
    if configured := os.environ.get("DAGSTER_HOME"):
        return Path(configured).expanduser().resolve()
    return PROJECT_HOME if (PROJECT_HOME / "dagster.yaml").exists() else Path.cwd() / "dagster_home"


def use_shared_instance() -> Path:
    """Point DAGSTER_HOME, for this process and its children, at `dagster_home()` (created if missing)."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


def _override(component: type, config: dict[str, str]) -> dict[str, object]:
    return {"module": component.__module__, "class": component.__name__, "config": config}


def open_instance(home: Path) -> dg.DagsterInstance:
    """The instance at `home`, as `DagsterInstance.get()` opens it, except for what its dagster.yaml
    leaves to Dagster's defaults: events are stored through `PooledSqliteEventLogStorage` (same
    files, one engine per database instead of one per event), and the run's stdout and stderr are
    captured by `ThreadedComputeLogManager` (same files, no `tail` processes)."""
    config_file = home / "dagster.yaml"
    config = (yaml.safe_load(config_file.read_text(encoding="utf-8")) if config_file.exists() else None) or {}
    overrides = {}
    if not any(key in config for key in STORAGE_KEYS):
        # where Dagster's default keeps them
        overrides["event_log_storage"] = _override(
            PooledSqliteEventLogStorage, {"base_dir": str(home / "history" / "runs")}
        )
    if "compute_logs" not in config:
        overrides["compute_logs"] = _override(ThreadedComputeLogManager, {"base_dir": str(home / "storage")})
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=overrides))


def write_workspace(directory: Path) -> Path:
    """A Dagster workspace file loading `kb_pipeline.defs` as location CODE_LOCATION (`-m` alone
    would name the location after the module)."""
    path = directory / "workspace.yaml"
    location = {"python_module": {"module_name": "kb_pipeline.defs", "location_name": CODE_LOCATION}}
    path.write_text(yaml.safe_dump({"load_from": [location]}, sort_keys=False), encoding="utf-8")
    return path


def owner_tags() -> dict[str, str]:
    """Tags naming this process, so a later `kb-pipeline` can tell if the run's process died."""
    return dict(zip(OWNER_TAGS, (socket.gethostname(), str(os.getpid())), strict=True))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reclaim_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark canceled the unfinished runs of `kb-pipeline` processes of this host that no longer exist,
    and free their pool slots: a killed process would otherwise hold `kb_warehouse` for ever."""
    host_tag, pid_tag = OWNER_TAGS
    runs = instance.get_runs(
        dg.RunsFilter(statuses=UNFINISHED, tags={host_tag: socket.gethostname()}), limit=100
    )
    reclaimed = []
    for run in runs:
        pid = run.tags.get(pid_tag, "")
        if not pid.isdigit() or _alive(int(pid)):
            continue
        instance.report_run_canceled(run, message=f"the kb-pipeline process running it (PID {pid}) ended")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reclaimed.append(run.run_id)
    return reclaimed
