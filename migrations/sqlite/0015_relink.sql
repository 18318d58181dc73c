-- Relink (SPEC §15): a drop may be made to replace a credential (`drops.replaces`); when that
-- drop's credential is accepted, the old one records what superseded it
-- (`credentials.superseded_by`), in the same transaction.
ALTER TABLE drops ADD COLUMN replaces TEXT;
ALTER TABLE credentials ADD COLUMN superseded_by TEXT;
-- Other open drops that replace the same credential are revoked when one of them wins.
CREATE INDEX drops_replaces ON drops (replaces) WHERE replaces IS NOT NULL;
-- external_id is now unique among *open* drops only (SPEC §2), so a relink's drop can carry
-- the external_id of the submitted drop whose credential it replaces. Less strict than
-- before (not revoked): no existing row can violate it.
DROP INDEX drops_external_id_live;
CREATE UNIQUE INDEX drops_external_id_live ON drops (external_id) WHERE state = 'open';
