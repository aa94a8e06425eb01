-- A scheduled issue goes out on the authority of the editor who scheduled it. When that editor loses
-- the newsletter-editor role, or their account is deleted, before it goes, it returns to draft with
-- why: the console shows it until an editor schedules (or sends) it again.
ALTER TABLE issues
    ADD COLUMN held_because text CHECK (held_because IN ('role-revoked', 'account-deleted'));
