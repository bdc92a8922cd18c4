"""Finding what vanished from a listing by bisection: the right ids, in about log2(pages) requests,
and a refusal (so a full listing follows) whenever the pages contradict what is held."""

from __future__ import annotations

import asyncio
import math

import pytest

from kb_pipeline.sources.vanished import Inconsistent, bisection_pays, find_vanished

HELD = [f"kb-{n:04d}" for n in range(1000)]


def listing(gone: set[str], new: int = 0) -> list[str]:
    return [record for record in HELD if record not in gone] + [f"new-{n}" for n in range(new)]


def find(live: list[str], held: list[str] = HELD, new: int = 0, page_size: int = 20) -> tuple[list[str], int]:
    asked: list[int] = []

    async def fetch(page: int) -> list[str]:
        asked.append(page)
        return live[(page - 1) * page_size : page * page_size]

    vanished = len(held) + new - len(live)
    found = asyncio.run(find_vanished(held, vanished, len(live), page_size, fetch))
    return found, len(asked)


@pytest.mark.parametrize(
    "gone",
    [
        {"kb-0000"},
        {"kb-0999"},
        {"kb-0500"},
        {"kb-0019", "kb-0020"},
        {"kb-0003", "kb-0004", "kb-0005", "kb-0777"},
    ],
)
def test_each_vanished_record_is_found_in_about_log2_pages(gone: set[str]) -> None:
    found, asked = find(listing(gone, new=3), new=3)
    assert sorted(found) == sorted(gone)
    assert asked <= 1 + len(gone) * math.ceil(math.log2(50 + 1))


def test_a_listing_that_does_not_add_up_is_refused() -> None:
    moved_in = [("stranger" if record == "kb-0500" else record) for record in HELD]
    with pytest.raises(Inconsistent):
        find(moved_in[:-1])  # one fewer record than held, yet none of them vanished where it sat


def test_bisection_is_used_only_while_it_is_cheaper_than_listing_everything() -> None:
    assert bisection_pays(1, 1000, 20)
    assert bisection_pays(8, 1000, 20), "1 + 8 × 6 requests against 50 pages"
    assert not bisection_pays(9, 1000, 20), "1 + 9 × 6 requests are not fewer than 50 pages"
    assert not bisection_pays(1, 40, 20), "two pages are read as cheaply in full"
