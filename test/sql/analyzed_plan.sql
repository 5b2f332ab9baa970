-- pg_temp.analyzed_plan(query): the plan of query as EXPLAIN ANALYZE runs it, without
-- costs, timings, row counts and the lines that vary from run to run, so that a test
-- shows "Workers Launched" (workers that really started), not only "Workers Planned".
CREATE FUNCTION pg_temp.analyzed_plan(q text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        CONTINUE WHEN line ~ '^\s*(Sort Method|Worker \d|Buffers|Memory Usage|Heap Fetches)';
        RETURN NEXT regexp_replace(line, ' \(actual rows=\d+ loops=\d+\)$', '');
    END LOOP;
END $$;
