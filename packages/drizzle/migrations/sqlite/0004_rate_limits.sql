-- RateLimiter windows: failed client authentications (RFC 6749 §2.3, RFC 9700 §4.15) and
-- logins, counted per digest of a client id, username or address (config `rateLimit`).
-- Mirrors src/schema.sqlite.ts (checked by test/migrations.test.ts).

CREATE TABLE rate_limits (
  key text PRIMARY KEY NOT NULL,
  count integer NOT NULL,
  resets_at integer NOT NULL
);
CREATE INDEX rate_limits_resets_at_idx ON rate_limits (resets_at);
