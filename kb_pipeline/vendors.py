"""The installed vendors, by name, found without importing them.

A vendor is a package in `kb_pipeline/sources/` whose folder name is the source's name (as every
warehouse row and the configuration spell it), or a package installed anywhere that declares
itself under the `kb_pipeline.sources` entry point group (`toy = "toy_vendor"`). This module only
names them, so the warehouse can check a row's `source` knowing nothing of HTTP;
`kb_pipeline.sources.SOURCES` imports them.
"""

from __future__ import annotations

import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

SOURCES_DIR = Path(__file__).parent / "sources"
ENTRY_POINT_GROUP = "kb_pipeline.sources"


def source_packages() -> dict[str, str]:
    """Each vendor's name and the module that holds its `SOURCE`: the built-in ones first, by name."""
    packages = {
        found.name: f"kb_pipeline.sources.{found.name}"
        for found in sorted(pkgutil.iter_modules([str(SOURCES_DIR)]), key=lambda m: m.name)
        if found.ispkg
    }
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name in packages:
            raise RuntimeError(
                f"entry point {entry.name} = {entry.value!r} ({ENTRY_POINT_GROUP}) reuses the name of "
                f"{packages[entry.name]}: a source's name must be unique"
            )
        packages[entry.name] = entry.value
    return packages


SOURCE_NAMES: tuple[str, ...] = tuple(source_packages())
"""Every registered source's name, as a row's `source` column holds it."""
