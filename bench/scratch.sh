# bench/scratch.sh, sourced by the bench scripts: a scratch folder in $dir and
# a list of background children in pids (append with pids+=($!)); at exit
# every child is stopped by its pid and the folder is removed.
# Usage: . bench/scratch.sh NAME
# start_relay SOCKET [FLAGS...] starts build/herald-relay there on a free
# loopback port and returns once /healthz answers: sets port and relay_pid.
# One loop unless FLAGS say --workers: the figures these scripts record are
# one loop's (the relay's own default is one loop per core).
dir=$(mktemp -d "${TMPDIR:-/tmp}/herald-${1:-bench}.XXXXXX")
pids=()
bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap bench_cleanup EXIT

start_relay() {
    local sock=$1
    shift
    port=$(php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); echo explode(":", stream_socket_get_name($s, false))[1];')
    build/herald-relay --listen "127.0.0.1:$port" --socket "$sock" --log_level warn --workers 1 "$@" 2>>"$dir/relay.log" &
    relay_pid=$!
    pids+=($relay_pid)
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
        sleep 0.05 # startup poll, not synchronisation of a measurement
    done
    echo "bench: the relay did not start; see $dir/relay.log" >&2
    return 1
}
