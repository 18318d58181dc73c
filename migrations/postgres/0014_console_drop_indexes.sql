-- keydrop schema, version 14 (PostgreSQL); same version as sqlite/0014.
-- The console's drop list (SPEC §13, §10: p99 < 50 ms with 1 000 000 drops, any filter, any
-- page): newest first within a state or a kind, and the org / external_id prefix search.
CREATE INDEX drops_state_created ON drops (state, created_at, id);
CREATE INDEX drops_kind_created ON drops (kind, created_at, id);
-- INCLUDE the column itself: PostgreSQL answers from an expression index alone (an index-only
-- scan, which the search's count needs to stay cheap) only when it holds the columns the
-- expression reads.
CREATE INDEX drops_org_prefix ON drops ((lower(org) COLLATE "C")) INCLUDE (org);
CREATE INDEX drops_external_id_prefix ON drops ((lower(external_id) COLLATE "C")) INCLUDE (external_id);
