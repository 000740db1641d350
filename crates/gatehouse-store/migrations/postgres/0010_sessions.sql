-- Sessions (issue 16). A token family is a login session: every login now opens one, whether
-- or not a refresh token comes with it, and records how and from where it was made. A user can
-- be disabled, and all of a user's sessions end at once by raising their session epoch: a
-- family of an older epoch is dead, as is every access token issued in it. Kept in step with
-- the other back end's 0010_sessions.sql.
ALTER TABLE users ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;

ALTER TABLE token_families ADD COLUMN user_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE token_families ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE token_families ADD COLUMN authenticator_id TEXT;
ALTER TABLE token_families ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE token_families ADD COLUMN ip TEXT;
ALTER TABLE token_families ADD COLUMN user_agent TEXT;

-- Families made before this migration take their scope from their refresh tokens (the scope is
-- the same along a family).
UPDATE token_families SET scope = COALESCE(
    (SELECT r.scope FROM refresh_tokens r WHERE r.family_id = token_families.id LIMIT 1), '');

-- A user's sessions (listing, ending, the per-client limit) and a client's (listing, removal).
CREATE INDEX token_families_user ON token_families (user_id, client_id);
CREATE INDEX token_families_client ON token_families (client_id);
