#!/usr/bin/env bash
# Cairn serving a big generated cluster through the test API server: memory, time to ready,
# and CPU per service lookup next to Knot serving the same names from a zone file.
#
#   bash bench/k8s.sh
#
# 1. Starts `cairn-k8s-testserver --generate SERVICES,ENDPOINTS,PODS` (pinned to CLIENT_CPU)
#    and measures how long a plain client takes to LIST every watched kind from it (the
#    four lists in parallel, unpaged, bytes read but not parsed): the "list" baseline.
# 2. Starts cairn (pinned to SERVER_CPU) with `kubernetes { kubeconfig ...; pods verified }`
#    and `ready`, and measures the time from exec to /ready answering 200, then its resident
#    memory (VmRSS) once synced and idle.
# 3. Starts knotd (pinned to SERVER_CPU) serving an A record for every ClusterIP service of
#    the same cluster, checks that both answer a sample of names alike, and runs dnsperf
#    (pinned to CLIENT_CPU) against each in turn: A queries for every ClusterIP service.
# Results: stdout and bench/out/k8s/results.md. See bench/README.md.
#
# Environment (all optional):
#   SERVICES=10000 ENDPOINTS=100000 PODS=50000   the generated cluster
#   DURATION=15 WARMUP=2 REPEAT=1                dnsperf seconds, warm-up, runs per server
#   PORT_KNOT=15363 PORT_CAIRN=15364 PORT_API=16443 PORT_READY=18181
#   SERVER_CPU=0 CLIENT_CPU=1
#   SERVERS="knot cairn"  which servers to load with dnsperf (cairn always starts)
#   MAX_OTHER=10 RETRIES=2 IDLE_WAIT=120 CHECK_QUERIES=200 READY_TIMEOUT=120
#   DNSPERF_CLIENTS=4 DNSPERF_THREADS=1 DNSPERF_OUTSTANDING=256 DNSPERF_QPS=0
#   SKIP_BUILD=1          use the existing binaries (target/release)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT="$HERE/out/k8s"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"

SERVICES=${SERVICES:-10000}
ENDPOINTS=${ENDPOINTS:-100000}
PODS=${PODS:-50000}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
REPEAT=${REPEAT:-1}
PORT_KNOT=${PORT_KNOT:-15363}
PORT_CAIRN=${PORT_CAIRN:-15364}
PORT_API=${PORT_API:-16443}
PORT_READY=${PORT_READY:-18181}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVERS=${SERVERS:-knot cairn}
MAX_OTHER=${MAX_OTHER:-10}
RETRIES=${RETRIES:-2}
IDLE_WAIT=${IDLE_WAIT:-120}
CHECK_QUERIES=${CHECK_QUERIES:-200}
READY_TIMEOUT=${READY_TIMEOUT:-120}
DNSPERF_CLIENTS=${DNSPERF_CLIENTS:-4}
DNSPERF_THREADS=${DNSPERF_THREADS:-1}
DNSPERF_OUTSTANDING=${DNSPERF_OUTSTANDING:-256}
DNSPERF_QPS=${DNSPERF_QPS:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
CAIRN_BIN=$ROOT/target/release/cairn
API_BIN=$ROOT/target/release/cairn-k8s-testserver
WORKLOAD=svc-a

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

install_missing
CLK_TCK=$(getconf CLK_TCK)
if (($(nproc) < 2)); then
    log "warning: only one CPU; servers and clients will share it"
    CLIENT_CPU=$SERVER_CPU
fi
rm -rf "$OUT"
mkdir -p "$OUT"

if [[ $SKIP_BUILD != 1 ]]; then
    log "cargo build --release (log: $OUT/cargo-build.log)"
    (cd "$ROOT" && cargo build --release -p cairn -p cairn-k8s-testserver) >"$OUT/cargo-build.log" 2>&1 || {
        tail -n 5 "$OUT/cargo-build.log" >&2
        exit 1
    }
fi

log "generating the Knot zone and the queries ($SERVICES services)"
python3 "$HERE/gen_k8s.py" "$OUT" "$SERVICES"

declare -A PID=() PORT=([knot]=$PORT_KNOT [cairn]=$PORT_CAIRN [api]=$PORT_API)
trap stop_all EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }

# ---------------------------------------------------------------- 1. the API server
log "starting the test API server with $SERVICES services, $ENDPOINTS endpoints, $PODS pods"
taskset -c "$CLIENT_CPU" "$API_BIN" --addr "127.0.0.1:$PORT_API" --kubeconfig "$OUT/kubeconfig" \
    --generate "$SERVICES,$ENDPOINTS,$PODS" >"$OUT/api.log" 2>&1 &
PID[api]=$!
for _ in $(seq 600); do
    [[ -s $OUT/kubeconfig ]] && break
    kill -0 "${PID[api]}" 2>/dev/null || { cat "$OUT/api.log" >&2; exit 1; }
    sleep 0.1
done
[[ -s $OUT/kubeconfig ]] || { log "the API server wrote no kubeconfig"; exit 1; }

# Lists every kind cairn watches with `pods verified`, in parallel, and prints the seconds
# until the last list was read.
list_baseline() {
    taskset -c "$SERVER_CPU" python3 - "$OUT/kubeconfig" <<'EOF'
import base64, re, ssl, sys, tempfile, threading, time, urllib.request
text = open(sys.argv[1]).read()
def field(key):
    return re.search(key + r':\s*"?([^"\s]+)"?', text).group(1)
server, token = field("server"), field("token")
ca = base64.b64decode(field("certificate-authority-data"))
with tempfile.NamedTemporaryFile(suffix=".pem", delete=False) as f:
    f.write(ca)
ctx = ssl.create_default_context(cafile=f.name)
paths = ["/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices", "/api/v1/pods",
         "/api/v1/namespaces"]
sizes = {}
def fetch(path):
    req = urllib.request.Request(server + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, context=ctx) as r:
        sizes[path] = len(r.read())
start = time.monotonic()
threads = [threading.Thread(target=fetch, args=(p,)) for p in paths]
[t.start() for t in threads]
[t.join() for t in threads]
print(f"{time.monotonic() - start:.3f} {sum(sizes.values())}")
EOF
}
read -r LIST_S LIST_BYTES < <(list_baseline)
log "list baseline: ${LIST_S}s for $((LIST_BYTES / 1048576)) MiB of JSON"

# ---------------------------------------------------------------- 2. cairn: ready and memory
cat >"$OUT/Corefile" <<EOF
# Generated by bench/k8s.sh
cluster.local:$PORT_CAIRN {
    ready 127.0.0.1:$PORT_READY
    kubernetes {
        kubeconfig $OUT/kubeconfig
        pods verified
        startup_timeout 120s
    }
}
EOF

ready_status() {
    python3 - "$PORT_READY" <<'EOF' 2>/dev/null || echo 0
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/ready", timeout=1) as r:
        print(r.status)
except Exception as e:
    print(getattr(e, "code", 0))
EOF
}

log "starting cairn on 127.0.0.1:$PORT_CAIRN (CPU $SERVER_CPU)"
T_START=$(now)
taskset -c "$SERVER_CPU" "$CAIRN_BIN" -conf "$OUT/Corefile" >"$OUT/cairn.log" 2>&1 &
PID[cairn]=$!
READY_S=
deadline=$((SECONDS + READY_TIMEOUT))
while ((SECONDS < deadline)); do
    kill -0 "${PID[cairn]}" 2>/dev/null || { cat "$OUT/cairn.log" >&2; exit 1; }
    if [[ $(ready_status) == 200 ]]; then
        READY_S=$(awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
        break
    fi
    sleep 0.05
done
[[ -n $READY_S ]] || { log "cairn not ready within ${READY_TIMEOUT}s"; exit 1; }
log "cairn ready ${READY_S}s after start"
sleep 3
RSS_MB=$(awk -v kb="$(rss_kb "${PID[cairn]}")" 'BEGIN { printf "%.1f", kb / 1024 }')
PEAK_MB=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/${PID[cairn]}/status")
log "cairn resident memory after sync: ${RSS_MB} MB (peak during sync ${PEAK_MB} MB)"

# ---------------------------------------------------------------- 3. knot, answers, dnsperf
write_knot_conf "$OUT" "$PORT_KNOT" cluster.local.=db.cluster.local
taskset -c "$SERVER_CPU" knotd -c "$OUT/knot.conf" >"$OUT/knot.stderr" 2>&1 &
PID[knot]=$!
PROBE=$(head -n 1 "$OUT/queries-$WORKLOAD.txt" | cut -d' ' -f1)
for server in knot cairn; do
    ok=
    for _ in $(seq 100); do
        answer=$(kdig @127.0.0.1 -p "${PORT[$server]}" "$PROBE" A +short +timeout=1 +retry=0 2>/dev/null || true)
        [[ $answer == 10.* ]] && { ok=1; break; }
        sleep 0.2
    done
    [[ -n $ok ]] || { log "$server does not answer $PROBE"; exit 1; }
done

compare_answers Knot "$PORT_KNOT" Cairn "$PORT_CAIRN" "$OUT/queries-$WORKLOAD.txt"

RESULTS="$OUT/results.tsv"
printf 'server\tworkload\trun\tstatus\tqps\tcompleted\tlost_pct\tcpu_s\tus_per_q\tcpu_pct\trss_mb\tresp_bytes\tcpu_other_pct\trcodes\n' >"$RESULTS"
for server in $SERVERS; do
    dnsperf_run "${PORT[$server]}" "$OUT/queries-$WORKLOAD.txt" "$WARMUP" >/dev/null || true
done
for run in $(seq "$REPEAT"); do
    for server in $SERVERS; do
        for attempt in $(seq 0 "$RETRIES"); do
            wait_idle
            measure "$server" "$WORKLOAD" "$run" || break
            [[ $LAST_STATUS == noisy ]] || break
            ((attempt < RETRIES)) && log "other load on CPU $SERVER_CPU above ${MAX_OTHER}%: run again"
        done
    done
done
RSS_AFTER_MB=$(awk -v kb="$(rss_kb "${PID[cairn]}")" 'BEGIN { printf "%.1f", kb / 1024 }')
stop_all

# ---------------------------------------------------------------- 4. report
median_us() { # server: median us/query over its ok runs (over the noisy ones if none is ok)
    local status=ok
    awk -F'\t' -v s="$1" '$1 == s && $4 == "ok" { found = 1 } END { exit !found }' "$RESULTS" || status=noisy
    awk -F'\t' -v s="$1" -v st="$status" '$1 == s && $4 == st { print $9 }' "$RESULTS" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
{
    echo "# Cairn on a generated cluster: results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "- cairn at $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo ' + local changes'); knotd $(knotd --version 2>/dev/null | head -n1 | awk '{ print $NF }')"
    echo "- cluster: $SERVICES services, $ENDPOINTS endpoints, $PODS pods (cairn-k8s-testserver --generate), \`pods verified\`"
    echo
    echo "| figure | value |"
    echo "|---|---|"
    echo "| list baseline (4 parallel unpaged LISTs, $((LIST_BYTES / 1048576)) MiB) | ${LIST_S} s |"
    echo "| cairn start to /ready 200 | ${READY_S} s |"
    echo "| ready minus list baseline | $(awk -v a="$READY_S" -v b="$LIST_S" 'BEGIN { printf "%.3f", a - b }') s |"
    echo "| cairn VmRSS after sync (idle) | ${RSS_MB} MB |"
    echo "| cairn VmHWM (peak resident, during the first sync) | ${PEAK_MB} MB |"
    echo "| cairn VmRSS after the dnsperf runs | ${RSS_AFTER_MB} MB |"
    echo
    echo "Service A lookups, dnsperf -c $DNSPERF_CLIENTS -q $DNSPERF_OUTSTANDING -l $DURATION on CPU $CLIENT_CPU, server on CPU $SERVER_CPU:"
    echo
    echo "| server | run | status | QPS | CPU µs/query | lost | RSS MB | response codes |"
    echo "|---|---|---|---:|---:|---:|---:|---|"
    tail -n +2 "$RESULTS" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s%% | %s | %s |\n", $1, $3, $4, $5, $9, $7, $11, $14 }'
    echo
    echo "Answer check: $AGREE"
    k=$(median_us knot || true) c=$(median_us cairn || true)
    if [[ -n $k && -n $c ]]; then
        echo
        echo "Cairn/Knot CPU per query: $(awk -v c="$c" -v k="$k" 'BEGIN { printf "%.2f", c / k }')x (Cairn $c µs, Knot $k µs; target ≤ 1.5x)"
    fi
} >"$OUT/results.md"
echo
cat "$OUT/results.md"
