"""Stopping a run on Ctrl-C or SIGTERM within seconds, whatever the work is waiting on.

The work runs in a thread of its own (`in_worker`) while the main thread only waits, so a signal's
handler runs at once even while the work waits in DuckDB, httpx or Dagster (none of which can be
safely interrupted at an arbitrary point), and Dagster, off the main thread, leaves the signal
handlers alone. The first signal asks the work to stop: each part says how with `on_stop` (the
extraction cancels its tasks and drops the pages not yet committed, a warehouse connection
interrupts its statement), and a deadline is armed after which the process exits anyway. A second
signal exits at once. Exit codes are 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.

A stopped process leaves with `leave`, never through Python's own exit: that waits for every
thread, and late in it Python gives SIGINT back its default action, so a second Ctrl-C there
would kill the process (exit -2, not 130).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any, NoReturn, TypeVar

SIGNALS = {signal.SIGINT, signal.SIGTERM}
GRACE_S = 2.5
"""How long the work may take to stop cleanly before the process exits regardless."""
POLL_S = 0.2
LAST_LINE_S = 0.5
"""How long a second way out (a second signal, the deadline) waits for the first to say its line."""
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
    """The process-wide request: which signal asked, whom to tell, and what to settle before leaving."""

    def __init__(self, announce: Callable[[int], None] | None = None) -> None:
        self.lock = threading.Lock()
        self.signum: int | None = None
        self.callbacks: list[Callable[[], object]] = []
        self.before_leaving: list[Callable[[], object]] = []
        self.announce = announce
        self.leaver: threading.Thread | None = None
        self.said = threading.Event()

    def request(self, signum: int) -> None:
        with self.lock:
            self.signum = signum
            callbacks = list(self.callbacks)
        _call_each(callbacks)


def _call_each(callbacks: list[Callable[[], object]]) -> None:
    """Call each in turn: one part failing to stop or settle must not keep the others from it."""
    for callback in callbacks:
        with suppress(Exception):
            callback()


_request = _StopRequest()


def requested() -> int | None:
    """The signal that asked this process to stop, or None."""
    return _request.signum


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
def before_leaving(callback: Callable[[], object]) -> Iterator[None]:
    """Call `callback` before the process leaves while inside (an output still being copied
    somewhere must reach its destination first)."""
    with _request.lock:
        _request.before_leaving.append(callback)
    try:
        yield
    finally:
        with _request.lock:
            _request.before_leaving.remove(callback)


def leave(signum: int) -> NoReturn:
    """End the process at once, as stopped by `signum`: what must be settled first, then the one
    line that says so, then the exit code, skipping Python's own exit (see the module's docstring).

    Only the first caller says it; another (the deadline's thread, a second signal) waits a moment
    for that line, so that exiting does not cut it off.
    """
    with _request.lock:
        first = _request.leaver is None
        _request.leaver = _request.leaver or threading.current_thread()
        settle = list(reversed(_request.before_leaving))  # the innermost first: one may undo another
    if not first:
        _request.said.wait(LAST_LINE_S)
        os._exit(exit_code(signum))
    _call_each(settle)
    if _request.announce is not None:
        with suppress(Exception):
            _request.announce(signum)
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    _request.said.set()
    os._exit(exit_code(signum))


@contextmanager
def stop_on_signals(announce: Callable[[int], None]) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into stop requests while inside (from the main thread).

    `announce(signum)` says that the run stopped, once, when the process leaves: after a clean
    stop the caller calls `leave`; otherwise the process leaves on its own (the deadline passed, or
    a second signal came).
    """
    global _request
    _request = _StopRequest(announce)

    def handle(signum: int, frame: FrameType | None) -> None:
        if _request.leaver is threading.current_thread():
            return  # this thread is leaving already, and was interrupted mid-sentence: let it finish
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
