# Local change (Passerelle, see VENDORED.md): Redmine 5 loads plugins with Zeitwerk and puts a plugin's lib/
# on the autoload paths, not on $LOAD_PATH, so `require 'redmine_webhook'` raised LoadError and Redmine did
# not boot. Referencing the constants autoloads them (the listener registers itself when its class loads).
if Rails.try(:autoloaders).try(:zeitwerk_enabled?)
  RedmineWebhook::ProjectsHelperPatch
  RedmineWebhook::WebhookListener
else
  require 'redmine_webhook'
end

Redmine::Plugin.register :redmine_webhook do
  name 'Redmine Webhook plugin'
  author 'suer'
  description 'A Redmine plugin posts webhook on creating and updating tickets'
  version '0.0.5'
  url 'https://github.com/suer/redmine_webhook'
  author_url 'http://d.hatena.ne.jp/suer'
  permission :manage_hook, {:webhook_settings => [:index, :show, :update, :create, :destroy]}, :require => :member
end
