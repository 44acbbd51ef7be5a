-- A refresh whose answer was lost: the client presents the old refresh token again. That is a retry, not a leak,
-- while the pair it was exchanged for has not been used; so each rotated token remembers its successor pair, and
-- an access token of a refreshing client records when it was first used.
ALTER TABLE access_tokens ADD COLUMN first_used_ts INTEGER;
ALTER TABLE rotated_refresh_tokens ADD COLUMN successor_refresh_hash TEXT;
ALTER TABLE rotated_refresh_tokens ADD COLUMN successor_access_hash TEXT;
