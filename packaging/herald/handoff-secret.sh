#!/bin/sh
# handoff-secret.sh: make the secret nginx and the relay share for the
# hand-off (docs/OPERATIONS.md section 5): nginx sets it as X-Herald-Handoff
# on /_herald/* (its public /sse and /ws strip the header), and the relay
# trusts a request's channels without a token only with it.
#   sh packaging/herald/handoff-secret.sh [PREFIX]      (PREFIX: / by default)
# writes PREFIX/etc/herald/handoff.secret (relay.ini: handoff_secret_file) and
# PREFIX/etc/nginx/snippets/herald-handoff.conf (included by herald.conf),
# both readable by their owner and group only (the secret's group:
# HERALD_GROUP, herald by default, the relay's). Run it again to rotate the
# secret, then restart the relay and reload nginx.
set -eu
prefix=${1:-/}
prefix=${prefix%/}
group=${HERALD_GROUP:-herald}
secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
umask 027
mkdir -p "$prefix/etc/herald" "$prefix/etc/nginx/snippets"
printf '%s\n' "$secret" >"$prefix/etc/herald/handoff.secret"
printf '# Made by handoff-secret.sh: the X-Herald-Handoff value (keep private).\nset $herald_handoff "%s";\n' \
    "$secret" >"$prefix/etc/nginx/snippets/herald-handoff.conf"
if [ "$(id -u)" = 0 ]; then
    # The relay runs as its own user and reads the file through this group.
    if getent group "$group" >/dev/null 2>&1; then
        chgrp "$group" "$prefix/etc/herald/handoff.secret"
    else
        echo "$0: warning: no group $group, so the relay cannot read the secret: create its user first (or set HERALD_GROUP) and run this again" >&2
    fi
fi
echo "hand-off secret written to $prefix/etc/herald/handoff.secret and $prefix/etc/nginx/snippets/herald-handoff.conf"
