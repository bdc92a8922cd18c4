"""One module per vendor: its streams as declarative specs, and its record normalizers.

`SOURCES` is the registry the engine reads; adding a vendor means adding its module here.
"""

from kb_pipeline.sources import lingma, pai, qianfan, vikingdb
from kb_pipeline.sources.base import Source, Stream

SOURCES: dict[str, Source] = {
    module.SOURCE.name: module.SOURCE for module in (pai, vikingdb, lingma, qianfan)
}


def stream(name: str) -> Stream:
    """The stream called `name` (e.g. `qianfan.documents`), whatever its source."""
    for source in SOURCES.values():
        for candidate in source.streams:
            if candidate.name == name:
                return candidate
    raise KeyError(f"no stream {name!r}; streams are: {', '.join(all_stream_names())}")


def all_stream_names() -> list[str]:
    return [s.name for source in SOURCES.values() for s in source.streams]


__all__ = ["SOURCES", "Source", "Stream", "all_stream_names", "stream"]
