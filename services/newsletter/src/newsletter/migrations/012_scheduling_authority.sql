-- When the token an issue was scheduled with was issued: the authority it goes on. An editor losing
-- the role holds every issue scheduled on a token from before the loss, also one scheduled while the
-- revocation was on its way here (its updated_at is then later than the revocation). NULL for the
-- issues scheduled before this column: their updated_at stands in.
ALTER TABLE issues ADD COLUMN scheduled_on_token_of timestamptz;
