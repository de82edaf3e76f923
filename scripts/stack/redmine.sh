# shellcheck shell=bash disable=SC2016,SC2034 # jq filters are single-quoted on purpose; settings are used by other files
# Component of scripts/stack.sh (sourced): Redmine 5.0.4 (Debian's package, SQLite) on WEBrick, 127.0.0.1:3000.
# start_redmine writes the local settings and installs the webhook plugin (webhook-plugin.sh) before it
# (re)starts Redmine, then returns while Redmine boots; wait_redmine waits for it.

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
