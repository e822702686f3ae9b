#!/usr/bin/env bash
# Shared by the bench scripts (run.sh, k8s.sh): tools, process control, CPU and memory
# readings, dnsperf runs and one measured run. Sourced, not run. The functions read the
# settings of the script that sources them (OUT, RESULTS, PID, PORT, SERVER_CPU, CLIENT_CPU,
# CLK_TCK, DURATION, DNSPERF_*, MAX_OTHER, IDLE_WAIT).

log() { printf '[bench] %s\n' "$*" >&2; }

# Installs knot, dnsperf, kdig, taskset and python3 with apt-get when missing.
install_missing() {
    local need=()
    command -v knotd >/dev/null 2>&1 || need+=(knot)
    command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
    command -v kdig >/dev/null 2>&1 || need+=(knot-dnsutils)
    command -v taskset >/dev/null 2>&1 || need+=(util-linux)
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    ((${#need[@]})) || return 0
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    log "installing: ${need[*]}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

stop_one() {
    local pid=${PID[$1]:-}
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    PID[$1]=
}
stop_all() {
    local s
    for s in "${!PID[@]}"; do stop_one "$s"; done
}

cpu_ticks() { # utime + stime of the whole process (all threads)
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
cpu_busy_ticks() { # busy + steal ticks of one CPU (user nice system irq softirq steal)
    awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

dnsperf_run() { # port queryfile seconds
    local qps=()
    ((DNSPERF_QPS > 0)) && qps=(-Q "$DNSPERF_QPS")
    taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$1" -d "$2" -l "$3" \
        -c "$DNSPERF_CLIENTS" -T "$DNSPERF_THREADS" -q "$DNSPERF_OUTSTANDING" -t 1 "${qps[@]}" 2>&1
}

fail_row() { # server workload status
    printf '%s\t%s\t-\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n' "$1" "$2" "${3//$'\t'/ }" >>"$RESULTS"
}

# One measured dnsperf run against a running server; appends a row and sets
# LAST_STATUS (ok, noisy). Returns 1 if the server died.
LAST_STATUS=
measure() { # server workload run
    local server=$1 w=$2 run=$3 pid=${PID[$1]} port=${PORT[$1]} qf="$OUT/queries-$2.txt"
    local before after busy0 busy1 t0 t1 report rss completed qps lost resp runtime rcodes
    log "$server / $w (run $run): dnsperf for ${DURATION}s"
    busy0=$(cpu_busy_ticks "$SERVER_CPU")
    before=$(cpu_ticks "$pid")
    t0=$(date +%s.%N)
    report=$(dnsperf_run "$port" "$qf" "$DURATION" || true)
    t1=$(date +%s.%N)
    after=$(cpu_ticks "$pid" 2>/dev/null || true)
    busy1=$(cpu_busy_ticks "$SERVER_CPU")
    rss=$(rss_kb "$pid" 2>/dev/null || true)
    echo "$report" >"$OUT/dnsperf-$server-$w-$run.txt"
    if [[ -z $after || -z $rss ]]; then
        log "$server died during the $w run"
        fail_row "$server" "$w" "died during run"
        LAST_STATUS=died
        return 1
    fi
    completed=$(awk '/Queries completed:/ { print $3 }' <<<"$report")
    qps=$(awk '/Queries per second:/ { print $4 }' <<<"$report")
    lost=$(awk '/Queries lost:/ { gsub(/[()%]/, "", $4); print $4 }' <<<"$report")
    resp=$(awk '/Average packet size:/ { print $NF }' <<<"$report")
    runtime=$(awk '/Run time \(s\):/ { print $4 }' <<<"$report")
    rcodes=$(awk -F': *' '/Response codes:/ { gsub(/ [0-9]+ \(/, " ", $2); gsub(/\)/, "", $2); print $2 }' <<<"$report")
    if [[ -z $completed || $completed == 0 ]]; then
        fail_row "$server" "$w" "no answers (see $OUT/dnsperf-$server-$w-$run.txt)"
        LAST_STATUS=failed
        return 0
    fi
    awk -v s="$server" -v w="$w" -v r="$run" -v b="$before" -v a="$after" -v hz="$CLK_TCK" \
        -v n="$completed" -v qps="$qps" -v lost="${lost:-0}" -v rt="${runtime:-$DURATION}" \
        -v b0="$busy0" -v b1="$busy1" -v t0="$t0" -v t1="$t1" -v maxo="$MAX_OTHER" -v rss="$rss" -v resp="${resp:--}" \
        -v rc="${rcodes:--}" 'BEGIN {
            cpu = (a - b) / hz
            other = (b1 - b0 - (a - b)) / hz
            if (other < 0) other = 0
            # Other load over the whole window (dnsperf start-up and final wait included).
            other = 100 * other / (t1 - t0)
            status = (other > maxo) ? "noisy" : "ok"
            printf "%s\t%s\t%s\t%s\t%.0f\t%d\t%.2f\t%.2f\t%.2f\t%.0f\t%.1f\t%s\t%.0f\t%s\n",
                s, w, r, status, qps, n, lost, cpu, cpu * 1e6 / n, 100 * cpu / rt, rss / 1024, resp, other, rc
        }' >>"$RESULTS"
    LAST_STATUS=$(tail -n 1 "$RESULTS" | cut -f4)
}

# Waits (at most IDLE_WAIT seconds) until the machine is quiet: less than 10% of
# one CPU busy over a second, besides what this script runs.
wait_idle() {
    local deadline=$((SECONDS + IDLE_WAIT)) a b said=0
    while :; do
        a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
        sleep 1
        b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
        (((b - a) * 100 < CLK_TCK * 10)) && return 0
        if ((SECONDS >= deadline)); then
            log "machine still busy after ${IDLE_WAIT}s: measuring anyway"
            return 0
        fi
        ((said)) || log "machine busy (another process is using CPU): waiting up to ${IDLE_WAIT}s"
        said=1
        sleep 4
    done
}

# Writes DIR/knot.conf for one knotd on 127.0.0.1@PORT serving ZONE=FILE pairs (files in
# DIR): one UDP, one TCP and one background worker, no DNSSEC, no journal, zone files never
# rewritten; log in DIR/knot.log.
write_knot_conf() { # dir port zone=file...
    local dir=$1 port=$2 pair
    shift 2
    mkdir -p "$dir/knot-run" "$dir/knot-db"
    {
        cat <<EOF
# Generated by bench/lib.sh
server:
    rundir: "$dir/knot-run"
    pidfile: "$dir/knot-run/knot.pid"
    listen: 127.0.0.1@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

control:
    listen: "knot.sock"

database:
    storage: "$dir/knot-db"

log:
  - target: "$dir/knot.log"
    any: info

template:
  - id: default
    storage: "$dir"
    semantic-checks: off
    dnssec-signing: off
    journal-content: none
    zonefile-load: whole
    zonefile-sync: -1

zone:
EOF
        for pair in "$@"; do
            printf '  - domain: %s\n    file: %s\n' "${pair%%=*}" "${pair#*=}"
        done
    } >"$dir/knot.conf"
}

# One pass through a query file (every query sent once), for warming caches; dnsperf's report
# on stdout. Fewer queries in flight than a measured run, so that a cold server forwarding
# to an upstream loses none.
dnsperf_pass() { # port queryfile [outstanding]
    taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$1" -d "$2" -n 1 \
        -c "$DNSPERF_CLIENTS" -T "$DNSPERF_THREADS" -q "${3:-32}" -t 2 2>&1
}

# Installs Debian packages that provide the given commands (command=package pairs) when the
# command is missing; prints the packages it installed.
install_commands() { # command=package...
    local need=() pair
    for pair in "$@"; do
        command -v "${pair%%=*}" >/dev/null 2>&1 && continue
        [[ " ${need[*]} " == *" ${pair#*=} "* ]] || need+=("${pair#*=}")
    done
    ((${#need[@]})) || return 0
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    log "installing: ${need[*]}"
    "${sudo[@]}" apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    echo "${need[*]}"
}

# The rcode and answer records of one query, one per line, sorted; TTLs dropped when the
# fourth argument is `nottl` (caches count them down from different moments).
answer_lines() { # port qname qtype [nottl]
    kdig @127.0.0.1 -p "$1" "$2" "$3" +timeout=1 +retry=0 +noall +answer +header 2>&1 |
        awk -v nottl="${4:-}" '
            /status:/ { sub(/.*status: /, ""); sub(/;.*/, ""); print "rcode " $0; next }
            /^[^;]/ { if (nottl == "nottl") $2 = ""; $1 = $1; print }' | sort
}

# Asks two servers the first CHECK_QUERIES queries of a dnsperf query file and sets AGREE to
# a sentence saying for how many both gave the same rcode and answer records.
compare_answers() { # name_a port_a name_b port_b queryfile [nottl]
    local same=0 total=0 qname qtype diffs=()
    while read -r qname qtype; do
        total=$((total + 1))
        if [[ $(answer_lines "$2" "$qname" "$qtype" "${6:-}") == "$(answer_lines "$4" "$qname" "$qtype" "${6:-}")" ]]; then
            same=$((same + 1))
        else
            diffs+=("$qname $qtype")
        fi
    done < <(head -n "$CHECK_QUERIES" "$5")
    AGREE="$1 and $3 gave the same rcode and answer records${6:+ (TTLs aside)} for $same of $total sample queries"
    ((${#diffs[@]})) && AGREE+=" (differ: ${diffs[*]:0:5})"
    log "$AGREE"
}
