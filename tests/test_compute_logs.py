"""The run's stdout and stderr reach both the UI's captured-log files and the terminal, with no
helper process: what `ThreadedComputeLogManager` replaces Dagster's `tail` processes with."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import psutil
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from kb_pipeline.compute_logs import ThreadedComputeLogManager, tee
from kb_pipeline.instance import open_instance


def test_tee_copies_python_native_and_child_output_to_file_and_terminal(tmp_path: Path) -> None:
    terminal_path, captured = tmp_path / "terminal.txt", tmp_path / "captured.txt"
    with open(terminal_path, "w", encoding="utf-8") as terminal:
        with tee(terminal, captured):
            terminal.write("from python\n")
            terminal.flush()
            os.write(terminal.fileno(), b"from the descriptor\n")
            subprocess.run(
                [sys.executable, "-c", "print('from a child')"], stdout=terminal.fileno(), check=True
            )
        terminal.write("after the capture\n")
    expected = "from python\nfrom the descriptor\nfrom a child\n"
    assert captured.read_text(encoding="utf-8") == expected
    assert terminal_path.read_text(encoding="utf-8") == expected + "after the capture\n"


def test_a_stream_without_a_descriptor_is_left_alone(tmp_path: Path) -> None:
    class NoDescriptor:
        def fileno(self) -> int:
            raise OSError("no descriptor")

    with tee(NoDescriptor(), tmp_path / "captured.txt"):  # type: ignore[arg-type]
        pass
    assert not (tmp_path / "captured.txt").exists()


@dg.asset
def talkative() -> None:
    print("a line on stdout")
    print("a line on stderr", file=sys.stderr)
    children = psutil.Process().children(recursive=True)
    assert not children, f"capturing started {[child.name() for child in children]}"


def test_a_run_s_output_is_readable_as_the_ui_reads_it(tmp_path: Path) -> None:
    with open_instance(tmp_path) as instance:
        assert isinstance(instance.compute_log_manager, ThreadedComputeLogManager)
        result = dg.materialize([talkative], instance=instance)
        assert result.success
        (captured,) = [e for e in result.all_events if e.event_type_value == "LOGS_CAPTURED"]
        log_key = instance.compute_log_manager.build_log_key_for_run(
            result.run_id, captured.logs_captured_data.file_key
        )
    ui_reader = LocalComputeLogManager(base_dir=str(tmp_path / "storage"))
    assert ui_reader.is_capture_complete(log_key)
    stdout, stderr = (
        ui_reader.get_log_data(log_key).stdout.decode(),
        ui_reader.get_log_data(log_key).stderr.decode(),
    )
    assert "a line on stdout" in stdout and "a line on stderr" not in stdout
    assert "a line on stderr" in stderr


def test_a_configured_compute_log_manager_is_kept(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(
        "compute_logs:\n  module: dagster.core.storage.noop_compute_log_manager\n"
        "  class: NoOpComputeLogManager\n",
        encoding="utf-8",
    )
    with open_instance(tmp_path) as instance:
        assert type(instance.compute_log_manager).__name__ == "NoOpComputeLogManager"


LEAVING_INSIDE_THE_CAPTURE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from kb_pipeline import stopping
    from kb_pipeline.compute_logs import tee

    with stopping.stop_on_signals(lambda signum: print("stopped", file=sys.stderr, flush=True)):
        os.kill(os.getpid(), signal.SIGINT)
        with tee(sys.stderr, Path(sys.argv[1])):
            print("in the capture", file=sys.stderr, flush=True)
            stopping.leave(stopping.requested())
    """
)


def test_leaving_inside_the_capture_loses_no_output(tmp_path: Path) -> None:
    captured = tmp_path / "captured.txt"
    result = subprocess.run(
        [sys.executable, "-c", LEAVING_INSIDE_THE_CAPTURE, str(captured)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr == "in the capture\nstopped\n"
    assert captured.read_text(encoding="utf-8") == "in the capture\n"
