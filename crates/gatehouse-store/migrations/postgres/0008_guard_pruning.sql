-- Issue 6: the cleanup job deletes lockout rows whose failures are forgotten (last_failure
-- older than --brute-force-reset) in small batches; this index finds them without a scan.
-- Kept in step with migrations/sqlite/0008_guard_pruning.sql.
CREATE INDEX login_attempts_last_failure ON login_attempts (last_failure);
