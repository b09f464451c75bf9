#!/usr/bin/env bash
# The whole test suite from a fresh machine: install infscale with its test tools, make sure
# the real servers the tests need are there (redis-server binary; PostgreSQL on 127.0.0.1:5432;
# chromium for the dashboard's browser tests; docker-compose to validate docker-compose.yml),
# then run pytest. Any missing piece is installed or fails loudly; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

# need BINARY PACKAGE WHY: install Debian's PACKAGE when BINARY is missing, or fail loudly.
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "tests/run.sh: $1 not found; installing Debian's $2" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") \
            || { echo "tests/run.sh: FAILED to install $2; $3" >&2; exit 1; }
    fi
}
need redis-server redis-server "the Celery tests need it"
# The dashboard's browser tests drive Debian's chromium through Playwright (never a downloaded browser).
need /usr/bin/chromium chromium "the dashboard's browser tests need it"

# Debian's docker-compose (Python, no Docker engine needed) resolves and validates docker-compose.yml.
if ! command -v docker-compose >/dev/null 2>&1; then
    echo "tests/run.sh: docker-compose not found; installing Debian's docker-compose" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose) \
        || { echo "tests/run.sh: FAILED to install docker-compose; the compose tests need it" >&2; exit 1; }
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "tests/run.sh: PostgreSQL is not answering on 127.0.0.1:5432; trying to start it" >&2
    if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
    pg_isready -q -h 127.0.0.1 -p 5432 \
        || { echo "tests/run.sh: FAILED: no PostgreSQL on 127.0.0.1:5432 (trust auth); the storage tests need it" >&2; exit 1; }
fi

exec python3 -m pytest "$@"
