-- Counts the changes of a video's titles and descriptions. A published video's change is a
-- VideoTextsChanged event carrying it (and VideoPublished the current one), so that a consumer keeps
-- the newest texts whatever order the events reach it in. Videos already there start at 0.
ALTER TABLE videos ADD COLUMN texts_revision bigint NOT NULL DEFAULT 0;
