-- The language each email was asked in (the event's optional locale), so that the account's later
-- emails whose events carry none (welcome, password updated) are written in the same language.
ALTER TABLE deliveries ADD COLUMN locale text;
