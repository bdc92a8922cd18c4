"""A run's stdout and stderr captured for the UI, and still shown where they went, without helper processes.

Dagster's `LocalComputeLogManager` points the run's stdout and stderr at files the UI shows, and
mirrors each file back to the terminal through a `tail -F` process and a Python process that ends
it should the run's process die: four processes per run, about 20 MiB of a `kb-pipeline run`'s
memory (BENCHMARKS.md, "Memory of a whole run"). `ThreadedComputeLogManager` writes the same files
at the same paths, which the UI reads with Dagster's own class, and a thread of the run's process
copies each stream to its file and to where the stream pointed before; it ends with the process.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._serdes import ConfigurableClassData
from dagster._utils import touch_file

from kb_pipeline import stopping

CHUNK_BYTES = 65_536
DRAIN_S = 2.0
"""How long leaving the capture waits for what is still in a pipe: a process the run started and
left running keeps the pipe open, and the capture does not wait for it to end."""
LEAVING_DRAIN_S = 0.3
"""The same wait when the process leaves at once (a second Ctrl-C)."""


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _copy(source: int, file: Path, mirror: int) -> None:
    """Copy what arrives on `source` to `file` and to `mirror` until the pipe is closed; a mirror
    that has gone (a closed terminal) stops being written, the file does not."""
    with open(file, "ab", buffering=0) as captured:
        while chunk := os.read(source, CHUNK_BYTES):
            captured.write(chunk)
            if mirror >= 0:
                try:
                    _write_all(mirror, chunk)
                except OSError:
                    mirror = -1
    os.close(source)


@contextmanager
def tee(stream: TextIO, file: Path) -> Iterator[None]:
    """Meanwhile, what is written to `stream`'s file descriptor, by Python or by native code,
    goes to the end of `file` as well as where it went before. A stream with no file descriptor
    (one replaced by a test runner) is left as it is. Should the process leave while inside (a
    stopped run, see `stopping.leave`), what is still in the pipe reaches its destinations first."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    stream.flush()
    original = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)
    copier = threading.Thread(
        target=_copy, args=(read_end, file, original), name=f"tee {file.name}", daemon=True
    )
    copier.start()

    def restore(drain_s: float) -> None:
        with suppress(ValueError):  # a stream closed meanwhile has nothing left to flush
            stream.flush()
        os.dup2(original, fd)  # the pipe's last writer here: the copier sees its end
        copier.join(drain_s)

    try:
        with stopping.before_leaving(lambda: restore(LEAVING_DRAIN_S)):
            try:
                yield
            finally:
                restore(DRAIN_S)
    finally:  # only once leaving can no longer restore from it
        if not copier.is_alive():
            os.close(original)


class ThreadedComputeLogManager(LocalComputeLogManager):
    """`LocalComputeLogManager`'s files, copied to by a thread instead of `tail` processes."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> ThreadedComputeLogManager:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def capture_logs(self, log_key: list[str]) -> Generator[CapturedLogContext, None, None]:
        paths = {
            io_type: Path(self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[io_type]))
            for io_type in (ComputeIOType.STDOUT, ComputeIOType.STDERR)
        }
        for path in paths.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        with tee(sys.stdout, paths[ComputeIOType.STDOUT]), tee(sys.stderr, paths[ComputeIOType.STDERR]):
            yield CapturedLogContext(log_key)
        touch_file(self.complete_artifact_path(log_key))
