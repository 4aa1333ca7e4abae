#!/usr/bin/env bash
# The live monitoring demo (run by `make demo`, which builds first): starts
#   herald-relay                 on 127.0.0.1:8080, ingest socket /tmp/herald.sock
#   php -S (PHP's own server)    on 127.0.0.1:8000, serving demo/public/ with the extension
#   php demo/publisher.php       host metrics and alerts, once a second, with sse_emit()
# prints the URL, and stops all three (by pid) on Ctrl-C or SIGTERM.
# Env: DEMO_RELAY_PORT, DEMO_PORT, DEMO_SOCKET override the defaults above.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

host=127.0.0.1
relay_port=${DEMO_RELAY_PORT:-8080}
port=${DEMO_PORT:-8000}
sock=${DEMO_SOCKET:-/tmp/herald.sock}
relay_bin=$root/build/herald-relay
ext=$root/build/herald.so
php=${PHP:-php}

die() {
    echo "demo: $*" >&2
    exit 1
}

[ -x "$relay_bin" ] && [ -f "$ext" ] || die "build/herald-relay or build/herald.so is missing: run 'make demo' (or 'make') first"
command -v "$php" >/dev/null || die "php is missing: run 'make demo' (it installs what is missing)"
command -v curl >/dev/null || die "curl is missing: run 'make demo' (it installs what is missing)"

# Refuse clearly when a port is taken (try to bind it, as the servers will).
port_free() {
    "$php" -n -r '$s = @stream_socket_server("tcp://" . $argv[1] . ":" . $argv[2], $e, $m); exit($s ? 0 : 1);' "$host" "$1"
}
# A free port from start on, other than the ports given (for the hint).
free_port_from() {
    local p=$1 end=$(($1 + 200))
    shift
    while [ "$p" -lt "$end" ]; do
        case " $* " in *" $p "*) ;; *) port_free "$p" && { echo "$p"; return; } ;; esac
        p=$((p + 1))
    done
}
for p in "$relay_port" "$port"; do
    if ! port_free "$p"; then
        free_relay=$(free_port_from 18080 "$relay_port" "$port")
        free_page=$(free_port_from 18000 "$relay_port" "$port" "$free_relay")
        die "port $host:$p is already in use (another demo or server?). Stop it, or pick other ports: DEMO_RELAY_PORT=${free_relay:-?} DEMO_PORT=${free_page:-?} make demo"
    fi
done
if [ "$relay_port" = "$port" ]; then
    die "DEMO_RELAY_PORT and DEMO_PORT must differ"
fi

# The children run in sessions of their own (setsid): Ctrl-C reaches only this
# script, which stops them in order, instead of racing them to the signal.
relay_url=http://$host:$relay_port
page_url=http://$host:$port
logs=$(mktemp -d "${TMPDIR:-/tmp}/herald-demo.XXXXXX")
pids=()

stop() {
    trap - INT TERM EXIT
    local rc=${1:-0}
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$logs"
    exit "$rc"
}
trap 'echo; echo "demo: stopping"; stop 0' INT TERM
trap 'stop $?' EXIT

# Poll a URL until it answers 200, while the process it belongs to is alive.
wait_http() {
    local url=$1 pid=$2 name=$3 log=$4
    for _ in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "demo: $name exited at start:" >&2
            cat "$log" >&2
            stop 1
        fi
        if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "demo: $name did not answer $url:" >&2
    cat "$log" >&2
    stop 1
}

setsid "$relay_bin" --listen "$host:$relay_port" --socket "$sock" --cors_origin "$page_url" \
    >"$logs/relay.log" 2>&1 &
pids+=($!)
wait_http "$relay_url/healthz" "${pids[0]}" "herald-relay" "$logs/relay.log"

export HERALD_RELAY_URL=$relay_url HERALD_DEMO_URL=$page_url
setsid "$php" -n -d "extension=$ext" -d "herald.socket=$sock" -d display_errors=stderr -S "$host:$port" -t demo/public \
    >"$logs/php-server.log" 2>&1 &
pids+=($!)
wait_http "$page_url/health.php" "${pids[1]}" "php -S" "$logs/php-server.log"

setsid "$php" -n -d "extension=$ext" -d "herald.socket=$sock" -d display_errors=stderr demo/publisher.php \
    >"$logs/publisher.log" 2>&1 &
pids+=($!)

cat <<EOF

  Herald demo is running.

    Dashboard   $page_url/
    Relay       $relay_url/metrics   (SSE $relay_url/sse, WebSocket ws://$host:$relay_port/ws)
    Logs        $logs/

  Open the dashboard in several tabs: they share one herald.v1 WebSocket
  (packages/herald-client), and a notification sent from one tab reaches the
  others.
  Press Ctrl-C to stop.

EOF

# Run until Ctrl-C, or until one of the three exits by itself.
set +e
wait -n "${pids[@]}"
rc=$?
for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
        name=$(echo "relay php-server publisher" | cut -d' ' -f$((i + 1)))
        echo "demo: $name exited ($rc); its log:" >&2
        tail -n 20 "$logs/$name.log" >&2
    fi
done
stop 1
