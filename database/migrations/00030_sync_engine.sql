-- The sync engine keeps its promises (issue 8): client actions applied in
-- order from the messages table itself, journals remembered once applied, and
-- issues that keep failing retried on their own and reported.

-- +goose Up

-- A follow-up written on a closed request reopens it: the drain that applies a
-- request's actions in order reads it here rather than from a job's arguments
-- (a resync re-enqueues the request, not each message).
ALTER TABLE messages ADD COLUMN reopens boolean NOT NULL DEFAULT false;

-- The client's actions not in Redmine yet, oldest first, per request.
CREATE INDEX messages_pending_actions_idx ON messages (request_id, created_at, id)
    WHERE mirrored_at IS NULL AND (author_kind = 'client' OR kind = 'closed');

-- Every staff journal the poller has applied, whatever it brought: a status
-- journal that changed nothing when first seen (the client had already closed)
-- must not be replayed later as a backdated status event.
CREATE TABLE applied_journals (
    journal_id integer     PRIMARY KEY,
    issue_id   integer     NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- An issue the poller could not apply: the cursor moves past it, a
-- refresh_issue job retries it on its own, and `check --live` reports it.
ALTER TABLE issue_sync_state
    ADD COLUMN failures      integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error    text        NOT NULL DEFAULT '',
    ADD COLUMN failing_since timestamptz;
-- updated_on is NULL for an issue known only as failing (never applied).
ALTER TABLE issue_sync_state ALTER COLUMN updated_on DROP NOT NULL;

-- When the mirroring of a request stopped (a permanent error, or the retry
-- budget spent): shown by `check --live`, cleared by `resync`.
ALTER TABLE requests ADD COLUMN mirror_error_at timestamptz;

-- +goose Down
ALTER TABLE requests DROP COLUMN mirror_error_at;
DELETE FROM issue_sync_state WHERE updated_on IS NULL;
ALTER TABLE issue_sync_state ALTER COLUMN updated_on SET NOT NULL;
ALTER TABLE issue_sync_state DROP COLUMN failing_since, DROP COLUMN last_error, DROP COLUMN failures;
DROP TABLE applied_journals;
DROP INDEX messages_pending_actions_idx;
ALTER TABLE messages DROP COLUMN reopens;
