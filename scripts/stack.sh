#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq filters are single-quoted on purpose
# make stack — start Passerelle's real dev/test stack on 127.0.0.1, idempotently:
#   PostgreSQL 15 (:5432), Redmine 5.0.4 on WEBrick (:3000), Ory Kratos v1.3.1 (:4433 public, :4434 admin),
#   an SMTP catcher (aiosmtpd, :1025, one file per message in .stack/maildir).
# Installs what is missing (Debian 12 packages, Kratos built once into $PASSERELLE_CACHE), provisions Redmine
# and writes .stack/env (export lines for tests and tools). A rerun with everything up takes a few seconds.
# Stop with `make stack-down` (it stops only what this script started).
#
# Environment: PASSERELLE_CACHE (default /var/cache/passerelle), STACK_DIR (default <repo>/.stack),
#   STACK_REPROVISION=1 to re-run the Redmine provisioning and its end-to-end check even if nothing changed,
#   CI=true: any failure already stops with a clear message and a non-zero status; under CI the end of the
#   failing component's log printed with it is longer (200 lines instead of 40).
set -Eeuo pipefail
export LC_ALL=C
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost # every call below is to loopback

# shellcheck source=scripts/stack-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack-common.sh"

CACHE_DIR=${PASSERELLE_CACHE:-/var/cache/passerelle}
KRATOS_VERSION=v1.3.1
KRATOS_BIN=$CACHE_DIR/kratos-$KRATOS_VERSION
KRATOS_SRC=$REPO_ROOT/tools/kratos
KRATOS_CONFIG=$REPO_ROOT/deploy/kratos/kratos.yml
KRATOS_SCHEMA=$REPO_ROOT/deploy/kratos/identity.schema.json
KRATOS_SECRETS=$STACK_DIR/kratos/secrets.yml
KRATOS_PUBLIC_URL=http://127.0.0.1:4433
KRATOS_ADMIN_URL=http://127.0.0.1:4434

REDMINE_DIR=/usr/share/redmine
REDMINE_DB_CONFIG=/etc/redmine/default/database.yml
REDMINE_ENV_CONFIG=$REDMINE_DIR/config/additional_environment.rb
REDMINE_URL=http://127.0.0.1:3000
REDMINE_PROJECT=gestion-locative
REDMINE_DEMO_PASSWORD=Passerelle-demo-2026
REDMINE_STATE=$STACK_DIR/redmine.env   # what the provisioning learned (ids, keys) + a stamp of the scripts
# Plugins: Debian's Redmine loads them from /usr/share/redmine/plugins/, shared by all instances (README.Debian,
# "Installing Plugins"; files readable by www-data). The package does not create that directory.
REDMINE_PLUGINS_DIR=$REDMINE_DIR/plugins
WEBHOOK_PLUGIN_SRC=$REPO_ROOT/third_party/redmine_webhook # suer/redmine_webhook 0.0.5, vendored (VENDORED.md)
WEBHOOK_PLUGIN_DIR=$REDMINE_PLUGINS_DIR/redmine_webhook
REDMINE_WEBHOOK_SECRET=$STACK_DIR/redmine-webhook.secret # also read by scripts/stack-config.sh (the config)
# The plugin posts a project's issue changes to that project's Webhook rows. The main project's row points at
# the demo's passerelle (scripts/stack-config.sh: listen 127.0.0.1:8080). A second project, whose only user is
# the webhook end-to-end test, points at a fixed port where that test runs its serve, so the other tests'
# issues (main project) never post to the test's port.
DEMO_HOOK_URL=http://127.0.0.1:8080/hooks/redmine
WEBHOOK_E2E_PROJECT=webhook-e2e
WEBHOOK_E2E_PORT=18089
WEBHOOK_E2E_HOOK_URL=http://127.0.0.1:$WEBHOOK_E2E_PORT/hooks/redmine

PG_PORT=5432
DATABASE_URL="postgres://passerelle:passerelle@127.0.0.1:$PG_PORT/passerelle?sslmode=disable"
KRATOS_DSN="postgres://passerelle:passerelle@127.0.0.1:$PG_PORT/kratos?sslmode=disable"
TEST_DATABASE_ADMIN_URL="postgres://passerelle:passerelle@127.0.0.1:$PG_PORT/postgres?sslmode=disable"

SMTP_PORT=1025
MAILDIR=$STACK_DIR/maildir
PYTHON=/usr/bin/python3   # Debian's: python3-aiosmtpd is installed for it (a pyenv python3 may come first in PATH)

# ruby-faraday: the redmine_webhook plugin posts with it (its Gemfile names it; Debian's Redmine takes it from
# the Debian package).
PACKAGES=(postgresql redmine redmine-sqlite ruby-webrick ruby-faraday python3-aiosmtpd curl jq openssl
  ca-certificates procps)

CURRENT_STEP=start
CURRENT_LOG=

on_error() {
  local status=$1 line=$2 cmd=$3
  printf '\nstack: ERROR during "%s": command failed (exit %s) at scripts/stack.sh:%s: %s\n' \
    "$CURRENT_STEP" "$status" "$line" "$cmd" >&2
  show_log "$CURRENT_LOG"
  exit 1
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

step() {
  CURRENT_STEP=$1
  CURRENT_LOG=${2-}
}

# --- small helpers ----------------------------------------------------------------------------------------

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# port_owner PORT: "pid/command" of the listener, for error messages.
port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n 1
  fi
}

# ensure_port_free NAME PORT: before starting NAME, nobody else may listen on PORT.
ensure_port_free() {
  if port_open "$2"; then
    die "port $2 (for $1) is already in use by a process this stack did not start: $(port_owner "$2")
       Stop it (or run 'make stack-down' if it is a leftover of this stack) and run 'make stack' again."
  fi
}

# clean_env CMD...: CMD with a minimal environment. The caller's may hold .stack/env (DATABASE_URL would make
# Rails use Passerelle's PostgreSQL instead of Redmine's database.yml) or variables Kratos reads as
# configuration (DSN, SERVE_*, SECRETS_*...). UTF-8 locale: Redmine (Ruby) reads and writes accented text.
CLEAN_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="${HOME:-/root}"
  LANG=C.UTF-8 LC_ALL=C.UTF-8)
clean_env() { "${CLEAN_ENV[@]}" "$@"; }

# spec_of TEXT FILE...: fingerprint of what a service runs (its command line, the files it reads at start).
spec_of() { { printf '%s\n' "${CLEAN_ENV[*]} $1"; cat "${@:2}"; } | sha256sum | cut -c1-16; }

# service_current NAME SPEC CHECK...: NAME is ours, was started with SPEC, and CHECK says it answers.
service_current() {
  local name=$1 spec=$2
  shift 2
  pid_of "$name" >/dev/null || return 1
  if [[ $(cat "$RUN_DIR/$name.spec" 2>/dev/null) != "$spec" ]]; then
    log "$name: its command or configuration changed: restarting"
    return 1
  fi
  "$@"
}

# start_bg NAME MARKER SPEC LOGFILE WORKDIR CMD...: runs CMD in its own session and a clean environment
# (clean_env), records "PID MARKER" in .stack/pids/NAME.pid and SPEC in .stack/run/NAME.spec.
start_bg() {
  local name=$1 marker=$2 spec=$3 logfile=$4 workdir=$5
  shift 5
  printf '\n=== %s: %s\n' "$(date -Is)" "$*" >>"$logfile"
  # fd 9 is the stack lock: a daemon must not inherit it.
  (cd "$workdir" && exec setsid "${CLEAN_ENV[@]}" "$@" >>"$logfile" 2>&1 </dev/null 9>&-) &
  local pid=$! i
  printf '%s %s\n' "$pid" "$marker" >"$PIDS_DIR/$name.pid"
  # The pid is our subshell until it has exec'd the command: wait for that before anyone checks the marker.
  # Up to 30 s: on a machine just booted, with a cold disk cache, the exec chain (setsid, env, ruby) once took
  # more than 5 s and the stack gave up on a Redmine that then started fine.
  for ((i = 0; i < 300; i++)); do
    pid_of "$name" >/dev/null && break
    alive "$pid" || break
    sleep 0.1
  done
  pid_of "$name" >/dev/null || die "$name did not start: $*" "$logfile"
  echo "$spec" >"$RUN_DIR/$name.spec"
}

# wait_until NAME SECONDS LOGFILE CHECK...: polls CHECK until it succeeds; fails early if NAME died.
wait_until() {
  local name=$1 seconds=$2 logfile=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  local pid
  read -r pid _ <"$PIDS_DIR/$name.pid" || pid=
  until "$@"; do
    # Not pid_of alone: while env execs the daemon (setsid → env → python3), /proc/PID/cmdline reads empty
    # for a moment, and a cold start once took that for an exit (CI: "smtp exited during start-up" while
    # the catcher went on to listen). Dead means the process itself is gone.
    if ! pid_of "$name" >/dev/null && ! { [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; }; then
      die "$name exited during start-up" "$logfile"
    fi
    if ((SECONDS >= deadline)); then
      die "$name not ready after ${seconds}s" "$logfile"
    fi
    sleep 0.3
  done
}

sha_of() { cat "$@" | sha256sum | cut -c1-16; }

# tree_digest DIR: fingerprint of every file under DIR, names and contents.
tree_digest() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum | cut -c1-16
}

# --- packages ---------------------------------------------------------------------------------------------

ensure_packages() {
  step packages
  local missing=() pkg status
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    log "packages: all present"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: this stack needs Debian 12"
  log "packages: installing ${missing[*]} (apt-get update first)"
  step packages "$LOG_DIR/apt.log"
  # Redmine's dbconfig must pick SQLite even when PostgreSQL is installed in the same run.
  echo 'redmine redmine/instances/default/database-type select sqlite3' | run_as_root debconf-set-selections
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get update >>"$LOG_DIR/apt.log" 2>&1 ||
    die "apt-get update failed" "$LOG_DIR/apt.log"
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
    >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get install ${missing[*]} failed" "$LOG_DIR/apt.log"
  log "packages: installed"
}

# --- PostgreSQL -------------------------------------------------------------------------------------------

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

# --- SMTP catcher -----------------------------------------------------------------------------------------

smtp_ready() {
  local banner
  { exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT"; } 2>/dev/null || return 1
  read -r -t 2 banner <&3 || banner=
  printf 'QUIT\r\n' >&3 2>/dev/null || true
  exec 3>&-
  [[ $banner == 220* ]]
}

start_smtp() {
  step smtp "$LOG_DIR/smtp.log"
  mkdir -p "$MAILDIR"/{tmp,new,cur}
  local cmd=("$PYTHON" "$REPO_ROOT/scripts/smtp-catcher.py" "127.0.0.1:$SMTP_PORT" "$MAILDIR") spec
  spec=$(spec_of "${cmd[*]}" "$REPO_ROOT/scripts/smtp-catcher.py")
  if service_current smtp "$spec" smtp_ready; then
    log "smtp: already running on 127.0.0.1:$SMTP_PORT"
    return
  fi
  stop_service smtp
  ensure_port_free smtp "$SMTP_PORT"
  # aiosmtpd's Mailbox handler (one file per message), logging one line per message.
  start_bg smtp smtp-catcher.py "$spec" "$LOG_DIR/smtp.log" "$REPO_ROOT" "${cmd[@]}"
  wait_until smtp 20 "$LOG_DIR/smtp.log" smtp_ready
  log "smtp: started on 127.0.0.1:$SMTP_PORT, Maildir $MAILDIR"
}

# --- Redmine ----------------------------------------------------------------------------------------------

redmine_ready() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$REDMINE_URL/issues.json" || true)
  [[ $code == 200 || $code == 401 || $code == 403 ]]
}

# Rails refuses to start while its pid file names a live process; a stale file (process gone, or the pid
# reused by something else) is removed here. We pass our own pid file (-P); the default one is checked too.
remove_stale_rails_pidfile() {
  local file pid
  for file in "$RUN_DIR/redmine-server.pid" "$REDMINE_DIR/tmp/pids/server.pid" \
    /var/cache/redmine/default/tmp/pids/server.pid; do
    [[ -f $file ]] || continue
    pid=$(<"$file")
    if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q rails; then
      [[ $file == "$RUN_DIR/redmine-server.pid" ]] &&
        die "a Redmine server (pid $pid) not recorded in $PIDS_DIR is running: stop it first"
      continue
    fi
    log "redmine: removing stale Rails pid file $file"
    run_as_root rm -f "$file"
  done
}

# Redmine on SQLite behind WEBrick (a thread per request) answers concurrent writes with 500s
# ("SQLite3::BusyException: database is locked", seen with 8 parallel issue creations). Two local settings:
# - Rack::Lock in config/additional_environment.rb (Redmine's hook for local settings): one request at a time,
#   as SQLite can only take one writer anyway;
# - a busy timeout in database.yml (Debian sets none): the rails runner and background threads wait for the
#   lock instead of failing at once.
ensure_redmine_local_config() {
  if ! grep -Eqs '^[[:space:]]*gem[[:space:]]+["'\'']webrick["'\'']' "$REDMINE_DIR/Gemfile.local"; then
    log "redmine: adding gem \"webrick\" to $REDMINE_DIR/Gemfile.local (Debian ships no other app server)"
    echo 'gem "webrick"' | run_as_root tee -a "$REDMINE_DIR/Gemfile.local" >/dev/null
  fi
  grep -Eq '^[[:space:]]+adapter:[[:space:]]*sqlite3' "$REDMINE_DB_CONFIG" || return 0
  if ! grep -Eq '^[[:space:]]+timeout:' "$REDMINE_DB_CONFIG"; then
    log "redmine: setting an SQLite busy timeout (10 s) in $REDMINE_DB_CONFIG"
    run_as_root sed -i -E 's/^([[:space:]]+)adapter:[[:space:]]*sqlite3[[:space:]]*$/&\n\1timeout: 10000/' \
      "$REDMINE_DB_CONFIG"
  fi
  if ! grep -qs 'Rack::Lock' "$REDMINE_ENV_CONFIG"; then
    log "redmine: serving one request at a time (Rack::Lock in $REDMINE_ENV_CONFIG): SQLite takes one writer"
    run_as_root tee -a "$REDMINE_ENV_CONFIG" >/dev/null <<'RUBY'
# Added by Passerelle's scripts/stack.sh: this Redmine runs on SQLite, which takes one writer at a time, and
# WEBrick serves each request in its own thread (concurrent writes failed with SQLite3::BusyException).
require 'rack/lock'
config.middleware.insert_before 0, Rack::Lock
RUBY
  fi
}

# The vendored redmine_webhook plugin (third_party/) copied into Debian's plugin directory when it differs,
# then `redmine:plugins:migrate` (its webhooks table) when its migrations or the database changed since the
# last successful run. Both before Redmine (re)starts: the running one keeps the old code until then.
install_redmine_plugins() {
  step "redmine plugin" "$LOG_DIR/redmine-plugins.log"
  [[ -f $WEBHOOK_PLUGIN_SRC/init.rb ]] || die "missing $WEBHOOK_PLUGIN_SRC/init.rb (the vendored redmine_webhook)"
  if [[ -d $WEBHOOK_PLUGIN_DIR && $(tree_digest "$WEBHOOK_PLUGIN_SRC") == "$(tree_digest "$WEBHOOK_PLUGIN_DIR")" ]]; then
    log "redmine: plugin redmine_webhook up to date in $WEBHOOK_PLUGIN_DIR"
  else
    # Copied next to it under a dot name (Redmine loads plugins/*, not dot directories), then swapped in.
    local tmp=$REDMINE_PLUGINS_DIR/.redmine_webhook.new
    run_as_root mkdir -p "$REDMINE_PLUGINS_DIR"
    run_as_root rm -rf "$tmp"
    run_as_root cp -R "$WEBHOOK_PLUGIN_SRC" "$tmp"
    run_as_root chmod -R u=rwX,go=rX "$tmp" # Debian: plugin files must be readable by www-data
    run_as_root rm -rf "$WEBHOOK_PLUGIN_DIR"
    run_as_root mv "$tmp" "$WEBHOOK_PLUGIN_DIR"
    log "redmine: plugin redmine_webhook installed into $WEBHOOK_PLUGIN_DIR (from third_party/redmine_webhook)"
  fi
  local stamp_file=$RUN_DIR/redmine-plugins.migrated stamp
  stamp=$(printf '%s %s' "$(tree_digest "$WEBHOOK_PLUGIN_DIR/db")" "$(sha_of "$REDMINE_DB_CONFIG")")
  if [[ $(cat "$stamp_file" 2>/dev/null) == "$stamp" ]]; then
    log "redmine: plugin migrations already applied"
    return
  fi
  log "redmine: bin/rails redmine:plugins:migrate (log .stack/logs/redmine-plugins.log)"
  printf '\n=== %s: redmine:plugins:migrate\n' "$(date -Is)" >>"$LOG_DIR/redmine-plugins.log"
  (cd "$REDMINE_DIR" && clean_env RAILS_ENV=production bin/rails redmine:plugins:migrate) \
    >>"$LOG_DIR/redmine-plugins.log" 2>&1 || die "bin/rails redmine:plugins:migrate failed" "$LOG_DIR/redmine-plugins.log"
  echo "$stamp" >"$stamp_file"
  log "redmine: plugin migrations applied"
}

start_redmine() {
  step redmine "$LOG_DIR/redmine.log"
  [[ -x $REDMINE_DIR/bin/rails ]] || die "Redmine is not installed in $REDMINE_DIR"
  ensure_redmine_local_config
  install_redmine_plugins
  step redmine "$LOG_DIR/redmine.log"
  local cmd=(env RAILS_ENV=production bin/rails server -u webrick -b 127.0.0.1 -p 3000 -P "$RUN_DIR/redmine-server.pid")
  local spec
  # The plugins' files are part of what Redmine reads at start: a change restarts it.
  spec=$(spec_of "${cmd[*]} plugins=$(tree_digest "$REDMINE_PLUGINS_DIR")" "$REDMINE_DIR/Gemfile.local" \
    "$REDMINE_DB_CONFIG" "$REDMINE_ENV_CONFIG")
  if service_current redmine "$spec" redmine_ready; then
    log "redmine: already running on $REDMINE_URL"
    return
  fi
  stop_service redmine
  remove_stale_rails_pidfile
  ensure_port_free redmine 3000
  start_bg redmine rails "$spec" "$LOG_DIR/redmine.log" "$REDMINE_DIR" "${cmd[@]}"
  REDMINE_STARTING=1
  log "redmine: starting WEBrick on $REDMINE_URL (log .stack/logs/redmine.log)"
}

wait_redmine() {
  step redmine "$LOG_DIR/redmine.log"
  [[ ${REDMINE_STARTING:-0} == 1 ]] || return 0
  wait_until redmine 180 "$LOG_DIR/redmine.log" redmine_ready
  log "redmine: up on $REDMINE_URL"
}

# api METHOD PATH KEY [JSON]: one Redmine REST call; sets API_STATUS and API_BODY.
api() {
  local method=$1 path=$2 key=$3 data=${4-}
  local args=(-sS -X "$method" -H "X-Redmine-API-Key: $key" -o "$RUN_DIR/api-body" -w '%{http_code}' --max-time 60)
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  API_STATUS=$(curl "${args[@]}" "$REDMINE_URL$path") || die "Redmine unreachable: $method $path"
  API_BODY=$(<"$RUN_DIR/api-body")
}

# api_ok METHOD PATH KEY [JSON] EXPECTED_STATUS: api, and die unless the status is the expected one.
api_ok() {
  local expected=${*: -1}
  api "${@:1:$#-1}"
  [[ $API_STATUS == "$expected" ]] ||
    die "Redmine $1 $2 answered $API_STATUS (expected $expected): ${API_BODY:0:500}" "$LOG_DIR/redmine.log"
}

# json_of FILTER [ARGS...]: jq on the last API_BODY.
json_of() { jq -r "$@" <<<"$API_BODY"; }

provision_stamp() { sha_of "$REPO_ROOT/scripts/redmine-provision.rb" "$REPO_ROOT/scripts/stack.sh"; }

# Loads what a previous provisioning learned; succeeds only if it is still valid for this Redmine.
redmine_state_valid() {
  [[ ${STACK_REPROVISION:-0} != 1 && -s $REDMINE_STATE ]] || return 1
  # shellcheck disable=SC1090
  source "$REDMINE_STATE"
  [[ ${PROVISION_STAMP:-} == "$(provision_stamp)" && -n ${SYNC_API_KEY:-} && -n ${ADMIN_API_KEY:-} ]] || return 1
  api GET /users/current.json "$SYNC_API_KEY"
  [[ $API_STATUS == 200 && $(json_of .user.login) == passerelle ]] || return 1
  api GET "/projects/$REDMINE_PROJECT.json" "$ADMIN_API_KEY"
  [[ $API_STATUS == 200 && $(json_of .project.id) == "${PROJECT_ID:-}" ]] || return 1
  api GET "/projects/$WEBHOOK_E2E_PROJECT.json" "$ADMIN_API_KEY"
  [[ $API_STATUS == 200 && $(json_of .project.id) == "${WEBHOOK_PROJECT_ID:-}" ]]
}

# ensure_user LOGIN FIRSTNAME LASTNAME MAIL: creates or updates the user; sets USER_ID and USER_API_KEY.
ensure_user() {
  local login=$1 first=$2 last=$3 mail=$4 id payload
  api_ok GET "/users.json?name=$login&status=&limit=100" "$ADMIN_API_KEY" 200
  id=$(json_of --arg l "$login" '.users[] | select(.login == $l) | .id')
  payload=$(jq -n --arg login "$login" --arg first "$first" --arg last "$last" --arg mail "$mail" \
    --arg pw "$REDMINE_DEMO_PASSWORD" \
    '{user: {login: $login, firstname: $first, lastname: $last, mail: $mail, password: $pw,
             admin: false, status: 1, must_change_passwd: false}}')
  if [[ -z $id ]]; then
    api_ok POST /users.json "$ADMIN_API_KEY" "$payload" 201
    id=$(json_of .user.id)
    log "redmine: user $login created (id $id)"
  else
    # Keep the demo password known without touching it when it already works (a change kills sessions).
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' -u "$login:$REDMINE_DEMO_PASSWORD" "$REDMINE_URL/users/current.json")
    api_ok GET "/users/$id.json" "$ADMIN_API_KEY" 200
    if [[ $code != 200 || $(json_of '[.user.firstname, .user.lastname, .user.mail, .user.admin, .user.status] | @tsv') != \
      "$(printf '%s\t%s\t%s\tfalse\t1' "$first" "$last" "$mail")" ]]; then
      [[ $code == 200 ]] && payload=$(jq 'del(.user.password)' <<<"$payload")
      api_ok PUT "/users/$id.json" "$ADMIN_API_KEY" "$payload" 204
      log "redmine: user $login updated (id $id)"
    fi
  fi
  api_ok GET "/users/$id.json" "$ADMIN_API_KEY" 200 # an admin sees (and thereby creates) the user's API key
  USER_ID=$id
  USER_API_KEY=$(json_of '.user.api_key // empty')
  [[ -n $USER_API_KEY ]] || die "Redmine gave no API key for user $login"
}

# ensure_group NAME USER_ID: creates the group, makes USER_ID a member; sets GROUP_ID.
ensure_group() {
  local name=$1 user_id=$2 id
  api_ok GET /groups.json "$ADMIN_API_KEY" 200
  id=$(json_of --arg n "$name" '.groups[] | select(.name == $n) | .id')
  if [[ -z $id ]]; then
    api_ok POST /groups.json "$ADMIN_API_KEY" \
      "$(jq -n --arg n "$name" --argjson u "$user_id" '{group: {name: $n, user_ids: [$u]}}')" 201
    id=$(json_of .group.id)
    log "redmine: group $name created (id $id)"
  else
    api_ok GET "/groups/$id.json?include=users" "$ADMIN_API_KEY" 200
    if [[ -z $(json_of --argjson u "$user_id" '.group.users[]? | select(.id == $u) | .id') ]]; then
      api_ok POST "/groups/$id/users.json" "$ADMIN_API_KEY" "{\"user_id\": $user_id}" 204
      log "redmine: user $user_id added to group $name"
    fi
  fi
  GROUP_ID=$id
}

# ensure_member PRINCIPAL_ID ROLE_ID [PROJECT]: user or group member of PROJECT (default the main one) with
# that role (not inherited).
ensure_member() {
  local principal=$1 role=$2 project=${3:-$REDMINE_PROJECT} membership
  api_ok GET "/projects/$project/memberships.json?limit=100" "$ADMIN_API_KEY" 200
  membership=$(json_of --argjson p "$principal" \
    '.memberships[] | select((.user.id // .group.id) == $p) | {id, roles: [.roles[] | select(.inherited != true) | .id]}')
  if [[ -z $membership ]]; then
    api_ok POST "/projects/$project/memberships.json" "$ADMIN_API_KEY" \
      "{\"membership\": {\"user_id\": $principal, \"role_ids\": [$role]}}" 201
    log "redmine: principal $principal member of $project (role $role)"
  elif ! jq -e --argjson r "$role" '.roles | index($r)' <<<"$membership" >/dev/null; then
    api_ok PUT "/memberships/$(jq -r .id <<<"$membership").json" "$ADMIN_API_KEY" \
      "$(jq -c --argjson r "$role" '{membership: {role_ids: (.roles + [$r])}}' <<<"$membership")" 204
    log "redmine: principal $principal given role $role in $project"
  fi
}

# ensure_project IDENTIFIER NAME: the project with the sync's trackers, custom fields and issue tracking;
# sets ENSURED_PROJECT_ID.
ensure_project() {
  local identifier=$1 name=$2 tracker_ids cf_ids project
  tracker_ids="[$TRACKER_DOLEANCE_ID, $TRACKER_DEMANDE_ID, $TRACKER_COORDONNEES_ID, $TRACKER_MANDAT_ID]"
  cf_ids="[$CF_REFERENCE_ID, $CF_MANDATE_ID, $CF_DUE_ID]"
  project=$(jq -n --arg id "$identifier" --arg name "$name" --argjson t "$tracker_ids" --argjson c "$cf_ids" \
    '{project: {name: $name, identifier: $id, is_public: false, tracker_ids: $t,
                issue_custom_field_ids: $c, enabled_module_names: ["issue_tracking"]}}')
  api GET "/projects/$identifier.json?include=trackers,issue_custom_fields,enabled_modules" "$ADMIN_API_KEY"
  if [[ $API_STATUS == 404 ]]; then
    api_ok POST /projects.json "$ADMIN_API_KEY" "$project" 201
    log "redmine: project $identifier created"
  elif [[ $API_STATUS == 200 ]]; then
    # Add what is missing; keep what an administrator enabled on top.
    local update
    update=$(json_of --argjson t "$tracker_ids" --argjson c "$cf_ids" '
      [.project.trackers[].id] as $ht | [.project.issue_custom_fields[]?.id] as $hc
      | [.project.enabled_modules[].name] as $hm
      | if ($t - $ht) == [] and ($c - $hc) == [] and ($hm | index("issue_tracking")) != null then empty
        else {project: {tracker_ids: ($ht + $t | unique), issue_custom_field_ids: ($hc + $c | unique),
                        enabled_module_names: ($hm + ["issue_tracking"] | unique)}} end')
    if [[ -n $update ]]; then
      api_ok PUT "/projects/$identifier.json" "$ADMIN_API_KEY" "$update" 204
      log "redmine: project $identifier updated (trackers, custom fields, modules)"
    fi
  else
    die "Redmine GET /projects/$identifier.json answered $API_STATUS: ${API_BODY:0:300}"
  fi
  api_ok GET "/projects/$identifier.json" "$ADMIN_API_KEY" 200
  ENSURED_PROJECT_ID=$(json_of .project.id)
}

provision_redmine() {
  step "redmine provisioning" "$LOG_DIR/redmine-provision.log"
  if redmine_state_valid; then
    log "redmine: provisioning up to date (STACK_REPROVISION=1 forces it)"
    return
  fi
  log "redmine: provisioning (rails runner: settings, trackers, workflows, custom fields, roles)"
  : >"$LOG_DIR/redmine-provision.log"
  local out
  out=$(cd "$REDMINE_DIR" && clean_env RAILS_ENV=production bin/rails runner "$REPO_ROOT/scripts/redmine-provision.rb" \
    2>>"$LOG_DIR/redmine-provision.log") ||
    die "bin/rails runner scripts/redmine-provision.rb failed: $(grep -Ev '^[[:space:]]+from ' \
      "$LOG_DIR/redmine-provision.log" | head -n 3)" "$LOG_DIR/redmine-provision.log"
  printf '%s\n' "$out" >>"$LOG_DIR/redmine-provision.log"
  grep '^# changed' <<<"$out" | sed 's/^# changed: /    /' || echo "    (nothing to change)"
  local line
  while IFS= read -r line; do
    [[ $line =~ ^[A-Z0-9_]+=[^[:space:]]*$ ]] && declare -g "$line"
  done <<<"$out"
  [[ -n ${ADMIN_API_KEY:-} && -n ${ROLE_SYNC_ID:-} && -n ${CF_REFERENCE_ID:-} ]] ||
    die "redmine-provision.rb printed no keys" "$LOG_DIR/redmine-provision.log"

  log "redmine: provisioning (REST: projects, users, groups, memberships)"
  ensure_project "$REDMINE_PROJECT" "Gestion locative"
  PROJECT_ID=$ENSURED_PROJECT_ID
  # The webhook end-to-end test's project: the same trackers, custom fields and members as the main one.
  ensure_project "$WEBHOOK_E2E_PROJECT" "Passerelle — test webhook (e2e)"
  WEBHOOK_PROJECT_ID=$ENSURED_PROJECT_ID

  ensure_user passerelle Passerelle Synchronisation passerelle@agence.test
  SYNC_USER_ID=$USER_ID SYNC_API_KEY=$USER_API_KEY
  ensure_user gestionnaire Marie Lefèvre marie.lefevre@agence.test
  STAFF_USER_ID=$USER_ID STAFF_API_KEY=$USER_API_KEY
  ensure_user comptable Paul Girard paul.girard@agence.test
  ACCOUNTING_USER_ID=$USER_ID ACCOUNTING_API_KEY=$USER_API_KEY
  ensure_group Gestionnaires "$STAFF_USER_ID"
  GROUP_GESTIONNAIRES_ID=$GROUP_ID
  ensure_group Comptabilité "$ACCOUNTING_USER_ID"
  GROUP_COMPTABILITE_ID=$GROUP_ID

  local p
  for p in "$REDMINE_PROJECT" "$WEBHOOK_E2E_PROJECT"; do
    ensure_member "$SYNC_USER_ID" "$ROLE_SYNC_ID" "$p"
    ensure_member "$STAFF_USER_ID" "$ROLE_MANAGER_ID" "$p"
    ensure_member "$ACCOUNTING_USER_ID" "$ROLE_MANAGER_ID" "$p"
    ensure_member "$GROUP_GESTIONNAIRES_ID" "$ROLE_MANAGER_ID" "$p"
    ensure_member "$GROUP_COMPTABILITE_ID" "$ROLE_MANAGER_ID" "$p"
  done

  check_redmine
  save_redmine_state
  log "redmine: provisioned"
}

save_redmine_state() {
  local var tmp=$REDMINE_STATE.tmp
  {
    echo "# Written by scripts/stack.sh: what the Redmine provisioning learned. Not a public interface:"
    echo "# use .stack/env."
    for var in ADMIN_API_KEY ADMIN_USER_ID PROJECT_ID WEBHOOK_PROJECT_ID SYNC_USER_ID SYNC_API_KEY STAFF_USER_ID STAFF_API_KEY \
      ACCOUNTING_USER_ID ACCOUNTING_API_KEY GROUP_GESTIONNAIRES_ID GROUP_COMPTABILITE_ID ROLE_SYNC_ID \
      ROLE_MANAGER_ID TRACKER_DOLEANCE_ID TRACKER_DEMANDE_ID TRACKER_COORDONNEES_ID TRACKER_MANDAT_ID \
      CF_REFERENCE_ID CF_MANDATE_ID CF_DUE_ID STATUS_NEW_ID STATUS_IN_PROGRESS_ID STATUS_RESOLVED_ID \
      STATUS_FEEDBACK_ID STATUS_CLOSED_ID STATUS_REJECTED_ID; do
      [[ -n ${!var:-} ]] || die "internal: $var is empty after provisioning"
      printf '%s=%q\n' "$var" "${!var}"
    done
    printf 'PROVISION_STAMP=%s\n' "$(provision_stamp)"
  } >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$REDMINE_STATE"
}

# End-to-end check with the sync user's key: what the bridge relies on must really be kept by Redmine
# (it drops refused fields silently). Runs after every provisioning; the test issues are deleted afterwards.
check_redmine() {
  step "redmine check" "$LOG_DIR/redmine-check.log"
  : >"$CURRENT_LOG"
  local parent child token journal_ids body failures=()
  note() { printf '%s\n' "$*" >>"$LOG_DIR/redmine-check.log"; }
  cleanup_check_issues() {
    local id
    for id in "$@"; do
      [[ -n $id ]] && api DELETE "/issues/$id.json" "$ADMIN_API_KEY"
    done
  }
  # Leftovers of a check that was interrupted would fool the custom-field filter check below.
  local cf stale
  for cf in "cf_$CF_REFERENCE_ID=TEST-STACK-CHECK" "cf_$CF_MANDATE_ID=M-STACK-CHECK"; do
    api_ok GET "/issues.json?project_id=$REDMINE_PROJECT&status_id=*&$cf&limit=100" "$ADMIN_API_KEY" 200
    stale=$(json_of '.issues[].id')
    if [[ -n $stale ]]; then
      note "deleting leftovers of an earlier check: ${stale//$'\n'/ }"
      # shellcheck disable=SC2086 # a list of ids
      cleanup_check_issues $stale
    fi
  done

  body=$(jq -n --arg p "$REDMINE_PROJECT" --argjson t "$TRACKER_MANDAT_ID" --argjson cf "$CF_MANDATE_ID" \
    '{issue: {project_id: $p, tracker_id: $t, subject: "[stack check] mandat", custom_fields: [{id: $cf, value: "M-STACK-CHECK"}]}}')
  api_ok POST /issues.json "$SYNC_API_KEY" "$body" 201
  parent=$(json_of .issue.id)
  note "parent (Mandat) created by the sync user: #$parent"

  API_STATUS=$(curl -sS -o "$RUN_DIR/api-body" -w '%{http_code}' -X POST -H "X-Redmine-API-Key: $SYNC_API_KEY" \
    -H 'Content-Type: application/octet-stream' --data-binary 'stack check attachment' \
    "$REDMINE_URL/uploads.json?filename=stack-check.txt")
  API_BODY=$(<"$RUN_DIR/api-body")
  [[ $API_STATUS == 201 ]] || { cleanup_check_issues "$parent"; die "sync user upload refused: $API_STATUS $API_BODY"; }
  token=$(json_of .upload.token)
  note "upload by the sync user: 201, token received"

  body=$(jq -n --arg p "$REDMINE_PROJECT" --argjson t "$TRACKER_DOLEANCE_ID" --argjson g "$GROUP_COMPTABILITE_ID" \
    --argjson parent "$parent" --argjson cf "$CF_REFERENCE_ID" --arg tok "$token" \
    '{issue: {project_id: $p, tracker_id: $t, subject: "[stack check] doléance", description: "check",
              assigned_to_id: $g, parent_issue_id: $parent, custom_fields: [{id: $cf, value: "TEST-STACK-CHECK"}],
              uploads: [{token: $tok, filename: "stack-check.txt", content_type: "text/plain"}]}}')
  api POST /issues.json "$SYNC_API_KEY" "$body"
  if [[ $API_STATUS != 201 ]]; then
    cleanup_check_issues "$parent"
    die "sync user could not create the check issue: $API_STATUS ${API_BODY:0:500}"
  fi
  child=$(json_of .issue.id)
  note "child (Doléance) created by the sync user: #$child"

  api_ok GET "/issues/$child.json?include=attachments" "$SYNC_API_KEY" 200
  [[ $(json_of .issue.assigned_to.id) == "$GROUP_COMPTABILITE_ID" ]] ||
    failures+=("assigned_to dropped (got $(json_of -c .issue.assigned_to))")
  [[ $(json_of .issue.parent.id) == "$parent" ]] || failures+=("parent dropped (got $(json_of -c .issue.parent))")
  [[ $(json_of --argjson cf "$CF_REFERENCE_ID" '.issue.custom_fields[] | select(.id == $cf) | .value') == TEST-STACK-CHECK ]] ||
    failures+=("custom field Réf. espace client dropped")
  [[ $(json_of '.issue.attachments | length') == 1 ]] || failures+=("attachment missing")
  note "kept: assigned_to=$(json_of -c .issue.assigned_to) parent=$(json_of -c .issue.parent) attachments=$(json_of '.issue.attachments | length')"

  # Workflow on a new tracker: the sync user can change the status.
  api_ok PUT "/issues/$child.json" "$SYNC_API_KEY" "{\"issue\": {\"status_id\": $STATUS_IN_PROGRESS_ID}}" 204
  api_ok GET "/issues/$child.json" "$SYNC_API_KEY" 200
  [[ $(json_of .issue.status.id) == "$STATUS_IN_PROGRESS_ID" ]] ||
    failures+=("status change by the sync user refused (workflow): status $(json_of -c .issue.status)")
  note "status after the sync user's change: $(json_of -c .issue.status)"

  # Private notes: written by staff, invisible to the sync user.
  api_ok PUT "/issues/$child.json" "$STAFF_API_KEY" '{"issue": {"notes": "note privée (stack check)", "private_notes": true}}' 204
  api_ok PUT "/issues/$child.json" "$STAFF_API_KEY" '{"issue": {"notes": "note publique (stack check)"}}' 204
  api_ok GET "/issues/$child.json?include=journals" "$STAFF_API_KEY" 200
  journal_ids=$(json_of '[.issue.journals[] | select((.notes // "") != "") | {private_notes}] | tojson')
  [[ $journal_ids == '[{"private_notes":true},{"private_notes":false}]' ]] || failures+=("staff notes: $journal_ids")
  api_ok GET "/issues/$child.json?include=journals" "$SYNC_API_KEY" 200
  journal_ids=$(json_of '[.issue.journals[] | select((.notes // "") != "") | .notes] | tojson')
  [[ $journal_ids == '["note publique (stack check)"]' ]] || failures+=("sync user sees notes $journal_ids")
  note "notes seen by the sync user: $journal_ids"

  # The reference custom field works as a filter (find an issue again after a crash).
  api_ok GET "/issues.json?project_id=$REDMINE_PROJECT&status_id=*&cf_$CF_REFERENCE_ID=TEST-STACK-CHECK" "$SYNC_API_KEY" 200
  [[ $(json_of '[.issues[].id] | tojson') == "[$child]" ]] || failures+=("cf filter found $(json_of '[.issues[].id] | tojson')")

  # The sync user may not delete issues.
  api DELETE "/issues/$child.json" "$SYNC_API_KEY"
  [[ $API_STATUS == 403 ]] || failures+=("sync user DELETE answered $API_STATUS (expected 403)")

  cleanup_check_issues "$child" "$parent"
  api GET "/issues/$parent.json" "$ADMIN_API_KEY"
  [[ $API_STATUS == 404 ]] || failures+=("check issue #$parent not deleted ($API_STATUS)")
  if ((${#failures[@]})); then
    printf 'FAILED: %s\n' "${failures[@]}" >>"$LOG_DIR/redmine-check.log"
    die "Redmine end-to-end check failed: ${failures[*]}" "$LOG_DIR/redmine-check.log"
  fi
  note "OK"
  log "redmine: end-to-end check as the sync user OK (group assignee, parent, custom field, upload, status, private note hidden)"
  step "redmine provisioning" "$LOG_DIR/redmine-provision.log"
}

# --- redmine_webhook: the Webhook rows -------------------------------------------------------------------

# The secret Passerelle checks on /hooks/redmine (?token=). Same rule as scripts/stack-config.sh, which reads
# it for the config: 64 hex digits, created once (a secret from an older stack that is not hex is replaced).
ensure_redmine_webhook_secret() {
  if [[ -s $REDMINE_WEBHOOK_SECRET ]] && grep -Eq '^[0-9a-f]{64}$' "$REDMINE_WEBHOOK_SECRET"; then return 0; fi
  (umask 077 && openssl rand -hex 32 | tr -d '\n' >"$REDMINE_WEBHOOK_SECRET")
  log "redmine: webhook secret generated in ${REDMINE_WEBHOOK_SECRET#"$REPO_ROOT"/}"
}

# ensure_webhook PROJECT URL: among PROJECT's Webhook rows (the plugin's REST API: list, create, update,
# delete; the last three answer with a redirect), exactly one points at URL's target (same URL before "?"):
# updated when the token changed, created when missing; rows for other targets are left alone.
ensure_webhook() {
  local project=$1 url=$2 target=${2%%\?*} ours id
  api_ok GET "/projects/$project/webhook_settings.json" "$ADMIN_API_KEY" 200
  ours=$(json_of --arg t "$target" '[.[] | select((.url // "") | split("?")[0] == $t)]')
  if jq -e --arg u "$url" 'length == 1 and .[0].url == $u' <<<"$ours" >/dev/null; then
    return 0
  fi
  if [[ $(jq length <<<"$ours") == 0 ]]; then
    api_ok POST "/projects/$project/webhook_settings/create.json" "$ADMIN_API_KEY" "$(jq -n --arg u "$url" '{url: $u}')" 302
    log "redmine: webhook of project $project created -> $target?token=…"
  else
    api_ok PUT "/projects/$project/webhook_settings/$(jq -r '.[0].id' <<<"$ours").json" "$ADMIN_API_KEY" \
      "$(jq -n --arg u "$url" '{url: $u}')" 302
    for id in $(jq -r '.[1:][].id' <<<"$ours"); do
      api_ok DELETE "/projects/$project/webhook_settings/$id.json" "$ADMIN_API_KEY" 302
    done
    log "redmine: webhook of project $project updated -> $target?token=…"
  fi
  api_ok GET "/projects/$project/webhook_settings.json" "$ADMIN_API_KEY" 200
  jq -e --arg u "$url" --arg t "$target" '[.[] | select((.url // "") | split("?")[0] == $t)] | length == 1 and .[0].url == $u' \
    <<<"$API_BODY" >/dev/null || die "the webhook of project $project was not saved: $(json_of -c '[.[].id]')"
}

# Runs on every `make stack` (two list requests when nothing changed): the secret may have been rotated.
# What the plugin does when the target is down or slow (it must never fail the staff's save): it posts from
# a thread started after the issue is saved, so the save answers as usual. Target down (connection refused):
# the post fails at once, Redmine logs "Failed to open TCP connection" in production.log, and nothing is
# retried (polling catches up). Target accepting but not answering: with the plugin as released, each post
# thread kept a database connection for Net::HTTP's 60 s and 5 slow posts exhausted Redmine's pool (500s for
# everyone, seen here); the vendored copy reads the URLs before the thread and posts with 2 s / 5 s timeouts
# (third_party/redmine_webhook/VENDORED.md). Updates sent with the X-Skip-Webhooks header (every write of
# Passerelle's) post nothing.
provision_webhooks() {
  step "redmine webhooks" "$LOG_DIR/redmine.log"
  ensure_redmine_webhook_secret
  local token
  token=$(jq -rn --arg s "$(<"$REDMINE_WEBHOOK_SECRET")" '$s | @uri') # hex: unchanged, but encode anyway
  api GET "/projects/$REDMINE_PROJECT/webhook_settings.json" "$ADMIN_API_KEY"
  if [[ $API_STATUS != 200 ]]; then
    rm -f "$RUN_DIR/redmine-plugins.migrated" # the next run migrates again
    die "the redmine_webhook plugin does not answer (GET /projects/$REDMINE_PROJECT/webhook_settings.json: HTTP $API_STATUS):
       is it installed in $WEBHOOK_PLUGIN_DIR and migrated? Run 'make stack' again (it migrates)." "$LOG_DIR/redmine.log"
  fi
  ensure_webhook "$REDMINE_PROJECT" "$DEMO_HOOK_URL?token=$token"
  ensure_webhook "$WEBHOOK_E2E_PROJECT" "$WEBHOOK_E2E_HOOK_URL?token=$token"
  log "redmine: webhooks: $REDMINE_PROJECT -> $DEMO_HOOK_URL (the demo), $WEBHOOK_E2E_PROJECT -> $WEBHOOK_E2E_HOOK_URL (e2e)"
}

# --- Kratos -----------------------------------------------------------------------------------------------

kratos_ready() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$KRATOS_ADMIN_URL/admin/health/ready") == 200 &&
    $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$KRATOS_PUBLIC_URL/health/ready") == 200 ]]
}

build_kratos() {
  step "kratos build" "$LOG_DIR/kratos-build.log"
  [[ -x $KRATOS_BIN ]] && ! pgrep -f -- "-o $KRATOS_BIN" >/dev/null && return 0
  mkdir -p "$CACHE_DIR" 2>/dev/null || run_as_root mkdir -p "$CACHE_DIR"
  if pgrep -f -- "-o $KRATOS_BIN" >/dev/null; then
    log "kratos: a build of $KRATOS_BIN is already running: waiting for it"
    while pgrep -f -- "-o $KRATOS_BIN" >/dev/null; do sleep 2; done
    [[ -x $KRATOS_BIN ]] && "$KRATOS_BIN" version >/dev/null 2>&1 && return 0
    log "kratos: that build left no usable binary"
  fi
  local go=go
  command -v go >/dev/null 2>&1 || go=/usr/local/go/bin/go
  command -v "$go" >/dev/null 2>&1 ||
    die "Kratos $KRATOS_VERSION must be built ($KRATOS_BIN missing) and Go is not installed.
       Install Go (https://go.dev/dl; Debian's golang is too old) or copy a built binary to $KRATOS_BIN."
  [[ -f $KRATOS_SRC/go.mod ]] || die "missing $KRATOS_SRC/go.mod (the module that builds Kratos)"
  log "kratos: building $KRATOS_VERSION into $KRATOS_BIN (go build -tags sqlite, about 2-4 minutes)"
  local tmp=$KRATOS_BIN.tmp.$$
  (cd "$KRATOS_SRC" && "$go" build -tags sqlite -o "$tmp" .) >>"$LOG_DIR/kratos-build.log" 2>&1 ||
    { rm -f "$tmp"; die "building Kratos failed" "$LOG_DIR/kratos-build.log"; }
  mv -f "$tmp" "$KRATOS_BIN"
  log "kratos: built"
}

ensure_kratos_secrets() {
  [[ -s $KRATOS_SECRETS ]] && return 0
  mkdir -p "$(dirname "$KRATOS_SECRETS")"
  (
    umask 077
    cat >"$KRATOS_SECRETS" <<EOF
# Generated once by scripts/stack.sh for this machine's dev stack (git-ignored). Delete to rotate.
secrets:
  default: ["$(openssl rand -hex 32)"]
  cookie: ["$(openssl rand -hex 32)"]
  cipher: ["$(openssl rand -hex 16)"]
EOF
  )
  log "kratos: secrets generated in ${KRATOS_SECRETS#"$REPO_ROOT"/}"
}

start_kratos() {
  step kratos "$LOG_DIR/kratos.log"
  ensure_kratos_secrets
  local cmd=(env DSN="$KRATOS_DSN" "$KRATOS_BIN" serve -c "$KRATOS_CONFIG" -c "$KRATOS_SECRETS"
    --dev --watch-courier --sqa-opt-out)
  local spec
  spec=$(spec_of "${cmd[*]}" "$KRATOS_CONFIG" "$KRATOS_SCHEMA" "$KRATOS_SECRETS")
  if service_current kratos "$spec" kratos_ready; then
    log "kratos: already running ($KRATOS_PUBLIC_URL, admin $KRATOS_ADMIN_URL)"
    return
  fi
  stop_service kratos
  build_kratos
  step kratos "$LOG_DIR/kratos.log"
  ensure_port_free kratos 4433
  ensure_port_free kratos 4434
  log "kratos: migrating database kratos"
  (cd "$REPO_ROOT" && clean_env DSN="$KRATOS_DSN" "$KRATOS_BIN" migrate sql -e --yes) >>"$LOG_DIR/kratos-migrate.log" 2>&1 ||
    die "kratos migrate sql failed" "$LOG_DIR/kratos-migrate.log"
  # Started from the repository root: kratos.yml names the identity schema relative to it.
  start_bg kratos "$KRATOS_BIN" "$spec" "$LOG_DIR/kratos.log" "$REPO_ROOT" "${cmd[@]}"
  wait_until kratos 60 "$LOG_DIR/kratos.log" kratos_ready
  log "kratos: up ($KRATOS_PUBLIC_URL, admin $KRATOS_ADMIN_URL, courier to 127.0.0.1:$SMTP_PORT)"
}

# --- .stack/env -------------------------------------------------------------------------------------------

# write_env NAME VALUE ...: writes .stack/env atomically.
write_env() {
  step "write .stack/env"
  local tmp=$STACK_DIR/env.tmp
  local name value
  {
    echo "# Written by scripts/stack.sh ($(date -Is)). Source it: . .stack/env"
    echo "# One export KEY='value' per line (no value holds a quote): simple parsers may strip the quotes."
    while (($#)); do
      name=$1 value=$2
      shift 2
      [[ -n $value && $value != *"'"* ]] || die "internal: bad value for $name: '$value'"
      printf "export %s='%s'\n" "$name" "$value"
    done
  } >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$STACK_DIR/env"
}

write_stack_env() {
  write_env \
      STACK_DIR "$STACK_DIR" \
      DATABASE_URL "$DATABASE_URL" \
      TEST_DATABASE_ADMIN_URL "$TEST_DATABASE_ADMIN_URL" \
      REDMINE_URL "$REDMINE_URL" \
      REDMINE_PROJECT "$REDMINE_PROJECT" \
      REDMINE_PROJECT_ID "$PROJECT_ID" \
      WEBHOOK_E2E_PROJECT "$WEBHOOK_E2E_PROJECT" \
      WEBHOOK_E2E_PROJECT_ID "$WEBHOOK_PROJECT_ID" \
      WEBHOOK_E2E_PORT "$WEBHOOK_E2E_PORT" \
      REDMINE_ADMIN_API_KEY "$ADMIN_API_KEY" \
      REDMINE_SYNC_API_KEY "$SYNC_API_KEY" \
      REDMINE_SYNC_USER_ID "$SYNC_USER_ID" \
      REDMINE_STAFF_API_KEY "$STAFF_API_KEY" \
      REDMINE_STAFF_USER_ID "$STAFF_USER_ID" \
      REDMINE_ACCOUNTING_API_KEY "$ACCOUNTING_API_KEY" \
      REDMINE_ACCOUNTING_USER_ID "$ACCOUNTING_USER_ID" \
      REDMINE_GROUP_GESTIONNAIRES_ID "$GROUP_GESTIONNAIRES_ID" \
      REDMINE_GROUP_COMPTABILITE_ID "$GROUP_COMPTABILITE_ID" \
      REDMINE_ROLE_SYNC_ID "$ROLE_SYNC_ID" \
      REDMINE_ROLE_MANAGER_ID "$ROLE_MANAGER_ID" \
      REDMINE_TRACKER_DOLEANCE_ID "$TRACKER_DOLEANCE_ID" \
      REDMINE_TRACKER_DEMANDE_ID "$TRACKER_DEMANDE_ID" \
      REDMINE_TRACKER_COORDONNEES_ID "$TRACKER_COORDONNEES_ID" \
      REDMINE_TRACKER_MANDAT_ID "$TRACKER_MANDAT_ID" \
      REDMINE_CF_REFERENCE_ID "$CF_REFERENCE_ID" \
      REDMINE_CF_MANDATE_ID "$CF_MANDATE_ID" \
      REDMINE_CF_DUE_ID "$CF_DUE_ID" \
      REDMINE_STATUS_NEW_ID "$STATUS_NEW_ID" \
      REDMINE_STATUS_IN_PROGRESS_ID "$STATUS_IN_PROGRESS_ID" \
      REDMINE_STATUS_RESOLVED_ID "$STATUS_RESOLVED_ID" \
      REDMINE_STATUS_FEEDBACK_ID "$STATUS_FEEDBACK_ID" \
      REDMINE_STATUS_CLOSED_ID "$STATUS_CLOSED_ID" \
      REDMINE_STATUS_REJECTED_ID "$STATUS_REJECTED_ID" \
      REDMINE_DEMO_PASSWORD "$REDMINE_DEMO_PASSWORD" \
      PASSERELLE_REDMINE_API_KEY "$SYNC_API_KEY" \
      KRATOS_PUBLIC_URL "$KRATOS_PUBLIC_URL" \
      KRATOS_ADMIN_URL "$KRATOS_ADMIN_URL" \
      KRATOS_DSN "$KRATOS_DSN" \
      SMTP_ADDR "127.0.0.1:$SMTP_PORT" \
      MAILDIR "$MAILDIR" \
      PASSERELLE_CONFIG "$STACK_DIR/passerelle.yaml"
}

run_stack_config() {
  local script=$REPO_ROOT/scripts/stack-config.sh
  [[ -x $script ]] || return 0
  step "scripts/stack-config.sh" "$LOG_DIR/stack-config.log"
  (cd "$REPO_ROOT" && "$script") >"$LOG_DIR/stack-config.log" 2>&1 ||
    die "scripts/stack-config.sh failed" "$LOG_DIR/stack-config.log"
  log "config: scripts/stack-config.sh wrote ${STACK_DIR#"$REPO_ROOT"/}/passerelle.yaml"
}

main() {
  mkdir -p "$PIDS_DIR" "$RUN_DIR" "$LOG_DIR"
  : >"$RUN_DIR/api-body" && chmod 600 "$RUN_DIR/api-body" # Redmine answers land there, API keys included
  exec 9>"$RUN_DIR/stack.lock"
  if ! flock -n 9; then
    log "stack: another 'make stack' or 'make stack-down' is running: waiting for it"
    flock -w 900 9 || die "the other 'make stack' or 'make stack-down' still runs after 15 minutes"
  fi
  log "stack: starting in ${STACK_DIR}"
  ensure_packages
  start_postgres
  start_smtp
  start_redmine   # boots in the background while Kratos starts
  start_kratos
  wait_redmine
  provision_redmine
  provision_webhooks
  write_stack_env
  run_stack_config
  step finished
  log "stack: ready — source .stack/env
    Redmine   $REDMINE_URL/projects/$REDMINE_PROJECT  (staff: gestionnaire / comptable, password $REDMINE_DEMO_PASSWORD)
    Kratos    public $KRATOS_PUBLIC_URL, admin $KRATOS_ADMIN_URL
    Postgres  $DATABASE_URL
    SMTP      127.0.0.1:$SMTP_PORT -> ${MAILDIR}/new"
}

main "$@"
