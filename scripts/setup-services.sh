#!/usr/bin/env bash
# Brings this machine's services to what the tests need, idempotently: Debian packages
# the tests run (sqlite3 for dump comparisons, chromium for the report and dashboard
# tests), and PostgreSQL with wal_level=logical for change capture (the server is
# restarted only when the setting has to change). Without root it changes nothing;
# scripts/check-services.mjs then says what is missing.
set -uo pipefail

if [ "$(id -u)" != 0 ]; then exit 0; fi

missing=()
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v chromium >/dev/null || missing+=(chromium)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v pg_dump >/dev/null || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null 2>&1) ||
    echo "could not install ${missing[*]} with apt-get"
fi

psql_admin() { psql -X -q -h 127.0.0.1 -U postgres -d postgres -Atc "$1" 2>/dev/null; }
level=$(psql_admin 'SHOW wal_level')
if [ -n "$level" ] && [ "$level" != logical ]; then
  echo "PostgreSQL: setting wal_level = logical (was $level) and restarting the server"
  psql_admin 'ALTER SYSTEM SET wal_level = logical' >/dev/null
  cluster=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  if [ -n "$cluster" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main restart >/dev/null 2>&1 ||
      echo "could not restart PostgreSQL $cluster; restart it so that wal_level = logical takes effect"
  fi
  for _ in $(seq 1 30); do
    [ "$(psql_admin 'SHOW wal_level')" = logical ] && break
    sleep 1
  done
fi
exit 0
