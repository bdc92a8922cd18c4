"""The definitions `dagster dev -m kb_pipeline.defs` loads: the whole graph, its lineage, checks,
schedules, sensors and pools, and the instance settings of dagster_home/dagster.yaml.

Guards against a vendor stream without an asset, lineage that no longer follows the streams' own
declarations or the marts' SQL, writers outside the single-writer pool, and an instance file
Dagster refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from kb_pipeline.defs import defs
from kb_pipeline.marts import MARTS
from kb_pipeline.sources import SOURCES
from kb_pipeline.warehouse.tables import TABLES

DAGSTER_YAML = Path(__file__).parents[2] / "dagster_home" / "dagster.yaml"


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(list(path))


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)


def test_every_stream_is_an_asset_in_its_vendors_group(graph) -> None:
    for source in SOURCES.values():
        for stream in source.streams:
            node = graph.get(key(*stream.name.split(".")))
            assert node.group_name == source.name
            assert node.kinds == {"duckdb"}
            assert node.description and stream.name in node.description
            assert node.parent_keys == {key(*name.split(".")) for name in stream.after}
            schema = node.metadata["dagster/column_schema"]
            assert [column.name for column in schema.columns] == list(TABLES[stream.tables[0]].columns)


def test_extraction_is_one_subsettable_step_in_the_writer_pool() -> None:
    extraction = defs.get_assets_def(key("pai", "jobs"))
    stream_keys = {key(*s.name.split(".")) for source in SOURCES.values() for s in source.streams}
    assert set(extraction.keys) == stream_keys
    assert extraction.can_subset
    assert extraction.op.pool == "kb_warehouse"


def test_every_step_that_opens_the_warehouse_is_in_the_pool() -> None:
    for asset_key in (key("kb_inventory"), key("feeds"), key("report")):
        assert defs.get_assets_def(asset_key).op.pool == "kb_warehouse"


def test_marts_follow_the_tables_their_sql_reads(graph) -> None:
    assert {mart.name for mart in MARTS} <= {k.to_user_string() for k in graph.get_all_asset_keys()}
    job_marts = graph.get(key("job_health_daily"))
    assert job_marts.group_name == "analytics"
    assert job_marts.kinds == {"duckdb", "sql"}
    assert job_marts.parent_keys == {key("pai", "jobs"), key("vikingdb", "tasks")}
    assert key("qianfan", "documents") in graph.get(key("document_status_funnel")).parent_keys
    assert graph.get(key("kb_inventory_by_scope")).parent_keys == {key("kb_inventory")}
    # extraction_freshness reads the cursors every stream writes
    assert graph.get(key("extraction_freshness")).parent_keys >= {key("lingma", "knowledge_bases")}


def test_feeds_and_report_come_after_the_marts(graph) -> None:
    feeds = graph.get(key("feeds"))
    assert {key(mart.name) for mart in MARTS} <= feeds.parent_keys
    assert feeds.kinds == {"parquet"}
    assert key("kb_inventory") in graph.get(key("report")).parent_keys


def test_a_stream_is_checked_per_table_it_feeds(graph) -> None:
    names_by_asset: dict[dg.AssetKey, set[str]] = {}
    for check in graph.asset_check_keys:
        names_by_asset.setdefault(check.asset_key, set()).add(check.name)
    assert names_by_asset[key("qianfan", "documents")] == {
        "documents_schema",
        "documents_unique_key",
        "document_tags_schema",
        "document_tags_unique_key",
        "fresh",
        "nothing_quarantined",
        "no_sharp_drop",
    }
    assert names_by_asset[key("lingma", "knowledge_bases")] == {
        "knowledge_bases_schema",
        "knowledge_bases_unique_key",
        "fresh",
        "nothing_quarantined",
        "no_sharp_drop",
    }


def test_schedules_hourly_increments_and_a_daily_full_refresh_at_three() -> None:
    hourly = defs.resolve_schedule_def("hourly_incremental")
    daily = defs.resolve_schedule_def("daily_full_refresh")
    assert hourly.execution_timezone == daily.execution_timezone == "UTC"
    assert daily.cron_schedule == "0 3 * * *"
    minute, hours, *_ = hourly.cron_schedule.split()
    hours_run = {
        h for part in hours.split(",") for h in range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1)
    }
    assert minute == "0" and hours_run == set(range(24)) - {3}
    config = daily.evaluate_tick(dg.build_schedule_context()).run_requests[0].run_config
    assert config["ops"]["extract_streams"]["config"]["full_refresh"] is True
    job = defs.resolve_job_def(hourly.job_name)
    stream_keys = {key(*s.name.split(".")) for source in SOURCES.values() for s in source.streams}
    assert job.asset_layer.selected_asset_keys == stream_keys


def test_sensors_follow_running_jobs_and_publish_after_extraction() -> None:
    follow = defs.resolve_sensor_def("follow_running_jobs")
    assert follow.minimum_interval_seconds == 300
    publish = defs.resolve_sensor_def("publish_after_extraction")
    published = publish.asset_selection.resolve(defs.resolve_asset_graph())
    assert published == {key(m.name) for m in MARTS} | {key("feeds"), key("report")}


def test_instance_file_limits_the_pool_and_retries_once(tmp_path: Path) -> None:
    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.event_log_storage.get_concurrency_info("kb_warehouse").limit == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        queue = instance.get_concurrency_config().run_queue_config
        # the limits are on the assets' pool, not on run tags some entry points would not set
        assert queue.tag_concurrency_limits == [] and queue.max_concurrent_runs >= 1
