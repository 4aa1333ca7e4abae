#!/usr/bin/env bash
# The live monitoring demo and its chat room (run by `make demo`, which builds first): starts
#   php-fpm                      a static pool of 3 on a Unix socket in the run folder: the
#                                application hooks (demo/hooks.php) the relay calls over FastCGI
#   herald-relay                 on 127.0.0.1:8080, ingest socket /tmp/herald.sock, hooks on
#   php -S (PHP's own server)    on 127.0.0.1:8000, serving demo/public/ with the extension
#   php demo/publisher.php       host metrics and alerts, once a second, with sse_emit()
# prints the URLs, and stops all four (by pid) on Ctrl-C or SIGTERM.
# Env: DEMO_RELAY_PORT, DEMO_PORT, DEMO_SOCKET override the defaults above;
# DEMO_PRESENCE_LEAVE_MS the relay's presence_leave_ms; PHP_FPM the php-fpm binary.
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
fpm=${PHP_FPM:-}
if [ -z "$fpm" ]; then
    for f in php-fpm8.2 php-fpm /usr/sbin/php-fpm8.2 /usr/sbin/php-fpm; do
        command -v "$f" >/dev/null && fpm=$(command -v "$f") && break
    done
fi
[ -n "$fpm" ] || die "php-fpm is missing: run 'make demo' (it installs what is missing: php8.2-fpm)"

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
names=() # each pid's name, for the log shown when one exits

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

# The run folder: logs, php-fpm's socket and pool, the hooks' secret.
# php-fpm runs the hooks with the extension, the secret (herald_hook_events()
# checks the relay's signature with it) and the ingest socket (the hook
# publishes with herald_publish()). A static pool: a worker per kept
# connection of the relay (app_concurrency 2 of 3 workers).
fpm_sock=$logs/php-fpm.sock
secret_file=$logs/hooks.secret
(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$secret_file")
secret=$(cat "$secret_file")
fpm_user=()
fpm_root=()
if [ "$(id -u)" -eq 0 ]; then # php-fpm refuses root workers without -R
    fpm_user=("user = root" "group = root")
    fpm_root=(-R)
fi
{
    printf '%s\n' "[global]" "error_log = $logs/php-fpm.log" "daemonize = no" \
        "[herald-demo]" "listen = $fpm_sock" "${fpm_user[@]}" \
        "pm = static" "pm.max_children = 3" "pm.max_requests = 0" \
        "php_admin_value[herald.socket] = $sock" "php_admin_value[herald.secret] = $secret" \
        "php_admin_value[display_errors] = stderr" "catch_workers_output = yes"
} >"$logs/php-fpm.conf"
chmod 600 "$logs/php-fpm.conf"

# Poll a Unix socket until it accepts, while the process it belongs to is alive.
wait_socket() {
    local path=$1 pid=$2 name=$3 log=$4
    for _ in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "demo: $name exited at start:" >&2
            cat "$log" >&2 2>/dev/null || true
            stop 1
        fi
        if [ -S "$path" ] && "$php" -n -r 'exit(@stream_socket_client("unix://" . $argv[1]) ? 0 : 1);' "$path"; then
            return 0
        fi
        sleep 0.05
    done
    echo "demo: $name did not listen on $path:" >&2
    cat "$log" >&2 2>/dev/null || true
    stop 1
}

setsid "$fpm" -n -d "extension=$ext" -F -y "$logs/php-fpm.conf" "${fpm_root[@]}" >"$logs/php-fpm.out" 2>&1 &
pids+=($!)
names+=(php-fpm)
wait_socket "$fpm_sock" "${pids[0]}" "php-fpm" "$logs/php-fpm.out"

hooks=(--app_fastcgi "unix:$fpm_sock" --app_script "$root/demo/hooks.php"
    --app_events connect,message,disconnect --app_concurrency 2 --secret_file "$secret_file")
[ -n "${DEMO_PRESENCE_LEAVE_MS:-}" ] && hooks+=(--presence_leave_ms "$DEMO_PRESENCE_LEAVE_MS")
setsid "$relay_bin" --listen "$host:$relay_port" --socket "$sock" --cors_origin "$page_url" "${hooks[@]}" \
    >"$logs/relay.log" 2>&1 &
pids+=($!)
names+=(relay)
wait_http "$relay_url/healthz" "${pids[1]}" "herald-relay" "$logs/relay.log"

export HERALD_RELAY_URL=$relay_url HERALD_DEMO_URL=$page_url
setsid "$php" -n -d "extension=$ext" -d "herald.socket=$sock" -d display_errors=stderr -S "$host:$port" -t demo/public \
    >"$logs/php-server.log" 2>&1 &
pids+=($!)
names+=(php-server)
wait_http "$page_url/health.php" "${pids[2]}" "php -S" "$logs/php-server.log"

setsid "$php" -n -d "extension=$ext" -d "herald.socket=$sock" -d display_errors=stderr demo/publisher.php \
    >"$logs/publisher.log" 2>&1 &
pids+=($!)
names+=(publisher)

cat <<EOF

  Herald demo is running.

    Dashboard   $page_url/
    Chat        $page_url/chat.php   (hooks: demo/hooks.php in php-fpm)
    Relay       $relay_url/metrics   (SSE $relay_url/sse, WebSocket ws://$host:$relay_port/ws)
    Logs        $logs/

  Open the dashboard in several tabs: they share one herald.v1 WebSocket
  (packages/herald-client), and a notification sent from one tab reaches the
  others.
  Open the chat in two browsers (or a private window): each picks a name,
  both see who is online, and what one sends reaches the other through
  php-fpm, with no PHP process holding a connection.
  Press Ctrl-C to stop.

EOF

# Run until Ctrl-C, or until one of the four exits by itself.
set +e
wait -n "${pids[@]}"
rc=$?
for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
        name=${names[i]}
        echo "demo: $name exited ($rc); its log:" >&2
        tail -n 20 "$logs/$name.log" >&2
        [ "$name" = php-fpm ] && tail -n 20 "$logs/php-fpm.out" >&2
    fi
done
stop 1
