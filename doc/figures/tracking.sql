-- Tracking plot: the cohort's cumulative repeat purchases at the end of each
-- week since 1997-01-01, expected under BG/NBD and actual, through the
-- calibration period (weeks 1 to 39) and the holdout (weeks 40 to 78).
-- Columns: week, expected, actual.
SET timezone = 'UTC';
\echo '# week expected_cumulative actual_cumulative'
WITH expected AS (
    -- week s of a customer's first purchase, in fractions of a week (604,800 s)
    SELECT clv_cumulative_expected_purchases(
               m.purchases, extract(epoch FROM c.first_purchase - '1997-01-01') / 604800, 78) AS curve
    FROM cdnow c CROSS JOIN cdnow_models m),
repeat_purchases AS (
    -- purchase days after each customer's first, as the summary counts them
    SELECT DISTINCT o.customer_id, o.ordered_at
    FROM cdnow_orders o JOIN cdnow c USING (customer_id)
    WHERE o.ordered_at > c.first_purchase)
SELECT w AS week, curve[w] AS expected_cumulative,
       (SELECT count(*) FROM repeat_purchases p
        WHERE p.ordered_at < timestamptz '1997-01-01' + w * interval '7 days') AS actual_cumulative
FROM expected, generate_series(1, 78) AS w
ORDER BY w;
