-- A video never published may be deleted, with its files (a failed one, or one ready and never made
-- public); one published once (withdrawn since) stays: VideoPublished announced it, and it may have
-- been linked and downloaded. ever_published says which, set by PostgreSQL whenever a video is
-- published, whatever statement does it.
ALTER TABLE videos ADD COLUMN ever_published boolean NOT NULL DEFAULT false;

-- Before this column, a withdrawn video is a ready one with a date (publishing dates it, withdrawing
-- keeps it). A ready one dated by its editor before it was ever published is counted too: kept rather
-- than deleted by mistake.
UPDATE videos SET ever_published = true
WHERE status = 'published' OR (status = 'ready' AND published_at IS NOT NULL);

CREATE FUNCTION videos_mark_published() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'published' THEN
        NEW.ever_published := true;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER videos_published BEFORE INSERT OR UPDATE OF status ON videos
    FOR EACH ROW EXECUTE FUNCTION videos_mark_published();
