-- An inbound delivery is claimed in the transaction that stores what it
-- brought (review 2026-12-02, A.5): a crash before that commit leaves no claim,
-- so the sender's retry is processed; a crash after it leaves a claim naming
-- what was stored, from which the retry rebuilds the answer. A row with
-- status_code 0 and no request_id can only come from the previous version,
-- which claimed the id in a transaction of its own.

-- +goose Up
ALTER TABLE inbound_deliveries
    -- The delivery's type, "request" or "message": the shape of its answer.
    ADD COLUMN kind       text NOT NULL DEFAULT '',
    -- The request the delivery created, or the one its message landed in.
    ADD COLUMN request_id uuid,
    -- The request's first message, or the follow-up.
    ADD COLUMN message_id uuid;

-- +goose Down
ALTER TABLE inbound_deliveries
    DROP COLUMN message_id,
    DROP COLUMN request_id,
    DROP COLUMN kind;
