# bench/pusher_common.sh, sourced after bench/scratch.sh by the issue-16
# benches (laravel_broadcast_cost.sh, pusher_bench.sh): one Pusher app for
# both servers, and soketi 1.6.1 (bench/soketi/, installed on demand by
# bench/install-deps.sh soketi) as the anchor. Never used by `make test`.
APP_ID=1 APP_KEY=bench-key APP_SECRET=bench-secret-0123456789
PUSHER_FLAGS=(--pusher_app_id "$APP_ID" --pusher_key "$APP_KEY" --pusher_secret "$APP_SECRET")
SOKETI_JS=bench/soketi/node_modules/@soketi/soketi/bin/server.js

free_port() {
    php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); echo explode(":", stream_socket_get_name($s, false))[1];'
}

# start_soketi: soketi on a free port with the same app, no rate limits
# (its defaults: none for backend events; the array app manager, local
# adapter, one process). Sets soketi_port and soketi_pid.
start_soketi() {
    [ -f "$SOKETI_JS" ] || bench/install-deps.sh soketi
    soketi_port=$(free_port)
    SOKETI_PORT=$soketi_port SOKETI_METRICS_SERVER_PORT=$(free_port) \
        SOKETI_DEFAULT_APP_ID=$APP_ID SOKETI_DEFAULT_APP_KEY=$APP_KEY SOKETI_DEFAULT_APP_SECRET=$APP_SECRET \
        node "$SOKETI_JS" start >>"$dir/soketi.log" 2>&1 &
    soketi_pid=$!
    pids+=($soketi_pid)
    for _ in $(seq 400); do
        curl -sf "http://127.0.0.1:$soketi_port/" >/dev/null && return 0
        sleep 0.05 # startup poll, not synchronisation of a measurement
    done
    echo "bench: soketi did not start; see $dir/soketi.log" >&2
    return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
