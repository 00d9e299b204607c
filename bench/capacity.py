"""Capacity plan: the course scenario and 100x, computed from measured per-event costs.

    .venv/bin/python bench/scaling.py --json /tmp/scaling.json     # measure (minutes)
    .venv/bin/python bench/capacity.py --measured /tmp/scaling.json  # plan (instant), markdown on stdout

The measured inputs are what ``bench/scaling.py`` wrote: item writes per event and the mean stored size of
each table's items (so write and read units per event), and the workers' CPU seconds per event (a bound
on ingest Lambda duration). The other inputs are named below with where they come from (our benchmarks
in docs/benchmarks.md, AWS list prices and quotas, the course's own stream). docs/scaling.md holds the
output of one run. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

# ---- AWS list prices, us-east-1, on-demand (USD); a plan, not a bill: check the current price pages ----
WRU_USD = 0.625 / 1e6  # DynamoDB on-demand write request unit (1 KB written)
RRU_USD = 0.125 / 1e6  # DynamoDB on-demand read request unit (4 KB strongly consistent, 8 KB eventual)
LAMBDA_GB_S_USD = 0.0000166667
LAMBDA_REQUEST_USD = 0.20 / 1e6
APIGW_REST_USD = 3.50 / 1e6  # REST API, first 333M requests a month
# ---- AWS default quotas (adjustable) ----
LAMBDA_CONCURRENCY = 1000  # per region
APIGW_RPS = 10_000  # account-level steady-state throttle per region
# ---- our own measurements (docs/benchmarks.md) and the template ----
RECOMMEND_MS = 30.0  # warm request in the function: history Query (8.6 ms p50 on moto) + ranking (< 1 ms) + log
RECOMMEND_GB = 1.0  # template.yaml RecommendFunction MemorySize 1024
INGEST_GB = 0.5  # template.yaml IngestFunction MemorySize 512
INDEX_BYTES_PER_MOVIE = 384 * 4 + 1_600  # MiniLM vector (float32) + v2 neighbour lists (docs/benchmarks.md)
EASE_BYTES = 4  # EASE's dense item x item matrix, float32
POPULARITY_REFRESH_S = 30.0  # Settings.index_refresh_s: each warm recommend container re-scans movies
MONTH_S = 30 * 86_400


@dataclass(frozen=True)
class Scenario:
    name: str
    users: int
    movies: int
    events_per_s: float
    requests_per_s: float
    partitions: int


#: The course: ~1M users and ~27k movies (the course's own figures). Its stream rate is estimated from the
#: only timestamped records we have (the McGill dump, kafka-python's printout: 13 consecutive records of
#: two partitions within 0.61 s, i.e. ~20 records/s; the cmu_f24 rate lines peak at 118 ratings a minute);
#: 2 of those 13 records are recommendation requests, so clients ask ~15% as often as lines arrive.
COURSE = Scenario("course", 1_000_000, 27_000, 20.0, 3.0, 2)
#: A real streaming service: 100x users, events and requests; 10x the catalog (the issue's 270k).
HUNDRED_X = Scenario("100x", 100_000_000, 270_000, 2_000.0, 300.0, 16)


def kb_units(size_bytes: float, unit_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / unit_bytes))


def plan(measured: dict, sc: Scenario) -> dict[str, float]:
    run = max(measured["runs"], key=lambda r: r["events_per_s"])  # the widest run's figures
    sizes = {t: v["mean_bytes"] for t, v in run["item_bytes"].items()}
    counts = {t: v["items"] for t, v in run["item_bytes"].items()}
    writes_per_event = run["writes_per_event"]
    # Every item write costs one WRU per started KB; the chunk's intent (the same items, compressed about 4x
    # by zlib, upper bound: uncompressed) is put once and removed by an update, which bills the old size.
    stored = {t: n for t, n in counts.items() if t in ("history", "movies", "users", "recommendations", "quarantine")}
    mean_item = sum(sizes[t] * n for t, n in stored.items()) / max(1, sum(stored.values()))
    wru_per_event = writes_per_event * (kb_units(mean_item, 1024) + 2 * mean_item / 1024)
    cpu_per_event = run["cpu_workers_s"] / run["events"]
    events_month = sc.events_per_s * MONTH_S
    ingest_gb_s = cpu_per_event * INGEST_GB  # CPU-bound bound on billed duration (moto latency excluded)
    history_bytes = sizes["history"] * max(1.0, counts["history"] / max(1, counts["users"]))
    rru_per_request = 0.5 * kb_units(history_bytes, 4096)  # one eventually consistent Query
    wru_per_request = kb_units(sizes.get("recommendations", 300.0), 1024)  # the answer log
    containers = max(1, math.ceil(sc.requests_per_s * RECOMMEND_MS / 1000))
    movie_table_bytes = sc.movies * sc.partitions * sizes["movies"]
    scan_rru_s = containers * 0.5 * kb_units(movie_table_bytes, 4096) / POPULARITY_REFRESH_S
    requests_month = sc.requests_per_s * MONTH_S
    ddb_ingest_month = events_month * wru_per_event * WRU_USD
    ddb_recommend_month = requests_month * (rru_per_request * RRU_USD + wru_per_request * WRU_USD) + \
        scan_rru_s * MONTH_S * RRU_USD
    lambda_month = events_month * ingest_gb_s * LAMBDA_GB_S_USD + \
        requests_month * (RECOMMEND_MS / 1000 * RECOMMEND_GB * LAMBDA_GB_S_USD + LAMBDA_REQUEST_USD)
    return {
        "events_per_s": sc.events_per_s,
        "item_writes_per_s": sc.events_per_s * writes_per_event,
        "wru_per_s": sc.events_per_s * wru_per_event,
        "ddb_usd_per_million_events": 1e6 * wru_per_event * WRU_USD,
        "ddb_ingest_usd_month": ddb_ingest_month,
        "ingest_concurrency": sc.partitions,
        "ingest_cpu_s_per_partition_s": sc.events_per_s * cpu_per_event / sc.partitions,
        "recommend_concurrency": sc.requests_per_s * RECOMMEND_MS / 1000,
        "rru_per_request": rru_per_request,
        "popularity_scan_rru_s": scan_rru_s,
        "ddb_recommend_usd_month": ddb_recommend_month,
        "lambda_usd_month": lambda_month,
        "apigw_usd_month": requests_month * APIGW_REST_USD,
        "apigw_share_of_quota": sc.requests_per_s / APIGW_RPS,
        "lambda_share_of_quota": (sc.partitions + containers) / LAMBDA_CONCURRENCY,
        "index_mb": sc.movies * INDEX_BYTES_PER_MOVIE / 1e6,
        "ease_gb": sc.movies**2 * EASE_BYTES / 1e9,
        "history_table_gb": sc.users * history_bytes / 1e9,
    }


def markdown(measured: dict) -> str:
    runs = measured["runs"]
    lines = ["| workers | events/s | item writes/event | CPU moto / workers / tansu (s) |", "|---|---|---|---|"]
    lines += [f"| {r['workers']} | {r['events_per_s']:,.0f} | {r['writes_per_event']:.3f} | "
              f"{r['cpu_moto_s']:.1f} / {r['cpu_workers_s']:.1f} / {r['cpu_tansu_s']:.1f} |" for r in runs]  # fmt: skip
    lines += ["", f"(load average at the end: {measured['load']:.1f})", ""]
    plans = {sc.name: plan(measured, sc) for sc in (COURSE, HUNDRED_X)}
    rows = [
        ("stream events/s", "events_per_s", "{:,.0f}"),
        ("DynamoDB item writes/s", "item_writes_per_s", "{:,.1f}"),
        ("write units/s (items + intents, upper bound)", "wru_per_s", "{:,.1f}"),
        ("DynamoDB on-demand, USD per million events", "ddb_usd_per_million_events", "{:,.3f}"),
        ("DynamoDB ingest, USD/month", "ddb_ingest_usd_month", "{:,.0f}"),
        ("ingest Lambda concurrency (= partitions)", "ingest_concurrency", "{:,.0f}"),
        ("ingest CPU s per partition per s (must stay < 1)", "ingest_cpu_s_per_partition_s", "{:,.2f}"),
        ("recommend Lambda concurrency", "recommend_concurrency", "{:,.1f}"),
        ("read units per request (history Query)", "rru_per_request", "{:,.1f}"),
        ("popularity Scan read units/s (all containers)", "popularity_scan_rru_s", "{:,.0f}"),
        ("DynamoDB recommend, USD/month", "ddb_recommend_usd_month", "{:,.0f}"),
        ("Lambda (ingest + recommend), USD/month", "lambda_usd_month", "{:,.0f}"),
        ("API Gateway REST, USD/month", "apigw_usd_month", "{:,.0f}"),
        ("share of API Gateway's 10k rps quota", "apigw_share_of_quota", "{:.1%}"),
        ("share of Lambda's 1,000 concurrency quota", "lambda_share_of_quota", "{:.1%}"),
        ("index size, MB (vectors + neighbour lists)", "index_mb", "{:,.0f}"),
        ("EASE dense matrix, GB (float32)", "ease_gb", "{:,.1f}"),
        ("history table, GB", "history_table_gb", "{:,.1f}"),
    ]
    lines += ["| | course | 100x |", "|---|---|---|"]
    lines += [f"| {label} | {fmt.format(plans['course'][key])} | {fmt.format(plans['100x'][key])} |"
              for label, key, fmt in rows]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measured", type=Path, required=True, help="the JSON bench/scaling.py --json wrote")
    args = parser.parse_args()
    print(markdown(json.loads(args.measured.read_text())))


if __name__ == "__main__":
    main()
