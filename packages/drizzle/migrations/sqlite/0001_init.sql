-- Gatehouse storage, SQLite. Mirrors src/schema.sqlite.ts (checked by test/migrations.test.ts).
-- Times ending in _at are milliseconds since epoch, except clients.issued_at,
-- clients.secret_expires_at and auth_time, which are seconds as in the protocol.

CREATE TABLE clients (
  client_id text PRIMARY KEY NOT NULL,
  secret_digest text,
  secret_expires_at integer NOT NULL,
  registration_access_token_digest text,
  metadata text NOT NULL,
  issued_at integer NOT NULL
);

CREATE TABLE authorization_codes (
  code_digest text PRIMARY KEY NOT NULL,
  grant_id text NOT NULL,
  client_id text NOT NULL,
  account_id text NOT NULL,
  redirect_uri text NOT NULL,
  scope text NOT NULL,
  resource text NOT NULL,
  code_challenge text,
  code_challenge_method text,
  nonce text,
  auth_time integer NOT NULL,
  acr text,
  amr text,
  claims text,
  session_id text,
  expires_at integer NOT NULL,
  consumed_at integer
);
CREATE INDEX authorization_codes_grant_id_idx ON authorization_codes (grant_id);
CREATE INDEX authorization_codes_expires_at_idx ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
  token_digest text PRIMARY KEY NOT NULL,
  grant_id text NOT NULL,
  client_id text NOT NULL,
  account_id text NOT NULL,
  scope text NOT NULL,
  resource text NOT NULL,
  auth_time integer NOT NULL,
  acr text,
  amr text,
  session_id text,
  issued_at integer NOT NULL,
  expires_at integer NOT NULL,
  consumed_at integer,
  revoked_at integer
);
CREATE INDEX refresh_tokens_grant_id_idx ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
  token_digest text PRIMARY KEY NOT NULL,
  format text NOT NULL,
  grant_id text NOT NULL,
  client_id text NOT NULL,
  account_id text,
  scope text NOT NULL,
  audience text NOT NULL,
  issued_at integer NOT NULL,
  expires_at integer NOT NULL,
  revoked_at integer,
  extra text
);
CREATE INDEX access_tokens_grant_id_idx ON access_tokens (grant_id);
CREATE INDEX access_tokens_expires_at_idx ON access_tokens (expires_at);

CREATE TABLE consents (
  account_id text NOT NULL,
  client_id text NOT NULL,
  scope text NOT NULL,
  updated_at integer NOT NULL,
  CONSTRAINT consents_pk PRIMARY KEY (account_id, client_id)
);

CREATE TABLE sessions (
  session_digest text PRIMARY KEY NOT NULL,
  account_id text NOT NULL,
  auth_time integer NOT NULL,
  acr text,
  amr text,
  expires_at integer NOT NULL
);
CREATE INDEX sessions_account_id_idx ON sessions (account_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE interactions (
  id text PRIMARY KEY NOT NULL,
  kind text NOT NULL,
  state text NOT NULL,
  client_id text NOT NULL,
  binding_digest text NOT NULL,
  payload text NOT NULL,
  result text,
  account_id text,
  created_at integer NOT NULL,
  expires_at integer NOT NULL
);
CREATE INDEX interactions_expires_at_idx ON interactions (expires_at);

CREATE TABLE keys (
  kid text PRIMARY KEY NOT NULL,
  alg text NOT NULL,
  status text NOT NULL,
  public_jwk text NOT NULL,
  private_jwk text NOT NULL,
  created_at integer NOT NULL,
  retired_at integer
);
CREATE INDEX keys_alg_status_idx ON keys (alg, status);
CREATE UNIQUE INDEX keys_one_current_per_alg ON keys (alg) WHERE status = 'current';
CREATE UNIQUE INDEX keys_one_next_per_alg ON keys (alg) WHERE status = 'next';

CREATE TABLE replay (
  key text PRIMARY KEY NOT NULL,
  expires_at integer NOT NULL
);
CREATE INDEX replay_expires_at_idx ON replay (expires_at);

CREATE TABLE device_codes (
  device_code_digest text PRIMARY KEY NOT NULL,
  user_code_digest text NOT NULL,
  grant_id text NOT NULL,
  client_id text NOT NULL,
  scope text NOT NULL,
  resource text NOT NULL,
  state text NOT NULL,
  account_id text,
  auth_time integer,
  acr text,
  amr text,
  poll_interval integer NOT NULL,
  last_polled_at integer,
  created_at integer NOT NULL,
  expires_at integer NOT NULL,
  consumed_at integer
);
CREATE UNIQUE INDEX device_codes_user_code_digest_idx ON device_codes (user_code_digest);
CREATE INDEX device_codes_grant_id_idx ON device_codes (grant_id);
CREATE INDEX device_codes_expires_at_idx ON device_codes (expires_at);

CREATE TABLE gnap_grants (
  id text PRIMARY KEY NOT NULL,
  state text NOT NULL,
  continue_token_digest text NOT NULL,
  interact_ref_digest text,
  client_key_thumbprint text NOT NULL,
  client_instance_id text,
  request text NOT NULL,
  result text,
  account_id text,
  created_at integer NOT NULL,
  updated_at integer NOT NULL,
  expires_at integer NOT NULL
);
CREATE UNIQUE INDEX gnap_grants_continue_token_digest_idx ON gnap_grants (continue_token_digest);
CREATE UNIQUE INDEX gnap_grants_interact_ref_digest_idx ON gnap_grants (interact_ref_digest);
CREATE INDEX gnap_grants_client_key_thumbprint_idx ON gnap_grants (client_key_thumbprint);
CREATE INDEX gnap_grants_expires_at_idx ON gnap_grants (expires_at);
