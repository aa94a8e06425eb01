-- The "New videos" draft: the worker gathers the catalogue's VideoPublished events into one open draft
-- issue (origin 'new_videos'), which editors edit and send like any other; editors' own issues have no
-- origin. At most one such issue is a draft at a time: the next video after it went (or was cancelled)
-- starts a new one.
ALTER TABLE issues ADD COLUMN origin text CHECK (origin IN ('new_videos'));

CREATE UNIQUE INDEX issues_open_new_videos ON issues (origin) WHERE origin = 'new_videos' AND status = 'draft';
