#!/usr/bin/env bash
# Everything `make test` needs, set up on a fresh machine: PostgreSQL and
# Redis answering (started when installed but stopped, by the code `make
# run` uses), and the tools the tests run, installed with apt-get where
# missing. `make test` runs it first; .ci/run is `make test` with CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test-setup: $*"; }
die() { echo "test-setup: ERROR: $*" >&2; exit 1; }

apt_updated=
apt_install() {
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] ||
    die "$* is missing; install it (Debian: apt-get install $*), then run make test again"
  if [ -z "$apt_updated" ]; then apt-get update -qq || die "apt-get update failed"; apt_updated=1; fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "could not install $*"
}

# The servers the tests talk to: TEST_DATABASE_URL and TEST_REDIS_URL, or
# the local defaults; only local ones are started here.
. deploy/services.sh
command -v python3 >/dev/null || apt_install python3
ensure_local_services "${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" "${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"

# The end-to-end test runs the spec's Node.js and Python verifiers.
command -v node >/dev/null || apt_install nodejs
# promtool checks and unit-tests the alert rules; deploy/check.sh reads them with PyYAML.
command -v promtool >/dev/null || apt_install prometheus
python3 -c 'import yaml' 2>/dev/null || apt_install python3-yaml
python3 -c 'import yaml' 2>/dev/null ||
  die "$(command -v python3) lacks PyYAML, which deploy/check.sh needs (pip install pyyaml, or use Debian's python3 with python3-yaml)"
# The dashboard's browser test drives headless Chromium; without one it
# skips, except in CI, where it fails.
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt_install chromium
  else
    say "no Chromium: the browser test will skip (install chromium or set CHROMIUM=/path/to/chrome)"
  fi
fi
say "node $(node --version), $(python3 --version), $(promtool --version 2>&1 | head -1), $(${CHROMIUM:-chromium} --version 2>/dev/null | head -1)"
