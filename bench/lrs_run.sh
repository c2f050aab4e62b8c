#!/bin/bash
# Runs the LRS benchmarks end to end on a fresh database: ingest (50-statement batches from 8 clients,
# then single statements), bulk load to 1,000,000 statements, query latency. Results: bench/results/.
#   bench/lrs_run.sh pg|sqlite [PORT] [STATEMENTS]
# Environment: WORKERS (4), THREADS (1), SECONDS_PER_RUN (30), SKIP_QUERY=1 (ingest runs only),
# SKIP_INGEST=1 (bulk load and queries only), QUERY_KINDS (every kind of lrs_bench.py query --kind),
# QUERY_REQUESTS (500 per kind), PG_DATABASE (a database name instead of lrs_bench_<time>, dropped first),
# APP=full|lrs_only (lrs_only: the service without the other features' ingest hooks; see lrs_wsgi.py).
# Needs a PostgreSQL server on 127.0.0.1:5432 (trust auth) for "pg". Creates database lrs_bench_<time>.
set -euo pipefail
KIND=${1:-pg}; PORT=${2:-5200}; STATEMENTS=${3:-1000000}; WORKERS=${WORKERS:-4}; THREADS=${THREADS:-1}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/results/lrs_$(date +%Y%m%d_%H%M%S)_${KIND}_${APP:-full}
mkdir -p "$OUT"
PY=$ROOT/.venv/bin/python
DB=
if [ "$KIND" = pg ]; then
  DB=${PG_DATABASE:-lrs_bench_$(date +%H%M%S)}
  if [ -n "${PG_DATABASE:-}" ]; then dropdb -h 127.0.0.1 -U postgres --if-exists "$DB"; fi
  createdb -h 127.0.0.1 -U postgres "$DB"
  export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB
else
  export DATABASE_URL=sqlite:///$OUT/lrs.sqlite3
fi
export LMS_INSTANCE_PATH=$OUT/instance SECRET_KEY=bench-secret-key-0123456789abcdef0123 LOG_LEVEL=WARNING \
       BASE_URL=http://127.0.0.1:$PORT RATELIMIT_ENABLED=false
cd "$ROOT"
$PY -c "from lms_service import create_app; from lms_service.extensions import db; a=create_app(); a.app_context().push(); db.create_all()"
if [ "$KIND" = sqlite ]; then $PY -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')" "${DATABASE_URL#sqlite:///}"; fi
CRED=$(.venv/bin/flask --app lms_service:create_app lrs clients create --name bench --scope all --json)
KEY=$(echo "$CRED" | $PY -c 'import json,sys;print(json.load(sys.stdin)["key"])')
SECRET=$(echo "$CRED" | $PY -c 'import json,sys;print(json.load(sys.stdin)["secret"])')
start_server() {
  .venv/bin/gunicorn -w "$WORKERS" --threads "$THREADS" -b 127.0.0.1:$PORT --access-logfile /dev/null \
      --pythonpath "$ROOT/bench" "lrs_wsgi:${APP:-full}()" \
      > "$OUT/gunicorn.log" 2>&1 &
  GPID=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:$PORT/xapi/about > /dev/null && return; sleep 0.2; done
}
stop_server() { kill "$GPID"; wait "$GPID" 2>/dev/null || true; }
URL=http://127.0.0.1:$PORT/xapi
# Other processes on the machine change every figure: record the load and the settings with the results.
{ echo "app=${APP:-full} workers=$WORKERS threads=$THREADS seconds=$SECONDS_PER_RUN statements=$STATEMENTS kind=$KIND";
  echo "loadavg before: $(cat /proc/loadavg)"; nproc; } > "$OUT/conditions.txt"
if [ "${SKIP_INGEST:-0}" != 1 ]; then
start_server
$PY bench/lrs_bench.py ingest --url $URL -u $KEY -p $SECRET --batch 50 --clients 8 --seconds $SECONDS_PER_RUN \
    --gunicorn-pid $GPID ${DB:+--pg-database $DB} | tee "$OUT/ingest_batch50.json"
$PY bench/lrs_bench.py ingest --url $URL -u $KEY -p $SECRET --batch 1 --clients 8 --seconds $SECONDS_PER_RUN \
    --gunicorn-pid $GPID ${DB:+--pg-database $DB} | tee "$OUT/ingest_single.json"
stop_server
fi
if [ "${SKIP_QUERY:-0}" = 1 ]; then echo "loadavg after: $(cat /proc/loadavg)" >> "$OUT/conditions.txt"; echo "results in $OUT"; exit 0; fi
# The query benchmark runs on a store of exactly $STATEMENTS bulk-loaded statements.
$PY -c "
from lms_service import create_app; from lms_service.extensions import db; import sqlalchemy as sa
from lms_service.lrs import models as m
a = create_app(); a.app_context().push()
for t in (m.StatementAgent, m.StatementActivity, m.Activity, m.Statement):
    db.session.execute(sa.delete(t))
db.session.commit()"
/usr/bin/time -v $PY bench/lrs_bulk_load.py --statements "$STATEMENTS" 2> "$OUT/bulk_load.time" | tee "$OUT/bulk_load.json"
KINDS=${QUERY_KINDS:-$($PY -c "import sys; sys.path.insert(0, 'bench'); import lrs_bench; print(*lrs_bench.QUERY_KINDS)")}
start_server
for kind in $KINDS; do
  echo "loadavg before $kind: $(cat /proc/loadavg)" >> "$OUT/conditions.txt"
  $PY bench/lrs_bench.py query --url $URL -u $KEY -p $SECRET --requests "${QUERY_REQUESTS:-500}" --limit 50 \
      --kind "$kind" | tee -a "$OUT/query.json"
done
stop_server
echo "loadavg after: $(cat /proc/loadavg)" >> "$OUT/conditions.txt"
echo "results in $OUT"
