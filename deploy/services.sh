# Sourced by .ci/run and deploy/run-local.sh (`make run`): make sure
# PostgreSQL and Redis answer on loopback, starting them where they are
# installed but stopped. Where one is missing it says, in one line, how to
# install it or to run everything in containers instead. The caller defines
# say MESSAGE and die MESSAGE (which exits).

services_hint="or run everything in containers: docker compose -f deploy/compose.yaml up"

# ensure_postgres HOST PORT: a server answering on HOST:PORT that user
# postgres can log in to without a password (trust auth, as on a fresh
# Debian install for local connections).
ensure_postgres() {
  local host=$1 port=$2
  command -v pg_isready >/dev/null ||
    die "PostgreSQL is not installed: apt-get install postgresql postgresql-client ($services_hint)"
  if ! pg_isready -q -h "$host" -p "$port" 2>/dev/null; then
    local cluster
    cluster=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)
    if ! command -v pg_ctlcluster >/dev/null || [ -z "$cluster" ]; then
      die "nothing answers on $host:$port and no PostgreSQL server is installed: apt-get install postgresql ($services_hint)"
    fi
    say "starting PostgreSQL $cluster"
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start ||
      die "PostgreSQL $cluster is installed but did not start (see /var/log/postgresql/)"
    for _ in $(seq 1 50); do pg_isready -q -h "$host" -p "$port" 2>/dev/null && break; sleep 0.2; done
  fi
  pg_isready -q -h "$host" -p "$port" 2>/dev/null || die "PostgreSQL does not answer on $host:$port"
  psql -h "$host" -p "$port" -U postgres -d postgres -tAc 'SELECT 1' >/dev/null ||
    die "cannot log in to PostgreSQL on $host:$port as postgres (trust auth expected)"
  say "PostgreSQL is up on $host:$port"
}

# ensure_redis HOST PORT: a Redis answering PING on HOST:PORT; one started
# here keeps nothing on disk, like the one CI expects.
ensure_redis() {
  local host=$1 port=$2
  command -v redis-cli >/dev/null || die "Redis is not installed: apt-get install redis-server ($services_hint)"
  if ! redis-cli -h "$host" -p "$port" ping 2>/dev/null | grep -q PONG; then
    command -v redis-server >/dev/null ||
      die "nothing answers on $host:$port and redis-server is not installed: apt-get install redis-server ($services_hint)"
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/trackelio.log || die "Redis is installed but did not start"
    for _ in $(seq 1 50); do redis-cli -h "$host" -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.2; done
  fi
  redis-cli -h "$host" -p "$port" ping 2>/dev/null | grep -q PONG || die "Redis does not answer on $host:$port"
  say "Redis is up on $host:$port"
}

# is_loopback HOST: the services this script may start are local ones.
is_loopback() {
  case $1 in 127.*|localhost|::1|'[::1]') return 0 ;; *) return 1 ;; esac
}

# url_part URL FIELD DEFAULT: the hostname or port of URL, or DEFAULT.
url_part() {
  python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(getattr(p, sys.argv[2]) or sys.argv[3])' "$@"
}

# ensure_local_services POSTGRES_URL REDIS_URL: ensure_postgres and
# ensure_redis for whichever of the two points at loopback; remote ones
# must already be up.
ensure_local_services() {
  local pg_host pg_port redis_host redis_port
  pg_host=$(url_part "$1" hostname 127.0.0.1) pg_port=$(url_part "$1" port 5432)
  redis_host=$(url_part "$2" hostname 127.0.0.1) redis_port=$(url_part "$2" port 6379)
  if is_loopback "$pg_host"; then ensure_postgres "$pg_host" "$pg_port"; fi
  if is_loopback "$redis_host"; then ensure_redis "$redis_host" "$redis_port"; fi
}
