#!/bin/sh
# Starts PostgreSQL for the engine (postgres/Dockerfile): on the first start of an empty data
# volume, initdb and the uapi role and database; then PostgreSQL in the foreground.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (docker-compose.yml: UAPI_DB_PASSWORD)}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # Local socket: peer (the postgres user in this container); TCP: passwords only.
  initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  quoted=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
  # Single-user mode: no server listening while the role is made. One statement per line.
  postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE ROLE uapi LOGIN PASSWORD '$quoted';
CREATE DATABASE uapi OWNER uapi;
SQL
  echo "uapi-postgres: initialised $PGDATA (role and database uapi)"
fi
exec postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -c port="$PGPORT" -c unix_socket_directories=/var/run/postgresql
