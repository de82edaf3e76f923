# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this file
# Shared by scripts/stack.sh (and its component files in scripts/stack/) and scripts/stack-down.sh
# (sourced, not run).
#
# Every background service started by the stack has a pid file .stack/pids/NAME.pid holding "PID MARKER":
# the process is ours only while /proc/PID/cmdline still contains MARKER (guards against pid reuse).
# Each one runs in its own session (setsid), so stopping it stops its process group and nothing else.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_DIR=${STACK_DIR:-$REPO_ROOT/.stack}
PIDS_DIR=$STACK_DIR/pids
RUN_DIR=$STACK_DIR/run
LOG_DIR=$STACK_DIR/logs

PG_VERSION=15
PG_CLUSTER=main
PG_STARTED_MARK=$PIDS_DIR/postgresql.started   # exists only when this stack started the cluster

_stack_t0=${EPOCHREALTIME/[.,]/}

# log MESSAGE: a progress line with the time since the script started.
log() {
  local now=${EPOCHREALTIME/[.,]/}
  printf '[%6.1fs] %s\n' "$(((now - _stack_t0) / 100000))e-1" "$*"
}

warn() { printf '[ warn  ] %s\n' "$*" >&2; }

# show_log FILE: the end of a component's log on stderr (longer under CI=true).
show_log() {
  [[ -n ${1-} && -s ${1-} ]] || return 0
  local lines=40
  [[ ${CI:-} == true ]] && lines=200
  printf -- '--- last %s lines of %s ---\n' "$lines" "$1" >&2
  tail -n "$lines" "$1" >&2
  printf -- '---\n' >&2
}

# die MESSAGE [LOGFILE]: print a clear error (and the end of LOGFILE), exit non-zero.
die() {
  printf '\nstack: ERROR: %s\n' "$1" >&2
  show_log "${2-}"
  exit 1
}

# run_as_root CMD...: root commands (package install, PostgreSQL cluster) also work from a sudoer.
# fd 9 (the stack lock) is closed: a daemon started by CMD (postgres, a package's postinst) must not keep it.
run_as_root() {
  if ((EUID == 0)); then
    "$@" 9>&-
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@" 9>&-
  else
    die "'$*' needs root (run as root or install sudo)"
  fi
}

# pid_of NAME: prints the pid recorded for NAME if that process is still the one we started.
pid_of() {
  local file=$PIDS_DIR/$1.pid pid marker cmdline
  [[ -s $file ]] || return 1
  read -r pid marker <"$file" || true
  [[ $pid =~ ^[0-9]+$ && -n $marker && -r /proc/$pid/cmdline ]] || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"$marker"* ]] || return 1
  printf '%s\n' "$pid"
}

# alive PID: the process exists and is not a zombie (PID 1 here may reap its adopted children late).
alive() {
  local stat
  stat=$(cat 2>/dev/null "/proc/$1/stat") || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# stop_service NAME: stops the process group recorded in NAME's pid file (TERM, then KILL after 20 s).
stop_service() {
  local name=$1 pid i
  if ! pid=$(pid_of "$name"); then
    rm -f "$PIDS_DIR/$name.pid"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || break
    sleep 0.2
  done
  if alive "$pid"; then
    warn "$name (pid $pid) ignored SIGTERM for 20 s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$PIDS_DIR/$name.pid"
  log "$name: stopped (pid $pid)"
}
