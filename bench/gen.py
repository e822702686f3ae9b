#!/usr/bin/env python3
"""Generates the benchmark zones and dnsperf query files.

    python3 bench/gen.py OUTDIR [SERVICES]

Writes into OUTDIR:
  db.cluster.bench       zone cluster.bench.: SOA, NS, and per service i
                         svc-$i.ns-$((i%50)).svc.cluster.bench. A 10.x.y.z and
                         _http._tcp.svc-$i.ns-...  SRV 0 100 80 svc-$i.ns-...
  db.10.in-addr.arpa     zone 10.in-addr.arpa.: SOA, NS, one PTR per address
  queries-a.txt          A query for every service, shuffled (dnsperf format)
  queries-mixed.txt      A, SRV and PTR for every service plus NXDOMAIN names, shuffled
  queries-nx.txt         the NXDOMAIN names alone

Output is deterministic (fixed seed), so two runs compare the same work.
"""

import os
import random
import sys

ZONE = "cluster.bench."
REV = "10.in-addr.arpa."
NAMESPACES = 50
SERIAL = 2026112401


def addr(i):
    """Address of service i: 10.0.b.c with c in 1..250, unique for i < 65000."""
    return (0, i // 250, i % 250 + 1)


def soa_ns(origin, f):
    f.write(f"$ORIGIN {origin}\n$TTL 30\n")
    f.write(
        f"@ IN SOA ns.{ZONE} hostmaster.{ZONE} {SERIAL} 7200 1800 86400 30\n"
        f"@ IN NS ns.{ZONE}\n"
    )


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    if count > 65000:
        sys.exit("at most 65000 services")
    os.makedirs(out, exist_ok=True)

    names = [f"svc-{i}.ns-{i % NAMESPACES}.svc.{ZONE}" for i in range(count)]

    with open(os.path.join(out, "db.cluster.bench"), "w") as f:
        soa_ns(ZONE, f)
        # Glue for the apex NS; a documentation address, nothing is ever sent to it.
        f.write("ns IN A 192.0.2.53\n")
        for i, name in enumerate(names):
            x, y, z = addr(i)
            f.write(f"{name} IN A 10.{x}.{y}.{z}\n")
            f.write(f"_http._tcp.{name} IN SRV 0 100 80 {name}\n")

    ptrs = []
    with open(os.path.join(out, "db.10.in-addr.arpa"), "w") as f:
        soa_ns(REV, f)
        for i, name in enumerate(names):
            x, y, z = addr(i)
            ptr = f"{z}.{y}.{x}.{REV}"
            ptrs.append(ptr)
            f.write(f"{ptr} IN PTR {name}\n")

    rng = random.Random(20261124)

    a = [f"{n} A" for n in names]
    rng.shuffle(a)
    with open(os.path.join(out, "queries-a.txt"), "w") as f:
        f.write("\n".join(a) + "\n")

    # NXDOMAIN: unknown services in existing namespaces, unknown namespaces,
    # and unused reverse addresses (about 5% of the mixed workload).
    nx_count = max(3, (3 * count) // 20)
    nx = []
    for k in range(nx_count):
        kind = k % 3
        if kind == 0:
            nx.append(f"nosuch-{k}.ns-{k % NAMESPACES}.svc.{ZONE} A")
        elif kind == 1:
            nx.append(f"svc-{k}.ns-none-{k}.svc.{ZONE} A")
        else:
            nx.append(f"{k % 250 + 1}.{k % 200}.255.{REV} PTR")
    with open(os.path.join(out, "queries-nx.txt"), "w") as f:
        f.write("\n".join(nx) + "\n")

    mixed = (
        [f"{n} A" for n in names]
        + [f"_http._tcp.{n} SRV" for n in names]
        + [f"{p} PTR" for p in ptrs]
        + nx
    )
    rng.shuffle(mixed)
    with open(os.path.join(out, "queries-mixed.txt"), "w") as f:
        f.write("\n".join(mixed) + "\n")


if __name__ == "__main__":
    main()
