-- Counts the catalogue's events about a video (VideoPublished, VideoUnpublished, VideoTextsChanged):
-- each event carries the count its own makes, as video_revision, counted in the transaction of the
-- change it announces, the video's row locked. A later event of a video thus has a higher number, and a
-- consumer orders the video's events by it, whatever order they reach it in (a dead letter replayed, a
-- redelivery). Videos already there start at 0: their events until now carry none.
ALTER TABLE videos ADD COLUMN video_revision bigint NOT NULL DEFAULT 0;
