# shellcheck shell=bash disable=SC2016,SC2034 # jq filters are single-quoted on purpose; settings are used by other files
# Component of scripts/stack.sh (sourced): the vendored redmine_webhook plugin (third_party/redmine_webhook)
# installed into Debian's Redmine and migrated (install_redmine_plugins, called by start_redmine), its secret
# (.stack/redmine-webhook.secret) and the projects' Webhook rows (provision_webhooks).

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
