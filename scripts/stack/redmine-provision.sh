# shellcheck shell=bash disable=SC2016,SC2034 # jq filters are single-quoted on purpose; settings are used by other files
# Component of scripts/stack.sh (sourced): Redmine's provisioning. scripts/redmine-provision.rb (rails runner:
# settings, trackers, workflows, custom fields, roles) then REST calls with the admin key (projects, users,
# groups, memberships), the end-to-end check (redmine-check.sh), and .stack/redmine.env, which lets the next run
# skip all of it while the stamp of these scripts and the keys are still valid.

# What Redmine must contain (trackers, custom fields, statuses, the sync role): the one list, also read by
# scripts/redmine-provision.rb, scripts/stack-config.sh and cmd/passerelle's tests. Read with jq, so only once
# the packages are installed (never while sourcing).
REQUIREMENTS=$REPO_ROOT/deploy/redmine-requirements.json

# req JQ_ARGS...: jq -r on the requirements.
req() { jq -r "$@" "$REQUIREMENTS"; }

# requirement_vars: the variables the provisioning sets for the list, in its order: TRACKER_<key>_ID...,
# CF_<key>_ID..., STATUS_<key>_ID... (.stack/redmine.env, and .stack/env with REDMINE_ before each).
requirement_vars() {
  req '(.trackers[] | "TRACKER_\(.key)_ID"), (.custom_fields[] | "CF_\(.key)_ID"), (.statuses[] | "STATUS_\(.key)_ID")'
}

# ids_of PREFIX SECTION: the JSON array of the ids learned for SECTION (trackers, custom_fields).
ids_of() {
  local prefix=$1 section=$2 keys key var ids=()
  keys=$(req ".${section}[].key") # not in the for list: a failure there would not stop the script
  for key in $keys; do
    var=${prefix}_${key}_ID
    ids+=("${!var}")
  done
  local IFS=,
  printf '[%s]\n' "${ids[*]}"
}

# The files whose change makes the next run provision again (before the split into scripts/stack/, the stamp
# covered redmine-provision.rb and the whole of stack.sh: the first run after the split provisions once more,
# which restarts nothing and changes nothing in an up-to-date Redmine).
PROVISION_FILES=("$REPO_ROOT/scripts/redmine-provision.rb" "$REQUIREMENTS" "$REPO_ROOT/scripts/stack/redmine-provision.sh"
  "$REPO_ROOT/scripts/stack/redmine-check.sh")
provision_stamp() { sha_of "${PROVISION_FILES[@]}"; }

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
  tracker_ids=$(ids_of TRACKER trackers) # every tracker and custom field of deploy/redmine-requirements.json
  cf_ids=$(ids_of CF custom_fields)
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
  local var tmp=$REDMINE_STATE.tmp listed
  listed=$(requirement_vars) # not in the for list: a failure there would not stop the script
  {
    echo "# Written by scripts/stack.sh: what the Redmine provisioning learned. Not a public interface:"
    echo "# use .stack/env."
    # shellcheck disable=SC2086 # $listed: variable names, one a line
    for var in ADMIN_API_KEY ADMIN_USER_ID PROJECT_ID WEBHOOK_PROJECT_ID SYNC_USER_ID SYNC_API_KEY STAFF_USER_ID STAFF_API_KEY \
      ACCOUNTING_USER_ID ACCOUNTING_API_KEY GROUP_GESTIONNAIRES_ID GROUP_COMPTABILITE_ID ROLE_SYNC_ID \
      ROLE_MANAGER_ID $listed; do
      [[ -n ${!var:-} ]] || die "internal: $var is empty after provisioning"
      printf '%s=%q\n' "$var" "${!var}"
    done
    printf 'PROVISION_STAMP=%s\n' "$(provision_stamp)"
  } >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$REDMINE_STATE"
}
