"""Which records vanished from a listing, found by bisection instead of reading the whole listing.

A listing in creation order is the records held (oldest first) less the vanished ones, plus the
new ones at its end. The first record of page p then sits `shift(p)` places later in the held
list than it would with nothing gone, and `shift` only grows from page to page: bisecting on it
finds each vanished record in about log2(pages) requests, where a full listing costs every page.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

FetchPage = Callable[[int], Awaitable[list[str]]]
"""The ids on a numbered page (1-based) of the listing in creation order."""


class Inconsistent(Exception):
    """The listing does not line up with the records held (it changed meanwhile, or orders ties
    differently): only a full listing can tell what vanished."""


def bisection_pays(vanished: int, total: int, page_size: int) -> bool:
    """Whether finding `vanished` records by bisection costs fewer requests than a full listing."""
    pages = math.ceil(total / page_size)
    return 1 + vanished * math.ceil(math.log2(pages + 1)) < pages


async def find_vanished(
    held: list[str], vanished: int, total: int, page_size: int, fetch: FetchPage
) -> list[str]:
    """The ids of `held` (oldest first) that the listing (`total` records now) no longer has.

    `vanished` is how many are gone (held + new - total). Raises Inconsistent when the pages
    read contradict that picture.
    """
    position = {record_id: index for index, record_id in enumerate(held)}
    pages: dict[int, list[str]] = {}
    found: list[str] = []

    async def shift_at(page: int) -> int:
        ids = pages[page] = await fetch(page)
        if ids and not any(record_id in position for record_id in ids):
            return vanished  # only new records: every record held lies before this page
        if not ids or ids[0] not in position:
            raise Inconsistent(f"page {page} does not start with a record held")
        shift = position[ids[0]] - (page - 1) * page_size
        if not 0 <= shift <= vanished:
            raise Inconsistent(f"page {page} starts {shift} places off")
        return shift

    async def search(low: int, low_shift: int, high: int, high_shift: int) -> None:
        if low_shift == high_shift:
            return
        if not low_shift < high_shift:
            raise Inconsistent(f"pages {low} and {high} are out of order")
        if high == low + 1:  # the vanished ones sat between page `low`'s first record and page `high`'s
            span = held[(low - 1) * page_size + low_shift : (high - 1) * page_size + high_shift]
            listed = set(pages[low])
            gone = [record_id for record_id in span if record_id not in listed]
            if len(gone) != high_shift - low_shift:
                raise Inconsistent(f"page {low} holds {len(gone)} gaps, not {high_shift - low_shift}")
            found.extend(gone)
            return
        middle = (low + high) // 2
        middle_shift = await shift_at(middle)
        await search(low, low_shift, middle, middle_shift)
        await search(middle, middle_shift, high, high_shift)

    first_shift = await shift_at(1)
    found.extend(held[:first_shift])
    past_the_end = math.ceil(total / page_size) + 1  # a page that would start after every record
    await search(1, first_shift, past_the_end, vanished)
    return found
