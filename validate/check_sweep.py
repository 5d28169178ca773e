#!/usr/bin/env python3
"""Reads a `kvcsim sweep` output folder back as one dataset with independent readers (pyarrow,
and DuckDB when it is installed) and checks it: one summary row per point folder, sorted ids,
status/error/metrics consistent, no wall-clock column in summary.parquet, a Hive `point`
column typed as an integer equal to `point_id`, and as many request rows per point as the
summary says were completed.

Usage: check_sweep.py DIR [--points N]
"""
import argparse
import glob
import os
import sys

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

FIXED_HEAD = ["point_id"]
METRICS = [
    "requests_completed", "requests_rejected",
    *[f"{l}_ms_{s}" for l in ("ttft", "tpot", "e2e", "metadata") for s in ("mean", "p50", "p90", "p99")],
    "metadata_share_of_ttft", "block_hit_ratio", "token_hit_ratio", "throughput_tokens_per_s", "total_tokens_per_s",
    "gpu_busy_fraction", "simulated_s", "preemptions", "recomputed_tokens", "events",
]
# Null where the point has no `slo` (the example has none); the transfer figures are null where
# the point is not disaggregated.
SLO_COLUMNS = ["slo_attainment", "goodput_requests_per_s", "goodput_per_gpu",
               "transfer_share_of_e2e", "transfer_ms_p99", "slo_met"]
# Per-tier columns: null where a point did not configure the tier (the example has HBM only).
TIER_COLUMNS = [
    f"{t}_{k}" for t in ("hbm", "dram", "ssd", "remote")
    for k in ("block_hit_ratio", "bytes_read", "bytes_written", "evictions")
]
FIXED_TAIL = ["seed", *METRICS, *SLO_COLUMNS, *TIER_COLUMNS, "status", "error"]


def check(out: str, points: int | None) -> list[str]:
    errors = []
    summary = pq.read_table(f"{out}/summary.parquet")
    cols = summary.column_names
    if cols[:1] != FIXED_HEAD or cols[-len(FIXED_TAIL):] != FIXED_TAIL:
        errors.append(f"summary.parquet columns {cols}")
    params = cols[1:-len(FIXED_TAIL)]
    s = summary.to_pydict()
    ids = s["point_id"]
    if ids != sorted(set(ids)):
        errors.append("point_id not sorted and unique")
    if points is not None and len(ids) != points:
        errors.append(f"{len(ids)} rows, expected {points}")
    folders = sorted(int(os.path.basename(p).split("=", 1)[1]) for p in glob.glob(f"{out}/points/point=*"))
    if folders != ids:
        errors.append(f"point folders {folders} differ from summary ids {ids}")
    if os.path.exists(f"{out}/.tmp"):
        errors.append(".tmp left behind")
    ok = []
    for i, pid in enumerate(ids):
        status, error = s["status"][i], s["error"][i]
        marker = "_SUCCESS" if status == "ok" else "_FAILED"
        if not os.path.isfile(f"{out}/points/point={pid}/{marker}"):
            errors.append(f"point {pid}: status {status} but no {marker}")
        nulls = [m for m in METRICS if s[m][i] is None]
        if status == "ok" and (error is not None or nulls):
            errors.append(f"point {pid}: ok with error {error!r} or null metrics {nulls}")
        elif status == "failed" and (not error or len(nulls) != len(METRICS)):
            errors.append(f"point {pid}: failed without an error or with metrics")
        elif status not in ("ok", "failed"):
            errors.append(f"point {pid}: status {status!r}")
        if status == "ok":
            ok.append(pid)
    timings = pq.read_table(f"{out}/timings.parquet")
    if timings.column_names != ["point_id", "wall_s", "events_per_s"] or timings.column("point_id").to_pylist() != ids:
        errors.append(f"timings.parquet: columns {timings.column_names}")

    # The points' requests as one Hive-partitioned dataset (the `point` column from folder names).
    files = sorted(glob.glob(f"{out}/points/*/requests.parquet"))
    dataset = ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=f"{out}/points")
    point_type = dataset.schema.field("point").type
    if not str(point_type).startswith("int"):
        errors.append(f"pyarrow types the partition column `point` as {point_type}")
    table = dataset.to_table(columns=["point", "request_id"])
    counts = {r["values"]: r["counts"] for r in pc.value_counts(table.column("point")).to_pylist()}
    completed = dict(zip(ids, s["requests_completed"]))
    for pid in ok:
        if counts.get(pid, 0) != completed[pid]:
            errors.append(f"point {pid}: {counts.get(pid, 0)} request rows, summary says {completed[pid]}")
    print(f"{out}: {len(ids)} points ({len(ok)} ok), parameters {params}, "
          f"{table.num_rows} request rows; pyarrow reads it")

    try:
        import duckdb
    except ImportError:
        print("duckdb not installed: DuckDB check skipped")
        return errors
    con = duckdb.connect()
    n = con.execute(f"select count(*) from read_parquet('{out}/summary.parquet')").fetchall()[0][0]
    if n != len(ids):
        errors.append(f"DuckDB reads {n} summary rows")
    rows = con.execute(f"""
        select s.point_id, typeof(any_value(r.point)), count(r.request_id), any_value(s.requests_completed)
        from read_parquet('{out}/points/*/requests.parquet', hive_partitioning = true) r
        join read_parquet('{out}/summary.parquet') s on r.point = s.point_id
        group by s.point_id order by s.point_id""").fetchall()
    for pid, typ, count, done in rows:
        if typ not in ("BIGINT", "INTEGER") or count != done:
            errors.append(f"DuckDB: point {pid} typed {typ}, {count} rows, summary says {done}")
    if [r[0] for r in rows] != ok:
        errors.append(f"DuckDB joins points {[r[0] for r in rows]}, expected {ok}")
    print(f"DuckDB {duckdb.__version__} reads it and joins requests to the summary on point = point_id")
    return errors


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--points", type=int)
    a = ap.parse_args()
    errors = check(a.out, a.points)
    for e in errors:
        print("FAIL", e)
    print("1 passed, 0 failed" if not errors else "0 passed, 1 failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
