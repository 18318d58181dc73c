-- keydrop schema, version 5 (SQLite); same version as postgres/0005.
-- Indexes that keep the hot paths independent of table size (SPEC §10,
-- "Scale": 1 000 000 credentials, 10 000 000 audit events).

-- Claim: the oldest claimable credential, in claim order, without sorting
-- every verified row. Partial: only rows that can ever be claimed, so it
-- stays as small as the backlog. The claim's predicate repeats this WHERE
-- clause word for word so both planners can prove the index applies (on
-- SQLite, which keydrop never ANALYZEs, the queries also name their index
-- with INDEXED BY: see Backend::indexed_by).
CREATE INDEX credentials_claimable ON credentials (created_at, id)
    WHERE status = 'verified' AND key_version IS NOT NULL AND delivery IN ('waiting', 'leased');

-- Credential listing, newest first (unfiltered, or filtered by one column).
CREATE INDEX credentials_created ON credentials (created_at, id);

-- The lease-expiry and retention sweeps run every few seconds while holding
-- the audit head; without these they read the whole table each time. They
-- take due rows in this order (longest due first).
CREATE INDEX credentials_leases ON credentials (lease_expires_at, id) WHERE delivery = 'leased';
CREATE INDEX credentials_retention ON credentials (delivered_at, id) WHERE delivery = 'delivered';
