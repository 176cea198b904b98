-- GNAP resource servers (RFC 9767 §3.4): the resource sets they register, by the
-- `resource_reference` handed back; one reference per RS and set.
-- Mirrors src/schema.sqlite.ts (checked by test/migrations.test.ts).

CREATE TABLE gnap_resource_sets (
  reference text PRIMARY KEY NOT NULL,
  resource_server text NOT NULL,
  set_digest text NOT NULL,
  access text NOT NULL,
  introspection_required integer NOT NULL,
  created_at integer NOT NULL
);
CREATE UNIQUE INDEX gnap_resource_sets_resource_server_set_digest_idx ON gnap_resource_sets (resource_server, set_digest);
