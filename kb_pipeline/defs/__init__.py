"""Dagster definitions: the stream assets with their checks, the marts, feeds and report, the
resources they share, and the schedules and sensors that run them (`dagster dev -m kb_pipeline.defs`).

Runs execute in one process: every step that touches the warehouse is in the `kb_warehouse` pool
anyway, so separate step processes would only add start-up time.
"""

import dagster as dg

from kb_pipeline.config import CONFIG_ENV_VAR
from kb_pipeline.defs.automation import JOBS, SCHEDULES, SENSORS
from kb_pipeline.defs.extraction import extract_streams, ignore_pages
from kb_pipeline.defs.publishing import PUBLISHED
from kb_pipeline.defs.resources import PipelineSettings, WarehouseResource

ASSETS = [extract_streams, *PUBLISHED]

settings = PipelineSettings(config_file=dg.EnvVar(CONFIG_ENV_VAR))
RESOURCES = {
    "settings": settings,
    "warehouse": WarehouseResource(settings=settings),
    "page_progress": ignore_pages,
}

defs = dg.Definitions(
    assets=ASSETS,
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=RESOURCES,
    executor=dg.in_process_executor,
)
