#!/usr/bin/env bash
# shellcheck disable=SC2317 # the replacement functions below are called by the sourced start_* functions
# scripts/stack-specs.sh [REPO_ROOT] — would `make stack` restart anything? Starts, stops and changes nothing
# (start_smtp's `mkdir -p` of .stack/maildir is the only write, and a no-op on a running stack).
#   For each background service (smtp, redmine, kratos) it computes the spec (fingerprint of the command line
#   and the files read at start, scripts/stack/lib.sh's spec_of) exactly as scripts/stack.sh would, and compares
#   it with the one the running service was started with (.stack/run/NAME.spec). Run it after changing the
#   stack's scripts: "restart" next to a service you did not mean to change means the change is not a pure move.
#   REPO_ROOT (default: this checkout) is the checkout whose paths the specs name: the specs contain absolute
#   paths, so a stack started from another checkout (e.g. the main one) is "current" only for that path.
# Exit status: 0 when every running service is current, 1 otherwise.
set -Eeuo pipefail
export LC_ALL=C

STACK_LIB=$(dirname "${BASH_SOURCE[0]}")/stack
root=
if (($#)); then
  root=$(cd "$1" && pwd)
  STACK_DIR=${STACK_DIR:-$root/.stack}
fi
# shellcheck source=scripts/stack/common.sh
source "$STACK_LIB/common.sh"
[[ -z $root ]] || REPO_ROOT=$root
# shellcheck source=scripts/stack/lib.sh
source "$STACK_LIB/lib.sh"
for f in packages postgres smtp redmine webhook-plugin kratos; do
  # shellcheck disable=SC1090
  source "$STACK_LIB/$f.sh"
done

status=0
log() { :; }
# Replaces the real service_current: report instead of deciding.
service_current() {
  local name=$1 spec=$2 recorded
  recorded=$(cat "$RUN_DIR/$name.spec" 2>/dev/null || echo none)
  if [[ $spec == "$recorded" ]] && pid_of "$name" >/dev/null; then
    printf '%-8s current   %s\n' "$name" "$spec"
  else
    printf '%-8s RESTART   %s (running: %s%s)\n' "$name" "$spec" "$recorded" \
      "$(pid_of "$name" >/dev/null || echo ', not running')"
    status=1
  fi
  return 0
}
# What start_redmine would change before computing its spec: only reported.
ensure_redmine_local_config() { :; }
install_redmine_plugins() {
  if [[ ! -d $WEBHOOK_PLUGIN_DIR || $(tree_digest "$WEBHOOK_PLUGIN_SRC") != "$(tree_digest "$WEBHOOK_PLUGIN_DIR")" ]]; then
    printf '%-8s RESTART   the vendored plugin differs from %s (it would be copied)\n' redmine "$WEBHOOK_PLUGIN_DIR"
    status=1
  fi
}
ensure_kratos_secrets() { :; }

start_smtp
start_redmine
start_kratos
exit "$status"
