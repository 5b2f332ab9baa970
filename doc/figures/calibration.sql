-- Calibration against holdout: the customers grouped by their repeat purchases
-- in the calibration period (0 to 6, and 7 or more), with the mean purchases
-- BG/NBD expects of them in the 39 weeks of the holdout and the mean they made.
-- Columns: group (0 to 7, 7 meaning 7 or more), its label, customers,
-- expected, actual.
\echo '# group label customers expected_holdout actual_holdout'
SELECT least(c.frequency, 7) AS "group",
       CASE WHEN c.frequency >= 7 THEN '7+' ELSE c.frequency::text END AS label,
       count(*) AS customers,
       avg(clv_expected_purchases(m.purchases, c.duration_holdout,
                                  c.frequency, c.recency, c.t)) AS expected_holdout,
       avg(c.frequency_holdout::float8) AS actual_holdout
FROM cdnow c CROSS JOIN cdnow_models m
GROUP BY 1, 2 ORDER BY 1;
