#!/usr/bin/env python3
"""Checks `kvcsim trace stats --json` on the Mooncake conversation trace against the reference
figures published in ../shared/traces/SOURCES.md (read from that file, never copied here).

Usage: check_trace_stats.py STATS.json SOURCES.md
"""
import json
import re
import sys


def reference(sources_md: str) -> dict:
    text = open(sources_md, encoding="utf-8").read()
    sec = text[text.index("## Reference figures"):]
    num = lambda s: float(s.replace(",", ""))
    ref = {
        "requests": num(re.search(r"requests ([\d,]+);", sec).group(1)),
        "span_s": num(re.search(r"span ([\d,]+) s", sec).group(1)),
        "blocks_referenced": num(re.search(r"blocks referenced ([\d,]+)", sec).group(1)),
        "unique_blocks": num(re.search(r"unique blocks ([\d,]+)", sec).group(1)),
        "ideal_hit_ratio": num(re.search(r"hit ratio ([\d.]+)", sec).group(1)),
        "first_block_shared": num(re.search(r"seen before ([\d.]+)", sec).group(1)),
        "lru": {int(p): num(v) for p, v in re.findall(r"(\d+)% → ([\d.]+)", sec)},
    }
    assert len(ref["lru"]) == 4, ref
    return ref


def main() -> int:
    stats = json.load(open(sys.argv[1], encoding="utf-8"))
    ref = reference(sys.argv[2])
    failures = []

    def check(name, got, want, places):
        ok = round(got, places) == round(want, places)
        print(f"{'ok  ' if ok else 'FAIL'} {name:<28} got {got:<12.6g} reference {want:g}")
        if not ok:
            failures.append(name)

    check("requests", stats["requests"], ref["requests"], 0)
    check("span_s", stats["span_s"], ref["span_s"], 0)
    check("blocks_referenced", stats["blocks_referenced"], ref["blocks_referenced"], 0)
    check("unique_blocks", stats["unique_blocks"], ref["unique_blocks"], 0)
    check("ideal_hit_ratio", stats["ideal_hit_ratio"], ref["ideal_hit_ratio"], 4)
    check("first_block_shared", stats["first_block_shared"], ref["first_block_shared"], 4)
    lru = {round(e["capacity_blocks"] / stats["unique_blocks"] * 100): e for e in stats["lru"]}
    for pct, want in sorted(ref["lru"].items()):
        got = lru.get(pct)
        if got is None:
            failures.append(f"lru {pct}%")
            print(f"FAIL lru {pct}% missing from the output")
            continue
        check(f"lru {pct}% block_hit_ratio", got["block_hit_ratio"], want, 4)
    print(f"{len(failures)} failed" if failures else "all reference figures reproduced")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
