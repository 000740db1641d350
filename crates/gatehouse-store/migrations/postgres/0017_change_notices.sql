-- Change notices for the memory of hot rows each serving instance keeps (src/hot_cache.rs).
-- A statement that updates or deletes rows of `clients`, `users`, `token_families` (their
-- revocation, their epoch, their removal) or `access_tokens` sends a NOTIFY on the channel
-- `gatehouse_changes` naming what changed; every instance LISTENs and forgets what that can
-- touch. PostgreSQL delivers a notice at its transaction's commit and sends a transaction's
-- identical notices once, so a statement changing a thousand rows costs one notice.
--
-- The triggers of those four tables are per statement and fire on no INSERT: the hot path's writes (a login's
-- family and tokens, a rotation's successor, its `last_used_at`, which is not a column named
-- below) send nothing. The SQLite twin of this file changes nothing: one SQLite instance keeps
-- no such memory.
CREATE FUNCTION gatehouse_notify_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_changes', TG_ARGV[0]);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER clients_changed AFTER UPDATE OR DELETE OR TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change('clients');
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change('users');
CREATE TRIGGER token_families_changed
    AFTER UPDATE OF revoked_at, user_epoch OR DELETE OR TRUNCATE ON token_families
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change('tokens');
CREATE TRIGGER access_tokens_changed AFTER UPDATE OR DELETE OR TRUNCATE ON access_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change('tokens');

-- An account's failed-login attempts are remembered even when there are none, so their first
-- row (an INSERT) is noticed too. Row by row: a successful login clears its account's attempts
-- with a DELETE that usually finds no row, and that must send nothing.
CREATE TRIGGER login_attempts_changed AFTER INSERT OR UPDATE OR DELETE ON login_attempts
    FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_change('attempts');
CREATE TRIGGER login_attempts_truncated AFTER TRUNCATE ON login_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change('attempts');
