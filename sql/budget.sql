-- Budget allocation over response curves, clv_allocate_budget(segment, spend,
-- response, budget [, options]), and the price of a targeting budget,
-- clv_budget_threshold(gain, cost, budget [, customer]).  Hand-computed
-- examples, every error with its SQLSTATE, window and zero-row forms,
-- shuffled rows and a forced parallel plan against the serial result.
SET client_min_messages = warning;   -- same output alone or after other tests
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;
\i test/sql/analyzed_plan.sql
SET extra_float_digits = 0;

-- the SQLSTATE and message of a statement's error
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

--------------------------------------------------------------------------------
-- clv_allocate_budget
--------------------------------------------------------------------------------

-- Two segments.  Envelopes from (0, 0):
--   a: (100, 300), (200, 400): pieces of slope 3 (100 long), then 1 (100 long)
--   b: (50, 100), (150, 250):  pieces of slope 2 (50 long), then 1.5 (100 long)
-- Budget 200, steepest pieces first: a's slope 3 (100 spent), b's slope 2
-- (150), then 50 of b's slope 1.5: b at 100 gives 100 + 1.5 * 50 = 175.
-- Total 300 + 175 = 475; one more unit would buy 1.5 (the shadow price); the
-- marginal return is 1 for a (its next piece) and 1.5 for b.
CREATE TABLE curves (segment text, spend float8, response float8);
INSERT INTO curves VALUES ('b', 150, 250), ('a', 200, 400), ('b', 50, 100), ('a', 100, 300);
SELECT jsonb_pretty(clv_allocate_budget(segment, spend, response, 200)) FROM curves;

-- budgets along the way: 100 buys a's first piece (price: b's slope 2 is
-- next); 150 adds b's first (next: 1.5); 400 buys everything (price 0, 650)
SELECT budget, r->'spend' AS spend, r->'response' AS response, r->'shadow_price' AS price,
       jsonb_path_query_array(r, '$.segments[*].spend') AS spends
FROM (SELECT budget, clv_allocate_budget(segment, spend, response, budget) AS r
      FROM curves, (VALUES (0::float8), (100), (150), (400), (1000)) b(budget)
      GROUP BY budget) t ORDER BY budget;

-- net objective (response - spend): only slopes above 1, so a's second
-- piece (slope 1) is never bought: a 100, b 150, 550 for 250, 750 unspent
SELECT clv_allocate_budget(segment, spend, response, 1000, '{"objective": "net"}') FROM curves;

-- bounds: a at least 150 (a's curve gives 300 + 1 * 50 = 350 there), b at
-- most 40 (2 * 40 = 80); 300 - 150 - 40 = 110 left: a's slope 1 piece to
-- 200 (50), then nothing (b is capped): 400 + 80 = 480, 60 unspent, price 0
SELECT clv_allocate_budget(segment, spend, response, 300,
                           '{"min": {"a": 150}, "max": {"b": 40}}') FROM curves;

-- without interpolation the levels are 0 and the given spends.  Within 200:
-- a 100 + b 50 = 400 for 150, or a 200 alone = 400 for 200: the cheaper one
SELECT clv_allocate_budget(segment, spend, response, 200, '{"interpolate": false}') FROM curves;
-- 250: a 100 + b 150 = 550 (a 200 + b 50 = 500)
SELECT clv_allocate_budget(segment, spend, response, 250, '{"interpolate": false}')->'response'
    AS knapsack_250 FROM curves;

-- Duplicates and odd shapes, segment x:
--   (10, 5) and (10, 20) at the same spend: the envelope takes the largest, 20
--   (0, -3): a point at spend 0 replaces the implicit (0, 0)
--   (30, 10): below the top (20): the curve is flat after spend 10
-- Budget 5: -3 + 23 * 5 / 10 = 8.5, price 2.3; budget 50: 10 spent, 20, price 0
-- Segment y: (10, 10), (20, 20), (30, 30) are collinear: one piece of slope 1
SELECT budget, r->'segments' AS segments, r->'shadow_price' AS price
FROM (SELECT budget, clv_allocate_budget(segment, spend, response, budget) AS r
      FROM (VALUES ('x', 10::float8, 5::float8), ('x', 10, 20), ('x', 0, -3), ('x', 30, 10),
                   ('y', 10, 10), ('y', 30, 30), ('y', 20, 20)) v(segment, spend, response),
           (VALUES (5::float8), (50)) b(budget)
      GROUP BY budget) t ORDER BY budget;

-- zero rows: NULL; one group per campaign with GROUP BY
SELECT clv_allocate_budget(segment, spend, response, 200) FROM curves WHERE false;
SELECT segment < 'b' AS first_half, clv_allocate_budget(segment, spend, response, 120)->'response'
FROM curves GROUP BY 1 ORDER BY 1;

-- as a window function: each row gets the allocation over the rows so far
SELECT segment, spend, clv_allocate_budget(segment, spend, response, 120)
           OVER (ORDER BY segment, spend)->'response' AS running
FROM curves ORDER BY segment, spend;

-- Errors
SELECT label, pg_temp.sqlstate_of(q) FROM (VALUES
  ('null segment',    $$SELECT clv_allocate_budget(NULL, 1, 1, 10)$$),
  ('null spend',      $$SELECT clv_allocate_budget('a', NULL, 1, 10)$$),
  ('null response',   $$SELECT clv_allocate_budget('a', 1, NULL, 10)$$),
  ('null budget',     $$SELECT clv_allocate_budget('a', 1, 1, NULL)$$),
  ('nan spend',       $$SELECT clv_allocate_budget('a', 'NaN', 1, 10)$$),
  ('inf response',    $$SELECT clv_allocate_budget('a', 1, '-Infinity', 10)$$),
  ('negative spend',  $$SELECT clv_allocate_budget('a', -1, 1, 10)$$),
  ('negative budget', $$SELECT clv_allocate_budget('a', 1, 1, -10)$$),
  ('infinite budget', $$SELECT clv_allocate_budget('a', 1, 1, 'Infinity')$$),
  ('budget changes',  $$SELECT clv_allocate_budget(segment, spend, response, spend) FROM curves$$),
  ('options change',  $$SELECT clv_allocate_budget(segment, spend, response, 10,
                          jsonb_build_object('objective', CASE WHEN spend > 100 THEN 'net' ELSE 'response' END))
                        FROM curves$$),
  ('unknown option',  $$SELECT clv_allocate_budget('a', 1, 1, 10, '{"minimum": {}}')$$),
  ('options array',   $$SELECT clv_allocate_budget('a', 1, 1, 10, '[]')$$),
  ('bad objective',   $$SELECT clv_allocate_budget('a', 1, 1, 10, '{"objective": "profit"}')$$),
  ('bad interpolate', $$SELECT clv_allocate_budget('a', 1, 1, 10, '{"interpolate": 1}')$$),
  ('min not object',  $$SELECT clv_allocate_budget('a', 1, 1, 10, '{"min": [1]}')$$),
  ('min not number',  $$SELECT clv_allocate_budget('a', 1, 1, 10, '{"min": {"a": "1"}}')$$),
  ('negative max',    $$SELECT clv_allocate_budget('a', 1, 1, 10, '{"max": {"a": -1}}')$$),
  ('unknown segment', $$SELECT clv_allocate_budget(segment, spend, response, 500, '{"min": {"c": 1}}') FROM curves$$),
  ('min above max',   $$SELECT clv_allocate_budget(segment, spend, response, 500,
                          '{"min": {"a": 50}, "max": {"a": 40}}') FROM curves$$),
  ('infeasible',      $$SELECT clv_allocate_budget(segment, spend, response, 100,
                          '{"min": {"a": 60, "b": 50}}') FROM curves$$),
  ('no level in bounds', $$SELECT clv_allocate_budget(segment, spend, response, 500,
                          '{"interpolate": false, "min": {"a": 110}, "max": {"a": 190}}') FROM curves$$),
  ('infeasible levels', $$SELECT clv_allocate_budget(segment, spend, response, 249,
                          '{"interpolate": false, "min": {"a": 110, "b": 60}}') FROM curves$$)
) t(label, q);

-- the knapsack's size limit: two segments of 4,000 levels, each response
-- equal to its spend, so every one of a's levels is on the first frontier,
-- and the second would combine 4,001 × 4,001 > 10,000,000
SELECT pg_temp.sqlstate_of($$
  SELECT clv_allocate_budget(s, l, l, 1e12, '{"interpolate": false}')
  FROM unnest(ARRAY['a', 'b']) s, generate_series(1, 4000) l$$) AS knapsack_limit;

-- memory bound: 64 kB hold 2,712 points of 24 bytes besides the 10 names
-- (2 bytes each, stored once), their 16-byte entries and 64 hash slots of 4
SET clv.max_training_memory = 64;
SELECT clv_allocate_budget('s' || i % 10, i, sqrt(i), 100) IS NOT NULL AS fits
FROM generate_series(1, 2712) i;
SELECT pg_temp.sqlstate_of($$SELECT clv_allocate_budget('s' || i % 10, i, sqrt(i), 100)
                             FROM generate_series(1, 2713) i$$) AS over_limit;
RESET clv.max_training_memory;

--------------------------------------------------------------------------------
-- clv_budget_threshold
--------------------------------------------------------------------------------

-- Three customers with one option each: slopes gain / cost 10, 6 and 2.
-- Budget 3: costs in slope order 1, 2, 4 pass 3 at the third option, so
-- lambda = 2; then 10 - 2 * 1 > 0, 6 - 2 * 1 > 0, 4 - 2 * 2 = 0 (not taken):
-- 2 spent.  Budget 100: everything fits, lambda = 0.
CREATE TABLE offers (customer bigint, offer text, gain float8, cost float8);
INSERT INTO offers VALUES (1, 'x', 10, 1), (2, 'x', 6, 1), (3, 'x', 4, 2);
SELECT clv_budget_threshold(gain, cost, 3) AS lambda_3,
       clv_budget_threshold(gain, cost, 100) AS lambda_100,
       clv_budget_threshold(gain, cost, 0) AS lambda_0
FROM offers;

-- Customer 4 has options (cost 1, gain 10), (2, 16), (4, 20) and (3, 5):
-- envelope steps of slope 10, 6 and 2 ((3, 5) lies under it).  Budget 3 for
-- customer 4 alone: cumulative costs 1, 2, 4: lambda = 2; at 2 the net gains
-- are 8, 12, 12, -1: the tie goes to the cheaper option, cost 2.
-- Budget 1.5: lambda = 6 (nets 4, 4, -4: the tie again to cost 1).
INSERT INTO offers VALUES (4, 'a', 10, 1), (4, 'b', 16, 2), (4, 'c', 20, 4), (4, 'd', 5, 3);
SELECT clv_budget_threshold(gain, cost, 3, customer) AS lambda_3,
       clv_budget_threshold(gain, cost, 1.5, customer) AS lambda_1_5
FROM offers WHERE customer = 4;

-- the rule users apply: for each customer, the option with the largest
-- gain - lambda * cost when positive, ties to the cheaper one
WITH price AS (SELECT clv_budget_threshold(gain, cost, 5, customer) AS lambda FROM offers)
SELECT DISTINCT ON (customer) customer, offer, gain, cost, lambda
FROM offers, price
WHERE gain - lambda * cost > 0
ORDER BY customer, gain - lambda * cost DESC, cost;

-- zero rows: NULL; as a window function
SELECT clv_budget_threshold(gain, cost, 3, customer) FROM offers WHERE false;
SELECT customer, offer, clv_budget_threshold(gain, cost, 3, customer)
           OVER (ORDER BY customer, offer) AS running
FROM offers ORDER BY customer, offer;

-- Errors
SELECT label, pg_temp.sqlstate_of(q) FROM (VALUES
  ('null gain',       $$SELECT clv_budget_threshold(NULL, 1, 10)$$),
  ('null cost',       $$SELECT clv_budget_threshold(1, NULL, 10)$$),
  ('null budget',     $$SELECT clv_budget_threshold(1, 1, NULL)$$),
  ('null customer',   $$SELECT clv_budget_threshold(1, 1, 10, NULL)$$),
  ('nan gain',        $$SELECT clv_budget_threshold('NaN', 1, 10)$$),
  ('infinite cost',   $$SELECT clv_budget_threshold(1, 'Infinity', 10)$$),
  ('zero cost',       $$SELECT clv_budget_threshold(1, 0, 10)$$),
  ('negative cost',   $$SELECT clv_budget_threshold(1, -2, 10)$$),
  ('negative budget', $$SELECT clv_budget_threshold(1, 1, -10)$$),
  ('nan budget',      $$SELECT clv_budget_threshold(1, 1, 'NaN')$$),
  ('budget changes',  $$SELECT clv_budget_threshold(gain, cost, cost, customer) FROM offers$$)
) t(label, q);

-- memory bound: 64 kB hold 2,730 options of 24 bytes
SET clv.max_training_memory = 64;
SELECT clv_budget_threshold(i % 7, 1 + i % 3, 100, i / 3) IS NOT NULL AS fits
FROM generate_series(1, 2730) i;
SELECT pg_temp.sqlstate_of($$SELECT clv_budget_threshold(i % 7, 1 + i % 3, 100, i / 3)
                             FROM generate_series(1, 3000) i$$) AS over_limit;
RESET clv.max_training_memory;

--------------------------------------------------------------------------------
-- Row order and plans
--------------------------------------------------------------------------------

-- 300 segments of 20 points, 30,000 customers of 3 options; the same rows
-- in two orders
CREATE TABLE b_points AS
SELECT 'seg' || lpad(s::text, 3, '0') AS segment, (p * (1 + s % 7))::float8 AS spend,
       (sqrt(p * (1 + s % 7)) * (1 + (s * 7919) % 13) + ((s * p * 104729) % 17) / 4.0)::float8 AS response
FROM generate_series(1, 300) s, generate_series(1, 20) p;
CREATE TABLE b_points_shuffled AS SELECT * FROM b_points ORDER BY md5(segment || spend);
CREATE TABLE b_offers AS
SELECT c AS customer, o AS offer,
       (((c * 7919 + o * 104729) % 1000) / 50.0 - 3)::float8 AS gain,
       (1 + ((c * 31 + o * 17) % 100) / 10.0)::float8 AS cost
FROM generate_series(1, 30000) c, generate_series(1, 3) o;
CREATE TABLE b_offers_shuffled AS SELECT * FROM b_offers ORDER BY md5(customer::text || offer);
ANALYZE b_points, b_offers;

CREATE TEMP TABLE b_serial AS
SELECT (SELECT clv_allocate_budget(segment, spend, response, 20000) FROM b_points) AS alloc,
       (SELECT clv_allocate_budget(segment, spend, response, 20000, '{"objective": "net"}') FROM b_points) AS net,
       (SELECT clv_budget_threshold(gain, cost, 50000, customer) FROM b_offers) AS lambda,
       (SELECT clv_budget_threshold(gain, cost, 50000) FROM b_offers) AS lambda_single;
SELECT alloc->'spend' AS spend, alloc->'response' AS response, alloc->'shadow_price' AS price,
       net->'value' AS net_value, lambda, lambda_single FROM b_serial;

-- the rule at lambda spends at most the budget
SELECT sum(cost) <= 50000 AS within_budget, round(sum(cost)) AS spent
FROM (SELECT DISTINCT ON (customer) customer, cost
      FROM b_offers, b_serial
      WHERE gain - lambda * cost > 0
      ORDER BY customer, gain - lambda * cost DESC, cost) t;

SELECT (SELECT clv_allocate_budget(segment, spend, response, 20000) FROM b_points_shuffled) = alloc
           AS alloc_shuffled_equal,
       (SELECT clv_budget_threshold(gain, cost, 50000, customer) FROM b_offers_shuffled) = lambda
           AS lambda_shuffled_equal,
       (SELECT clv_budget_threshold(gain, cost, 50000) FROM b_offers_shuffled) = lambda_single
           AS single_shuffled_equal
FROM b_serial;

\i test/sql/force_parallel.sql
SET enable_hashagg = off;
SELECT * FROM pg_temp.analyzed_plan($$SELECT clv_allocate_budget(segment, spend, response, 20000) FROM b_points$$);
SELECT * FROM pg_temp.analyzed_plan($$SELECT clv_budget_threshold(gain, cost, 50000, customer) FROM b_offers$$);
CREATE TEMP TABLE b_parallel AS
SELECT (SELECT clv_allocate_budget(segment, spend, response, 20000) FROM b_points) AS alloc,
       (SELECT clv_allocate_budget(segment, spend, response, 20000, '{"objective": "net"}') FROM b_points) AS net,
       (SELECT clv_budget_threshold(gain, cost, 50000, customer) FROM b_offers) AS lambda,
       (SELECT clv_budget_threshold(gain, cost, 50000) FROM b_offers) AS lambda_single;
RESET ALL;
SET extra_float_digits = 0;

SELECT p.alloc = s.alloc AS alloc_equal, p.net = s.net AS net_equal,
       p.lambda = s.lambda AS lambda_equal, p.lambda_single = s.lambda_single AS single_equal
FROM b_serial s, b_parallel p;

DROP TABLE curves, offers, b_points, b_points_shuffled, b_offers, b_offers_shuffled;
