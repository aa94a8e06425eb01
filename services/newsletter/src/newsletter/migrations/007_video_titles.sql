-- The titles the "New videos" draft lists each video under: those of the newest catalogue event about
-- it, with that event's texts revision (VideoPublished, VideoTextsChanged). A VideoTextsChanged then
-- rewrites the line written from the titles kept here (an editor's rewording of it stays), and an older
-- event arriving late (a dead letter replayed) changes neither these titles nor the draft.
CREATE TABLE video_titles (
    video_id       uuid PRIMARY KEY,
    title_en       text NOT NULL,
    title_fr       text NOT NULL,
    texts_revision bigint NOT NULL
);
