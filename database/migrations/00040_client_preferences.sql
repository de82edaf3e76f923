-- What each client chose in the customer space's preferences page (issue 12);
-- the notifications (issue 13) read it. No row: the defaults (every e-mail at
-- once, owners follow the requests filed on their lots).

-- +goose Up
CREATE TABLE client_preferences (
    identity_id  text PRIMARY KEY,
    -- "immediate": one mail per event; "daily": a digest at 08:00 Europe/Paris
    -- (the acknowledgment of a new request is always immediate).
    email_mode   text NOT NULL DEFAULT 'immediate' CHECK (email_mode IN ('immediate', 'daily')),
    -- Owners: also hear about requests filed on their lots by tenants.
    follow_lots  boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE client_preferences;
