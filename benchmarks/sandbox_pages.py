"""How many Qianfan DescribeDocuments pages (100 documents each) the sandbox serves per second.

The sandbox runs in its own process (as `kb-pipeline sandbox` does), rate limits off. The client
walks the largest knowledge base with real markers (each answer parsed for its `nextMarker`) over
keep-alive connections for a fixed time and counts the pages answered. The client speaks HTTP/1.1
on plain asyncio streams so that the figure is the server's, not a client library's.

    python benchmarks/sandbox_pages.py [--seconds 10] [--scale 5] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time

import orjson

from kb_pipeline.sandbox import Dataset, credentials

SEED = 7
PAGE = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(kb_id: str, marker: str) -> bytes:
    body = orjson.dumps({"knowledgeBaseId": kb_id, "marker": marker, "maxKeys": PAGE})
    head = (
        "POST /v2/knowledgeBase?Action=DescribeDocuments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {credentials.QIANFAN_API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connect(port: int, timeout: float = 60.0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _walk(port: int, kb_id: str, stop_at: float) -> int:
    """Page through `kb_id` again and again on one connection until `stop_at`; return the pages read."""
    reader, writer = await _connect(port)
    pages, marker = 0, ""
    try:
        while time.monotonic() < stop_at:
            writer.write(_request(kb_id, marker))
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            length = next(
                int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            )
            page = orjson.loads(await reader.readexactly(length))
            if status != b"200":
                raise RuntimeError(f"the sandbox answered {status.decode()}: {page}")
            pages += 1
            marker = page["nextMarker"] if page["isTruncated"] else ""
    finally:
        writer.close()
    return pages


async def _run(port: int, kb_id: str, seconds: float, connections: int) -> int:
    await _walk(port, kb_id, time.monotonic() + 1.0)  # warm-up: the documents get encoded once
    stop_at = time.monotonic() + seconds
    return sum(await asyncio.gather(*(_walk(port, kb_id, stop_at) for _ in range(connections))))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scale", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    documents = Dataset.generate(SEED, args.scale).qianfan_documents  # same seed and scale: the server's ids
    kb_id = max(documents, key=lambda kb: len(documents[kb]))
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "kb_pipeline.sandbox",
        "--port",
        str(port),
        "--seed",
        str(SEED),
        "--scale",
        str(args.scale),
        "--no-qps",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        pages = asyncio.run(_run(port, kb_id, args.seconds, args.connections))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"{pages / args.seconds:,.0f} pages/s of {PAGE} Qianfan documents "
        f"({pages:,} pages in {args.seconds:.0f} s over {args.connections} connections; "
        f"knowledge base of {len(documents[kb_id]):,} documents, scale {args.scale})"
    )


if __name__ == "__main__":
    main()
