#!/usr/bin/env python3
"""Reads a `kvcsim run` output folder back with an independent reader (pyarrow) and checks it:
the Parquet schemas, one row per completed request, durations that add up and are never
negative, and a time series that covers every instance.

With --disaggregated, also transfers.parquet: one `pd` row per request whose KV moved, its
bytes and duration equal to the request's columns, and NIC bytes in the time series adding up
to the bytes moved (each transfer is counted once sent and once received).

Usage: check_run_outputs.py OUT_DIR [--max-hit-ratio X --min-hit-ratio Y] [--disaggregated]
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
    "finish_ns", "metadata_ns", "preemptions", "recomputed_tokens", "prefill_instance",
    "decode_instance", "decode_wait_ns", "transfer_ns", "transfer_bytes", "meets_slo",
]
TRANSFER_COLUMNS = ["kind", "request_id", "source", "destination", "bytes", "start_ns", "end_ns"]
TIMESERIES_COLUMNS = [
    "time_ns", "interval_ns", "instance", "running", "waiting", "batch_tokens", "iterations",
    "gpu_busy_fraction", "cache_blocks", "cached_blocks", "lookups", "lookup_blocks", "hit_blocks",
] + [f"{t}_hit_blocks" for t in TIERS[1:]] + [
    f"{t}_{k}" for t in TIERS for k in ("bytes_read", "bytes_written", "evictions")
] + [f"{t}_blocks" for t in TIERS[1:]] + ["preemptions", "recomputed_tokens"] + [
    "nic_tx_bytes", "nic_rx_bytes", "nic_tx_utilisation", "nic_rx_utilisation"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--max-hit-ratio", type=float)
    ap.add_argument("--min-hit-ratio", type=float)
    ap.add_argument("--disaggregated", action="store_true")
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
    if a.disaggregated:
        errors += check_transfers(a.out, r, ts, summary)
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


def check_transfers(out, r, ts, summary):
    errors = []
    tr = pq.read_table(f"{out}/transfers.parquet")
    if tr.column_names != TRANSFER_COLUMNS:
        return [f"transfers.parquet columns {tr.column_names}"]
    t = tr.to_pydict()
    moved = {r["request_id"][i]: i for i in range(len(r["request_id"]))
             if r["prefill_instance"][i] != r["decode_instance"][i]}
    d = summary["disaggregation"]
    if tr.num_rows != d["transfers"] or len(moved) != d["transfers"]:
        errors.append(f"{tr.num_rows} transfer rows, {len(moved)} moved requests, summary {d['transfers']}")
    for k in range(tr.num_rows):
        i = moved.get(t["request_id"][k])
        if i is None or t["kind"][k] != "pd":
            errors.append(f"transfer row {k}: no moved request {t['request_id'][k]} or kind {t['kind'][k]}")
            break
        if (t["bytes"][k], t["end_ns"][k] - t["start_ns"][k], t["source"][k], t["destination"][k]) != \
                (r["transfer_bytes"][i], r["transfer_ns"][i], r["prefill_instance"][i], r["decode_instance"][i]):
            errors.append(f"transfer row {k} disagrees with request {t['request_id'][k]}")
            break
        first = r["arrival_ns"][i] + r["ttft_ns"][i]
        if t["start_ns"][k] != first + r["decode_wait_ns"][i] or t["end_ns"][k] > r["finish_ns"][i]:
            errors.append(f"transfer row {k}: starts {t['start_ns'][k]}, first token {first}, wait {r['decode_wait_ns'][i]}")
            break
    total = sum(t["bytes"])
    for col in ("nic_tx_bytes", "nic_rx_bytes"):
        got = sum(ts.column(col).to_pylist())
        if abs(got - total) > 1e-6 * max(total, 1) + ts.num_rows:
            errors.append(f"sum of {col} {got} != bytes transferred {total}")
    util = ts.column("nic_tx_utilisation").to_pylist() + ts.column("nic_rx_utilisation").to_pylist()
    if any(u < 0 or u > 1 + 1e-9 for u in util):
        errors.append("NIC utilisation outside [0, 1]")
    print(f"{out}: {tr.num_rows} transfers, {total / 1e9:.1f} GB")
    return errors


if __name__ == "__main__":
    sys.exit(main())
