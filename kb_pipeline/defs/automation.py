"""When things run: hourly increments, a daily full refresh, following running jobs, publishing.

All times are UTC. The schedules extract every stream; the marts, feeds and report follow on their
own (see `publishing.PUBLISH_WHEN`, evaluated by `publish_sensor`). No run needs a tag to be
limited: the one step that calls the vendors is in the `kb_warehouse` pool (limit 1 in
dagster.yaml), so two runs never call a vendor at once, whoever started them.
"""

import dagster as dg

from kb_pipeline.defs.extraction import EXTRACTION_OP, ExtractionConfig
from kb_pipeline.defs.publishing import PUBLISHED_KEYS
from kb_pipeline.defs.resources import WarehouseResource
from kb_pipeline.defs.streams import STREAMS, streams_feeding
from kb_pipeline.warehouse import WarehouseError

FOLLOWED = {key: STREAMS[key][0].name for key in streams_feeding("jobs")}
"""The streams that load jobs, worth re-reading between the hourly runs, and the source of each."""
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


extract_job = dg.define_asset_job(
    "extract_all",
    selection=dg.AssetSelection.assets(*STREAMS),
    description="Every vendor stream, with its checks; marts, feeds and the report follow.",
)

hourly_incremental = dg.ScheduleDefinition(
    name="hourly_incremental",
    job=extract_job,
    cron_schedule="0 0-2,4-23 * * *",  # 03:00 belongs to the full refresh
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: new and changed records only, from each stream's cursor.",
)

daily_full_refresh = dg.ScheduleDefinition(
    name="daily_full_refresh",
    job=extract_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    run_config=dg.RunConfig(ops={EXTRACTION_OP: ExtractionConfig(full_refresh=True)}),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 03:00 UTC: every listing re-read in full, so status changes and deletions are caught.",
)

RUNNING_JOBS_SQL = "SELECT source, count(*) AS running FROM jobs WHERE status = 'running' GROUP BY source"


@dg.sensor(
    name="follow_running_jobs",
    minimum_interval_seconds=300,
    target=list(FOLLOWED),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 5 minutes, while the warehouse holds running jobs, re-read their streams.",
)
def follow_running_jobs(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    try:
        running = {row["source"]: row["running"] for row in warehouse.query(RUNNING_JOBS_SQL).to_pylist()}
    except WarehouseError as error:
        return dg.SkipReason(f"warehouse not readable now, next tick: {error}")
    keys = [key for key, source in FOLLOWED.items() if running.get(source)]
    if not keys:
        return dg.SkipReason("no running jobs in the warehouse")
    in_flight = context.instance.get_runs(
        dg.RunsFilter(tags={"dagster/sensor_name": context.sensor_name}, statuses=IN_FLIGHT), limit=1
    )
    if in_flight:
        return dg.SkipReason(f"run {in_flight[0].run_id} is still following them")
    return dg.RunRequest(asset_selection=keys)


publish_sensor = dg.AutomationConditionSensorDefinition(
    "publish_after_extraction",
    target=dg.AssetSelection.assets(*PUBLISHED_KEYS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the marts, feeds and report once the streams they read have new data.",
)

SCHEDULES = [hourly_incremental, daily_full_refresh]
SENSORS = [follow_running_jobs, publish_sensor]
JOBS = [extract_job]
