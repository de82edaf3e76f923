-- Identity actions the agency schedules for a date (issue 13): a tenant's
-- invitation on move-in day (`passerelle identities invite --from`), a
-- departure (`passerelle identities deactivate --at`). The identities job
-- (every minute on the elected leader, or `passerelle identities
-- run-scheduled`) carries out the due ones, each in the transaction that
-- claims it (FOR UPDATE SKIP LOCKED) and marks it done.

-- +goose Up
CREATE TABLE scheduled_identity_actions (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('invite', 'deactivate')),
    -- The client's login e-mail, in lower case.
    email       text NOT NULL CHECK (email = lower(email) AND email <> ''),
    -- invite: {"first","last","role","lots","mandates"}; deactivate: {}.
    payload     jsonb NOT NULL DEFAULT '{}',
    run_at      timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Set once the action is carried out (or found already done), with what
    -- was done, in French, for `passerelle identities scheduled`.
    done_at     timestamptz,
    outcome     text,
    attempts    integer NOT NULL DEFAULT 0,
    -- The last failure (cleared once done); the action is tried again on the
    -- next run. Never a secret.
    error       text
);
-- One pending action of a kind per client.
CREATE UNIQUE INDEX scheduled_identity_actions_pending ON scheduled_identity_actions (kind, email) WHERE done_at IS NULL;
CREATE INDEX scheduled_identity_actions_due ON scheduled_identity_actions (run_at) WHERE done_at IS NULL;

-- +goose Down
DROP TABLE scheduled_identity_actions;
