-- GET /api/v1/audit?subject=&action=: each filter, paged by seq, reads an
-- index instead of the whole log. Actions compare bytewise (BINARY, SQLite's
-- default), so a prefix such as `credential.` is a range on the index.
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
