#!/usr/bin/env python3
"""Reads a `kvcsim plan --out DIR` folder back with pyarrow and checks it against its JSON:
one plan.parquet row per probe, the best configuration the cheapest probe meeting the SLO
(with a workload.rate_scale range: the most load per unit of cost),
at most MAX probes per choice, a non-empty Pareto set without headroom probes, and one run
folder per probe and seed.

Usage: check_plan.py DIR [--max-probes N]
"""
import argparse
import json
import os
import sys

import pyarrow.parquet as pq

COLUMNS_TAIL = ["cluster.instances", "workload.rate_scale", "headroom", "gpus", "cost", "seeds", "slo_attainment",
                "goodput_requests_per_s", "goodput_per_gpu", "meets_slo", "pareto"]


def shortest(x: float) -> str:
    """A float as Rust's `{}` writes it: the shortest round-trip form, no `.0` on integers."""
    s = repr(x)
    return s[:-2] if s.endswith(".0") else s


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--max-probes", type=int, default=12)
    a = ap.parse_args()
    plan = json.load(open(os.path.join(a.dir, "plan.json"), encoding="utf-8"))
    t = pq.read_table(os.path.join(a.dir, "plan.parquet")).to_pydict()
    errors = []
    names = list(t)
    if names[:2] != ["probe_id", "choice"] or names[-len(COLUMNS_TAIL):] != COLUMNS_TAIL:
        errors.append(f"plan.parquet columns {names}")
    rows = len(t["probe_id"])
    if rows != plan["probes"]:
        errors.append(f"{rows} rows but {plan['probes']} probes")
    if not any(t["pareto"]):
        errors.append("empty Pareto set")
    rate = plan.get("search") == "workload.rate_scale"
    meeting = [i for i in range(rows) if t["meets_slo"][i] and not t["headroom"][i]]
    if plan["met"] and rate:
        # A rate range: the best sustains the most load per unit of cost.
        top = max(t["workload.rate_scale"][i] / t["cost"][i] for i in meeting)
        got = plan["best"]["workload.rate_scale"] / plan["cost"]
        if got != top:
            errors.append(f"best load per cost {got} but a meeting probe reaches {top}")
    elif plan["met"]:
        cheapest = min(t["cost"][i] for i in meeting)
        if plan["cost"] != cheapest:
            errors.append(f"best cost {plan['cost']} but the cheapest meeting probe costs {cheapest}")
    elif meeting:
        errors.append("met is false but some probe meets the SLO")
    for c in plan["choices"]:
        if c["probes"] > a.max_probes:
            errors.append(f"choice {c['values']}: {c['probes']} probes > {a.max_probes}")
    for i in range(rows):
        r = f"rate_scale={shortest(t['workload.rate_scale'][i])}"
        if t["headroom"][i]:
            if t["pareto"][i]:
                errors.append(f"headroom probe {i} in the Pareto set")
            d = os.path.join(a.dir, "probes", "headroom", r)
        else:
            d = os.path.join(a.dir, "probes", f"choice={t['choice'][i]}",
                             f"instances={t['cluster.instances'][i]}", *([r] if rate else []))
        if len(os.listdir(d)) != t["seeds"][i]:
            errors.append(f"{d}: not one folder per seed")
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    if not errors:
        print(f"plan ok: {rows} probes, best {plan['best']} at cost {plan['cost']} ({plan.get('gpus')} GPUs), "
              f"attainment {plan['slo_attainment']:.4f}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
