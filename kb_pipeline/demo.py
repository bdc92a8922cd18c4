"""Point the pipeline at a running sandbox: the configuration and environment the demo uses.

The configuration written here is an ordinary config file (credentials by environment
reference), so the sandbox is reached exactly as a vendor would be.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from kb_pipeline.sandbox import credentials
from kb_pipeline.sandbox.dataset import Dataset

SANDBOX_ENVIRONMENT = {
    "KB_SANDBOX_PAI_ACCESS_KEY_ID": credentials.PAI_ACCESS_KEY_ID,
    "KB_SANDBOX_PAI_ACCESS_KEY_SECRET": credentials.PAI_ACCESS_KEY_SECRET,
    "KB_SANDBOX_VOLC_ACCESS_KEY": credentials.VOLC_ACCESS_KEY,
    "KB_SANDBOX_VOLC_SECRET_KEY": credentials.VOLC_SECRET_KEY,
    "KB_SANDBOX_LINGMA_TOKEN": credentials.LINGMA_TOKEN,
    "KB_SANDBOX_QIANFAN_API_KEY": credentials.QIANFAN_API_KEY,
}
"""The sandbox's public, fake credentials under the names the sandbox config refers to."""


def sandbox_config(url: str, dataset: Dataset, data_dir: Path, *, qps: float | None = None) -> dict[str, Any]:
    """A config document for the sandbox at `url`, following everything its dataset holds."""
    limit = {"qps": qps} if qps else {}
    return {
        "data_dir": str(data_dir),
        "sources": {
            "pai_langstudio": {
                "endpoint": url,
                "region": "cn-hangzhou",
                "workspace_ids": list(dataset.pai_workspaces),
                "credentials": {
                    "access_key_id": "${KB_SANDBOX_PAI_ACCESS_KEY_ID}",
                    "access_key_secret": "${KB_SANDBOX_PAI_ACCESS_KEY_SECRET}",
                },
                **limit,
            },
            "vikingdb": {
                "endpoint": url,
                "region": "cn-beijing",
                "task_ids": sorted(dataset.vikingdb_tasks),
                "credentials": {
                    "access_key_id": "${KB_SANDBOX_VOLC_ACCESS_KEY}",
                    "secret_access_key": "${KB_SANDBOX_VOLC_SECRET_KEY}",
                },
                **limit,
            },
            "lingma": {
                "endpoint": url,
                "organization_ids": list(dataset.lingma_organizations),
                "credentials": {"token": "${KB_SANDBOX_LINGMA_TOKEN}"},
                **limit,
            },
            "qianfan": {
                "endpoint": url,
                "credentials": {"api_key": "${KB_SANDBOX_QIANFAN_API_KEY}"},
                **limit,
            },
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
