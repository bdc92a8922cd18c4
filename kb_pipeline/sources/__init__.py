"""The registry: one package per vendor (its settings, client, streams and normalizers).

`SOURCES` holds every vendor `kb_pipeline.vendors` finds, built in or installed; everything that
enumerates vendors or streams (configuration, engine, Dagster assets, marts, sensor, demo) reads
it, and `select_streams` is the one way to pick streams by source or by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from kb_pipeline.sources.base import Source, SourceSettings, Stream
from kb_pipeline.vendors import source_packages


def _load(name: str, module: str) -> Source:
    source = getattr(importlib.import_module(module), "SOURCE", None)
    if not isinstance(source, Source) or source.name != name:
        raise RuntimeError(f"vendor package {module} must define SOURCE = Source(name={name!r}, ...)")
    return source


SOURCES: dict[str, Source] = {name: _load(name, module) for name, module in source_packages().items()}


def select_streams(
    sources: Iterable[str] | None = None, streams: Iterable[str] | None = None
) -> dict[str, list[Stream]]:
    """The streams of `sources` (all when None), restricted to the names in `streams` when given,
    per source in dependency order (a source with none selected is left out); an unknown source
    or stream name raises ValueError naming the known ones."""
    wanted_sources = set(SOURCES if sources is None else sources)
    if unknown := wanted_sources - SOURCES.keys():
        raise ValueError(f"unknown source(s) {sorted(unknown)}; sources are {sorted(SOURCES)}")
    wanted_streams = None if streams is None else set(streams)
    known = {stream.name for source in SOURCES.values() for stream in source.streams}
    if wanted_streams is not None and (unknown := wanted_streams - known):
        raise ValueError(f"unknown stream(s) {sorted(unknown)}; streams are {sorted(known)}")
    selection = {
        name: [s for s in source.streams if wanted_streams is None or s.name in wanted_streams]
        for name, source in SOURCES.items()
        if name in wanted_sources
    }
    return {name: chosen for name, chosen in selection.items() if chosen}


def stream(name: str) -> Stream:
    """The stream called `name` (e.g. `qianfan.documents`), whatever its source."""
    ((chosen,),) = select_streams(streams=[name]).values()
    return chosen


__all__ = ["SOURCES", "Source", "SourceSettings", "Stream", "select_streams", "stream"]
