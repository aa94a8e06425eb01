-- For each video, the catalogue's video_revision of the newest VideoPublished or VideoUnpublished the
-- "New videos" draft followed (NULL until a numbered one came). An older one arriving late (a dead
-- letter replayed, a redelivery) is not followed: a withdrawn video stays out of the draft. Events
-- written before the catalogue numbered them carry no video_revision, and are followed as they come.
CREATE TABLE video_publications (
    video_id       uuid PRIMARY KEY,
    video_revision bigint
);
