module RedmineWebhook
  class WebhookListener < Redmine::Hook::Listener

    def skip_webhooks(context)
      request = context[:request]
      if request.headers['X-Skip-Webhooks']
        return true
      end
      return false
    end

    def controller_issues_new_after_save(context = {})
      return if skip_webhooks(context)
      issue = context[:issue]
      controller = context[:controller]
      project = issue.project
      webhooks = Webhook.where(:project_id => project.project.id)
      return unless webhooks
      post(webhooks, issue_to_json(issue, controller))
    end

    def controller_issues_edit_after_save(context = {})
      return if skip_webhooks(context)
      journal = context[:journal]
      controller = context[:controller]
      issue = context[:issue]
      project = issue.project
      webhooks = Webhook.where(:project_id => project.project.id)
      return unless webhooks
      post(webhooks, journal_to_json(issue, journal, controller))
    end

    private
    def issue_to_json(issue, controller)
      {
        :payload => {
          :action => 'opened',
          :issue => RedmineWebhook::IssueWrapper.new(issue).to_hash,
          :url => controller.issue_url(issue)
        }
      }.to_json
    end

    def journal_to_json(issue, journal, controller)
      {
        :payload => {
          :action => 'updated',
          :issue => RedmineWebhook::IssueWrapper.new(issue).to_hash,
          :journal => RedmineWebhook::JournalWrapper.new(journal).to_hash,
          :url => controller.issue_url(issue)
        }
      }.to_json
    end

    # Local change (Passerelle, see VENDORED.md): the URLs are read here, in the request's thread (whose
    # database connection Rails gives back), and each post has timeouts. Upstream, the posting thread ran the
    # query itself and kept its connection for as long as the post took, with Net::HTTP's 60 s timeouts: a
    # target that accepted connections without answering exhausted the pool (5) after 5 saves, and Redmine
    # then answered every request with a 500 (ActiveRecord::ConnectionTimeoutError) for a minute.
    def post(webhooks, request_body)
      urls = webhooks.map(&:url)
      return if urls.empty?
      Thread.start do
        urls.each do |url|
          begin
            Faraday.post do |req|
              req.url url
              req.headers['Content-Type'] = 'application/json'
              req.body = request_body
              req.options.open_timeout = 2
              req.options.timeout = 5
            end
          rescue => e
            Rails.logger.error e
          end
        end
      end
    end
  end
end
