-- The two PostgreSQL roles creneau needs (docs/audit.md, "Least privilege"), idempotent. As a superuser:
--   psql -v owner_password="$OWNER_PW" -v app_password="$APP_PW" -f deploy/postgres-roles.sql
-- creneau_owner owns the database and every table: `manage.py migrate` runs as it (DATABASE_OWNER_URL),
-- and grants creneau_app its rights after every migration. creneau_app is what the application runs as
-- (DATABASE_URL): ordinary rights on ordinary tables, INSERT and SELECT only on the audit tables, owner
-- of nothing, so it can neither rewrite the trail nor disable its triggers. Neither is a superuser.
\set ON_ERROR_STOP on
SELECT 'CREATE ROLE creneau_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'creneau_owner') \gexec
SELECT 'CREATE ROLE creneau_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'creneau_app') \gexec
ALTER ROLE creneau_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE creneau_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';
SELECT 'CREATE DATABASE creneau OWNER creneau_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'creneau') \gexec
ALTER DATABASE creneau OWNER TO creneau_owner;
REVOKE ALL ON DATABASE creneau FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE creneau TO creneau_app;
\c creneau
-- btree_gist (the no-double-booking constraint) is a trusted extension: the owner could create it, but
-- creating it here keeps migrations free of any superuser need.
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER SCHEMA public OWNER TO creneau_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO creneau_app;
