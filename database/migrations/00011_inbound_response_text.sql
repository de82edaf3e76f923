-- A repeated inbound delivery must get the first answer byte for byte; jsonb
-- re-orders keys, so keep the answer as text.

-- +goose Up
ALTER TABLE inbound_deliveries ALTER COLUMN response TYPE text USING response::text;

-- +goose Down
ALTER TABLE inbound_deliveries ALTER COLUMN response TYPE jsonb USING response::jsonb;
