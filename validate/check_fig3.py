#!/usr/bin/env python3
"""Checks a Fig. 3 replay (`kvcsim run scenarios/paper/fig3.yaml`) against the *directions* the
paper reports, reading the outputs back with pyarrow and the CSV module only.

Usage: check_fig3.py DEFAULT_DIR [--loaded LOADED_DIR] [--closed-form CLOSED_DIR]

DEFAULT_DIR: the shipped scenario (one client thread). Checks, on the mean over the buckets after
the warm-up of the per-bucket p99 (the paper's comparison):
  * Sherman's range-query p99 is below CHIME's (paper: 10.3 % lower), on CLOSED_DIR when given
    (the same run on a network without service-time variability: the paper's direction comes
    from round trips, which the closed form isolates; with the fitted variability Sherman's 32
    parallel leaf READs take the worst of 32 draws and the two come within 2 %, README);
  * CHIME's get p99 is below Sherman's (paper: 5.5 % lower);
  * Redis's get and range p99 are at least 10x both RDMA indexes' (paper: "well above");
  * Redis's get p99 is above 100 us (paper: "above 0.1 ms"): with the OS-noise mechanisms the
    idle server core wakes from deep idle states;
  * the prefix index answers a request's lookup faster at p99 than Sherman's and CHIME's gets
    and ranges put together (kvcsim's design claim, not the paper's);
and that metadata_ops.parquet has the documented columns and one insert per distinct block.
LOADED_DIR: the same with several client threads; checks that Redis's p99 grows with
concurrent clients (queueing at its single event loop). Before the OS-noise model (issue 14)
this check asked for 1.5x growth, because the one-thread p99 was one unloaded round trip; the
one-thread p99 now already carries the idle-state exits, so it asks for growth only.
"""
import argparse
import csv
import json
import sys
from collections import defaultdict

import pyarrow.compute as pc
import pyarrow.parquet as pq

COLUMNS = ["backend", "op", "issue_ns", "latency_ns", "keys", "round_trips", "bytes",
           "retries", "found", "request_id"]


def mean_p99(folder):
    out = defaultdict(list)
    with open(f"{folder}/fig3_p99.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["warmup"] == "false":
                out[(row["backend"], row["op"])].append(float(row["p99_us"]))
    return {k: sum(v) / len(v) for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("default")
    ap.add_argument("--loaded")
    ap.add_argument("--closed-form")
    a = ap.parse_args()
    errors = []
    ops = pq.read_table(f"{a.default}/metadata_ops.parquet")
    if ops.column_names != COLUMNS:
        errors.append(f"metadata_ops.parquet columns {ops.column_names}")
    summary = json.load(open(f"{a.default}/summary.json", encoding="utf-8"))
    for b in ("redis", "sherman", "chime"):
        mask = pc.and_(pc.equal(ops["backend"], b), pc.equal(ops["op"], "insert"))
        inserts = pc.sum(pc.filter(ops["keys"], mask)).as_py()
        stored = next(x["keys_stored"] for x in summary["backends"] if x["backend"] == b)
        if inserts != stored:
            errors.append(f"{b}: {inserts} keys inserted but {stored} stored")
    p = mean_p99(a.default)
    closed = mean_p99(a.closed_form) if a.closed_form else p
    print("mean bucket p99 (us):", {f"{k[0]}/{k[1]}": round(v, 2) for k, v in sorted(p.items())})

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            errors.append(what)

    check(closed[("sherman", "range")] < closed[("chime", "range")],
          f"Sherman range p99 {closed[('sherman', 'range')]:.2f} < CHIME "
          f"{closed[('chime', 'range')]:.2f}" + (" (closed form)" if a.closed_form else ""))
    check(p[("redis", "get")] > 100.0, f"Redis get p99 {p[('redis', 'get')]:.2f} > 100 us")
    check(p[("chime", "get")] < p[("sherman", "get")],
          f"CHIME get p99 {p[('chime', 'get')]:.2f} < Sherman {p[('sherman', 'get')]:.2f}")
    for op in ("get", "range"):
        rdma = max(p[("sherman", op)], p[("chime", op)])
        check(p[("redis", op)] >= 10 * rdma,
              f"Redis {op} p99 {p[('redis', op)]:.2f} >= 10 x RDMA {rdma:.2f}")
    req = {x["backend"]: x["lookup_per_request_ms"]["p99"] for x in summary["backends"]}
    check(req["prefix-index"] < min(req["sherman"], req["chime"]),
          f"prefix index per-request lookup p99 {req['prefix-index'] * 1e3:.2f} us < "
          f"Sherman {req['sherman'] * 1e3:.2f}, CHIME {req['chime'] * 1e3:.2f}")
    if a.loaded:
        q = mean_p99(a.loaded)
        for op in ("get", "range"):
            check(q[("redis", op)] > p[("redis", op)],
                  f"Redis {op} p99 grows with concurrent clients: "
                  f"{p[('redis', op)]:.2f} -> {q[('redis', op)]:.2f} us")
    if errors:
        print(f"{len(errors)} check(s) failed", file=sys.stderr)
        return 1
    print("all Fig. 3 directions hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
