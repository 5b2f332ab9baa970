-- Plans that run aggregates as partial aggregates in two workers, the leader
-- only combining, whatever the size of the table (the tests of parallel plans).
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
