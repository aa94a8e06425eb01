-- An issue's `unsubscribed`: its recipients who unsubscribed by their own choice (reason user or
-- one_click) before another issue went out to them. It was counted when read, from the endings since
-- the issue started among its recipients. subscription_endings holds one row per account, the latest
-- ending, so that count moved after the fact: down when someone who had left came back and later
-- bounced or was erased (their ending replaced or removed), up when a recipient still subscribed left
-- years later (counted for every issue they ever had). It is now a tally kept on the issue, written by
-- the ending itself (a trigger on subscription_endings, in the unsubscription's transaction, whatever
-- code writes it: a web process of the previous release during a rolling deploy too), once per (issue,
-- recipient), never decreasing. AccountDeleted erases an account's rows here with its ending (no trace
-- of why it left); the figures stay, and an erased account never comes back to be counted again.
CREATE TABLE issue_unsubscriptions (
    account_id uuid NOT NULL,
    issue_id   uuid NOT NULL REFERENCES issues (id),
    PRIMARY KEY (account_id, issue_id)
);

ALTER TABLE issues ADD COLUMN unsubscribed integer NOT NULL DEFAULT 0;

-- The issue an unsubscription by choice counts for: the latest that went to the account (its request
-- recorded), started by the time it left (`ended_at`) and still going out after its previous
-- subscription ended (`previous`, NULL for a first ending): an issue of an earlier subscription is not
-- the one they left after. NULL when there is none.
CREATE FUNCTION issue_left_after(account uuid, ended_at timestamptz, previous timestamptz)
RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT r.issue_id FROM issue_recipients r JOIN issues i ON i.id = r.issue_id
    WHERE r.account_id = account AND i.started_at <= ended_at
      AND coalesce(i.completed_at, 'infinity') > coalesce(previous, '-infinity')
    ORDER BY i.started_at DESC, i.id DESC LIMIT 1
$$;

-- Count the (issue, account) pairs not counted yet on their issues; a pair counted before adds nothing.
CREATE FUNCTION count_unsubscriptions(issue_ids uuid[], account_ids uuid[])
RETURNS void LANGUAGE sql AS $$
    WITH counted AS (
        INSERT INTO issue_unsubscriptions (issue_id, account_id)
        SELECT issue_id, account_id FROM unnest(issue_ids, account_ids) AS pair (issue_id, account_id)
        WHERE issue_id IS NOT NULL
        ON CONFLICT DO NOTHING RETURNING issue_id),
    added AS (SELECT issue_id, count(*) AS unsubscribed FROM counted GROUP BY issue_id)
    UPDATE issues i SET unsubscribed = i.unsubscribed + a.unsubscribed
    FROM added a WHERE i.id = a.issue_id
$$;

CREATE FUNCTION count_chosen_ending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous timestamptz;
BEGIN
    IF NEW.reason IN ('user', 'one_click') THEN
        IF TG_OP = 'UPDATE' THEN
            previous := OLD.ended_at;
        END IF;
        PERFORM count_unsubscriptions(
            ARRAY[issue_left_after(NEW.account_id, NEW.ended_at, previous)], ARRAY[NEW.account_id]);
    END IF;
    RETURN NULL;
END
$$;

-- Created before the fill: an unsubscription committing meanwhile waits for this migration's commit (the
-- trigger's lock on subscription_endings), then counts through the trigger; one committed before is
-- in the fill below. None is counted twice or lost.
CREATE TRIGGER subscription_ended AFTER INSERT OR UPDATE OF reason, ended_at ON subscription_endings
    FOR EACH ROW EXECUTE FUNCTION count_chosen_ending();

-- The existing issues, as well as the old data allows: each account's latest ending by choice, for the
-- latest issue it had started by then (the endings before it were overwritten, and when the ended
-- subscription began is not kept). No batches: the runner applies a migration in one transaction, so
-- they would release nothing. The statement reads the endings by choice and finds each one's issue in
-- one range of issue_recipients_account_issue (that account's issues), never scanning
-- issue_recipients; it writes only this table and the counted issues: 1.8 s for 10,000 endings of
-- accounts that had 20 issues of 10,000 recipients each (measured 2026-12-07, this migration whole).
-- While it runs the fan-out waits (ALTER TABLE issues holds the table until the commit, and a batch's
-- rows reference their issue), then resumes where it was: nothing is lost or sent twice. The console's
-- issue pages and unsubscriptions wait as long.
SELECT count_unsubscriptions(array_agg(issue_left_after(account_id, ended_at, NULL)), array_agg(account_id))
FROM subscription_endings WHERE reason IN ('user', 'one_click');
