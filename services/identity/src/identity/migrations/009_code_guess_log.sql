-- Wrong codes per email and purpose over a sliding window. code_guesses counted them in fixed
-- windows, which let nearly twice the daily cap through across a window's end, and a lock reached
-- late in a window ended with it. Now: the times of the latest wrong codes, and the lock the cap-th
-- of them within the window starts. Counts kept so far are dropped: each email starts afresh.
DROP TABLE code_guesses;

CREATE TABLE code_guess_log (
    email_key    bytea NOT NULL,
    purpose      text NOT NULL,
    failed_at    timestamptz[] NOT NULL,
    locked_until timestamptz,
    changed_at   timestamptz NOT NULL,
    PRIMARY KEY (email_key, purpose)
);
