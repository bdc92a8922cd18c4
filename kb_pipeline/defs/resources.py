"""The two resources every step shares: the pipeline's config file and the warehouse it writes.

Vendor secrets never pass through Dagster: the YAML file holds `${ENV_VAR}` references that
`load_config` resolves in the run's own process, so Dagster's run config and UI only ever see the
path of the file.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pyarrow as pa
from pydantic import Field

from kb_pipeline import stopping
from kb_pipeline.config import CONFIG_ENV_VAR, PipelineConfig, load_config
from kb_pipeline.warehouse import Warehouse, read_only_query


class PipelineSettings(dg.ConfigurableResource):
    """The pipeline's YAML configuration file (sources, data directory), read afresh for each run."""

    config_file: str = Field(description=f"path of the YAML configuration (usually ${CONFIG_ENV_VAR})")

    def load(self) -> PipelineConfig:
        """The validated configuration; raises ConfigError naming the file and key at fault."""
        return load_config(self.config_file)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse under the config's data_dir.

    DuckDB lets one process write a file, and while it does no other process may even read it.
    So a step opens the single writer only for as long as it works (`open`), every such step is in
    the `kb_warehouse` pool (limit 1), and readers outside runs (`query`, for sensors) report a busy
    warehouse instead of waiting for it.

    Not dagster-duckdb's DuckDBResource, even for the steps that only read: creating mart views
    writes too, a read-only connection is refused while another process writes anyway, and
    `Warehouse` applies the schema migrations and turns DuckDB's lock error into WarehouseBusyError.
    """

    settings: PipelineSettings
    lock_timeout_s: float = Field(
        default=60.0, ge=0, description="how long to wait for another process's write lock"
    )

    @property
    def data_dir(self) -> Path:
        return self.settings.load().data_dir

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        """The single writer, migrated and ready; closed (and the file released) on exit. A stop
        request (`kb_pipeline.stopping`) interrupts the statement under way."""
        with (
            Warehouse(self.data_dir, lock_timeout_s=self.lock_timeout_s) as warehouse,
            stopping.on_stop(warehouse.interrupt),
        ):
            yield warehouse

    def query(self, sql: str) -> pa.Table:
        """A read-only query; raises WarehouseBusyError while a run holds the writer."""
        return read_only_query(self.data_dir, sql)
