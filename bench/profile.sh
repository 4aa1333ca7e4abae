#!/usr/bin/env bash
# bench/profile.sh: where a server's time goes in one fan-out, for Herald or
# nginx + nchan (1 worker): system calls per delivered message (perf stat on
# the syscall tracepoints) and the hottest symbols (perf record).
#
#   bench/profile.sh herald|nchan SUBS COUNT [RATE] [OUTDIR]
#
# Same set-up as bench/run.sh: server on core 0, load generator and
# publishers on core 1, 100-byte payloads, one channel. RATE 0 (default) is
# full speed. Needs perf (linux-perf) and root or perf_event_paranoid <= 1.
set -uo pipefail
cd "$(dirname "$0")/.."
sys=${1:?herald|nchan} subs=${2:?subscribers} count=${3:?messages} rate=${4:-0}
out=${5:-build/bench/profile}
mkdir -p "$out"
. bench/scratch.sh prof
tmp=$dir
cp build/herald-relay build/herald.so build/bench/loadgen "$tmp/"
port=9501
if [ "$sys" = herald ]; then
    taskset -c 0 "$tmp/herald-relay" --listen "127.0.0.1:$port" --socket "$tmp/h.sock" \
        --log_level warn --workers 1 --max_queued_bytes 67108864 &
    pids+=($!)
    spid=$!
    path='/sse?channel=c%d'
else
    mkdir -p "$tmp/ng"
    sed -e "s#@WORKERS@#1#; s#@PORT@#$port#; s#@DIR@#$tmp/ng#g; s#@MODULE@#/usr/lib/nginx/modules/ngx_nchan_module.so#" \
        bench/nchan.conf.in >"$tmp/ng/nginx.conf"
    taskset -c 0 nginx -p "$tmp/ng" -c "$tmp/ng/nginx.conf" -e "$tmp/ng/error.log" &
    pids+=($!)
    sleep 0.5
    spid=$(pgrep -P "${pids[0]}" | head -1)
    path='/sub/c%d'
fi
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
taskset -c 1 "$tmp/loadgen" sub --port "$port" --path "$path" --conns "$subs" --src 2-21 \
    --expect "$count" --timeout 300 --ready-file "$tmp/ready" --json "$out/$sys-loadgen.json" \
    --done-file "$tmp/done" &
lg=$!
pids+=($lg)
while [ ! -f "$tmp/ready" ]; do sleep 0.05; done
sleep 1
perf stat -x, -o "$out/$sys-stat.csv" -e task-clock,context-switches \
    -e 'syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendmsg' \
    -e 'syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_read' \
    -p "$spid" &
ps_=$!
perf record -F 999 -o "$out/$sys-perf.data" -p "$spid" 2>/dev/null &
pr=$!
if [ "$sys" = herald ]; then
    np=$([ "$rate" = 0 ] && echo 2 || echo 1)
    for ((i = 0; i < np; i++)); do
        taskset -c 1 php -n -d "extension=$tmp/herald.so" bench/publish.php --socket="$tmp/h.sock" \
            --count=$((count / np)) --rate="$(awk "BEGIN{print $rate/$np}")" &
    done
else
    taskset -c 1 "$tmp/loadgen" pub --port "$port" --path '/pub/c%d' --count "$count" \
        --rate "$rate" --conns $([ "$rate" = 0 ] && echo 2 || echo 1) &
fi
while [ ! -f "$tmp/done" ]; do sleep 0.02; done
kill -INT "$ps_" "$pr"
wait "$ps_" "$pr" 2>/dev/null
kill "$lg"
msgs=$(sed 's/.*"msgs": \([0-9]*\).*/\1/' "$out/$sys-loadgen.json")
echo "== $sys: $subs subscribers, $count messages, rate $rate: $msgs delivered"
awk -F, -v m="$msgs" '$1 ~ /^[0-9.]+$/ {
        if ($2 == "msec") printf "  %-36s %14.1f ms  %8.3f us per delivered message\n", $3, $1, $1 * 1000 / m
        else printf "  %-36s %14.0f     %8.4f per delivered message\n", $3, $1, $1 / m }' \
    "$out/$sys-stat.csv"
perf report -i "$out/$sys-perf.data" --no-children --sort dso --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -6 | sed 's/^/  /'
perf report -i "$out/$sys-perf.data" --no-children --sort sym --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -25 | sed 's/^/  /'
