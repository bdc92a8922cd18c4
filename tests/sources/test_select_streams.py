"""Protects the one way streams are picked, by source or by name, for the CLI, the engine and Dagster:
discovery before the streams that need it, sources with nothing picked left out, unknown names refused."""

from __future__ import annotations

import pytest

from kb_pipeline.sources import select_streams


def names(selection) -> dict[str, list[str]]:
    return {source: [stream.name for stream in streams] for source, streams in selection.items()}


def test_a_source_brings_its_streams_discovery_first() -> None:
    assert names(select_streams(["qianfan"])) == {"qianfan": ["qianfan.knowledge_bases", "qianfan.documents"]}


def test_streams_by_name_leave_out_sources_with_none_picked() -> None:
    picked = select_streams(streams=["pai.jobs", "vikingdb.tasks"])
    assert names(picked) == {"pai_langstudio": ["pai.jobs"], "vikingdb": ["vikingdb.tasks"]}


def test_sources_and_names_together_pick_what_both_allow() -> None:
    assert names(select_streams(["lingma"], ["pai.jobs"])) == {}


@pytest.mark.parametrize(
    ("sources", "streams", "message"),
    [(["baidu"], None, r"unknown source\(s\) \['baidu'\]"), (None, ["qianfan.files"], "unknown stream")],
)
def test_unknown_names_are_refused_with_the_known_ones(sources, streams, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        select_streams(sources, streams)
    assert "qianfan" in str(refused.value)
