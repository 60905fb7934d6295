#!/usr/bin/env bash
# `make run-distributed`: the hub beyond one process, on this machine.
#
# PostgreSQL and Redis (from Debian's packages, started by scripts/services.sh),
# gunicorn with two workers on :5000, two Celery workers, Celery beat, and the
# sandboxes as a process of their own on :5001. Ctrl-C stops them all. Every
# HUB_* variable already set in the environment wins over the defaults below.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
WEB_PORT="${WEB_PORT:-5000}"
SANDBOX_PORT="${SANDBOX_PORT:-5001}"
PG="postgresql+psycopg://${CAREHUB_PG_USER:-carehub}:${CAREHUB_PG_PASSWORD:-carehub}@127.0.0.1:5432"

scripts/services.sh start

export HUB_INSTANCE_PATH="${HUB_INSTANCE_PATH:-$PWD/instance}"
export HUB_DATABASE_URL="${HUB_DATABASE_URL:-$PG/carehub}"
export HUB_SANDBOX_DATABASE_URL="${HUB_SANDBOX_DATABASE_URL:-$PG/carehub_sandbox}"
export HUB_QUEUE=celery
export HUB_BROKER_URL="${HUB_BROKER_URL:-redis://127.0.0.1:6379/0}"
export HUB_RATE_LIMIT_STORAGE="${HUB_RATE_LIMIT_STORAGE:-redis://127.0.0.1:6379/1}"
export HUB_PUBLIC_URL="${HUB_PUBLIC_URL:-http://127.0.0.1:$WEB_PORT}"
export HUB_HUBSPOT_BASE_URL="${HUB_HUBSPOT_BASE_URL:-http://127.0.0.1:$SANDBOX_PORT/_sandbox/hubspot}"
export HUB_CLEARCARE_BASE_URL="${HUB_CLEARCARE_BASE_URL:-http://127.0.0.1:$SANDBOX_PORT/_sandbox/clearcare}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$HUB_INSTANCE_PATH/metrics}"
# Counters of an earlier run would be added to this one's.
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

"$BIN/flask" --app wsgi db upgrade
HUB_SANDBOX=1 "$BIN/flask" --app wsgi hub dev-setup

pids=()
stop_all() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait || true
}
trap stop_all EXIT INT TERM

"$BIN/flask" --app wsgi hub sandbox --port "$SANDBOX_PORT" &
pids+=($!)
"$BIN/gunicorn" --config gunicorn.conf.py --bind "127.0.0.1:$WEB_PORT" --workers 2 wsgi:app &
pids+=($!)
for name in first second; do
    "$BIN/celery" -A hub.queue.worker:celery worker --pool threads --concurrency 4 \
        --hostname "$name@%h" --queues hub --without-gossip --without-mingle \
        --loglevel INFO &
    pids+=($!)
done
"$BIN/celery" -A hub.queue.worker:celery beat --loglevel INFO \
    --schedule "$HUB_INSTANCE_PATH/celerybeat-schedule" &
pids+=($!)

echo "The hub: $HUB_PUBLIC_URL (sandboxes on :$SANDBOX_PORT); Ctrl-C stops everything."
# Stop everything as soon as one process ends, so a failure is not hidden.
wait -n
