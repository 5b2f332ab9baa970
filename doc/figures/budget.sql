-- Marketing budget: the expected incremental value a budget buys, split
-- between four segments by clv_allocate_budget, and the spend that maximises
-- the value net of the spend.
--
-- The segments are the customers by their repeat purchases in the calibration
-- period (0, 1, 2 to 3, 4 or more).  The CDNOW data have no campaigns, so the
-- response to spend is assumed: spending s dollars on a customer raises their
-- expected value over the next year (clv_lifetime_value, 10 % a year) by the
-- fraction 0.3 * (1 - exp(-s / 5)), at most 30 %, half of it for $3.47.  A
-- segment's response curve is its customers' total, given at spends of 0 to
-- $30 per customer in steps of $0.50.
-- First block: budget, incremental value, value net of the budget, for budgets
-- of 0 to $10,000; second block, after two blank lines: the spend that
-- maximises the net value (objective "net"), its value and net value.
\echo '# budget incremental_value net_value'
CREATE TEMP TABLE response_curves AS
WITH customer_value AS (
    SELECT CASE WHEN c.frequency = 0 THEN '0' WHEN c.frequency = 1 THEN '1'
                WHEN c.frequency <= 3 THEN '2-3' ELSE '4+' END AS segment,
           clv_lifetime_value(m.purchases, m.spend, c.frequency, c.recency, c.t, c.monetary,
                              '1 year', '7 days', 0.10) AS value_1y
    FROM cdnow c CROSS JOIN cdnow_models m),
segments AS (
    SELECT segment, count(*) AS customers, sum(value_1y) AS value_1y
    FROM customer_value GROUP BY segment)
SELECT segment, customers * s AS spend, value_1y * 0.3 * (1 - exp(-s / 5)) AS response
FROM segments, generate_series(0, 60) AS k, LATERAL (SELECT k * 0.5 AS s) per_customer;

SELECT budget, (a ->> 'response')::float8 AS incremental_value,
       (a ->> 'response')::float8 - budget AS net_value
FROM (SELECT b.budget, clv_allocate_budget(r.segment, r.spend, r.response, b.budget) AS a
      FROM response_curves r, generate_series(0, 10000, 100) AS b(budget)
      GROUP BY b.budget) q
ORDER BY budget;
\echo
\echo
\echo '# optimal_spend incremental_value net_value'
SELECT a ->> 'spend' AS optimal_spend, a ->> 'response' AS incremental_value,
       a ->> 'value' AS net_value
FROM (SELECT clv_allocate_budget(segment, spend, response, 1e9, '{"objective": "net"}') AS a
      FROM response_curves) q;
