#!/bin/bash
# Realistic ingest (bench/lrs_realistic.py): the LRS alone and the whole service, back to back, each on a fresh
# database with the same learners and journeys; batches of 50 from 8 clients, then single statements.
#   bench/realistic_run.sh pg|sqlite [PORT]
# Environment: WORKERS (4), THREADS (1), SECONDS_PER_RUN (30), LEARNERS (500), APPS ("lrs_only full"),
# REPEAT_PERCENT (0: batches sent twice at once), SKIP_SINGLE=1. Results: bench/results/realistic_<time>_<kind>/.
set -euo pipefail
KIND=${1:-pg}; PORT=${2:-5210}; WORKERS=${WORKERS:-4}; THREADS=${THREADS:-1}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}; LEARNERS=${LEARNERS:-500}; APPS=${APPS:-lrs_only full}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/results/realistic_$(date +%Y%m%d_%H%M%S)_${KIND}_w${WORKERS}t${THREADS}
mkdir -p "$OUT"
PY=$ROOT/.venv/bin/python
FLASK="$ROOT/.venv/bin/flask --app lms_service"
export SECRET_KEY=bench-secret-key-0123456789abcdef0123 LOG_LEVEL=WARNING BASE_URL=http://127.0.0.1:$PORT \
       RATELIMIT_ENABLED=false
cd "$ROOT"
{ echo "workers=$WORKERS threads=$THREADS seconds=$SECONDS_PER_RUN learners=$LEARNERS kind=$KIND apps=$APPS";
  echo "loadavg before: $(cat /proc/loadavg)"; nproc; git rev-parse --short HEAD; } > "$OUT/conditions.txt"
for APP in $APPS; do
  export LMS_INSTANCE_PATH=$OUT/instance_$APP
  DB=
  if [ "$KIND" = pg ]; then
    DB=realistic_$(date +%H%M%S)_$APP
    createdb -h 127.0.0.1 -U postgres "$DB"
    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB
  else
    export DATABASE_URL=sqlite:///$OUT/$APP.sqlite3
  fi
  $FLASK db upgrade > "$OUT/setup_$APP.log" 2>&1
  $FLASK modules import modules/ >> "$OUT/setup_$APP.log" 2>&1
  $PY bench/lrs_realistic.py plan --learners "$LEARNERS" --out "$OUT/plan_$APP.json" | tee "$OUT/plan_$APP.json.txt"
  CRED=$($FLASK lrs clients create --name bench --scope all --json)
  KEY=$(echo "$CRED" | $PY -c 'import json,sys;print(json.load(sys.stdin)["key"])')
  SECRET=$(echo "$CRED" | $PY -c 'import json,sys;print(json.load(sys.stdin)["secret"])')
  .venv/bin/gunicorn -w "$WORKERS" --threads "$THREADS" -b 127.0.0.1:$PORT --access-logfile /dev/null \
      --pythonpath "$ROOT/bench" "lrs_wsgi:$APP()" > "$OUT/gunicorn_$APP.log" 2>&1 &
  GPID=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/xapi/about > /dev/null && break; sleep 0.2; done
  URL=http://127.0.0.1:$PORT/xapi
  $PY bench/lrs_realistic.py ingest --plan "$OUT/plan_$APP.json" --url $URL -u "$KEY" -p "$SECRET" --batch 50 \
      --clients 8 --seconds "$SECONDS_PER_RUN" --repeat-percent "${REPEAT_PERCENT:-0}" --gunicorn-pid $GPID \
      ${DB:+--pg-database $DB} | tee "$OUT/batch50_$APP.json"
  if [ "${SKIP_SINGLE:-0}" != 1 ]; then
    $PY bench/lrs_realistic.py ingest --plan "$OUT/plan_$APP.json" --url $URL -u "$KEY" -p "$SECRET" --batch 1 \
        --clients 8 --seconds "$SECONDS_PER_RUN" --gunicorn-pid $GPID ${DB:+--pg-database $DB} \
        | tee "$OUT/single_$APP.json"
  fi
  kill "$GPID"; wait "$GPID" 2>/dev/null || true
  grep -c "Traceback" "$OUT/gunicorn_$APP.log" > "$OUT/tracebacks_$APP.txt" || true
  if [ -n "$DB" ] && [ "${KEEP_DB:-0}" != 1 ]; then dropdb -h 127.0.0.1 -U postgres "$DB"; fi
done
echo "loadavg after: $(cat /proc/loadavg)" >> "$OUT/conditions.txt"
echo "results in $OUT"
