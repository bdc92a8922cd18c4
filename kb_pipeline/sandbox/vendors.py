"""The vendors the sandbox serves: one package each in `kb_pipeline/sandbox/`, and any installed.

A vendor's package holds an `api` module whose `VENDOR` is its `Vendor` subclass; an installed
package adds one by declaring that class under the `kb_pipeline.sandbox` entry point group
(`toy = "toy_vendor.sandbox:Toy"`). The vendor names, their default rate limits and the demo's
configuration are all read from here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from types import MappingProxyType

from kb_pipeline.sandbox.gateway import Vendor

SANDBOX_DIR = Path(__file__).parent
ENTRY_POINT_GROUP = "kb_pipeline.sandbox"


def _vendor_apis() -> tuple[type[Vendor], ...]:
    """The built-in vendors by package name, then the installed ones by entry point name."""
    packages = sorted(
        found.name
        for found in pkgutil.iter_modules([str(SANDBOX_DIR)])
        if found.ispkg and (SANDBOX_DIR / found.name / "api.py").is_file()
    )
    found = [importlib.import_module(f"kb_pipeline.sandbox.{name}.api").VENDOR for name in packages]
    found += [entry.load() for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)]
    if wrong := [api for api in found if not (isinstance(api, type) and issubclass(api, Vendor))]:
        raise RuntimeError(f"a sandbox vendor must be a Vendor subclass, not {wrong}")
    return tuple(found)


VENDOR_APIS: tuple[type[Vendor], ...] = _vendor_apis()
VENDORS: tuple[str, ...] = tuple(api.name for api in VENDOR_APIS)
DEFAULT_QPS: Mapping[str, float] = MappingProxyType({api.name: api.default_qps for api in VENDOR_APIS})
"""Requests per second each vendor answers before its throttling error (none documents one)."""
