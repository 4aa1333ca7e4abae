#!/usr/bin/env bash
# bench/run.sh: Herald against nginx + nchan, side by side, in one run (what
# `make bench` runs). Every scenario runs each system of BENCH_SYSTEMS back to
# back, REPS times (interleaved repetitions). The systems:
#   herald-httpN  Herald with --workers N, published to by `loadgen pub`:
#                 closed-loop HTTP POST /publish (keep-alive, one message in
#                 flight per connection, a Bearer publish token)
#   nchanN        nginx + nchan with N workers, published to by the same
#                 `loadgen pub` (raw body to its publisher location)
#   herald-phpN   Herald with --workers N, published to by PHP processes
#                 calling sse_emit()/ws_publish() (bench/publish.php,
#                 open-loop): Herald's intended publish path, reported apart
#   herald        the same as herald-php1, pinned by SRV_CPU/GEN_CPU (the
#                 scale, cluster and v1 runs, and RELAY_B comparisons)
# Cores, like with like: a system with N workers (N <= cores) runs on cores
# 0..N-1 (taskset over the list, for Herald's threads and nginx's workers
# alike) and the load generator and publishers on the cores left, or on all
# of them when none are left (N = 2 on this 2-core machine: load and servers
# share both cores). herald, herald-b and nchanN with N > cores use
# SRV_CPU (default 0) and GEN_CPU (default 1).
#
#   bench/run.sh [--reps N] [--quick] [--only LIST] [--out DIR] [--no-report]
#
# LIST is a comma-separated subset of: idle fanout fanout-ws rate channels large php, or
# scale (only Herald: 18k on one relay, 100k on six, idle + one broadcast; also
# for SRV_CPU=0,1 GEN_CPU=0,1 runs), cluster (the same with the relays joined
# through one Redis, --redis: a single publish to relay 0 reaches all), v1
# (only Herald: herald.v1 envelopes against raw WebSocket, interleaved in each
# repetition: idle memory and fan-out to 10k; bench/v1_compare.py sums up).
# Results: DIR/results.jsonl (one JSON object per run), DIR/php_cost.txt, and
# bench/report.py turns them into docs/BENCHMARKS.md's tables and chart.
# Before/after: RELAY_B=/path/to/other/herald-relay BENCH_SYSTEMS="herald herald-b"
# runs both relays in each repetition, interleaved (bench/compare.py sums up).
# Needs: make relay ext bench-build, bench/install-deps.sh. Loopback only.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REPS=3
QUICK=0
ONLY=idle,fanout,fanout-ws,rate,channels,large,php
OUT=$ROOT/build/bench/results
REPORT=1
ARGS="$*"
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --quick) QUICK=1; REPS=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-report) REPORT=0; shift ;;
    *) echo "usage: bench/run.sh [--reps N] [--quick] [--only LIST] [--out DIR] [--no-report]" >&2; exit 2 ;;
    esac
done
CMDLINE="${BENCH_SYSTEMS:+BENCH_SYSTEMS='$BENCH_SYSTEMS' }SRV_CPU=${SRV_CPU:-0} GEN_CPU=${GEN_CPU:-1} bench/run.sh $ARGS"
want() { [[ ",$ONLY," == *",$1,"* ]]; }

read -r -a SYSTEMS <<<"${BENCH_SYSTEMS:-herald-http1 nchan1 herald-http2 nchan2 herald-php1 herald-php2}"
has() { [[ " ${SYSTEMS[*]} " == *" $1 "* ]]; }
NCHAN_MODULE=$(ls /usr/lib/nginx/modules/ngx_nchan_module.so 2>/dev/null || true)
# scale, cluster, v1 and php measure Herald alone: nchan is needed by the rest
NEEDS_NCHAN=0
for s in ${ONLY//,/ }; do case "$s" in scale | cluster | v1 | php) ;; *) [[ " ${SYSTEMS[*]}" == *" nchan"* ]] && NEEDS_NCHAN=1 ;; esac; done
[ -n "$NCHAN_MODULE" ] || [ "$NEEDS_NCHAN" = 0 ] ||
    { echo "bench: nchan missing: bench/install-deps.sh" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-bench.XXXXXX")
# The binaries under test are copied aside first: a rebuild in the checkout
# during a long run must not change (or remove) what is being measured.
for f in build/herald-relay build/herald.so build/bench/loadgen; do
    [ -f "$f" ] || make --no-print-directory relay ext bench-build >&2 || exit 1
done
mkdir -p "$TMP/bin"
cp build/herald-relay build/herald.so build/bench/loadgen "$TMP/bin/" || exit 1
LOADGEN=$TMP/bin/loadgen
RELAY=$TMP/bin/herald-relay
RELAY_B_BIN=
if [ -n "${RELAY_B:-}" ]; then
    cp "$RELAY_B" "$TMP/bin/herald-relay-b" || exit 1
    RELAY_B_BIN=$TMP/bin/herald-relay-b
fi
EXT=$TMP/bin/herald.so

NCPU=$(nproc)
SRV_CPU=${SRV_CPU:-0}                       # taskset lists; e.g. SRV_CPU=0,1 GEN_CPU=0,1
GEN_CPU=${GEN_CPU:-$((NCPU > 1 ? 1 : 0))}  # lets servers and load share both cores
PIN_SRV=(taskset -c "$SRV_CPU")
PIN_GEN=(taskset -c "$GEN_CPU")
# sys_workers SYSTEM: its worker count (herald and herald-b: HERALD_WORKERS, 1)
sys_workers() {
    case "$1" in
    herald-http* | herald-php*) echo "${1##*[a-z]}" ;;
    nchan*) echo "${1#nchan}" ;;
    *) echo "${HERALD_WORKERS:-1}" ;;
    esac
}
# pin_for SYSTEM: sets PIN_SRV and PIN_GEN (see the head of this file)
pin_for() {
    local w
    w=$(sys_workers "$1")
    PIN_SRV=(taskset -c "$SRV_CPU")
    PIN_GEN=(taskset -c "$GEN_CPU")
    case "$1" in herald | herald-b) return ;; esac
    [ "$w" -le "$NCPU" ] || return 0
    PIN_SRV=(taskset -c "0-$((w - 1))")
    if [ "$w" -lt "$NCPU" ]; then
        PIN_GEN=(taskset -c "$w-$((NCPU - 1))")
    else
        PIN_GEN=(taskset -c "0-$((NCPU - 1))")
    fi
}
PHP=(php -n -d "extension=$EXT")
SRC=2-61 # 60 loopback source addresses: 60 x 28k ports

mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
SERVER_PIDS=()
MASTER_PID=
cleanup() {
    stop_server
    [ -n "${CLUSTER_REDIS_PID:-}" ] && kill "$CLUSTER_REDIS_PID" 2>/dev/null && wait "$CLUSTER_REDIS_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

# ---- measuring the server ----

# Proportional set size of the server processes, bytes (shared pages counted once).
server_pss() {
    local sum=0 p v
    for p in "${SERVER_PIDS[@]}"; do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        sum=$((sum + ${v:-0} * 1024))
    done
    echo "$sum"
}
# CPU time of the server processes (every thread), ns.
server_cpu_ns() {
    local sum=0 p t v
    for p in "${SERVER_PIDS[@]}"; do
        for t in /proc/"$p"/task/*/schedstat; do
            read -r v _ <"$t" 2>/dev/null || v=0
            sum=$((sum + v))
        done
    done
    echo "$sum"
}

wait_port() { # port
    for _ in $(seq 400); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05 # startup poll, not part of any measurement
    done
    echo "bench: nothing listens on $1" >&2
    return 1
}

HERALD_PORT=9301
NCHAN_PORT=9401
# The relay's HTTP publish API (docs/PROTOCOL.md 1.7) wants a secret and a
# publish token: minted once by the extension, as PHP would.
SECRET=bench-secret-0123456789abcdef
TOKEN=$(php -n -d "extension=$EXT" -d "herald.secret=$SECRET" \
    -r "echo herald_token(['publish' => ['*']], 86400);") || exit 1
# start_server herald* K | nchan W   (herald*: K relays, each with --workers of the system)
start_server() {
    SERVER_PIDS=()
    MASTER_PID=
    case "$1" in
    herald*)
        local i bin=$RELAY w help extra=()
        w=$(sys_workers "$1")
        [ "$1" = herald-b ] && bin=$RELAY_B_BIN
        # an older relay (RELAY_B) may predate workers or the publish API.
        # The help is read whole first: piped into grep -q, the relay could
        # die of SIGPIPE after the match, and with pipefail the flag was
        # dropped (a run whose relay answered 404 to every publish).
        help=$("$bin" --help 2>&1)
        grep -q -- '--workers' <<<"$help" && extra+=(--workers "$w")
        grep -q -- '--publish_api' <<<"$help" && extra+=(--secret "$SECRET" --publish_api 1)
        for ((i = 0; i < $2; i++)); do
            "${PIN_SRV[@]}" "$bin" --listen "127.0.0.1:$((HERALD_PORT + i))" \
                --socket "$TMP/h$i.sock" --log_level warn --max_queued_bytes "$MAXQ" "${extra[@]}" \
                ${CLUSTER_REDIS:+--redis "$CLUSTER_REDIS"} 2>>"$TMP/relay.log" &
            SERVER_PIDS+=($!)
        done
        for ((i = 0; i < $2; i++)); do wait_port $((HERALD_PORT + i)) || return 1; done
        for ((i = 0; i < $2; i++)); do
            for _ in $(seq 200); do [ -S "$TMP/h$i.sock" ] && break; sleep 0.05; done
        done
        ;;
    nchan)
        local d=$TMP/nginx
        rm -rf "$d"
        mkdir -p "$d"
        sed -e "s#@WORKERS@#$2#; s#@PORT@#$NCHAN_PORT#; s#@DIR@#$d#g; s#@MODULE@#$NCHAN_MODULE#" \
            bench/nchan.conf.in >"$d/nginx.conf"
        "${PIN_SRV[@]}" nginx -p "$d" -c "$d/nginx.conf" -e "$d/nginx-error.log" &
        MASTER_PID=$!
        wait_port "$NCHAN_PORT" || return 1
        for _ in $(seq 100); do
            [ "$(pgrep -c -P "$MASTER_PID")" -ge "$2" ] && break
            sleep 0.05
        done
        SERVER_PIDS=("$MASTER_PID" $(pgrep -P "$MASTER_PID"))
        ;;
    esac
    sleep 0.3
}

stop_server() {
    local p
    if [ -n "${MASTER_PID:-}" ]; then
        kill "$MASTER_PID" 2>/dev/null
        wait "$MASTER_PID" 2>/dev/null
    else
        for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    fi
    SERVER_PIDS=()
    MASTER_PID=
}

# ---- one run ----
# run_case SCENARIO SYSTEM REP PROTO SUBS CHANNELS COUNT RATE SIZE [RELAYS]
#   SYSTEM: herald | herald-b | herald-httpW | herald-phpW | nchanW (W workers)
#   COUNT messages in all, message i to channel i % CHANNELS; each subscriber
#   expects COUNT / CHANNELS. RATE 0: as fast as the publishers go.
run_case() {
    local scen=$1 sys=$2 rep=$3 proto=$4 subs=$5 chans=$6 count=$7 rate=$8 size=$9
    local relays=${10:-1}
    local port path pubport workers pubt=$proto
    [ "$proto" = herald ] && pubt=ws # herald.v1 subscribers take ws_publish too
    workers=$(sys_workers "$sys")
    pin_for "$sys"
    local load1
    load1=$(cut -d' ' -f1 /proc/loadavg)
    case "$sys" in
    herald*)
        start_server "$sys" "$relays" || return 1
        port=$HERALD_PORT
        [ "$relays" -gt 1 ] && port=$HERALD_PORT-$((HERALD_PORT + relays - 1))
        if [ "$proto" = sse ]; then path='/sse?channel=c%d'; else path='/ws?channel=c%d'; fi
        ;;
    nchan*)
        start_server nchan "$workers" || return 1
        port=$NCHAN_PORT
        path='/sub/c%d'
        ;;
    esac
    local pss0 pss1 cpu0 cpu1 t0 t1 ready=$TMP/ready json=$TMP/lg.json done=$TMP/done
    rm -f "$ready" "$json" "$done"
    pss0=$(server_pss)
    "${PIN_GEN[@]}" "$LOADGEN" sub --proto "$proto" --port "$port" --path "$path" \
        --conns "$subs" --channels "$chans" --src "$SRC" --expect $((count / chans)) \
        --timeout "$TIMEOUT" --quiet 5 --ready-file "$ready" --json "$json" --done-file "$done" 2>>"$TMP/loadgen.log" &
    local lg=$!
    while [ ! -f "$ready" ] && kill -0 "$lg" 2>/dev/null; do sleep 0.05; done
    sleep 1 # let the server settle before reading its memory
    pss1=$(server_pss)
    # threads of the server processes (nginx: master + workers); a relay
    # with --workers N runs N loop threads once the threads exist
    local threads=0 sp
    for sp in "${SERVER_PIDS[@]}"; do threads=$((threads + $(ls "/proc/$sp/task" 2>/dev/null | wc -l))); done
    cpu0=$(server_cpu_ns)
    t0=$(date +%s%N)
    local pubs=() pc=$PUB_CONNS
    [ "$rate" != 0 ] && pc=1
    [ "$count" -lt "$pc" ] && pc=1
    if [[ "$sys" == herald-http* ]]; then
        # the same closed-loop publisher as nchan's, to POST /publish; with
        # several independent relays, each gets every message
        local i
        for ((i = 0; i < relays; i++)); do
            "${PIN_GEN[@]}" "$LOADGEN" pub --port $((HERALD_PORT + i)) --path /publish --body herald \
                --auth "$TOKEN" --transport "$pubt" --channels "$chans" --count "$count" \
                --rate "$rate" --size "$size" --conns "$pc" 2>>"$TMP/pub.log" &
            pubs+=($!)
        done
    elif [[ "$sys" == herald* ]]; then
        local np=$HERALD_PUBS i r
        [ "$rate" != 0 ] && np=1
        [ "$count" -lt "$np" ] && np=1
        [ "$relays" -gt 1 ] && [ -z "${CLUSTER_REDIS:-}" ] && np=$relays
        for ((i = 0; i < np; i++)); do
            r=$rate
            [ "$rate" != 0 ] && r=$(awk "BEGIN{print $rate/$np}")
            "${PIN_GEN[@]}" "${PHP[@]}" bench/publish.php --socket="$TMP/h$((i % relays)).sock" \
                --count=$((np == relays && relays > 1 ? count : count / np)) --rate="$r" --size="$size" \
                --channels="$chans" --first=$((np == relays && relays > 1 ? 0 : i * count / np)) \
                --t="$pubt" 2>>"$TMP/pub.log" &
            pubs+=($!)
        done
    else
        "${PIN_GEN[@]}" "$LOADGEN" pub --port "$NCHAN_PORT" --path '/pub/c%d' --channels "$chans" \
            --count "$count" --rate "$rate" --size "$size" --conns "$pc" 2>>"$TMP/pub.log" &
        pubs+=($!)
    fi
    # the loadgen writes $done with its result and keeps its connections
    # until SIGTERM: the servers' CPU is read before they see the disconnects
    while [ ! -f "$done" ] && kill -0 "$lg" 2>/dev/null; do sleep 0.02; done
    t1=$(date +%s%N)
    cpu1=$(server_cpu_ns)
    kill "$lg" 2>/dev/null
    wait "$lg"
    local lrc=$?
    local p
    for p in "${pubs[@]}"; do wait "$p" 2>/dev/null; done
    stop_server
    if [ ! -s "$json" ]; then
        log "  $scen $sys rep $rep: no result from loadgen (rc $lrc); see $TMP/loadgen.log"
        tail -5 "$TMP/loadgen.log" >&2
        return 1
    fi
    local lg_json
    lg_json=$(tr -d '\n' <"$json")
    printf '{"scenario":"%s","system":"%s","workers":%s,"relays":%s,"rep":%s,"proto":"%s","subs":%s,"channels":%s,"count":%s,"rate":%s,"size":%s,"pss_before":%s,"pss_after":%s,"cpu_ns":%s,"wall_ns":%s,"srv_cpus":"%s","gen_cpus":"%s","threads":%s,"load1":%s,"lg":%s}\n' \
        "$scen" "$sys" "$workers" "$relays" "$rep" "$proto" "$subs" "$chans" "$count" "$rate" "$size" \
        "$pss0" "$pss1" "$((cpu1 - cpu0))" "$((t1 - t0))" "${PIN_SRV[2]}" "${PIN_GEN[2]}" "${threads:-0}" \
        "$load1" "$lg_json" >>"$RESULTS"
    local msgs lost p99 mps
    msgs=$(jq -r .msgs "$json"); lost=$(jq -r .lost "$json"); p99=$(jq -r .p99_us "$json")
    mps=$(jq -r .msgs_per_s "$json")
    log "  $scen $sys rep $rep (cores ${PIN_SRV[2]}/${PIN_GEN[2]}, $threads threads): subs $subs, $(( (pss1 - pss0) / subs )) B/conn, msgs $msgs lost $lost, $mps msg/s, p99 ${p99} us, cpu/msg $(awk "BEGIN{ if ($msgs>0) printf \"%.2f\", ($cpu1-$cpu0)/$msgs/1000; else print \"-\"}") us"
}

MAXQ=67108864   # queued-bytes cap for the bench: bursts queue references, not copies
HERALD_PUBS=2   # PHP publisher processes at full speed (1 at a fixed rate)
PUB_CONNS=2     # loadgen pub: keep-alive POST connections at full speed (1 at a fixed rate)
TIMEOUT=120

log "bench: $(uname -srm), $NCPU cores, systems: ${SYSTEMS[*]}; a system with N workers on cores 0..N-1, the load on the rest (or all); herald on $SRV_CPU, its load on $GEN_CPU; $REPS repetitions; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$LOADGEN" check 100000 2>&1 | sed 's/^/  /' >&2
{
    echo "{\"meta\":true,\"date\":\"$(date -u +%FT%TZ)\",\"kernel\":\"$(uname -r)\",\"cpus\":$NCPU,\"cpu_model\":\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\","
    echo "\"nginx\":\"$(nginx -v 2>&1 | sed 's/.*\///')\",\"nchan\":\"$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)\",\"php\":\"$(php -r 'echo PHP_VERSION;')\",\"reps\":$REPS,\"systems\":\"${SYSTEMS[*]}\",\"quick\":$QUICK,\"herald\":\"$(git rev-parse --short HEAD 2>/dev/null)\",\"loadavg\":\"$(cut -d" " -f1-3 /proc/loadavg)\",\"cmd\":\"$CMDLINE\"}"
} | tr -d '\n' >>"$RESULTS"
echo >>"$RESULTS"

for ((rep = 1; rep <= REPS; rep++)); do
    if want idle; then
        log "idle memory, rep $rep"
        for n in 10000 50000 100000; do
            [ "$QUICK" = 1 ] && [ "$n" -gt 10000 ] && continue
            relays=$(( (n + 17999) / 18000 ))
            for sys in "${SYSTEMS[@]}"; do
                case "$sys" in
                herald*) run_case idle "$sys" "$rep" sse "$n" 1 1 0 100 "$relays" ;;
                nchan*) [ "$n" -le 10000 ] && run_case idle "$sys" "$rep" sse "$n" 1 1 0 100 ;;
                esac
            done
            # one nginx worker is capped at 20,000 descriptors too
            [ "$n" -gt 10000 ] && has nchan1 &&
                run_case idle "nchan$(( (n + 16999) / 17000 ))" "$rep" sse "$n" 1 1 0 100
        done
        for sys in "${SYSTEMS[@]}"; do
            [ "$(sys_workers "$sys")" = 1 ] && run_case idle-ws "$sys" "$rep" ws 10000 1 1 0 100
        done
    fi
    if want scale; then
        log "18k connections on one relay, then 100k on $(( (100000 + 17999) / 18000 )) relays, one broadcast, rep $rep"
        run_case idle herald "$rep" sse 18000 1 1 0 100 1
        run_case idle herald "$rep" sse 100000 1 1 0 100 $(( (100000 + 17999) / 18000 ))
    fi
    if want cluster; then
        # relays joined through one Redis (cluster mode): one publish to relay 0
        # reaches the subscribers of all six
        if [ -z "${CLUSTER_REDIS_PID:-}" ]; then
            # TCP on loopback: the relay's unix:// Redis link fails at the time of
            # writing (SO_KEEPALIVE on a Unix socket; see docs/BENCHMARKS.md)
            "${PIN_SRV[@]}" redis-server --port 9698 --bind 127.0.0.1 --save '' \
                --appendonly no --loglevel warning >/dev/null &
            CLUSTER_REDIS_PID=$!
            wait_port 9698
        fi
        log "100k connections on six relays joined through Redis, one broadcast, rep $rep"
        CLUSTER_REDIS=redis://127.0.0.1:9698
        run_case cluster herald "$rep" sse 18000 1 1 0 100 1
        run_case cluster herald "$rep" sse 100000 1 1 0 100 $(( (100000 + 17999) / 18000 ))
        CLUSTER_REDIS=
    fi
    if want v1; then
        log "herald.v1 envelopes against raw WebSocket, rep $rep"
        run_case idle-ws herald "$rep" ws 10000 1 1 0 100
        run_case idle-v1 herald "$rep" herald 10000 1 1 0 100
        # 10M deliveries a run: long enough for CPU per message to settle
        run_case fanout-ws herald "$rep" ws 10000 1 $((QUICK ? 100 : 1000)) 0 100
        run_case fanout-v1 herald "$rep" herald 10000 1 $((QUICK ? 100 : 1000)) 0 100
    fi
    if want fanout; then
        log "fan-out at full speed, rep $rep"
        for sys in "${SYSTEMS[@]}"; do
            run_case fanout "$sys" "$rep" sse 1000 1 $((QUICK ? 1000 : 2000)) 0 100
            run_case fanout "$sys" "$rep" sse 10000 1 $((QUICK ? 100 : 200)) 0 100
        done
    fi
    if want fanout-ws; then
        log "fan-out at full speed, WebSocket, rep $rep"
        for sys in "${SYSTEMS[@]}"; do
            [ "$(sys_workers "$sys")" = 1 ] &&
                run_case fanout-ws "$sys" "$rep" ws 10000 1 $((QUICK ? 100 : 200)) 0 100
        done
    fi
    if want rate; then
        log "fan-out at a fixed rate, rep $rep"
        for sys in "${SYSTEMS[@]}"; do
            run_case rate "$sys" "$rep" sse 1000 1 $((QUICK ? 250 : 500)) 50 100
            run_case rate "$sys" "$rep" sse 10000 1 $((QUICK ? 50 : 100)) 10 100
        done
    fi
    if want channels; then
        log "many channels, few subscribers each, rep $rep"
        for sys in "${SYSTEMS[@]}"; do
            run_case channels "$sys" "$rep" sse 10000 1000 $((QUICK ? 10000 : 20000)) 0 100
        done
    fi
    if want large; then
        log "64 KiB messages, rep $rep"
        for sys in "${SYSTEMS[@]}"; do
            run_case large "$sys" "$rep" sse 100 1 $((QUICK ? 50 : 100)) 20 65536
        done
    fi
done

if want php; then
    log "PHP-side cost of one publish"
    HERALD_RELAY=$RELAY HERALD_EXT=$EXT bench/php_cost.sh >"$OUT/php_cost.txt" 2>&1 || log "php_cost.sh failed; see $OUT/php_cost.txt"
    sed 's/^/  /' "$OUT/php_cost.txt" >&2
fi

if [ "$REPORT" = 1 ]; then
    python3 bench/report.py "$OUT" && log "report: docs/BENCHMARKS.md, docs/bench-chart.png"
fi
