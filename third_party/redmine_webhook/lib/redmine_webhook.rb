# Local change (Passerelle, see VENDORED.md): under Zeitwerk (Redmine 5) these files are autoloaded, and
# this file is eager-loaded with lib/redmine_webhook not on $LOAD_PATH: require only without Zeitwerk.
unless Rails.try(:autoloaders).try(:zeitwerk_enabled?)
  require 'redmine_webhook/projects_helper_patch'
  require 'redmine_webhook/issue_wrapper'
  require 'redmine_webhook/webhook_listener'
end

module RedmineWebhook
end
