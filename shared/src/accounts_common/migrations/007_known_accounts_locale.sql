-- The account's language (AccountVerified's optional locale): the newsletter writes to each
-- subscriber in it. NULL until the event says, and for accounts registered without one.
ALTER TABLE known_accounts ADD COLUMN locale text;
