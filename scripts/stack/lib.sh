# shellcheck shell=bash disable=SC2034 # settings are used by other files
# Helpers of scripts/stack.sh used by every component file (sourced, not run): the error trap's step and log,
# ports, the clean environment, and how a background service is fingerprinted (spec_of), found current
# (service_current), started (start_bg) and waited for (wait_until).
# IDEMPOTENCE: spec_of's text (CLEAN_ENV, then each service's command line and files) decides whether a running
# service is restarted: changing CLEAN_ENV or spec_of restarts every service on the next run.

CURRENT_STEP=start
CURRENT_LOG=

# on_error STATUS LINE COMMAND FILE: the ERR trap (set in scripts/stack.sh).
on_error() {
  local status=$1 line=$2 cmd=$3 file=${4:-scripts/stack.sh}
  printf '\nstack: ERROR during "%s": command failed (exit %s) at %s:%s: %s\n' \
    "$CURRENT_STEP" "$status" "${file#"$REPO_ROOT"/}" "$line" "$cmd" >&2
  show_log "$CURRENT_LOG"
  exit 1
}

step() {
  CURRENT_STEP=$1
  CURRENT_LOG=${2-}
}

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
  # Seen once is enough: while env execs the daemon, /proc/PID/cmdline reads empty for a moment, and a second
  # check right after the first (as this did) once caught that moment and gave up on a daemon that went on
  # running (CI: "smtp did not start" with the catcher alive; "redmine did not start", then the error trap
  # SIGTERMed a Redmine that was loading). Gone means gone for half a second.
  local gone=0 seen=0
  for ((i = 0; i < 300; i++)); do
    if pid_of "$name" >/dev/null; then seen=1; break; fi
    if alive "$pid"; then gone=0; else gone=$((gone + 1)); ((gone >= 5)) && break; fi
    sleep 0.1
  done
  ((seen)) || die "$name did not start: $*" "$logfile"
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
