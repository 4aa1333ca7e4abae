# Sourced by the suites that run node --test: tap_tally LOG [LABEL] prints a
# TAP log's results (prefixed with [LABEL]) and its failures, and adds its
# counts to the caller's pass and fail. A test the runner cancelled (a
# timeout), or a runner that did not finish, is a failure too.
tap_tally() {
    local log=$1 prefix=
    [ -n "${2:-}" ] && prefix="[$2] "
    grep -E '^(not )?ok |^# (pass|fail)' "$log" | sed "s/^/$prefix/"
    grep -E -A40 '^not ok ' "$log" | head -200
    local p f c
    p=$(grep -E '^# pass ' "$log" | tail -n1 | awk '{print $3}')
    f=$(grep -E '^# fail ' "$log" | tail -n1 | awk '{print $3}')
    c=$(grep -E '^# cancelled ' "$log" | tail -n1 | awk '{print $3}')
    f=$((${f:-0} + ${c:-0}))
    if [ -z "$p" ]; then
        echo "${prefix}node test runner did not finish:"
        tail -n 40 "$log"
        f=$((f + 1))
    fi
    pass=$((pass + ${p:-0}))
    fail=$((fail + f))
}
