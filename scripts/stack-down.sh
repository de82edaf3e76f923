#!/usr/bin/env bash
# make stack-down — stop what scripts/stack.sh started, and nothing else:
#   the processes recorded in .stack/pids/*.pid (each checked against its command line, then stopped with
#   its process group), and the PostgreSQL cluster only if stack.sh started it (.stack/pids/postgresql.started).
# Data is kept (.stack/, Redmine's SQLite database, the PostgreSQL cluster's files).
# With names (kratos, smtp, redmine, postgres), only those stop: the end-to-end suite stops one component
# and `make stack` (idempotent) starts it again.
set -Eeuo pipefail
export LC_ALL=C

# shellcheck source=scripts/stack/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/common.sh"

trap 'printf "\nstack-down: ERROR: command failed (exit %s) at scripts/stack-down.sh:%s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2; exit 1' ERR

if [[ ! -d $PIDS_DIR ]]; then
  log "stack-down: nothing to stop (no $PIDS_DIR)"
  exit 0
fi
mkdir -p "$RUN_DIR"
exec 9>"$RUN_DIR/stack.lock"
if ! flock -n 9; then
  log "stack-down: waiting for a running 'make stack' to finish"
  flock -w 300 9 || die "another 'make stack' or 'make stack-down' still runs after 5 minutes"
fi

only=("$@")
for name in "${only[@]}"; do
  [[ $name =~ ^(kratos|smtp|redmine|postgres)$ ]] || die "stack-down: unknown component '$name' (expected kratos, smtp, redmine or postgres)"
done
wanted() { ((${#only[@]} == 0)) || [[ " ${only[*]} " == *" $1 "* ]]; }

stopped=0
# Kratos first (its courier writes to the SMTP catcher), then the SMTP catcher and Redmine, then any pid file
# a later version of stack.sh may have written; PostgreSQL last (Kratos' database).
names=(kratos smtp redmine)
for file in "$PIDS_DIR"/*.pid; do
  [[ -e $file ]] || continue
  name=$(basename "$file" .pid)
  [[ " ${names[*]} " == *" $name "* ]] || names+=("$name")
done
for name in "${names[@]}"; do
  wanted "$name" || continue
  if pid_of "$name" >/dev/null; then
    stop_service "$name"
    stopped=$((stopped + 1))
  elif [[ -e $PIDS_DIR/$name.pid ]]; then
    log "$name: not running (stale pid file removed)"
    rm -f "$PIDS_DIR/$name.pid"
  fi
done
wanted redmine && rm -f "$RUN_DIR/redmine-server.pid" # Rails' own pid file (-P); WEBrick removes it on a clean stop anyway

if ! wanted postgres; then
  :
elif [[ -f $PG_STARTED_MARK ]]; then
  read -r version cluster <"$PG_STARTED_MARK"
  if pg_lsclusters -h 2>/dev/null | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c && $4 ~ /^online/ {f=1} END {exit !f}'; then
    run_as_root pg_ctlcluster "$version" "$cluster" stop
    log "postgres: cluster $version/$cluster stopped"
    stopped=$((stopped + 1))
  fi
  rm -f "$PG_STARTED_MARK"
else
  log "postgres: not started by the stack: left as it is"
fi
log "stack-down: done ($stopped stopped)"
