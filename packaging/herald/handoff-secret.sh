#!/bin/sh
# handoff-secret.sh: make the secret nginx and the relay share for the
# hand-off (docs/OPERATIONS.md section 5): nginx sets it as X-Herald-Handoff
# on /_herald/* (its public /sse and /ws strip the header), and the relay
# trusts a request's channels without a token only with it.
#   sh packaging/herald/handoff-secret.sh [PREFIX]      (PREFIX: / by default)
# writes PREFIX/etc/herald/handoff.secret (relay.ini: handoff_secret_file) and
# PREFIX/etc/nginx/snippets/herald-handoff.conf (included by herald.conf),
# both readable by their owner and group only. Run it again to rotate the
# secret, then restart the relay and reload nginx.
set -eu
prefix=${1:-/}
secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
umask 027
mkdir -p "$prefix/etc/herald" "$prefix/etc/nginx/snippets"
printf '%s\n' "$secret" >"$prefix/etc/herald/handoff.secret"
printf '# Made by handoff-secret.sh: the X-Herald-Handoff value (keep private).\nset $herald_handoff "%s";\n' \
    "$secret" >"$prefix/etc/nginx/snippets/herald-handoff.conf"
if [ "$(id -u)" = 0 ] && getent group herald >/dev/null 2>&1; then
    chgrp herald "$prefix/etc/herald/handoff.secret"
fi
echo "hand-off secret written to $prefix/etc/herald/handoff.secret and $prefix/etc/nginx/snippets/herald-handoff.conf"
