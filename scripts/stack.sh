#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq filters are single-quoted on purpose
# make stack — start Passerelle's real dev/test stack on 127.0.0.1, idempotently:
#   PostgreSQL 15 (:5432), Redmine 5.0.4 on WEBrick (:3000), Ory Kratos v1.3.1 (:4433 public, :4434 admin),
#   an SMTP catcher (aiosmtpd, :1025, one file per message in .stack/maildir); for the browser tests, Debian's
#   Chromium and axe-core (npm ci into tools/browser/node_modules).
# Installs what is missing (Debian 12 packages, Kratos built once into $PASSERELLE_CACHE), provisions Redmine
# and writes .stack/env (export lines for tests and tools). A rerun with everything up takes a few seconds.
# Stop with `make stack-down` (it stops only what this script started).
#
# One file per component under scripts/stack/ (sourced below; each starts with what it does): common.sh
# (shared with stack-down.sh), lib.sh (the helpers), packages.sh, browser.sh, postgres.sh, smtp.sh, redmine.sh,
# webhook-plugin.sh, redmine-provision.sh, redmine-check.sh, kratos.sh, env.sh. This file is the order.
#
# Environment: PASSERELLE_CACHE (default /var/cache/passerelle), STACK_DIR (default <repo>/.stack),
#   STACK_REPROVISION=1 to re-run the Redmine provisioning and its end-to-end check even if nothing changed,
#   CI=true: any failure already stops with a clear message and a non-zero status; under CI the end of the
#   failing component's log printed with it is longer (200 lines instead of 40).
set -Eeuo pipefail
export LC_ALL=C
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost # every call below is to loopback

STACK_LIB=$(dirname "${BASH_SOURCE[0]}")/stack
# shellcheck source=scripts/stack/common.sh
source "$STACK_LIB/common.sh"
# shellcheck source=scripts/stack/lib.sh
source "$STACK_LIB/lib.sh"
trap 'on_error $? $LINENO "$BASH_COMMAND" "${BASH_SOURCE[0]-}"' ERR
# Sourcing only defines settings and functions (main runs them). Order matters for the settings built from
# others: common.sh's REPO_ROOT and STACK_DIR, redmine.sh's REDMINE_DIR (webhook-plugin.sh uses it).
# shellcheck source=scripts/stack/packages.sh
source "$STACK_LIB/packages.sh"
# shellcheck source=scripts/stack/browser.sh
source "$STACK_LIB/browser.sh"
# shellcheck source=scripts/stack/postgres.sh
source "$STACK_LIB/postgres.sh"
# shellcheck source=scripts/stack/smtp.sh
source "$STACK_LIB/smtp.sh"
# shellcheck source=scripts/stack/redmine.sh
source "$STACK_LIB/redmine.sh"
# shellcheck source=scripts/stack/webhook-plugin.sh
source "$STACK_LIB/webhook-plugin.sh"
# shellcheck source=scripts/stack/redmine-provision.sh
source "$STACK_LIB/redmine-provision.sh"
# shellcheck source=scripts/stack/redmine-check.sh
source "$STACK_LIB/redmine-check.sh"
# shellcheck source=scripts/stack/kratos.sh
source "$STACK_LIB/kratos.sh"
# shellcheck source=scripts/stack/env.sh
source "$STACK_LIB/env.sh"

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
  ensure_browser_tools
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
