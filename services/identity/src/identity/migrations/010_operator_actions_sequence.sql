-- The order in which the projection kept each action. Paging the trail newest first would otherwise
-- shift under the reader: an action recorded between two pages (reading page 1 is one, audit.read)
-- pushes an entry of page 1 onto page 2. Later pages list only `seq <= as_of`, the first page's newest.
ALTER TABLE operator_actions ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
