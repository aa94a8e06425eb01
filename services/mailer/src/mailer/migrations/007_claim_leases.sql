-- A row 'sending' is held by the worker that claimed it until `lease_until` (the database's clock),
-- renewed while its batch runs: another worker (one that got its partitions after a rebalance) leaves
-- it meanwhile, rather than sending it a second time. Null: claimed before this column, or released.
ALTER TABLE deliveries ADD COLUMN lease_until timestamptz, ADD COLUMN claimed_by uuid;
