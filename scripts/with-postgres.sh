#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server:
#
#   scripts/with-postgres.sh .venv/bin/python -m pytest
#
# Installs PostgreSQL from the Debian packages when it is missing, starts a
# fresh cluster in a temporary directory on a free loopback port, exports
# DATABASE_URL for a role that may create databases (Django's test runner makes
# test_<name>), runs the command and always stops the server and removes the
# directory afterwards. Exits with the command's exit code.
set -euo pipefail

log() { echo "with-postgres: $*" >&2; }

if [ "$#" -eq 0 ]; then
    log "usage: $0 COMMAND [ARG...]"
    exit 2
fi

pg_bindir() {
    local dir
    # Debian keeps the server binaries off PATH, one directory per major version.
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ ! -x "$dir/initdb" ] && command -v initdb >/dev/null; then
        dir=$(dirname "$(command -v initdb)")
    fi
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

if ! bindir=$(pg_bindir); then
    if [ "$(id -u)" -ne 0 ]; then
        log "PostgreSQL is not installed; run as root to install it, or: apt-get install postgresql"
        exit 1
    fi
    log "installing PostgreSQL from the Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bindir=$(pg_bindir)
fi

# The server refuses to run as root, so as root it runs as an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
    pg_user=postgres
    if ! id "$pg_user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
    fi
else
    pg_user=$(id -un)
fi

workdir=$(mktemp -d)
datadir="$workdir/data"
chmod 700 "$workdir"
chown "$pg_user" "$workdir"

as_pg() {
    # From inside the work directory: the server's user may not be allowed into ours.
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$workdir" && runuser -u "$pg_user" -- "$@")
    else
        (cd "$workdir" && "$@")
    fi
}

cleanup() {
    local status=$?
    if [ -f "$datadir/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$workdir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port=${PGTEST_PORT:-54329}
if [ -z "${PGTEST_PORT:-}" ]; then
    while port_in_use "$port"; do
        port=$((port + 1))
    done
fi

password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
role=pocketpaw
database=pocketpaw

# Only the server's own user reaches it through the socket, inside the private
# directory; over TCP every client needs the password.
as_pg "$bindir/initdb" -D "$datadir" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$workdir/initdb.log" 2>&1 \
    || { cat "$workdir/initdb.log" >&2; exit 1; }

# Durability is worthless for a cluster that is deleted at the end; speed is not.
if ! as_pg "$bindir/pg_ctl" -D "$datadir" -l "$workdir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $workdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null; then
    cat "$workdir/server.log" >&2
    exit 1
fi

as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$workdir" -p "$port" -U postgres -d postgres <<SQL
CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE $database OWNER $role;
-- The benchmark checkpoints after its bulk loads (PostgreSQL 15 and later have this role).
DO \$\$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pg_checkpoint') THEN
    EXECUTE 'GRANT pg_checkpoint TO $role';
  END IF;
END \$\$;
SQL

export DATABASE_URL="postgres://$role:$password@127.0.0.1:$port/$database"
log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

# Not exec: the EXIT trap must still stop the server; set -e exits with the command's status.
"$@"
