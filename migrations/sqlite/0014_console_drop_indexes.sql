-- keydrop schema, version 14 (SQLite); same version as postgres/0014.
-- The console's drop list (SPEC §13, §10: p99 < 50 ms with 1 000 000 drops, any filter, any
-- page): newest first within a state or a kind, and the org / external_id prefix search.
CREATE INDEX drops_state_created ON drops (state, created_at, id);
CREATE INDEX drops_kind_created ON drops (kind, created_at, id);
CREATE INDEX drops_org_prefix ON drops (lower(org));
CREATE INDEX drops_external_id_prefix ON drops (lower(external_id));
