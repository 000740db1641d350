-- The cleanup job deletes expired rows in small batches by expiry; families carry their
-- refresh and access tokens with them (ON DELETE CASCADE). Identical for both databases.
CREATE INDEX token_families_expires_at ON token_families (expires_at);
