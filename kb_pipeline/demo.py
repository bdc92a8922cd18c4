"""Point the pipeline at a running sandbox: the configuration and environment the demo uses.

The configuration written here is an ordinary config file (credentials by environment
reference), so the sandbox is reached exactly as a vendor would be.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from kb_pipeline.sandbox.dataset import Dataset
from kb_pipeline.sandbox.vendors import VENDOR_APIS
from kb_pipeline.sources import SOURCES

SANDBOX_ENVIRONMENT = {name: value for api in VENDOR_APIS for name, value in api.environment().items()}
"""The sandbox's public, fake credentials under the names the sandbox config refers to."""


def sandbox_config(url: str, dataset: Dataset, data_dir: Path, *, qps: float | None = None) -> dict[str, Any]:
    """A config document for the sandbox at `url`: every registered source the sandbox serves,
    following everything its dataset holds."""
    limit = {"qps": qps} if qps else {}
    return {
        "data_dir": str(data_dir),
        "sources": {
            api.name: {**api.client_settings(url, dataset), **limit}
            for api in VENDOR_APIS
            if api.name in SOURCES
        },
    }


def export_sandbox_environment() -> None:
    """Make the sandbox config's credential references resolvable in this process and its children."""
    for name, value in SANDBOX_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def write_sandbox_config(url: str, dataset: Dataset, data_dir: Path, *, qps: float | None = None) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "sandbox-config.yaml"
    document = sandbox_config(url, dataset, data_dir.resolve(), qps=qps)
    path.write_text(
        "# Generated for the local sandbox; credentials are the sandbox's public fake ones.\n"
        + yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return path
