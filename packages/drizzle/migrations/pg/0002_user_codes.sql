-- The user-code engine (RFC 8628 §6.1 device flow, RFC 9635 §3.3.3 GNAP user codes).
-- Mirrors src/schema.pg.ts (checked by test/migrations.test.ts).

CREATE TABLE user_codes (
  user_code_digest text PRIMARY KEY,
  interaction_id text NOT NULL,
  kind text NOT NULL,
  client_id text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  claimed_at bigint
);
CREATE INDEX user_codes_interaction_id_idx ON user_codes (interaction_id);
CREATE INDEX user_codes_expires_at_idx ON user_codes (expires_at);

CREATE TABLE user_code_attempts (
  key text PRIMARY KEY,
  count integer NOT NULL,
  resets_at bigint NOT NULL
);
CREATE INDEX user_code_attempts_resets_at_idx ON user_code_attempts (resets_at);

-- uniqueness among live user codes is user_codes' primary key; an expired, not yet swept
-- device code may carry the digest of a code drawn again
DROP INDEX device_codes_user_code_digest_idx;
CREATE INDEX device_codes_user_code_digest_idx ON device_codes (user_code_digest);
