-- Exactly once without a Redmine search before every write (issue 14: the
-- adoption search was one of the two Redmine calls of every request).
--
-- A write to Redmine (an issue's creation, a client action's note) is
-- searched for first only when an earlier attempt may have made it:
--   * requests.create_attempts and messages.mirror_attempts count the
--     attempts, each committed before its Redmine call: a crash or a lost
--     answer leaves a count above zero, and the next attempt searches;
--   * a database that went back in time (a backup restored, an asynchronous
--     failover, a disk snapshot rolled back) loses those counts, so every
--     request and message gets a number from one sequence when it is filed
--     (filed_seq), and
--     rewind_guard holds a fingerprint of the database's incarnation; when
--     the live fingerprint differs from the stored one, search_below is moved
--     to a new number of the sequence, and every row filed before it is
--     searched first (bridge/store_rewind.go says what the fingerprint holds
--     and which rewinds it catches).
-- The migration starts with search_below above every existing row: requests
-- and messages filed before this version are all searched first, as before.

-- +goose Up
CREATE SEQUENCE filed_seq;
ALTER TABLE requests ADD COLUMN filed_seq bigint NOT NULL DEFAULT nextval('filed_seq');
ALTER TABLE requests ADD COLUMN create_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN filed_seq bigint NOT NULL DEFAULT nextval('filed_seq');
ALTER TABLE messages ADD COLUMN mirror_attempts integer NOT NULL DEFAULT 0;
CREATE TABLE rewind_guard (
    id           boolean     PRIMARY KEY DEFAULT true CHECK (id),
    fingerprint  text        NOT NULL,
    search_below bigint      NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now()
);
-- The live fingerprint, as bridge/store_rewind.go liveFingerprintSQL reads
-- it (the two must stay the same text), taken after the ALTERs above have
-- rewritten requests: a new deployment's first requests are not searched.
-- Where the server refuses one of its functions (a managed PostgreSQL may),
-- the guard keeps '' and the bridge searches before every write, as before.
INSERT INTO rewind_guard (fingerprint, search_below) VALUES ('', nextval('filed_seq'));
-- +goose StatementBegin
DO $$
BEGIN
    UPDATE rewind_guard SET fingerprint =
        (SELECT system_identifier::text FROM pg_control_system()) || '/' ||
        (SELECT timeline_id::text FROM pg_control_checkpoint()) || '/' ||
        pg_postmaster_start_time()::text || '/' ||
        (SELECT oid::text FROM pg_database WHERE datname = current_database()) || '/' ||
        pg_relation_filenode('requests')::text;
EXCEPTION WHEN insufficient_privilege OR undefined_function THEN
    RAISE NOTICE 'rewind guard: the database fingerprint cannot be read (%); every write is searched for first', SQLERRM;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE rewind_guard;
ALTER TABLE messages DROP COLUMN mirror_attempts;
ALTER TABLE messages DROP COLUMN filed_seq;
ALTER TABLE requests DROP COLUMN create_attempts;
ALTER TABLE requests DROP COLUMN filed_seq;
DROP SEQUENCE filed_seq;
