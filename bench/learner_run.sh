#!/bin/bash
# Learner-page benchmark end to end on a fresh PostgreSQL database: the ten bundled modules, LEARNERS
# learner accounts, gunicorn on this machine, LEARNERS simulated learners for DURATION seconds (after a warm-up).
#   bench/learner_run.sh [PORT]        (env: LEARNERS=50 DURATION=60 THINK=1.0 WORKERS=4 THREADS=4)
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth); creates the database learner_bench_<time>.
# Results: bench/results/learner_<time>/result.json.
set -euo pipefail
PORT=${1:-5300}; LEARNERS=${LEARNERS:-50}; DURATION=${DURATION:-60}; THINK=${THINK:-1.0}
WORKERS=${WORKERS:-4}; THREADS=${THREADS:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/results/learner_$(date +%Y%m%d_%H%M%S)
mkdir -p "$OUT"
PY=$ROOT/.venv/bin/python
DB=learner_bench_$(date +%H%M%S)
createdb -h 127.0.0.1 -U postgres "$DB"
export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB
export LMS_INSTANCE_PATH=$OUT/instance SECRET_KEY=bench-secret-key-0123456789abcdef0123 LOG_LEVEL=WARNING \
       BASE_URL=http://127.0.0.1:$PORT RATELIMIT_ENABLED=false LMS_LANGUAGE=en
PASSWORD=bench-password-123
cd "$ROOT"
$PY - "$LEARNERS" "$PASSWORD" <<'PYEOF'
import sys
from lms_service import create_app
from lms_service.extensions import db
from lms_service.accounts.services import create_user
app = create_app()
with app.app_context():
    db.create_all()
    for n in range(int(sys.argv[1])):
        create_user(f"bench{n}@example.se", f"Bench {n}", sys.argv[2], "sv")
PYEOF
.venv/bin/flask --app lms_service:create_app modules import modules/ > /dev/null
.venv/bin/gunicorn -w "$WORKERS" --threads "$THREADS" -b 127.0.0.1:$PORT --access-logfile /dev/null \
    "lms_service:create_app()" > "$OUT/gunicorn.log" 2>&1 &
GPID=$!
trap 'kill $GPID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:$PORT/healthz > /dev/null && break; sleep 0.2; done
$PY bench/learner_bench.py --url http://127.0.0.1:$PORT --learners "$LEARNERS" --seconds "$DURATION" \
    --think "$THINK" --password "$PASSWORD" --gunicorn-pid $GPID --database "$DB" | tee "$OUT/result.json"
kill $GPID; wait $GPID 2>/dev/null || true
dropdb -h 127.0.0.1 -U postgres "$DB"
echo "results in $OUT"
