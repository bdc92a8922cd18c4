"""Protects the registry: a vendor is one package, and nothing else in the project names it.

A fifth vendor, `toy`, is written in a temporary package outside the repository (its source and its
sandbox API), installed only by an entry point on PYTHONPATH. `kb-pipeline demo` then extracts it,
loads it, runs its checks and lists it in the freshness mart, with no file of the project changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from kb_pipeline.warehouse import Warehouse

TOY_SOURCE = '''
"""Toy knowledge bases: a bearer token, one listing paged by a `next` token."""

from typing import Any

import httpx
from pydantic import SecretStr

from kb_pipeline.auth import BearerSigner
from kb_pipeline.http.client import ErrorInfo, VendorClient
from kb_pipeline.http.paginators import NextTokenPaginator
from kb_pipeline.normalize import to_utc
from kb_pipeline.sources.base import Source, SourceSettings, Stream, Strict
from kb_pipeline.sources.strategies import Listing, full_listing


class ToyCredentials(Strict):
    token: SecretStr


class ToySettings(SourceSettings):
    credentials: ToyCredentials


def parse_error(response: httpx.Response, body: Any) -> ErrorInfo | None:
    if response.status_code < 400:
        return None
    return ErrorInfo(
        code=str(response.status_code),
        message=(body or {}).get("error") if isinstance(body, dict) else None,
        request_id=None,
        retryable=response.status_code >= 500,
        retry_after_s=None,
        throttled=response.status_code == 429,
    )


def make_client(settings: ToySettings, http: httpx.AsyncClient) -> VendorClient:
    return VendorClient(
        source="toy",
        base_url=settings.endpoint,
        signer=BearerSigner(settings.credentials.token),
        parse_error=parse_error,
        http=http,
        qps=settings.qps or SOURCE.default_qps,
    )


KNOWLEDGE_BASES = Listing(
    endpoint="ListShelves",
    method="GET",
    path="/toy/v1/shelves",
    paginator=lambda settings: NextTokenPaginator(token_param="after", token_field="next", size_param="limit", page_size=4),
    records=lambda body: body.get("shelves") or [],
)


def normalize(page):
    columns = ("description", "scope_type", "scope_id", "scene_type", "state", "visibility", "file_count",
               "size_bytes", "member_count", "creator", "updated_at", "last_activity_at")
    return {
        "knowledge_bases": [
            {"source": "toy", "kb_id": shelf["id"], "name": shelf["title"],
             "created_at": to_utc(shelf["created"]), "raw": shelf, **dict.fromkeys(columns)}
            for shelf in page.records
        ]
    }


SOURCE = Source(
    name="toy",
    settings_model=ToySettings,
    client_factory=make_client,
    default_qps=5,
    streams=(
        Stream(
            name="toy.knowledge_bases",
            tables=("knowledge_bases",),
            partitions=lambda settings, known: [""],
            extract=full_listing(KNOWLEDGE_BASES, table="knowledge_bases"),
            normalize=normalize,
        ),
    ),
)
'''

TOY_SANDBOX = '''
"""The toy vendor's API, served by the sandbox: `GET /toy/v1/shelves?after=&limit=`."""

import uuid

from kb_pipeline.sandbox.gateway import Answer, Operation, Refusal, Vendor, json_answer

TOKEN = "toy-sandbox-token"


def shelves(seed: int, scale: float) -> list[dict]:
    return [
        {"id": f"shelf-{seed}-{n}", "title": f"Shelf {n}", "created": 1_700_000_000 + 3600 * n}
        for n in range(max(3, round(30 * scale)))
    ]


class Toy(Vendor):
    name = "toy"
    auth = "Authorization: Bearer <token>"
    operations = (Operation("ListShelves", "GET", "/toy/v1/shelves", "list_shelves", lambda call: call.arg("after")),)
    credentials = {"token": ("KB_SANDBOX_TOY_TOKEN", TOKEN)}
    unserved_prefix = "/toy/"

    def holds(self, operation):
        return {"": shelves(self.dataset.seed, self.dataset.scale)} if operation == "ListShelves" else {}

    def list_shelves(self, call) -> Answer:
        records = shelves(self.dataset.seed, self.dataset.scale)
        start, limit = int(call.arg("after") or 0), int(call.arg("limit") or 10)
        end = start + limit
        return json_answer({"shelves": records[start:end], "next": str(end) if end < len(records) else None})

    def new_request_id(self):
        return str(uuid.uuid4())

    def request_id_headers(self, request_id):
        return [("x-request-id", request_id)]

    def authenticate(self, call):
        if call.header("authorization") != f"Bearer {TOKEN}":
            raise Refusal(401, "unauthorized", "bad token")

    def render(self, call, refusal):
        return json_answer({"error": refusal.message}, refusal.status)

    def throttling(self, retry_after):
        return Refusal(429, "throttled", "slow down")

    def server_failure(self, status):
        return Refusal(status, "failure", "try again")

    def unserved(self, call):
        return Refusal(404, "not_found", f"{call.method} {call.path} is not served")

    def insert_records(self, call, count):
        raise NotImplementedError

    def unserved(self, call):
        return Refusal(404, "unserved", call.path)
'''

ENTRY_POINTS = """
[kb_pipeline.sources]
toy = toy_vendor

[kb_pipeline.sandbox]
toy = toy_vendor.sandbox:Toy
"""

SEED, SCALE = 3, 0.1


@pytest.fixture(scope="module")
def toy_installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the toy vendor's package and the metadata that registers it."""
    root = tmp_path_factory.mktemp("toy")
    package = root / "toy_vendor"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(TOY_SOURCE), encoding="utf-8")
    (package / "sandbox.py").write_text(textwrap.dedent(TOY_SANDBOX), encoding="utf-8")
    metadata = root / "toy_vendor-1.0.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-vendor\nVersion: 1.0\n")
    (metadata / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def demo_with_toy(toy_installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kb-pipeline demo` run once with the toy vendor installed; its data directory."""
    data_dir = tmp_path_factory.mktemp("demo-with-toy")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(toy_installed), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        str(Path(sys.executable).with_name("kb-pipeline")),
        "demo",
        "--seed",
        str(SEED),
        "--scale",
        str(SCALE),
    ]
    result = subprocess.run(
        [*command, "--data-dir", str(data_dir)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "toy.knowledge_bases" in result.stdout + result.stderr
    return data_dir


def test_the_toy_vendor_is_extracted_and_loaded(demo_with_toy: Path) -> None:
    with Warehouse(demo_with_toy, read_only=True) as warehouse:
        rows = warehouse.query("SELECT kb_id FROM knowledge_bases WHERE source = 'toy' ORDER BY kb_id")
        state = warehouse.query("SELECT stream FROM _kb.stream_state WHERE stream LIKE 'toy.%'")
    expected = {f"shelf-{SEED}-{n}" for n in range(round(30 * SCALE))}
    assert set(rows.column("kb_id").to_pylist()) == expected
    assert state.column("stream").to_pylist() == ["toy.knowledge_bases"]


def test_the_toy_vendor_is_listed_in_the_freshness_mart(demo_with_toy: Path) -> None:
    with Warehouse(demo_with_toy, read_only=True) as warehouse:
        rows = warehouse.query(
            "SELECT table_name, live_rows, streams FROM extraction_freshness WHERE source = 'toy'"
        ).to_pylist()
    assert rows == [
        {"table_name": "knowledge_bases", "live_rows": round(30 * SCALE), "streams": "toy.knowledge_bases"}
    ]


def test_the_toy_vendors_checks_ran_and_passed(demo_with_toy: Path) -> None:
    key = dg.AssetKey(["toy", "knowledge_bases"])
    names = ("knowledge_bases_schema", "knowledge_bases_unique_key", "fresh", "nothing_quarantined")
    with dg.DagsterInstance.get() as instance:
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(key, name) for name in names]
        )
        materialized = instance.get_latest_materialization_event(key)
    assert materialized is not None
    outcomes = {check.name: record.event.asset_check_evaluation.passed for check, record in latest.items()}
    assert outcomes == dict.fromkeys(names, True)
