-- keydrop schema, version 6 (SQLite); same version as postgres/0006.
-- Who and what a drop is for (SPEC §2): the staff contact shown to the
-- customer, the vendor's own id for the customer, and free key/value
-- metadata (a JSON object of strings, never shown to the customer). The id
-- and the metadata are copied onto the credential when it is accepted.
ALTER TABLE drops ADD COLUMN contact_name TEXT;
ALTER TABLE drops ADD COLUMN contact_email TEXT;
ALTER TABLE drops ADD COLUMN external_id TEXT;
ALTER TABLE drops ADD COLUMN metadata TEXT;
ALTER TABLE credentials ADD COLUMN external_id TEXT;
ALTER TABLE credentials ADD COLUMN metadata TEXT;

-- One live drop per external id: a second one is refused (409) unless the
-- first was revoked. The name is what keydrop recognises in the violation.
CREATE UNIQUE INDEX drops_external_id_live ON drops (external_id) WHERE state <> 'revoked';
-- GET /api/v1/drops?external_id= (revoked drops included), newest first.
CREATE INDEX drops_external_id ON drops (external_id, created_at, id);
