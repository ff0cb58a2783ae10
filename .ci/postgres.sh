#!/usr/bin/env bash
# A throw-away PostgreSQL server on 127.0.0.1 for the tests of the PostgreSQL results store.
#
#   pg_env="$(.ci/postgres.sh start)" && eval "$pg_env"   # QDLIB_TEST_POSTGRES, QDLIB_PG_DIR exported
#   .venv/bin/python -m pytest tests/test_store.py        # the PostgreSQL variants run too
#   .ci/postgres.sh stop                                  # stops the server, removes its directory
#
# `start` installs Debian's server package when no PostgreSQL binaries are found (root only), makes a
# data directory with initdb in a new temporary folder (trust authentication, superuser `postgres`),
# starts the server on a free port of 127.0.0.1 (no other address) and prints the `export` lines for
# the shell; its log goes to stderr. As root, the server runs as the `postgres` user (initdb refuses
# root). `stop` stops the server named by QDLIB_PG_DIR (or the folder given after `stop`) and removes
# that folder; with neither, it has nothing to do.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

pg_bindir() {
    # Debian keeps the server binaries out of PATH, in /usr/lib/postgresql/<version>/bin.
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

install_server() {
    if [ "$(id -u)" != 0 ]; then
        log "no PostgreSQL server found; install Debian's 'postgresql' package (or put pg_ctl on PATH)"
        exit 1
    fi
    log "installing Debian's PostgreSQL server package"
    # Only the binaries: no default cluster, so nothing else starts or listens.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/qdlib-ci.conf
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
}

as_owner() {
    # Run a command as the server's owner: `postgres` when we are root, ourselves otherwise.
    if [ "$(id -u)" = 0 ]; then
        PATH="$PATH:/usr/sbin:/sbin" runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local bin dir port
    bin="$(pg_bindir || true)"
    if [ -z "$bin" ]; then
        install_server
        bin="$(pg_bindir)"
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        log "running as root, but there is no 'postgres' user to own the server"
        exit 1
    fi
    dir="$(mktemp -d "${TMPDIR:-/tmp}/qdlib-postgres.XXXXXX")"
    touch "$dir/.qdlib-postgres"  # `stop` removes only folders that carry this mark
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    # From here on, a failure removes what was made.
    trap 'as_owner "$bin/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    port="$(free_port)"
    # Throw-away data: durability off (fsync, full-page writes) for speed; the socket in our folder.
    as_owner "$bin/pg_ctl" start -D "$dir/data" -w -t 60 -l "$dir/server.log" \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
        >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    trap - EXIT
    log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir"
    echo "export QDLIB_PG_DIR=$dir"
    echo "export QDLIB_TEST_POSTGRES=postgresql://postgres@127.0.0.1:$port/postgres"
}

stop() {
    local dir="${1:-${QDLIB_PG_DIR:-}}" bin
    if [ -z "$dir" ]; then
        log "no server to stop (QDLIB_PG_DIR is unset)"
        return 0
    fi
    if [ ! -e "$dir/.qdlib-postgres" ]; then
        log "$dir is not a folder made by '$0 start'; left alone"
        return 1
    fi
    bin="$(pg_bindir)"
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" stop -D "$dir/data" -m fast -w -t 30 >/dev/null \
            || as_owner "$bin/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 >/dev/null
    fi
    rm -rf "$dir"
    log "stopped; removed $dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
