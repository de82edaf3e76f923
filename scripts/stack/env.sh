# shellcheck shell=bash disable=SC2034 # settings are used by other files
# Component of scripts/stack.sh (sourced): .stack/env (export lines for tests and tools), then
# scripts/stack-config.sh, which writes .stack/passerelle.yaml from it.


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
  # REDMINE_TRACKER_<key>_ID, REDMINE_CF_<key>_ID, REDMINE_STATUS_<key>_ID: deploy/redmine-requirements.json's list.
  local var vars listed=()
  vars=$(requirement_vars) # not in the for list: a failure there would not stop the script
  for var in $vars; do
    listed+=("REDMINE_$var" "${!var}")
  done
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
      "${listed[@]}" \
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
