#!/usr/bin/env bash
# The project's own scripts, with the system commands they call replaced by
# shims (no apt, no network): scripts/install-deps.sh leaves no policy-rc.d
# of its own behind (it used to, so no package installed later on a
# developer's machine started its service), and keeps one that was there.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/herald-scripts.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# Shims: one package is missing; apt-get records whether policy-rc.d
# existed while it installed.
mkdir -p "$scratch/bin"
cat >"$scratch/bin/dpkg-query" <<'SH'
#!/bin/sh
case "$*" in *herald-test-missing*|*build-essential*) exit 1 ;; esac
echo "install ok installed"
SH
cat >"$scratch/bin/apt-get" <<'SH'
#!/bin/sh
[ "$1" = install ] && { [ -x "$POLICY_RC_D" ] && echo present || echo absent; } >>"$APT_LOG"
exit 0
SH
chmod +x "$scratch/bin/"*
run() {
    (cd "$root" && PATH="$scratch/bin:$PATH" POLICY_RC_D="$scratch/policy-rc.d" \
        APT_LOG="$scratch/apt.log" bash scripts/install-deps.sh) >"$scratch/out.log" 2>&1
}
: >"$scratch/apt.log"
run
if [ "$(cat "$scratch/apt.log")" = present ] && [ ! -e "$scratch/policy-rc.d" ]; then
    ok "install-deps: policy-rc.d holds services during its install and is gone after"
else
    not_ok "install-deps: policy-rc.d during install: $(cat "$scratch/apt.log"); after: $(ls "$scratch/policy-rc.d" 2>&1)"
    cat "$scratch/out.log"
fi
printf '#!/bin/sh\nexit 0\n' >"$scratch/policy-rc.d"
chmod +x "$scratch/policy-rc.d"
run
if [ -e "$scratch/policy-rc.d" ] && grep -q 'exit 0' "$scratch/policy-rc.d"; then
    ok "install-deps: a policy-rc.d that was there before is left as it was"
else
    not_ok "install-deps: the machine's own policy-rc.d was changed or removed"
fi
echo "$pass passed, $fail failed"
