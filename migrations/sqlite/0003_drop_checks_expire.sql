-- keydrop schema, version 3 (SQLite); same version as postgres/0003.
-- In-flight checks expire by time: `checking` counts only while
-- `checking_until` (Unix ms) is in the future, so a process killed during a
-- check (or a database error) cannot leave a drop "being checked" forever.
ALTER TABLE drops ADD COLUMN checking_until INTEGER;
CREATE INDEX drops_open_exhausted ON drops (state, attempts, max_attempts);
