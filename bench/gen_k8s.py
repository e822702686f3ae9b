#!/usr/bin/env python3
"""Writes what Knot needs to serve the service names of a generated cluster, and the queries.

    python3 bench/gen_k8s.py OUTDIR SERVICES

The cluster is the one `cairn-k8s-testserver --generate SERVICES,...` serves (see
crates/k8s-testserver/src/generate.rs): services `svc-<i>` in namespace
`ns-<i mod max(1, SERVICES/100)>`, every tenth (`i mod 10 == 9`) headless, the others with
the cluster IP 10.(96 + (n >> 16)).((n >> 8) & 255).(n & 255) where n = i + 10.

Writes into OUTDIR:
  db.cluster.local    zone cluster.local.: SOA, NS and the A record of every ClusterIP
                      service, TTL 5 (the kubernetes plugin's default)
  queries-svc-a.txt   an A query for every ClusterIP service, shuffled (dnsperf format)
"""

import os
import random
import sys

ZONE = "cluster.local."


def cluster_ip(i):
    n = i + 10
    return f"10.{96 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"


def main():
    out, services = sys.argv[1], int(sys.argv[2])
    namespaces = max(1, services // 100)
    os.makedirs(out, exist_ok=True)
    names = []
    with open(os.path.join(out, "db.cluster.local"), "w") as f:
        f.write(f"$ORIGIN {ZONE}\n$TTL 5\n")
        f.write(f"@ IN SOA ns.dns.{ZONE} hostmaster.{ZONE} 1 7200 1800 86400 5\n")
        f.write(f"@ IN NS ns.dns.{ZONE}\n")
        f.write("ns.dns IN A 127.0.0.1\n")
        for i in range(services):
            if i % 10 == 9:
                continue
            name = f"svc-{i}.ns-{i % namespaces}.svc.{ZONE}"
            names.append(name)
            f.write(f"{name} IN A {cluster_ip(i)}\n")
    random.Random(7).shuffle(names)
    with open(os.path.join(out, "queries-svc-a.txt"), "w") as f:
        for name in names:
            f.write(f"{name} A\n")


if __name__ == "__main__":
    main()
