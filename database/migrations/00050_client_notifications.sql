-- Mails to clients about their requests (issue 13, notify/clientnotify). Every
-- client-visible event is a message of the thread; the notification sweep
-- reads the messages not yet looked at (notified_at IS NULL), makes one row
-- per event and recipient, and enqueues the mail in the same transaction.

-- +goose Up
ALTER TABLE messages ADD COLUMN notified_at timestamptz;
-- What was there before this version is history: nobody is mailed about it.
UPDATE messages SET notified_at = created_at;
CREATE INDEX messages_to_notify_idx ON messages (created_at, id) WHERE notified_at IS NULL;

CREATE TABLE client_notifications (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id   uuid        NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    request_id   uuid        NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    identity_id  text        NOT NULL,
    email        text        NOT NULL,
    -- received, transmitted, answer, status, closed.
    event        text        NOT NULL CHECK (event IN ('received', 'transmitted', 'answer', 'status', 'closed')),
    -- immediate: its own mail; daily: in the next digest.
    mode         text        NOT NULL CHECK (mode IN ('immediate', 'daily')),
    -- pending → sent, failed (refused for good, or given up), skipped (the
    -- identity is gone or deactivated, or chose no mail).
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    -- One mail per event and recipient, whatever the replicas and restarts.
    UNIQUE (message_id, identity_id)
);
CREATE INDEX client_notifications_pending_idx ON client_notifications (mode, identity_id, created_at) WHERE status = 'pending';
CREATE INDEX client_notifications_failed_idx ON client_notifications (created_at DESC) WHERE status = 'failed';

-- +goose Down
DROP TABLE client_notifications;
DROP INDEX messages_to_notify_idx;
ALTER TABLE messages DROP COLUMN notified_at;
