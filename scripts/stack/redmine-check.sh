# shellcheck shell=bash disable=SC2016,SC2034 # jq filters are single-quoted on purpose; settings are used by other files
# Component of scripts/stack.sh (sourced): the end-to-end check of Redmine run after each provisioning.

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
  note "parent (tracker MANDAT) created by the sync user: #$parent"

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
  note "child (tracker DOLEANCE) created by the sync user: #$child"

  api_ok GET "/issues/$child.json?include=attachments" "$SYNC_API_KEY" 200
  [[ $(json_of .issue.assigned_to.id) == "$GROUP_COMPTABILITE_ID" ]] ||
    failures+=("assigned_to dropped (got $(json_of -c .issue.assigned_to))")
  [[ $(json_of .issue.parent.id) == "$parent" ]] || failures+=("parent dropped (got $(json_of -c .issue.parent))")
  [[ $(json_of --argjson cf "$CF_REFERENCE_ID" '.issue.custom_fields[] | select(.id == $cf) | .value') == TEST-STACK-CHECK ]] ||
    failures+=("custom field $(req '.custom_fields[] | select(.key == "REFERENCE") | .name') dropped")
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
