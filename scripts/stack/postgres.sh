# shellcheck shell=bash disable=SC2034 # settings are used by other files
# Component of scripts/stack.sh (sourced): PostgreSQL 15 on 127.0.0.1:5432 (Debian's cluster 15/main, started
# only if it is down; .stack/pids/postgresql.started then tells stack-down.sh to stop it), the role passerelle
# and the databases passerelle and kratos.

PG_PORT=5432
DATABASE_URL="postgres://passerelle:passerelle@127.0.0.1:$PG_PORT/passerelle?sslmode=disable"
KRATOS_DSN="postgres://passerelle:passerelle@127.0.0.1:$PG_PORT/kratos?sslmode=disable"
TEST_DATABASE_ADMIN_URL="postgres://passerelle:passerelle@127.0.0.1:$PG_PORT/postgres?sslmode=disable"

psql_admin() { run_as_root runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"; }

start_postgres() {
  step postgres "/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"
  local line port status
  line=$(pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c')
  if [[ -z $line ]]; then
    log "postgres: creating cluster $PG_VERSION/$PG_CLUSTER"
    run_as_root pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >>"$LOG_DIR/postgres.log" 2>&1 ||
      die "pg_createcluster $PG_VERSION $PG_CLUSTER failed" "$LOG_DIR/postgres.log"
    line=$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c')
  fi
  local datadir
  read -r _ _ port status _ datadir _ <<<"$line"
  [[ $port == "$PG_PORT" ]] || die "cluster $PG_VERSION/$PG_CLUSTER listens on port $port, expected $PG_PORT"
  if [[ $status == online* ]]; then
    # A mark older than the running server is from an earlier boot: this server was not started by us.
    if [[ -f $PG_STARTED_MARK ]] && run_as_root test "$PG_STARTED_MARK" -ot "$datadir/postmaster.pid"; then
      rm -f "$PG_STARTED_MARK"
    fi
    log "postgres: cluster $PG_VERSION/$PG_CLUSTER already running"
  else
    ensure_port_free postgresql "$PG_PORT"
    run_as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start ||
      die "pg_ctlcluster $PG_VERSION $PG_CLUSTER start failed" "$CURRENT_LOG"
    echo "$PG_VERSION $PG_CLUSTER" >"$PG_STARTED_MARK"
    log "postgres: cluster $PG_VERSION/$PG_CLUSTER started"
  fi
  local i
  for ((i = 0; i < 100; i++)); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.2
  done
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL does not accept connections on 127.0.0.1:$PG_PORT" "$CURRENT_LOG"

  # Role and databases (CREATEDB: tests create throwaway databases).
  psql_admin -d postgres <<'SQL' >/dev/null
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'passerelle') THEN
    CREATE ROLE passerelle LOGIN CREATEDB PASSWORD 'passerelle';
  ELSIF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'passerelle' AND rolcanlogin AND rolcreatedb) THEN
    ALTER ROLE passerelle LOGIN CREATEDB;
  END IF;
END $$;
SELECT format('CREATE DATABASE %I OWNER passerelle', d)
  FROM unnest(ARRAY['passerelle', 'kratos']) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
SQL
  # Password authentication over TCP (Debian's pg_hba.conf: scram-sha-256 for host 127.0.0.1/32).
  if ! PGCONNECT_TIMEOUT=5 psql -X -q -d "$DATABASE_URL" -c 'SELECT 1' >/dev/null 2>"$RUN_DIR/pg-check.err"; then
    if grep -q 'password authentication failed' "$RUN_DIR/pg-check.err"; then
      log "postgres: resetting the password of role passerelle"
      psql_admin -d postgres -c "ALTER ROLE passerelle PASSWORD 'passerelle'"
    fi
    PGCONNECT_TIMEOUT=5 psql -X -q -d "$DATABASE_URL" -c 'SELECT 1' >/dev/null 2>"$RUN_DIR/pg-check.err" ||
      die "cannot log in as passerelle over TCP ($DATABASE_URL): $(cat "$RUN_DIR/pg-check.err")
       Check $(psql_admin -d postgres -Atc 'SHOW hba_file') allows 'host all all 127.0.0.1/32 scram-sha-256'."
  fi
  log "postgres: role passerelle, databases passerelle + kratos ready (password login over TCP checked)"
}
