"""A stream's snapshot of what the warehouse holds covers its own source only."""

from __future__ import annotations

from kb_pipeline.warehouse import Warehouse
from kb_pipeline.warehouse.known import KnownSnapshot
from tests.warehouse.builders import at, job, knowledge_base, page


def load_two_sources(warehouse: Warehouse) -> None:
    warehouse.load_page(
        page("lingma.knowledge_bases", "org-1", fetched_at=at(0)),
        {"knowledge_bases": [knowledge_base("kb-l")]},
    )
    warehouse.load_page(
        page("pai.knowledge_bases", "ws-1", fetched_at=at(0)),
        {"knowledge_bases": [knowledge_base("d-ksicx823d", source="pai_langstudio", scope_id="ws-1")]},
    )
    warehouse.load_page(
        page("pai.jobs", "d-ksicx823d", fetched_at=at(1)),
        {"jobs": [job("j1"), job("j2", status="succeeded", progress=100.0)]},
    )


def test_a_snapshot_of_one_source_holds_nothing_of_another(warehouse: Warehouse) -> None:
    load_two_sources(warehouse)
    lingma = KnownSnapshot.read(warehouse, "lingma")
    assert lingma.knowledge_base_ids("lingma") == ["kb-l"]
    assert (lingma.knowledge_bases.keys(), lingma.jobs, lingma.running_windows, lingma.job_states) == (
        {"lingma"},
        {},
        {},
        {},
    )

    pai = KnownSnapshot.read(warehouse, "pai_langstudio")
    assert pai.knowledge_bases.keys() == {"pai_langstudio"}
    assert pai.running_job_ids("pai_langstudio") == ["j1"]
    assert pai.job_ids("pai_langstudio") == {"j1", "j2"}
    assert pai.running_window("pai_langstudio", "d-ksicx823d") is not None
    assert pai.job_state("pai_langstudio", "d-ksicx823d") is not None
    assert pai.knowledge_base("lingma", "kb-l") is None


def test_a_snapshot_of_every_source(warehouse: Warehouse) -> None:
    load_two_sources(warehouse)
    everything = KnownSnapshot.read(warehouse)
    assert everything.knowledge_bases.keys() == {"lingma", "pai_langstudio"}
    assert everything.job_ids("pai_langstudio") == {"j1", "j2"}
