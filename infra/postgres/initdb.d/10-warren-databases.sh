#!/usr/bin/env bash
# Runs once, when the PostgreSQL data volume is created (docker-entrypoint-initdb.d): one login
# role and one database per Warren service, the role owning its database and nothing else. The
# passwords come from WARREN_DB_PASSWORD_<SERVICE> (see .env.example); none is stored here.
# Services connect as their own role and only ever open their own database.
set -euo pipefail

for service in ${WARREN_DB_SERVICES:-orders inventory payments notifications}; do
    variable="WARREN_DB_PASSWORD_${service^^}"
    password="${!variable:?$variable is not set (copy .env.example to .env)}"
    # psql variables (:'name') quote the values, so a password cannot break out of its literal.
    psql --no-psqlrc --set=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        --set=name="$service" --set=password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
done
