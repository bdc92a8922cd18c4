"""Stopping a run on Ctrl-C or SIGTERM within seconds, whatever the main thread is waiting on.

Inside `stop_on_signals`, SIGINT and SIGTERM are blocked in every thread and taken by a thread of
their own (`sigwait`), so a signal is seen at once even while the main thread waits in DuckDB,
httpx or Dagster, none of which can be safely interrupted at an arbitrary point. The first signal
asks the work in progress to stop: each part says how with `on_stop` (the extraction cancels its
tasks and drops the pages not yet committed, a warehouse connection interrupts its statement),
and a deadline is armed after which the process exits anyway. A second signal exits at once. Exit
codes are 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

SIGNALS = {signal.SIGINT, signal.SIGTERM}
GRACE_S = 4.0
"""How long the work may take to stop cleanly before the process exits regardless."""


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
def stop_on_signals(announce: Callable[[int], None], *, grace_s: float = GRACE_S) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into stop requests while inside.

    `announce(signum)` says that the run stopped, once: the caller has it said with `farewell()`
    after a clean stop; otherwise it is said just before the process exits on its own (the
    deadline passed, or a second signal came).
    """
    global _request
    _request = _StopRequest(announce)

    def leave(signum: int) -> None:
        farewell()
        os._exit(exit_code(signum))

    closing = threading.Event()

    def wait_for_signals() -> None:
        while True:
            signum = signal.sigwait(SIGNALS)
            if closing.is_set():
                return
            if _request.signum is not None:
                leave(signum)
            deadline = threading.Timer(grace_s, leave, (signum,))
            deadline.daemon = True
            deadline.start()
            _request.request(signum)

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    waiter = threading.Thread(target=wait_for_signals, name="stop-signals", daemon=True)
    waiter.start()
    try:
        yield
    finally:
        closing.set()
        signal.pthread_kill(waiter.ident, signal.SIGTERM)
        waiter.join()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
