-- Response deadlines (issue 5): what the deadline computation last stored
-- for each request, and the warnings and escalations of the overdue watcher.

-- +goose Up

-- One row per request: the result of the last computation of its deadlines
-- from its history (requests.due_at holds the next first-answer due time, for
-- clients and for indexing; this row holds the rest).
CREATE TABLE request_deadlines (
    request_id     uuid        PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    -- requests.updated_at and the number of thread messages as seen by the
    -- computation: when either differs, the history changed since and the
    -- watcher computes again (updated_at alone may not move: it keeps the
    -- greatest of the instants written, and Redmine's are to the second).
    computed_for   timestamptz,
    computed_msgs  integer     NOT NULL DEFAULT 0,
    -- Fingerprint of the calendar and policies the computation used: a
    -- configuration change makes the watcher compute open requests again.
    rules_version  text        NOT NULL,
    -- The earliest instant at which a warning or an escalation of a running
    -- deadline falls due and is not claimed yet; NULL when none.
    next_alert_at  timestamptz,
    -- The "Échéance réponse" value wanted on the Redmine issue ('' clears
    -- it), and the one last written there (NULL: unknown). They differ until
    -- the write succeeds.
    due_field      text        NOT NULL DEFAULT '',
    due_field_sent text,
    computed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_deadlines_next_alert_idx ON request_deadlines (next_alert_at) WHERE next_alert_at IS NOT NULL;
CREATE INDEX request_deadlines_field_idx ON request_deadlines (request_id) WHERE due_field IS DISTINCT FROM due_field_sent;

-- Each warning and each escalation of a deadline, claimed once: the primary
-- key is the deadline's stable id (sla.Deadline.ID) and the kind, and the row
-- is inserted in the same transaction as the job that carries the alert out.
-- The job's steps (e-mail, Redmine note) record their outcome here, so a
-- retried job does again only what is not done.
CREATE TABLE deadline_alerts (
    request_id      uuid        NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    deadline_id     text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('warning', 'escalation')),
    target          text        NOT NULL,
    -- The deadline's due time and the instant that triggered the alert (its
    -- warning time, or the due time), as computed when claimed.
    due_at          timestamptz NOT NULL,
    threshold_at    timestamptz NOT NULL,
    -- pending: to do or being done; done; cancelled: the deadline was met or
    -- stopped before anything was sent; skipped: a warning whose escalation
    -- came first (the watcher first saw the deadline already past).
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'cancelled', 'skipped')),
    -- pending; sent; none (no recipient known); disabled (no SMTP server);
    -- failed (refused for good by the server, see last_error).
    mail_state      text        NOT NULL DEFAULT 'pending'
                    CHECK (mail_state IN ('pending', 'sent', 'none', 'disabled', 'failed')),
    mail_message_id text        NOT NULL DEFAULT '',
    mail_to         text[]      NOT NULL DEFAULT '{}',
    mail_sent_at    timestamptz,
    -- Escalations only: pending; written (note_journal_id); none (not asked,
    -- or no Redmine issue); refused (the sync user may not write private
    -- notes: nothing is written rather than a public note).
    note_state      text        NOT NULL DEFAULT 'pending'
                    CHECK (note_state IN ('pending', 'written', 'none', 'refused')),
    note_journal_id integer,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text        NOT NULL DEFAULT '',
    -- The watcher's clock when it claimed the alert.
    claimed_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz,
    PRIMARY KEY (request_id, deadline_id, kind)
);
CREATE INDEX deadline_alerts_pending_idx ON deadline_alerts (updated_at) WHERE state = 'pending';

-- +goose Down
DROP TABLE deadline_alerts;
DROP TABLE request_deadlines;
