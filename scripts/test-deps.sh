#!/usr/bin/env bash
# What `make test` needs beyond the Python packages: Debian's Chromium with a CJK font (browser
# tests; browsers cannot be downloaded here) and PostgreSQL on 127.0.0.1:5432 (trust auth).
# As root it installs and starts them; otherwise it stops at once and says what to run.
set -euo pipefail

missing=()
command -v chromium >/dev/null || missing+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test-deps: installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "test-deps: missing ${missing[*]}. Install them first:" >&2
    echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

if [ -z "${CLOUDINSPECT_TEST_PG_DSN:-}" ] && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "test-deps: PostgreSQL is not answering on 127.0.0.1:5432." >&2
    echo "  Start it (user postgres, trust auth for 127.0.0.1), or point" >&2
    echo "  CLOUDINSPECT_TEST_PG_DSN at one, then run make test again." >&2
    exit 1
  fi
fi
