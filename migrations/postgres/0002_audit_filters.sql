-- GET /api/v1/audit?subject=&action=: each filter, paged by seq, reads an
-- index instead of the whole log. Actions are indexed and compared under
-- the "C" collation (bytewise, whatever the database's collation), so a
-- prefix such as `credential.` is a range on the index.
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_action ON audit_events (action COLLATE "C", seq);
