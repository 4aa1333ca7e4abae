# bench/scratch.sh, sourced by the bench scripts: a scratch folder in $dir and
# a list of background children in pids (append with pids+=($!)); at exit
# every child is stopped by its pid and the folder is removed.
# Usage: . bench/scratch.sh NAME
dir=$(mktemp -d "${TMPDIR:-/tmp}/herald-${1:-bench}.XXXXXX")
pids=()
bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap bench_cleanup EXIT
