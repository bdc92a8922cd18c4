"""Protects the job marts (daily health, failures by error, overrunning jobs) against figures
recomputed here in plain Python: counts, success rates, duration percentiles with the same
interpolation as DuckDB's quantile_cont, days taken in UTC, deleted jobs left out.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from kb_pipeline.warehouse.tables import JOB_STATUSES

NOW = datetime.now(UTC)
FIRST_DAY = datetime(2025, 3, 1, tzinfo=UTC)
ERRORS = ["parse error: bad pdf", "quota exceeded", "", None]


def random_jobs(seed: int = 11, count: int = 300) -> list[dict]:
    """Jobs over six days, many created in the last UTC hour of a day (already the next day in
    Asia/Shanghai, the session's zone)."""
    rng = random.Random(seed)
    jobs = []
    for n in range(count):
        status = rng.choice(JOB_STATUSES)
        created_at = FIRST_DAY + timedelta(days=rng.randrange(6), hours=rng.choice([0.5, 12, 23.5]))
        duration = None if status == "running" else round(rng.uniform(1, 900), 3)
        finished_at = None if duration is None else created_at + timedelta(seconds=duration)
        jobs.append(
            {
                "source": rng.choice(["pai_langstudio", "vikingdb"]),
                "job_id": f"job-{n}",
                "kb_id": f"kb-{rng.randrange(4)}",
                "status": status,
                "status_raw": status,
                "created_at": created_at,
                "modified_at": finished_at or created_at,
                "finished_at": finished_at,
                "duration_s": duration,
                "error_message": rng.choice(ERRORS) if status == "failed" else None,
                "last_seen_at": NOW,
                "deleted_at": NOW if rng.random() < 0.1 else None,
            }
        )
    return jobs


def quantile_cont(values: list[float], q: float) -> float | None:
    """DuckDB's quantile_cont: linear interpolation between closest ranks (statistics' 'inclusive')."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


@pytest.fixture
def jobs(insert) -> list[dict]:
    rows = random_jobs()
    insert("jobs", rows)
    return [row for row in rows if row["deleted_at"] is None]


def test_daily_runs_outcomes_and_success_rate_per_source(jobs, query) -> None:
    by_day: dict[tuple, list[dict]] = defaultdict(list)
    for job in jobs:
        by_day[(job["source"], job["created_at"].astimezone(UTC).date())].append(job)

    rows = {(row["source"], row["day"]): row for row in query("job_health_daily")}

    assert rows.keys() == by_day.keys()
    for key, day_jobs in by_day.items():
        outcomes = {status: sum(job["status"] == status for job in day_jobs) for status in JOB_STATUSES}
        finished = outcomes["succeeded"] + outcomes["failed"]
        row = rows[key]
        assert row["runs"] == len(day_jobs)
        assert {status: row[status] for status in JOB_STATUSES} == outcomes
        assert row["success_rate"] == (pytest.approx(outcomes["succeeded"] / finished) if finished else None)


def test_daily_duration_percentiles_over_finished_jobs(jobs, query) -> None:
    durations: dict[tuple, list[float]] = defaultdict(list)
    for job in jobs:
        if job["status"] != "running":
            durations[(job["source"], job["created_at"].date())].append(job["duration_s"])

    rows = {(row["source"], row["day"]): row for row in query("job_health_daily")}

    for key, values in durations.items():
        assert rows[key]["p50_duration_s"] == pytest.approx(quantile_cont(values, 0.5))
        assert rows[key]["p95_duration_s"] == pytest.approx(quantile_cont(values, 0.95))


def test_percentiles_interpolate_like_quantile_cont(insert, query) -> None:
    durations = [10.0, 20.0, 40.0, 80.0]
    insert(
        "jobs",
        [
            {
                "source": "pai_langstudio",
                "job_id": f"j{n}",
                "status": "succeeded",
                "created_at": FIRST_DAY,
                "duration_s": duration,
            }
            for n, duration in enumerate(durations)
        ],
    )
    [row] = query("job_health_daily")
    # rank (n-1)*q: p50 between 20 and 40, p95 at 2.85 → 40 + 0.85 * 40
    assert (row["p50_duration_s"], row["p95_duration_s"]) == pytest.approx((30.0, 74.0))


def test_failures_grouped_by_error_message(jobs, query) -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for job in jobs:
        if job["status"] == "failed":
            groups[(job["source"], job["error_message"] or "(no error message)")].append(job)

    rows = {(row["source"], row["error_message"]): row for row in query("job_failures_by_error")}

    assert rows.keys() == groups.keys()
    for key, failed in groups.items():
        row = rows[key]
        assert row["failed_jobs"] == len(failed)
        assert row["knowledge_bases"] == len({job["kb_id"] for job in failed})
        assert row["first_seen_at"] == min(job["finished_at"] for job in failed)
        assert row["last_seen_at"] == max(job["finished_at"] for job in failed)


def test_overrunning_jobs(insert, query) -> None:
    hour = timedelta(hours=1)

    def job(job_id: str, status: str, created_ago: timedelta, limit: int | None, **extra) -> dict:
        return {
            "source": "pai_langstudio",
            "job_id": job_id,
            "status": status,
            "created_at": NOW - created_ago,
            "max_running_time_s": limit,
        } | extra

    insert(
        "jobs",
        [
            job("running-over", "running", 2 * hour, 3600),
            job("running-under", "running", hour / 2, 3600),
            job("succeeded-over", "succeeded", 5 * hour, 3600, duration_s=5000.0),
            job("failed-over", "failed", 5 * hour, 60, duration_s=61.5),
            job("failed-under", "failed", 5 * hour, 3600, duration_s=3599.0),
            job("no-limit", "running", 100 * hour, None),
            job("zero-limit", "running", 100 * hour, 0),
            job("deleted-over", "running", 2 * hour, 3600, deleted_at=NOW),
        ],
    )
    checked_at = datetime.now(UTC)

    rows = {row["job_id"]: row for row in query("jobs_overrunning")}

    assert rows.keys() == {"running-over", "succeeded-over", "failed-over"}
    expected_run_time = (checked_at - (NOW - 2 * hour)).total_seconds()
    assert rows["running-over"]["run_time_s"] == pytest.approx(expected_run_time, abs=60)
    assert rows["running-over"]["overrun_s"] == pytest.approx(expected_run_time - 3600, abs=60)
    assert (rows["succeeded-over"]["run_time_s"], rows["succeeded-over"]["overrun_s"]) == (5000.0, 1400.0)
    assert rows["failed-over"]["overrun_s"] == pytest.approx(1.5)
