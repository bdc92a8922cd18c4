"""Screenshot the Dagster UI's asset graph, served by `dagster dev` against the built-in sandbox.

    python scripts/screenshot_asset_graph.py [--output asset-graph.png] [--port 3333] [--scale 0.2]

Starts the sandbox, materializes every asset once into a temporary data directory and Dagster
instance (a copy of dagster_home), starts `dagster dev` on 127.0.0.1 in its own process group,
waits for /server_info, takes the screenshot with headless Chromium, checks the page shows the
assets and the PNG is not blank, then stops `dagster dev` and its children. Exits non-zero on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from kb_pipeline.config import CONFIG_ENV_VAR
from kb_pipeline.defs.publishing import ANALYTICS_GROUP
from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.sources import SOURCES

PROJECT = Path(__file__).resolve().parents[1]
PAGE = "/asset-groups"
"""The global asset lineage: one box per group (each vendor, then analytics) and the edges between them."""
EXPECTED_ON_PAGE = (*SOURCES, ANALYTICS_GROUP)
STARTUP_TIMEOUT_S = 120
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1600,1000",
    "--virtual-time-budget=15000",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(url: str, server: subprocess.Popen) -> dict:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"dagster dev exited with code {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                return json.load(response)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise RuntimeError(f"dagster dev did not answer {url}/server_info within {STARTUP_TIMEOUT_S} s")


@contextmanager
def dagster_dev(port: int, env: dict[str, str], log: Path) -> Iterator[str]:
    """`dagster dev` in its own process group, stopped (group and all) on exit."""
    command = [
        "env",
        "--default-signal=INT,TERM",
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-m",
        "kb_pipeline.defs",
    ]
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_server(url, server)
            yield url
        finally:
            stop(server)


def stop(server: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise RuntimeError("chromium not found (Debian: apt-get install -y chromium)")
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def distinct_pixel_bytes(png: Path) -> int:
    """How many different byte values the image data holds: 1-2 for a blank page, far more for a graph."""
    data = png.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{png} is not a PNG file")
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return len(set(zlib.decompress(b"".join(chunks))))


def materialize_once(config_file: Path, console: Console) -> None:
    from kb_pipeline.runner import materialize_all

    if not materialize_all(config_file, console=console):
        console.print("[yellow]some assets did not materialize; the graph shows them as failed[/]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("asset-graph.png"))
    parser.add_argument("--port", type=int, default=0, help="dagster dev port (default: a free one)")
    parser.add_argument("--scale", type=float, default=0.2, help="sandbox size")
    args = parser.parse_args()
    console = Console(stderr=True)
    output = args.output.resolve()
    with (
        tempfile.TemporaryDirectory(prefix="kb-ui-") as scratch,
        SandboxServer(seed=7, scale=args.scale, qps=None) as sandbox,
    ):
        work = Path(scratch)
        home = work / "dagster_home"
        home.mkdir()
        shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        export_sandbox_environment()
        config_file = write_sandbox_config(sandbox.url, sandbox.dataset, work / "data")
        os.environ |= {"DAGSTER_HOME": str(home), CONFIG_ENV_VAR: str(config_file)}
        materialize_once(config_file, console)
        port = args.port or free_port()
        with dagster_dev(port, dict(os.environ), work / "dagster-dev.log") as url:
            console.print(f"dagster dev answers at {url}; taking the screenshot")
            page = f"{url}{PAGE}"
            dom = chromium("--dump-dom", page, profile=work / "chromium-dom").stdout
            chromium(f"--screenshot={output}", page, profile=work / "chromium-shot")
        missing = [name for name in EXPECTED_ON_PAGE if name not in dom]
        if missing:
            log_tail = (work / "dagster-dev.log").read_text(errors="replace")[-3000:]
            console.print(
                f"[red]the page does not show {', '.join(missing)}[/]; dagster dev said:\n{log_tail}"
            )
            return 1
        if not output.exists() or distinct_pixel_bytes(output) < 16:
            console.print(f"[red]{output} is missing or blank[/]")
            return 1
    console.print(f"asset graph: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
