-- Who asked for each code (an HMAC of the requester's IP, never the IP itself), so the hourly cap
-- counts the email per requester as well as, higher, from everyone: an attacker's requests use up
-- their own allowance, not the owner's.
ALTER TABLE code_sends ADD COLUMN requester_key bytea;
