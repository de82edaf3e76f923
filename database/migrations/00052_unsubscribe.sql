-- One-click unsubscribe (RFC 8058) from the mails to clients: each client
-- gets an unguessable token, the List-Unsubscribe address's only authority
-- (the mail provider posts it without any session); "none" stops every mail
-- but the acknowledgment of a new request.

-- +goose Up
ALTER TABLE client_preferences ADD COLUMN unsubscribe_token text UNIQUE;
ALTER TABLE client_preferences DROP CONSTRAINT client_preferences_email_mode_check;
ALTER TABLE client_preferences ADD CONSTRAINT client_preferences_email_mode_check
    CHECK (email_mode IN ('immediate', 'daily', 'none'));

-- +goose Down
UPDATE client_preferences SET email_mode = 'immediate' WHERE email_mode = 'none';
ALTER TABLE client_preferences DROP CONSTRAINT client_preferences_email_mode_check;
ALTER TABLE client_preferences ADD CONSTRAINT client_preferences_email_mode_check
    CHECK (email_mode IN ('immediate', 'daily'));
ALTER TABLE client_preferences DROP COLUMN unsubscribe_token;
