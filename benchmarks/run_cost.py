"""What a scheduled run costs: requests per stream and wall time of whole `kb-pipeline run`s.

The sandbox runs in its own process with the vendors' default QPS limits on (the client keeps to
the same defaults); each run is `kb-pipeline run` in a fresh process, against one warehouse and
one Dagster instance, in this order:

1. first load (empty warehouse),
2. incremental with nothing changed,
3. incremental after a typical hour of change (through the sandbox's control API: a few
   documents added and deleted, a few jobs and tasks finished, one knowledge base added and one
   deleted per vendor),
4. full refresh.

For each it prints the requests the sandbox answered, the requests per stream by kind as the run
recorded them in Dagster, and the wall time (of the whole process, and of the extraction step).
It also prints the lower bound of a no-change run: one request per partition plus one per task
still running, and the busiest vendor's share of that divided by its QPS.

    python benchmarks/run_cost.py [--scale 100] [--work DIR [--incremental-only]]

At scale 100 the first load and the full refresh each take about 25 minutes at the vendors' QPS
(Lingma's 6,200 knowledge bases are listed file by file). `--work DIR` keeps the warehouse and the
Dagster instance in DIR, so a later `--work DIR --incremental-only` measures runs 2 and 3 again
without them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from extract_streams import SEED, start_sandbox

from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
from kb_pipeline.sandbox import DEFAULT_QPS, Dataset


def lower_bound(dataset: Dataset) -> dict[str, int]:
    """Requests per vendor of a no-change run that asks each partition once and each running task once."""
    running_tasks = sum(task["status"] == "running" for task in dataset.vikingdb_tasks.values())
    pai_kbs = sum(len(kbs) for kbs in dataset.pai_knowledge_bases.values())
    return {
        "pai_langstudio": len(dataset.pai_workspaces) + pai_kbs,
        "vikingdb": 1 + running_tasks,  # one collection listing (no projects configured) + polls
        "lingma": len(dataset.lingma_organizations),
        "qianfan": 1 + len(dataset.qianfan_knowledge_bases),
    }


def typical_hour(url: str, dataset: Dataset) -> int:
    """Change the sandbox as an hour of use would; returns how many records changed."""
    control = httpx.Client(base_url=f"{url}/_sandbox/mutations", timeout=30)

    def mutate(name: str, **arguments: Any) -> Any:
        answer = control.post(f"/{name}", json=arguments)
        answer.raise_for_status()
        return answer.json()["result"]

    changed = 0
    qianfan_kbs = [kb["id"] for kb in dataset.qianfan_knowledge_bases]
    for kb_id in qianfan_kbs[1:4]:
        changed += len(mutate("add_qianfan_documents", kb_id=kb_id, count=3))
    for kb_id in qianfan_kbs[1:3]:
        mutate("delete_qianfan_document", kb_id=kb_id, doc_id=dataset.qianfan_documents[kb_id][0]["id"])
        changed += 1
    running_jobs = [
        job["KnowledgeBaseJobId"]
        for jobs in dataset.pai_jobs.values()
        for job in jobs
        if job["Status"] == "Running"
    ]
    for job_id in running_jobs[:5]:
        mutate("finish_pai_job", job_id=job_id)
        changed += 1
    pai_kbs = [kb["KnowledgeBaseId"] for kbs in dataset.pai_knowledge_bases.values() for kb in kbs]
    changed += len(mutate("add_pai_jobs", kb_id=pai_kbs[1], count=2))
    running_tasks = [
        task_id for task_id, task in dataset.vikingdb_tasks.items() if task["status"] == "running"
    ]
    for task_id in running_tasks[:10]:
        mutate("finish_vikingdb_task", task_id=task_id)
        changed += 1
    mutate("add_pai_knowledge_base", workspace_id=dataset.pai_workspaces[0])
    mutate("delete_pai_knowledge_base", kb_id=pai_kbs[-1])
    mutate("add_qianfan_knowledge_base")
    mutate("delete_qianfan_knowledge_base", kb_id=qianfan_kbs[-2])
    organization = next(iter(dataset.lingma_organizations))
    mutate("add_lingma_knowledge_bases", organization_id=organization, count=1)
    mutate("delete_lingma_knowledge_base", kb_id=dataset.lingma_organizations[organization][0]["id"])
    project, collections = next((p, c) for p, c in dataset.vikingdb_collections.items() if c)
    mutate("add_vikingdb_collection", project=project)
    mutate("delete_vikingdb_collection", project=project, collection_name=collections[0]["collection_name"])
    return changed + 8


def stream_costs(dagster_home: Path, run_started: float) -> dict[str, dict[str, float]]:
    """Requests by kind and duration per stream, from the run's materializations in the instance."""
    import dagster as dg

    from kb_pipeline.defs.streams import STREAMS

    costs = {}
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        for key, (_, stream) in STREAMS.items():
            event = instance.get_latest_materialization_event(key)
            if event is None or event.timestamp < run_started:
                continue
            metadata = event.asset_materialization.metadata
            costs[stream.name] = {
                name.removeprefix("requests."): entry.value
                for name, entry in metadata.items()
                if name.startswith("requests") or name == "duration_s"
            }
    return costs


def kb_pipeline_run(config: Path, dagster_home: Path, *extra: str) -> float:
    """One whole `kb-pipeline run` in its own process; returns its wall time."""
    command = [str(Path(sys.executable).with_name("kb-pipeline")), "run", "--config", str(config), *extra]
    started = time.perf_counter()
    done = subprocess.run(
        command, env={**os.environ, "DAGSTER_HOME": str(dagster_home)}, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        raise SystemExit(f"kb-pipeline run {' '.join(extra)} failed with exit code {done.returncode}")
    return wall


def measure(label: str, url: str, config: Path, dagster_home: Path, *extra: str) -> dict[str, Any]:
    httpx.delete(f"{url}/_sandbox/requests").raise_for_status()
    started = time.time()
    wall = kb_pipeline_run(config, dagster_home, *extra)
    answered = httpx.get(f"{url}/_sandbox/requests", timeout=60).json()
    per_vendor = Counter(entry["vendor"] for entry in answered)
    streams = stream_costs(dagster_home, started)
    extraction = max((figures.get("duration_s", 0) for figures in streams.values()), default=0)
    print(f"\n{label}: {len(answered):,} requests answered, {wall:.1f} s whole run")
    print(f"    per vendor: {dict(per_vendor)}")
    print(f"    {'stream':<24} {'requests':>8} {'listing':>8} {'reread':>8} {'poll':>8} {'seconds':>8}")
    for name, figures in streams.items():
        cells = [int(figures.get(k, 0)) for k in ("requests", "listing", "reread", "poll")]
        print(
            f"    {name:<24} "
            + " ".join(f"{c:>8,}" for c in cells)
            + f" {figures.get('duration_s', 0):>8.1f}"
        )
    return {"requests": len(answered), "wall_s": wall, "longest_stream_s": extraction}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=100.0, help="100 ≈ 100,000 documents and 10,000 jobs")
    parser.add_argument("--work", type=Path, help="keep the warehouse and Dagster instance here")
    parser.add_argument(
        "--incremental-only",
        action="store_true",
        help="only runs 2 and 3, on the warehouse --work already holds",
    )
    args = parser.parse_args()
    if args.incremental_only and not (args.work and (args.work / "data" / "warehouse.duckdb").exists()):
        parser.error("--incremental-only needs --work DIR holding a loaded warehouse")
    dataset = Dataset.generate(SEED, args.scale)  # the same seed and scale: the data the server holds
    bound = lower_bound(dataset)
    bound_requests = sum(bound.values())
    bound_seconds = max(requests / DEFAULT_QPS[vendor] for vendor, requests in bound.items())
    print(f"scale {args.scale:g}, vendors' default QPS {dict(DEFAULT_QPS)}")
    print(
        f"lower bound of a no-change run: {bound_requests:,} requests (partitions + running tasks: {bound}),"
        f" {bound_seconds:.1f} s (busiest vendor's requests / its QPS)"
    )
    server, url = start_sandbox(args.scale, qps=True)
    try:
        export_sandbox_environment()
        with tempfile.TemporaryDirectory() as scratch:
            work = args.work or Path(scratch)
            config = write_sandbox_config(url, dataset, work / "data")
            home = work / "dagster_home"
            home.mkdir(parents=True, exist_ok=True)
            if not args.incremental_only:
                measure("first load", url, config, home)
            quiet = measure("incremental, nothing changed", url, config, home)
            changed = typical_hour(url, dataset)
            hour = measure(f"incremental after a typical hour ({changed} records changed)", url, config, home)
            if not args.incremental_only:
                measure("full refresh", url, config, home, "--full-refresh")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"\nno-change run: {quiet['requests'] / bound_requests:.2f}× the bound's requests, "
        f"{quiet['wall_s'] / bound_seconds:.2f}× its time (whole run), "
        f"{quiet['longest_stream_s'] / bound_seconds:.2f}× (longest stream)"
    )
    print(f"typical hour: {hour['requests']:,} requests against a budget of {bound_requests + changed:,}")


if __name__ == "__main__":
    main()
