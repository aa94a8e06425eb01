-- When the known language was chosen (AccountVerified's verified_at, AccountLocaleChanged's
-- changed_at): an older event handled again later (a replayed dead letter) leaves a later choice as
-- it is. NULL for the languages known before this column: the next event sets them.
ALTER TABLE known_accounts ADD COLUMN locale_chosen_at timestamptz;
