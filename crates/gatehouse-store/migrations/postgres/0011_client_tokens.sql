-- Client tokens (issue 17): the client credentials grant (RFC 6749 §4.4) issues access tokens to
-- a client acting for itself. They are stored like every access token, with no family
-- (family_id NULL) and no user (user_id ''), and live until they are revoked or expire, or their
-- client is removed: removing a client removes its client tokens (they have no family to die
-- with), so a client re-created with the same id inherits none. This index finds them for that
-- removal without reading the client's other tokens. Kept in step with the other back end's
-- 0011_client_tokens.sql.
CREATE INDEX access_tokens_client_tokens ON access_tokens (client_id)
    WHERE family_id IS NULL AND user_id = '';
