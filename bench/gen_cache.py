#!/usr/bin/env python3
"""Writes the upstream zone and the queries of bench/cache.sh.

    python3 bench/gen_cache.py OUTDIR NAMES

Writes into OUTDIR:
  db.cache.bench      zone cache.bench.: SOA, NS and NAMES A records
                      `www-<i>.site-<i mod 100>.cache.bench.`, TTL 86400 (a day: no entry
                      expires from either cache during a benchmark)
  queries-hit.txt     an A query for every name, shuffled (dnsperf format)

The output is deterministic (fixed shuffle seed), so runs on different days ask the same
questions in the same order.
"""

import os
import random
import sys

ZONE = "cache.bench."


def addr(i):
    n = i + 10
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_cache.py OUTDIR NAMES")
    out, count = sys.argv[1], int(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    names = [f"www-{i}.site-{i % 100}.{ZONE}" for i in range(count)]
    with open(os.path.join(out, "db.cache.bench"), "w") as f:
        f.write(f"$ORIGIN {ZONE}\n$TTL 86400\n")
        f.write(f"@ IN SOA ns1.{ZONE} hostmaster.{ZONE} 1 7200 3600 1209600 300\n")
        f.write(f"@ IN NS ns1.{ZONE}\n")
        f.write("ns1 IN A 127.0.0.1\n")
        for i, name in enumerate(names):
            f.write(f"{name} IN A {addr(i)}\n")
    queries = list(names)
    random.Random(7).shuffle(queries)
    with open(os.path.join(out, "queries-hit.txt"), "w") as f:
        for name in queries:
            f.write(f"{name} A\n")


if __name__ == "__main__":
    main()
