-- The watcher's search for requests whose deadlines must be computed again
-- (issue 14: 367 ms and a count of messages per request at 100,000 requests,
-- EXPLAIN in docs/BENCHMARKS.md) becomes two index scans that find nothing
-- in the steady state:
--   * requests.message_count, kept by a trigger on messages (every writer,
--     the customer space's and the bridge's, inserts through it), and the
--     computation's markers copied onto the request (deadlines_for,
--     deadlines_msgs): "the history changed since the last computation" is
--     then a condition on one row, which a partial index holds;
--   * request_deadlines.rules_version indexed, so "computed with other rules"
--     is two range scans (< and > the current version), empty once every
--     open request is computed with the rules in force.

-- +goose Up
ALTER TABLE requests ADD COLUMN message_count integer NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN deadlines_for timestamptz;
ALTER TABLE requests ADD COLUMN deadlines_msgs integer;
UPDATE requests r SET message_count = (SELECT count(*) FROM messages m WHERE m.request_id = r.id);
UPDATE requests r SET deadlines_for = s.computed_for, deadlines_msgs = s.computed_msgs
  FROM request_deadlines s WHERE s.request_id = r.id;

-- +goose StatementBegin
CREATE FUNCTION passerelle_count_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE requests SET message_count = message_count + 1 WHERE id = NEW.request_id;
    ELSE
        UPDATE requests SET message_count = message_count - 1 WHERE id = OLD.request_id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER messages_count AFTER INSERT OR DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION passerelle_count_messages();

CREATE INDEX requests_deadlines_stale_idx ON requests (updated_at)
    WHERE deadlines_for IS DISTINCT FROM updated_at
       OR (status <> 'closed' AND deadlines_msgs IS DISTINCT FROM message_count);
CREATE INDEX request_deadlines_rules_idx ON request_deadlines (rules_version);
-- "The due field still has to reach the issue" as a column the planner has
-- statistics for (it misjudges IS DISTINCT FROM and scanned every row).
ALTER TABLE request_deadlines ADD COLUMN due_field_pending boolean
    GENERATED ALWAYS AS (due_field IS DISTINCT FROM due_field_sent) STORED;
CREATE INDEX request_deadlines_due_pending_idx ON request_deadlines (request_id) WHERE due_field_pending;

-- +goose Down
DROP INDEX request_deadlines_due_pending_idx;
ALTER TABLE request_deadlines DROP COLUMN due_field_pending;
DROP INDEX request_deadlines_rules_idx;
DROP INDEX requests_deadlines_stale_idx;
DROP TRIGGER messages_count ON messages;
DROP FUNCTION passerelle_count_messages();
ALTER TABLE requests DROP COLUMN deadlines_msgs;
ALTER TABLE requests DROP COLUMN deadlines_for;
ALTER TABLE requests DROP COLUMN message_count;
