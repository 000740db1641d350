-- Password policy (issue 20): when each user's password was last set (for an optional maximum
-- age; passwords set before this migration count from the user's last update), why a change of
-- it is required (a breached-list match at login, an expired password), and the earlier hashes a
-- new password may not repeat (a JSON array of PHC strings, newest first, at most 24). Kept in
-- step with the other back end's 0013_password_policy.sql.
ALTER TABLE users ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0;
UPDATE users SET password_changed_at = updated_at;
ALTER TABLE users ADD COLUMN password_change_required TEXT;
ALTER TABLE users ADD COLUMN password_history TEXT NOT NULL DEFAULT '[]';
