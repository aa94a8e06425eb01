-- Whose address each suppression is (the account of the mail that bounced): erasing the account forgets
-- the address even once the account's mails have expired from the delivery log, which was the only
-- place that said whose it was. Existing suppressions take the account of the newest mail to the address.
ALTER TABLE suppressions ADD COLUMN account_id uuid;
UPDATE suppressions SET account_id = owner.account_id
FROM (SELECT DISTINCT ON (lower(recipient)) lower(recipient) AS address, account_id
      FROM deliveries WHERE account_id IS NOT NULL AND recipient IS NOT NULL
      ORDER BY lower(recipient), created_at DESC) AS owner
WHERE suppressions.address = owner.address;
CREATE INDEX suppressions_account ON suppressions (account_id);
