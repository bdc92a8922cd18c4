"""Leaving after a stop: the one line that says so is said whole, and a second signal while it is
being said still exits with 128 + the signal. A real process and real signals."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SECOND_SIGNAL_MID_LINE = textwrap.dedent(
    """
    import os, signal, sys, time
    from kb_pipeline import stopping

    def announce(signum):
        print("interrupted,", end="", flush=True)
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C while the line is being said
        time.sleep(0.2)
        print(" next run resumes", flush=True)

    with stopping.stop_on_signals(announce):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        stopping.leave(stopping.requested())
    """
)


def test_a_second_signal_mid_line_does_not_cut_the_line_off() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SECOND_SIGNAL_MID_LINE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 130, result.stderr
    assert result.stdout == "interrupted, next run resumes\n"
