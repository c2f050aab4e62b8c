#!/bin/bash
# Runs ADL's LRS conformance suite (adlnet/lrs-conformance-test-suite, checked out OUTSIDE this repository
# and `npm install`ed) against this service under gunicorn, on a fresh database per battery.
#   SUITE=/work/conformance bench/lrs_conformance.sh 2.0.0|1.0.3 pg|sqlite [PORT] [extra runner args, e.g. -z]
# Prints "<total> total, <passed> passed, <failed> failed"; the full log is copied to bench/results/.
set -u
VERSION=$1; KIND=$2; PORT=${3:-5100}; shift $(( $# >= 3 ? 3 : $# ))
SUITE=${SUITE:-/work/conformance}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/results/lrs_conformance_${VERSION}_${KIND}_$(date +%Y%m%d_%H%M%S)
mkdir -p "$OUT"
cd "$ROOT"
if [ "$KIND" = pg ]; then
  DB=lrs_conf_${VERSION//./}_$(date +%H%M%S)
  createdb -h 127.0.0.1 -U postgres "$DB"
  export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB
else
  export DATABASE_URL=sqlite:///$OUT/lrs.sqlite3
fi
# LRS_DEFAULT_VERSION: the version reported when a request has no version header at all; the 1.0.3 and
# 2.0.0 batteries each expect their own version there (see docs/conformance.md).
export LRS_DEFAULT_VERSION=$VERSION LMS_INSTANCE_PATH=$OUT/instance LOG_LEVEL=WARNING RATELIMIT_ENABLED=false \
       SECRET_KEY=conformance-secret-key-0123456789abcdef BASE_URL=http://127.0.0.1:$PORT
.venv/bin/python -c "from lms_service import create_app; from lms_service.extensions import db; a=create_app(); a.app_context().push(); db.create_all()"
CRED=$(.venv/bin/flask --app lms_service:create_app lrs clients create --name conformance --scope all --json)
KEY=$(echo "$CRED" | .venv/bin/python -c 'import json,sys;print(json.load(sys.stdin)["key"])')
SECRET=$(echo "$CRED" | .venv/bin/python -c 'import json,sys;print(json.load(sys.stdin)["secret"])')
.venv/bin/gunicorn -w 2 -b 127.0.0.1:$PORT "lms_service:create_app()" > "$OUT/gunicorn.log" 2>&1 &
GPID=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$PORT/xapi/about > /dev/null && break; sleep 0.2; done
(cd "$SUITE" && timeout 1200 node bin/console_runner.js -e http://127.0.0.1:$PORT/xapi -a -u "$KEY" -p "$SECRET" \
    -x "$VERSION" "$@" > "$OUT/runner.out" 2>&1)
LOG=$(grep -o "$SUITE/logs/[^ ]*\.log" "$OUT/runner.out" | tail -1)
kill "$GPID"; wait "$GPID" 2>/dev/null
if [ -n "$LOG" ]; then
  cp "$LOG" "$OUT/result.json"
  jq -r '"\(.summary.total) total, \(.summary.passed) passed, \(.summary.failed) failed"' "$OUT/result.json"
else
  echo "no log: see $OUT/runner.out"
fi
echo "$OUT"
