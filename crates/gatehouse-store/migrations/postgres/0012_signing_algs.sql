-- Per-client signing algorithms (issue 17): the key ring holds a current key per algorithm in
-- use. A key that serves the server's default algorithm (every key stored before this
-- migration) supersedes every older key when it is made; a key added for the clients that name
-- its algorithm (id_token_signed_response_alg, access_token_alg) supersedes only older keys of
-- that algorithm. Kept in step with the other back end's 0012_signing_algs.sql.
ALTER TABLE signing_keys ADD COLUMN serves_default BOOLEAN NOT NULL DEFAULT TRUE;
