#!/bin/sh
# token-secret.sh: make the secret that PHP's herald_token() signs with and
# the relay checks tokens with (docs/OPERATIONS.md section 5, "Private
# channels with a token"), and put both copies where they are read:
#   sh packaging/herald/token-secret.sh [PREFIX]        (PREFIX: / by default)
# writes
#   PREFIX/etc/herald/secret     relay.ini: secret_file = /etc/herald/secret;
#                                mode 0640, group HERALD_GROUP (herald), the relay's
#   the pool's line              php_admin_value[herald.secret] = "<the same>" in
#                                PREFIX/etc/php/8.2/fpm/pool.d/app.conf (POOL: another
#                                file under PREFIX); the file becomes 0600 root, since
#                                php-fpm's master reads it as root before it starts workers
# The secret is 64 hex digits: no "=" or quote that an INI parser could take
# for syntax (base64 ends in "=", which a pool file refuses unquoted), and the
# line is quoted anyway. PHP reads it from the pool, not from a conf.d file:
# a pool file can be readable by root alone, and only the pool that mints
# tokens gets it (a conf.d file would have to be readable by every user who
# runs the PHP command line, and would give it to every pool and script).
# Run it again to rotate the secret (every token is then refused), then
# restart the relay and reload PHP-FPM.
set -eu
prefix=${1:-/}
prefix=${prefix%/}
pool=$prefix${POOL:-/etc/php/8.2/fpm/pool.d/app.conf}
group=${HERALD_GROUP:-herald}
line='php_admin_value\[herald\.secret\]'

if [ ! -f "$pool" ]; then
    echo "token-secret.sh: no pool file $pool (install packaging/php-fpm/app.conf first, or set POOL)" >&2
    exit 1
fi
# The shipped pool has the line, commented: it is replaced where it is, since
# its place matters when the extension is loaded in the pool (app.conf).
if ! grep -q "^[;#[:space:]]*$line[[:space:]]*=" "$pool"; then
    echo "token-secret.sh: $pool has no php_admin_value[herald.secret] line to set (see packaging/php-fpm/app.conf)" >&2
    exit 1
fi

secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
umask 027
mkdir -p "$prefix/etc/herald"
printf '%s\n' "$secret" >"$prefix/etc/herald/secret.new"
if [ "$(id -u)" = 0 ]; then
    # The relay runs as its own user and reads the file through this group.
    if getent group "$group" >/dev/null 2>&1; then
        chgrp "$group" "$prefix/etc/herald/secret.new"
    else
        echo "$0: warning: no group $group, so the relay cannot read the secret: create its user first (or set HERALD_GROUP) and run this again" >&2
    fi
fi
chmod 0640 "$prefix/etc/herald/secret.new"
mv "$prefix/etc/herald/secret.new" "$prefix/etc/herald/secret"

tmp="$pool.token-secret.$$"
sed "s/^[;#[:space:]]*$line[[:space:]]*=.*\$/php_admin_value[herald.secret] = \"$secret\"/" "$pool" >"$tmp"
chmod 0600 "$tmp"
mv "$tmp" "$pool"
echo "token secret written to $prefix/etc/herald/secret and $pool"
