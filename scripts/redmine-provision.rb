# frozen_string_literal: true
#
# Redmine provisioning for the Passerelle stack: everything the REST API cannot do (settings, trackers,
# workflows, custom fields, roles, API keys). Run by scripts/stack.sh, from /usr/share/redmine:
#
#   RAILS_ENV=production bin/rails runner /path/to/scripts/redmine-provision.rb
#
# Idempotent: a rerun finds every object by name and changes nothing (it never overwrites a workflow an
# administrator has edited). It prints KEY=VALUE lines on stdout for the bash side, and "# ..." lines
# describing what it changed.
#
# What to create (statuses, trackers, custom fields, the sync role, the settings the product needs) comes from
# deploy/redmine-requirements.json, the one list of what Redmine must contain; only the stack's own settings
# (host_name, protocol) are written here.
require 'json'

REQUIREMENTS = JSON.parse(File.read(File.expand_path('../deploy/redmine-requirements.json', __dir__)))

changes = []
out = {}

def fail!(message)
  warn "redmine-provision: #{message}"
  exit 1
end

# --- Settings -------------------------------------------------------------------------------------------
# The product's (rest_api_enabled: the sync talks REST; issue_group_assignment: requests are assigned to groups),
# then the stack's: links in Redmine's own e-mails and API URLs.
REQUIREMENTS.fetch('settings').merge(
  'host_name' => '127.0.0.1:3000',
  'protocol' => 'http'
).each do |name, value|
  next if Setting.send(name).to_s == value

  Setting.send("#{name}=", value)
  changes << "setting #{name}=#{value}"
end

admin = User.find_by_login('admin') || User.where(admin: true, status: User::STATUS_ACTIVE).order(:id).first
fail!('no active administrator in this Redmine') unless admin
out['ADMIN_API_KEY'] = admin.api_key # creates the key when missing
out['ADMIN_USER_ID'] = admin.id

# --- Statuses (Redmine's defaults are kept) -------------------------------------------------------------
statuses = REQUIREMENTS.fetch('statuses').to_h { |s| [s.fetch('key'), s.fetch('name')] }.transform_values do |name|
  IssueStatus.find_by(name: name) || fail!("issue status #{name.inspect} is missing (default data not loaded?)")
end
statuses.each { |key, status| out["STATUS_#{key}_ID"] = status.id }

# --- Trackers -------------------------------------------------------------------------------------------
tracker_specs = REQUIREMENTS.fetch('trackers').to_h do |t|
  [t.fetch('key'), [t.fetch('name'), t.fetch('description')]]
end
trackers = tracker_specs.to_h do |key, (name, description)|
  tracker = Tracker.find_by(name: name)
  unless tracker
    tracker = Tracker.create!(name: name, description: description, default_status: statuses['NEW'],
                              is_in_roadmap: false)
    changes << "tracker #{name}"
  end
  out["TRACKER_#{key}_ID"] = tracker.id
  [key, tracker]
end

# --- Roles ----------------------------------------------------------------------------------------------
manager = Role.find_by(name: 'Manager') || fail!('role Manager is missing (default data not loaded?)')
out['ROLE_MANAGER_ID'] = manager.id
Role.where(name: REQUIREMENTS.fetch('roles').fetch('assignable')).each do |role|
  next if role.assignable?

  role.update!(assignable: true)
  changes << "role #{role.name} assignable"
end

# The sync user's role: enough to mirror requests, never to read private notes. It may write them
# (set_notes_private): the overdue watcher's escalation note is private; Redmine still shows a user
# their own private notes, which lets a retried escalation find the note it already wrote.
sync_spec = REQUIREMENTS.fetch('roles').fetch('sync')
sync_permissions = sync_spec.fetch('permissions').map(&:to_sym)
sync_role = Role.find_or_initialize_by(name: sync_spec.fetch('name'))
was_new = sync_role.new_record?
sync_role.assignable = false
sync_role.issues_visibility = 'all' # it must keep following an issue a staff member made private
sync_role.users_visibility = 'all'
if was_new || sync_role.changed? || sync_role.permissions.sort != sync_permissions.sort
  sync_role.permissions = sync_permissions
  sync_role.save!
  changes << (was_new ? "role #{sync_role.name}" : "role #{sync_role.name} updated")
end
sync_spec.fetch('forbidden').map(&:to_sym).each do |perm|
  fail!("role #{sync_role.name} must not have #{perm}") if sync_role.has_permission?(perm)
end
out['ROLE_SYNC_ID'] = sync_role.id

# --- Workflows ------------------------------------------------------------------------------------------
# A new tracker has no workflow: status changes (also through the API) are silently refused. Copy the
# workflow of Bug, role by role, to every tracker/role pair that has none yet. The sync role copies Manager's.
bug = Tracker.find_by(name: 'Bug') || fail!('tracker Bug is missing: nothing to copy workflows from')
new_tracker_ids = trackers.values.map(&:id)
Role.sorted.to_a.each do |role|
  Tracker.sorted.to_a.each do |tracker|
    is_new_tracker = new_tracker_ids.include?(tracker.id)
    next unless is_new_tracker || role == sync_role
    next if WorkflowRule.where(tracker_id: tracker.id, role_id: role.id).exists?

    source_role = role == sync_role ? manager : role
    source_tracker = is_new_tracker ? bug : tracker
    next unless WorkflowTransition.where(tracker_id: source_tracker.id, role_id: source_role.id).exists?

    WorkflowRule.copy_one(source_tracker, source_role, tracker, role)
    changes << "workflow #{tracker.name}/#{role.name} (from #{source_tracker.name}/#{source_role.name})"
  end
end
trackers.each_value do |tracker|
  [manager, sync_role].each do |role|
    unless WorkflowTransition.where(tracker_id: tracker.id, role_id: role.id).exists?
      fail!("no workflow for tracker #{tracker.name} / role #{role.name}")
    end
  end
end

# --- Issue custom fields (all projects, the 4 trackers) -------------------------------------------------
cf_specs = REQUIREMENTS.fetch('custom_fields').to_h do |f|
  [f.fetch('key'), [f.fetch('name'), { searchable: f.fetch('searchable'), is_filter: f.fetch('is_filter') }, f.fetch('format')]]
end
cf_specs.each do |key, (name, flags, format)|
  cf = IssueCustomField.find_or_initialize_by(name: name)
  was_new = cf.new_record?
  cf.field_format = format if was_new
  cf.assign_attributes(flags.merge(is_for_all: true, visible: true, editable: true, is_required: false))
  cf.tracker_ids = new_tracker_ids if was_new
  if was_new || cf.changed?
    cf.save!
    changes << (was_new ? "custom field #{name}" : "custom field #{name} updated")
  end
  missing = new_tracker_ids - cf.tracker_ids
  unless missing.empty?
    cf.tracker_ids = cf.tracker_ids | new_tracker_ids
    cf.save!
    changes << "custom field #{name} trackers"
  end
  out["CF_#{key}_ID"] = cf.id
end

changes.each { |c| puts "# changed: #{c}" }
puts "# unchanged" if changes.empty?
out.each { |k, v| puts "#{k}=#{v}" }
