-- Why and when each account's subscription last ended (user, one_click, bounce): a person whose
-- address bounced sees why in My account; an issue counts the recipients who left after it. A new
-- subscription leaves the row (the history of that issue's figure); AccountDeleted removes it.
CREATE TABLE subscription_endings (
    account_id uuid PRIMARY KEY,
    reason     text NOT NULL,
    ended_at   timestamptz NOT NULL DEFAULT now()
);
