-- The audit trail as the console reads it: every OperatorActionRecorded of every service, projected
-- from audit.operator-actions.v1 by `identity audit-log` (each event once: its id is the key).
CREATE TABLE operator_actions (
    event_id         uuid PRIMARY KEY,
    source           text NOT NULL,         -- the acting service (the CloudEvent's source)
    actor_account_id uuid,                  -- NULL for the command line (via = 'cli')
    via              text NOT NULL CHECK (via IN ('api', 'cli')),
    action           text NOT NULL,
    target           text NOT NULL,
    outcome          text NOT NULL,
    at               timestamptz NOT NULL
);

CREATE INDEX operator_actions_newest ON operator_actions (at DESC, event_id);
CREATE INDEX operator_actions_by_actor ON operator_actions (actor_account_id, at DESC);
