#!/usr/bin/env bash
# Start, stop or check PostgreSQL and Redis on loopback for the distributed stack.
#
#   scripts/services.sh start    start both (idempotent) and create the hub's role and databases
#   scripts/services.sh stop     stop both
#   scripts/services.sh status   say whether each answers
#   scripts/services.sh restart-redis   stop and start Redis, keeping its data
#   scripts/services.sh reset-test       empty the test database (carehub_test)
#
# Both come from Debian's packages (apt-get install postgresql redis-server). The
# role and databases are named by CAREHUB_PG_USER / CAREHUB_PG_PASSWORD (default
# carehub / carehub); databases: carehub, carehub_sandbox, carehub_test.
set -euo pipefail

PG_USER="${CAREHUB_PG_USER:-carehub}"
PG_PASSWORD="${CAREHUB_PG_PASSWORD:-carehub}"
PG_PORT="${CAREHUB_PG_PORT:-5432}"
REDIS_PORT="${CAREHUB_REDIS_PORT:-6379}"
REDIS_DIR="${CAREHUB_REDIS_DIR:-/var/lib/redis}"
DATABASES=(carehub carehub_sandbox carehub_test)

as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres "$@"
    fi
}

pg_version() {
    ls /usr/lib/postgresql | sort -n | tail -1
}

pg_ready() {
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
}

redis_ready() {
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

start_postgres() {
    local version
    version="$(pg_version)"
    if ! pg_ready; then
        if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
            pg_createcluster "$version" main --port "$PG_PORT" >/dev/null
        fi
        pg_ctlcluster "$version" main start || true
        for _ in $(seq 1 60); do
            pg_ready && break
            sleep 0.5
        done
        pg_ready || { echo "PostgreSQL did not start; see /var/log/postgresql/." >&2; exit 1; }
    fi
    as_postgres psql -q -p "$PG_PORT" -tAc \
        "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'" | grep -q 1 ||
        as_postgres psql -q -p "$PG_PORT" -c \
            "CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
    for name in "${DATABASES[@]}"; do
        as_postgres psql -q -p "$PG_PORT" -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1 ||
            as_postgres createdb -p "$PG_PORT" -O "$PG_USER" "$name"
    done
}

start_redis() {
    if ! redis_ready; then
        mkdir -p "$REDIS_DIR"
        redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
            --dir "$REDIS_DIR" --appendonly yes --save "" \
            --pidfile "$REDIS_DIR/carehub-redis.pid" --logfile "$REDIS_DIR/carehub-redis.log"
        for _ in $(seq 1 40); do
            redis_ready && break
            sleep 0.25
        done
        redis_ready || { echo "Redis did not start; see $REDIS_DIR/carehub-redis.log." >&2; exit 1; }
    fi
}

stop_redis() {
    if redis_ready; then
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
        for _ in $(seq 1 40); do
            redis_ready || break
            sleep 0.25
        done
    fi
}

case "${1:-}" in
    start)
        start_postgres
        start_redis
        echo "PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT are up."
        ;;
    stop)
        stop_redis
        pg_ctlcluster "$(pg_version)" main stop 2>/dev/null || true
        ;;
    restart-redis)
        stop_redis
        start_redis
        ;;
    reset-test)
        # Drop the schemas test runs left in the test database.
        start_postgres
        as_postgres dropdb -p "$PG_PORT" --if-exists --force carehub_test
        as_postgres createdb -p "$PG_PORT" -O "$PG_USER" carehub_test
        ;;
    status)
        pg_ready && echo "PostgreSQL: up" || echo "PostgreSQL: down"
        redis_ready && echo "Redis: up" || echo "Redis: down"
        ;;
    *)
        echo "usage: $0 start|stop|status|restart-redis|reset-test" >&2
        exit 2
        ;;
esac
