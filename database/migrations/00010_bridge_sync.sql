-- The bridge's own bookkeeping for Redmine → customer space.

-- +goose Up
-- The updated_on of each mirrored issue as last applied: a poll overlap
-- re-lists an issue but fetches it again only when Redmine changed it since.
CREATE TABLE issue_sync_state (
    issue_id   integer     PRIMARY KEY,
    updated_on timestamptz NOT NULL,
    synced_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE issue_sync_state;
