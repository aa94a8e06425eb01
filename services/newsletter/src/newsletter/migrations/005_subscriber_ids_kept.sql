-- A subscriber keeps their id when they subscribe again. The fan-out reads subscribers in id order up
-- to the newest id when the issue started: a person who unsubscribed and came back while an issue went
-- out had a new id above that bound, and missed the issue though subscribed at its start and at their
-- turn. The id of an ended subscription is kept with its ending, and a new subscription takes it back.
-- (The id is the fan-out's alone: events, unsubscribe tokens and issue_recipients use the account id.)
ALTER TABLE subscription_endings ADD COLUMN subscriber_id bigint;
