-- Owners who follow the requests filed on their lots (preferences
-- follow_lots) get their own notification rows: follower marks them (the
-- mail says whose request it is, on which lot).

-- +goose Up
ALTER TABLE client_notifications ADD COLUMN follower boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE client_notifications DROP COLUMN follower;
