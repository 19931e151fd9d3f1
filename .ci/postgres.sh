# Start a throwaway PostgreSQL server on 127.0.0.1 for the SQL tests.
#
# Source it (". .ci/postgres.sh"): it installs Debian's postgresql package if
# needed, creates a cluster in a temporary folder owned by the user postgres,
# starts it on a free loopback port and exports
#   RELATEDCONTENT_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
# plus relatedcontent_stop_postgres, a function that stops the server and
# removes the folder. When anything fails it prints why and exports nothing:
# the PostgreSQL tests then skip, saying that the variable is unset.
# It never touches a system cluster: no service, no /var/lib/postgresql.

relatedcontent_start_postgres() {
    local bindir pgdir port
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bindir" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "postgres.sh: installing postgresql (apt-get)" >&2
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1; then
            apt-get update -q >/dev/null 2>&1 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 || true
        fi
        bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    fi
    if [ -z "$bindir" ]; then
        echo "postgres.sh: PostgreSQL is not installed and cannot be; PostgreSQL tests will skip" >&2
        return 1
    fi
    if ! id postgres >/dev/null 2>&1; then
        echo "postgres.sh: no user 'postgres'; PostgreSQL tests will skip" >&2
        return 1
    fi
    pgdir=$(mktemp -d /tmp/relatedcontent-pg.XXXXXX)
    chown postgres "$pgdir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if ! runuser -u postgres -- "$bindir/initdb" -D "$pgdir/data" -A trust -U postgres \
            -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1; then
        echo "postgres.sh: initdb failed (see $pgdir/initdb.log); PostgreSQL tests will skip" >&2
        return 1
    fi
    if ! runuser -u postgres -- "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $pgdir -c fsync=off" start >/dev/null 2>&1; then
        echo "postgres.sh: the server did not start (see $pgdir/server.log); PostgreSQL tests will skip" >&2
        return 1
    fi
    RELATEDCONTENT_PG_DIR=$pgdir
    RELATEDCONTENT_PG_BINDIR=$bindir
    export RELATEDCONTENT_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    echo "postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
}

relatedcontent_stop_postgres() {
    if [ -n "${RELATEDCONTENT_PG_DIR:-}" ]; then
        runuser -u postgres -- "$RELATEDCONTENT_PG_BINDIR/pg_ctl" -D "$RELATEDCONTENT_PG_DIR/data" \
            -m fast stop >/dev/null 2>&1 || true
        rm -rf "$RELATEDCONTENT_PG_DIR"
        RELATEDCONTENT_PG_DIR=
    fi
}

relatedcontent_start_postgres || true
