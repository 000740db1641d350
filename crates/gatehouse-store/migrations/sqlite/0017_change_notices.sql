-- The twin of migrations/postgres/0017_change_notices.sql, which adds triggers sending change
-- notices to the instances that share a PostgreSQL database. One SQLite instance keeps no
-- memory of hot rows to keep in step, so this migration changes nothing.
SELECT 1;
