-- Client-visible events POSTed to the admin's endpoints (webhooks.outbound),
-- signed per Standard Webhooks (issue 13, notify/clientnotify/webhook.go).

-- +goose Up
CREATE TABLE outbound_deliveries (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint     text        NOT NULL,
    message_id   uuid        NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    event_type   text        NOT NULL,
    -- The JSON body, built once: every attempt sends the same bytes.
    payload      jsonb       NOT NULL,
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     integer     NOT NULL DEFAULT 0,
    last_status  integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    -- Once per endpoint and event.
    UNIQUE (endpoint, message_id)
);
CREATE INDEX outbound_deliveries_failed_idx ON outbound_deliveries (endpoint, created_at DESC) WHERE status = 'failed';

-- Each endpoint's health: failing since the first failure after a success;
-- disabled once it has failed for a day (re-enabled by an admin).
CREATE TABLE outbound_endpoints (
    name          text        PRIMARY KEY,
    failing_since timestamptz,
    disabled_at   timestamptz,
    last_error    text        NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE outbound_endpoints;
DROP TABLE outbound_deliveries;
