-- GNAP (RFC 9635): compare-and-set versions and the wait period on grants, and the access
-- tokens issued from them with their management state (§6).
-- Mirrors src/schema.pg.ts (checked by test/migrations.test.ts).

ALTER TABLE gnap_grants ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE gnap_grants ADD COLUMN continue_after bigint NOT NULL DEFAULT 0;
CREATE INDEX gnap_grants_client_instance_id_idx ON gnap_grants (client_instance_id);

CREATE TABLE gnap_tokens (
  token_digest text PRIMARY KEY,
  grant_id text NOT NULL,
  manage_id text NOT NULL,
  manage_token_digest text NOT NULL,
  label text,
  flags text NOT NULL,
  access text NOT NULL,
  key text,
  client_key_thumbprint text NOT NULL,
  client_instance_id text,
  account_id text,
  issued_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint
);
CREATE UNIQUE INDEX gnap_tokens_manage_id_idx ON gnap_tokens (manage_id);
CREATE INDEX gnap_tokens_grant_id_idx ON gnap_tokens (grant_id);
CREATE INDEX gnap_tokens_expires_at_idx ON gnap_tokens (expires_at);
