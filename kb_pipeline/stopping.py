"""Stopping a run on Ctrl-C or SIGTERM within seconds, whatever the work is waiting on.

The work runs in a thread of its own (`in_worker`) while the main thread only waits, so a signal's
handler runs at once even while the work waits in DuckDB, httpx or Dagster (none of which can be
safely interrupted at an arbitrary point), and Dagster, off the main thread, leaves the signal
handlers alone. The first signal asks the work to stop: each part says how with `on_stop` (the
extraction cancels its tasks and drops the pages not yet committed, a warehouse connection
interrupts its statement), and a deadline is armed after which the process exits anyway. A second
signal exits at once. Exit codes are 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any, TypeVar

SIGNALS = {signal.SIGINT, signal.SIGTERM}
GRACE_S = 2.5
"""How long the work may take to stop cleanly before the process exits regardless."""
POLL_S = 0.2
T = TypeVar("T")


class Interrupted(KeyboardInterrupt):
    """The work stopped because a signal asked it to. A KeyboardInterrupt, so Dagster records the
    step as interrupted (not as a failure of the code)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


def exit_code(signum: int) -> int:
    return 128 + signum


class _StopRequest:
    """The process-wide request: which signal asked, and whom to tell."""

    def __init__(self, announce: Callable[[int], None] | None = None) -> None:
        self.lock = threading.Lock()
        self.signum: int | None = None
        self.callbacks: list[Callable[[], object]] = []
        self.announce = announce
        self.said = False

    def request(self, signum: int) -> None:
        with self.lock:
            self.signum = signum
            callbacks = list(self.callbacks)
        for callback in callbacks:
            with suppress(Exception):  # one part failing to stop must not keep the others going
                callback()


_request = _StopRequest()


def requested() -> int | None:
    """The signal that asked this process to stop, or None."""
    return _request.signum


def farewell() -> None:
    """Say, once, that the process stops because of a signal (with `stop_on_signals`'s `announce`)."""
    with _request.lock:
        say = not _request.said and _request.signum is not None and _request.announce is not None
        _request.said = True
    if say:
        _request.announce(_request.signum)


def check() -> None:
    """Raise `Interrupted` if a stop was requested."""
    if (signum := _request.signum) is not None:
        raise Interrupted(signum)


@contextmanager
def on_stop(callback: Callable[[], object]) -> Iterator[None]:
    """Call `callback` (from another thread) if a stop is requested while inside; raises
    `Interrupted` at once if one already was."""
    with _request.lock:
        _request.callbacks.append(callback)
    try:
        check()
        yield
    finally:
        with _request.lock:
            _request.callbacks.remove(callback)


@contextmanager
def stop_on_signals(announce: Callable[[int], None]) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into stop requests while inside (from the main thread).

    `announce(signum)` says that the run stopped, once: the caller has it said with `farewell()`
    after a clean stop; otherwise it is said just before the process exits on its own (the
    deadline passed, or a second signal came).
    """
    global _request
    _request = _StopRequest(announce)

    def leave(signum: int) -> None:
        farewell()
        os._exit(exit_code(signum))

    def handle(signum: int, frame: FrameType | None) -> None:
        if _request.signum is not None:
            leave(signum)
        deadline = threading.Timer(GRACE_S, leave, (signum,))
        deadline.daemon = True
        deadline.start()
        _request.request(signum)

    previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def in_worker(work: Callable[[], T]) -> T:
    """`work()` in a thread of its own, this thread staying free to take signals; its result or error."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:
            outcome["error"] = error

    worker = threading.Thread(target=run, name="kb-pipeline-run", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(POLL_S)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
