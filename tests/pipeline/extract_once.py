"""Run one extraction of every stream into the config's warehouse (a subprocess the tests kill)."""

import sys

from kb_pipeline.config import load_config
from kb_pipeline.extract import extract
from kb_pipeline.warehouse import Warehouse

if __name__ == "__main__":
    config = load_config(sys.argv[1])
    with Warehouse(config.data_dir) as warehouse:
        report = extract(config, warehouse, run_id=sys.argv[2])
    sys.exit(0 if report.ok else 1)
