#!/usr/bin/env bash
# Starts api, worker and scheduler against local PostgreSQL and Redis for
# development (`make run`). Creates the database when missing, prints the URLs
# and a bootstrap workspace API key, and stops everything on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:=postgres://postgres@127.0.0.1:5432/trackelio?sslmode=disable}"
: "${REDIS_URL:=redis://127.0.0.1:6379/0}"
: "${API_ADDR:=127.0.0.1:8080}"
: "${WORKER_ADDR:=127.0.0.1:9090}"
: "${SCHEDULER_ADDR:=127.0.0.1:9091}"
: "${ADMIN_TOKEN:=dev-admin-token-change-me}"
# Local receivers are loopback addresses; allow them in development.
: "${DELIVERY_ALLOW_CIDRS:=127.0.0.0/8,::1/128}"
# Portal links are built on the address browsers reach.
: "${PUBLIC_URL:=http://${API_ADDR/#:/localhost:}}"
export DATABASE_URL REDIS_URL API_ADDR WORKER_ADDR SCHEDULER_ADDR ADMIN_TOKEN DELIVERY_ALLOW_CIDRS PUBLIC_URL

state=.run
mkdir -p "$state"

say() { echo "run: $*"; }
die() { echo "run: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is required ($2)"; }
need curl "apt-get install curl"
need python3 "it reads the URLs and the JSON answers"

# Local PostgreSQL and Redis are started when installed but stopped (the
# same code as CI's); remote ones must already be up.
. deploy/services.sh
ensure_local_services "$DATABASE_URL" "$REDIS_URL"

# Create the database named in DATABASE_URL if it does not exist.
need psql "apt-get install postgresql-client"
dbname=$(python3 -c 'import sys,urllib.parse as u; print(u.urlparse(sys.argv[1]).path.lstrip("/"))' "$DATABASE_URL")
admin_url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/postgres").geturl())' "$DATABASE_URL")
psql "$admin_url" -tAc "SELECT 1" >/dev/null 2>&1 || die "PostgreSQL is not reachable at $admin_url"
if [ "$(psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")" != "1" ]; then
  psql "$admin_url" -qc "CREATE DATABASE \"$dbname\"" && say "created database $dbname"
fi

# `make run` builds bin/ first (its build target).
for b in api worker scheduler; do
  [ -x "bin/$b" ] || { echo "run: bin/$b is missing; start with make run" >&2; exit 1; }
done

pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

bin/api >>"$state/api.log" 2>&1 &
pids+=($!)
api="http://$API_ADDR"
for _ in $(seq 1 100); do
  curl -sf "$api/readyz" >/dev/null 2>&1 && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "run: the api exited; the end of $state/api.log:" >&2
    tail -5 "$state/api.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -sf "$api/readyz" >/dev/null || { echo "run: the api is not ready; see $state/api.log" >&2; exit 1; }
bin/worker >>"$state/worker.log" 2>&1 &
pids+=($!)
bin/scheduler >>"$state/scheduler.log" 2>&1 &
pids+=($!)

# Reuse the bootstrap key while it still works, otherwise create a workspace.
key=$(cat "$state/api_key" 2>/dev/null || true)
if [ -z "$key" ] || ! curl -sf -H "Authorization: Bearer $key" "$api/v1/event-types" >/dev/null; then
  key=$(curl -sf -X POST "$api/v1/admin/workspaces" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -d '{"name":"Local development"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
  echo "$key" >"$state/api_key"
fi

# A single-use sign-in link to the dashboard, as the Trackelio app gets one.
portal=$(curl -sf -X POST "$api/v1/portal-sessions" -H "Authorization: Bearer $key" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')

# Where failure notices go, without the relay's credentials.
if [ -n "${SMTP_URL:-}" ]; then
  relay=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print("%s://%s:%s" % (p.scheme, p.hostname, p.port or (465 if p.scheme == "smtps" else 587)))' "$SMTP_URL")
  mail="mailed through $relay from ${SMTP_FROM:-SMTP_FROM (unset: the worker refuses to start)}"
else
  mail="not mailed: SMTP_URL is not set (the dashboard still shows them)"
fi
if [ -n "${OPERATIONAL_WEBHOOK_URL:-}" ]; then
  mail="$mail; operational webhooks to $OPERATIONAL_WEBHOOK_URL"
fi

cat <<MSG
Trackelio Webhooks is running.
  dashboard      $portal
                 (single use, valid 5 minutes; later sign in at $api/dashboard/login with the workspace key)
  API            $api   (readiness $api/readyz, metrics $api/metrics)
  worker         http://$WORKER_ADDR/metrics
  scheduler      http://$SCHEDULER_ADDR/metrics
  logs           $state/api.log, $state/worker.log, $state/scheduler.log
  notices        $mail
  admin token    $ADMIN_TOKEN
  workspace key  $key

Try:
  curl -s -X POST $api/v1/webhooks -H "Authorization: Bearer $key" \\
    -d '{"url":"http://127.0.0.1:9999/hook","events":["post.created"]}'
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
echo "run: a process exited; see $state/*.log" >&2
exit 1
