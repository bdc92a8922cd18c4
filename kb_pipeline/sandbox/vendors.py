"""The vendors the sandbox serves: its own, and any installed package's.

An installed package adds a vendor by declaring its `Vendor` subclass under the
`kb_pipeline.sandbox` entry point group (`toy = "toy_vendor.sandbox:Toy"`). The vendor names, their
default rate limits and the demo's configuration are all read from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from types import MappingProxyType

from kb_pipeline.sandbox.gateway import Vendor
from kb_pipeline.sandbox.lingma import Lingma
from kb_pipeline.sandbox.pai import PaiLangStudio
from kb_pipeline.sandbox.qianfan import Qianfan
from kb_pipeline.sandbox.vikingdb import VikingDB

ENTRY_POINT_GROUP = "kb_pipeline.sandbox"


def _installed() -> list[type[Vendor]]:
    found = [entry.load() for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)]
    if wrong := [api for api in found if not (isinstance(api, type) and issubclass(api, Vendor))]:
        raise RuntimeError(f"{ENTRY_POINT_GROUP} entry points must name Vendor subclasses, not {wrong}")
    return found


VENDOR_APIS: tuple[type[Vendor], ...] = (PaiLangStudio, VikingDB, Lingma, Qianfan, *_installed())
VENDORS: tuple[str, ...] = tuple(api.name for api in VENDOR_APIS)
DEFAULT_QPS: Mapping[str, float] = MappingProxyType({api.name: api.default_qps for api in VENDOR_APIS})
"""Requests per second each vendor answers before its throttling error (none documents one)."""
