#!/bin/sh
# First start of the compose PostgreSQL (docker-entrypoint-initdb.d): the roles of postgres-roles.sql,
# with the passwords from the environment.
set -eu
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
  -v owner_password="$CRENEAU_OWNER_PASSWORD" -v app_password="$CRENEAU_APP_PASSWORD" \
  -f /docker-entrypoint-initdb.d/postgres-roles.sql.in
