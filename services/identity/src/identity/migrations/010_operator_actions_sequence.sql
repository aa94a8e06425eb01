-- The order in which the projection kept each action. Paging the trail newest first would otherwise
-- shift under the reader: an action recorded between two pages (reading page 1 is one, audit.read)
-- pushes an entry of page 1 onto page 2. Later pages list only `seq <= as_of`, the first page's newest.
-- That holds while one writer keeps the trail (`identity audit-log`, one instance, replaced not
-- surged: deploy/k8s/identity.yaml): values are drawn at INSERT, so two writers could commit out of
-- order. The index makes the first page's max(seq) a lookup, not a scan of the whole trail.
ALTER TABLE operator_actions ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX operator_actions_seq ON operator_actions (seq);
