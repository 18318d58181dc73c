-- keydrop schema, version 3 (SQLite); same version as postgres/0003.
-- In-flight checks expire by time: `checking` counts only while
-- `checking_until` (Unix ms) is in the future, so a process killed during a
-- check (or a database error) cannot leave a drop "being checked" forever.
ALTER TABLE drops ADD COLUMN checking_until INTEGER;
CREATE INDEX drops_open_exhausted ON drops (state, attempts, max_attempts);

-- Correction to a comment in 0001 (which cannot be edited once applied: its
-- checksum is recorded): an audited transaction does not "first update" the
-- head row. It reads it under a lock — `SELECT … FOR UPDATE` on PostgreSQL,
-- the whole-database write lock of `BEGIN IMMEDIATE` on SQLite — and writes
-- the new head just before it commits; that lock is what serializes appends.
