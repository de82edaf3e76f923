-- Passerelle's initial schema: the customer space (requests, messages,
-- attachments) and the bridge's bookkeeping (poll cursor, webhook deliveries).

-- +goose Up

-- One counter per year gives references D-2026-000123, never reused: a
-- rolled-back transaction gives its number back with the row lock.
CREATE TABLE reference_counters (
    year       integer PRIMARY KEY,
    last_value bigint  NOT NULL
);

CREATE TABLE requests (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    reference        text        NOT NULL UNIQUE,
    identity_id      uuid        NOT NULL,            -- Kratos identity of the author
    author_role      text        NOT NULL CHECK (author_role IN ('tenant', 'owner')),
    author_name      text        NOT NULL,
    author_email     text        NOT NULL,
    category         text        NOT NULL,
    subject          text        NOT NULL,
    location         text        NOT NULL DEFAULT '',
    urgency          text        NOT NULL DEFAULT '',
    payer            text        NOT NULL DEFAULT '',
    lot              text        NOT NULL DEFAULT '',
    mandate          text        NOT NULL DEFAULT '',
    status           text        NOT NULL DEFAULT 'new'
                     CHECK (status IN ('new', 'in_progress', 'waiting_client', 'closed')),
    redmine_status   text        NOT NULL DEFAULT '',
    redmine_issue_id integer     UNIQUE,
    -- Why the last mirroring attempt failed for good (shown to staff, never to clients).
    mirror_error     text        NOT NULL DEFAULT '',
    -- Set when the request went to Redmine without its mandate ticket parent.
    needs_attention  text        NOT NULL DEFAULT '',
    linked_request_id uuid       REFERENCES requests (id),
    due_at           timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);
CREATE INDEX requests_identity_idx ON requests (identity_id, created_at DESC);
CREATE INDEX requests_lot_idx ON requests (lot) WHERE lot <> '';
CREATE INDEX requests_due_idx ON requests (due_at) WHERE due_at IS NOT NULL;

-- The thread of a request: client messages, staff public notes, system events.
CREATE TABLE messages (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id         uuid        NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    author_kind        text        NOT NULL CHECK (author_kind IN ('client', 'staff', 'system')),
    -- message: text written by someone; status: a status change; ack: the
    -- automatic acknowledgment; closed / reopened: client actions.
    kind               text        NOT NULL DEFAULT 'message'
                       CHECK (kind IN ('message', 'status', 'ack', 'closed', 'reopened')),
    author_name        text        NOT NULL,
    identity_id        uuid,                           -- client author
    body               text        NOT NULL,
    client_status      text        NOT NULL DEFAULT '', -- for kind = status
    source             text        NOT NULL DEFAULT 'api', -- api, inbound, redmine, system
    -- The Redmine journal this message became (client) or came from (staff).
    -- Unique per kind (one journal may carry a note and a status change), so
    -- a poll overlap never stores a journal twice.
    redmine_journal_id integer,
    mirrored_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_request_idx ON messages (request_id, created_at, id);
CREATE UNIQUE INDEX messages_journal_kind_idx ON messages (redmine_journal_id, kind) WHERE redmine_journal_id IS NOT NULL;
-- One automatic acknowledgment per request, whatever the retries.
CREATE UNIQUE INDEX messages_one_ack_idx ON messages (request_id) WHERE kind = 'ack';

CREATE TABLE attachments (
    id                    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id            uuid        NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    request_id            uuid        NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    filename              text        NOT NULL,
    content_type          text        NOT NULL,
    size                  bigint      NOT NULL,
    sha256                bytea       NOT NULL,
    data                  bytea       NOT NULL,
    redmine_attachment_id integer     UNIQUE,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_message_idx ON attachments (message_id);

-- Named cursors of the Redmine poller.
CREATE TABLE sync_cursors (
    name       text        PRIMARY KEY,
    cursor_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Signed inbound webhook deliveries seen, for replay refusal and idempotent answers.
CREATE TABLE inbound_deliveries (
    webhook_id  text        PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    status_code integer     NOT NULL,
    response    jsonb       NOT NULL
);

-- +goose Down
DROP TABLE inbound_deliveries;
DROP TABLE sync_cursors;
DROP TABLE attachments;
DROP TABLE messages;
DROP TABLE requests;
DROP TABLE reference_counters;
