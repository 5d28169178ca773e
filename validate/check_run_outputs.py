#!/usr/bin/env python3
"""Reads a `kvcsim run` output folder back with an independent reader (pyarrow) and checks it:
the Parquet schemas, one row per completed request, durations that add up and are never
negative, and a time series that covers every instance.

Usage: check_run_outputs.py OUT_DIR [--max-hit-ratio X --min-hit-ratio Y]
"""
import argparse
import json
import sys

import pyarrow.parquet as pq

TIERS = ["hbm", "dram", "ssd", "remote"]
REQUEST_COLUMNS = [
    "request_id", "arrival_ns", "instance", "input_tokens", "output_tokens", "blocks",
    "hit_blocks", "hbm_hit_blocks", "dram_hit_blocks", "ssd_hit_blocks", "remote_hit_blocks",
    "cached_tokens", "queue_ns", "load_ns", "prefill_ns", "ttft_ns", "tpot_ns", "e2e_ns",
    "finish_ns", "metadata_ns", "preemptions", "recomputed_tokens", "meets_slo",
]
TIMESERIES_COLUMNS = [
    "time_ns", "interval_ns", "instance", "running", "waiting", "batch_tokens", "iterations",
    "gpu_busy_fraction", "cache_blocks", "cached_blocks", "lookups", "lookup_blocks", "hit_blocks",
] + [f"{t}_hit_blocks" for t in TIERS[1:]] + [
    f"{t}_{k}" for t in TIERS for k in ("bytes_read", "bytes_written", "evictions")
] + [f"{t}_blocks" for t in TIERS[1:]] + ["preemptions", "recomputed_tokens"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--max-hit-ratio", type=float)
    ap.add_argument("--min-hit-ratio", type=float)
    a = ap.parse_args()
    summary = json.load(open(f"{a.out}/summary.json", encoding="utf-8"))
    req = pq.read_table(f"{a.out}/requests.parquet")
    ts = pq.read_table(f"{a.out}/timeseries.parquet")
    errors = []
    if req.column_names != REQUEST_COLUMNS:
        errors.append(f"requests.parquet columns {req.column_names}")
    if ts.column_names != TIMESERIES_COLUMNS:
        errors.append(f"timeseries.parquet columns {ts.column_names}")
    if sum(req.column("preemptions").to_pylist()) != summary["preemptions"]:
        errors.append("preemptions in requests.parquet do not add up to summary.json's")
    if req.num_rows != summary["requests_completed"]:
        errors.append(f"{req.num_rows} rows but requests_completed {summary['requests_completed']}")
    r = req.to_pydict()
    for i in range(req.num_rows):
        q, l, p = r["queue_ns"][i], r["load_ns"][i], r["prefill_ns"][i]
        t, e = r["ttft_ns"][i], r["e2e_ns"][i]
        if min(q, l, p, t, e, r["tpot_ns"][i]) < 0 or q + l + p != t or e < t:
            errors.append(f"request {r['request_id'][i]}: queue {q} + load {l} + prefill {p} != ttft {t} or e2e {e} < ttft")
            break
        if r["metadata_ns"][i] > q:
            errors.append(f"request {r['request_id'][i]}: metadata_ns {r['metadata_ns'][i]} > queue_ns {q}")
            break
        parts = sum(r[f"{k}_hit_blocks"][i] for k in TIERS)
        if parts != r["hit_blocks"][i]:
            errors.append(f"request {r['request_id'][i]}: per-tier hits {parts} != hit_blocks")
            break
        if r["metadata_ns"][i] > q:
            errors.append(f"request {r['request_id'][i]}: metadata_ns {r['metadata_ns'][i]} > queue_ns {q}")
            break
        if r["arrival_ns"][i] + e != r["finish_ns"][i]:
            errors.append(f"request {r['request_id'][i]}: arrival + e2e != finish")
            break
        if r["hit_blocks"][i] > r["blocks"][i] or r["cached_tokens"][i] >= max(r["input_tokens"][i], 1):
            errors.append(f"request {r['request_id'][i]}: more hits than blocks or tokens")
            break
    busy = ts.column("gpu_busy_fraction").to_pylist()
    if any(b < 0 or b > 1 + 1e-9 for b in busy):
        errors.append("gpu_busy_fraction outside [0, 1]")
    hit = summary["block_hit_ratio"]
    if a.max_hit_ratio is not None and hit > a.max_hit_ratio:
        errors.append(f"block_hit_ratio {hit} above {a.max_hit_ratio}")
    if a.min_hit_ratio is not None and hit < a.min_hit_ratio:
        errors.append(f"block_hit_ratio {hit} below {a.min_hit_ratio}")
    print(f"{a.out}: {req.num_rows} requests, {ts.num_rows} time-series rows, block hit ratio {hit:.6f}")
    for e in errors:
        print("FAIL", e)
    print("1 passed, 0 failed" if not errors else f"0 passed, 1 failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
