-- Calibration of the lifetime value: clv_calibration's bins of the revenue
-- BG/NBD and Gamma-Gamma predict for each customer's 39-week holdout
-- (clv_lifetime_value, undiscounted) against what the customer spent in it.
-- Ten bins of equal counts by the prediction; ties share a bin, so a bin may
-- hold more customers than a tenth.
-- Columns: bin, customers, mean predicted, mean actual, least and greatest
-- prediction in the bin.
\echo '# bin customers mean_predicted mean_actual min_predicted max_predicted'
SELECT b.bin, b.n AS customers, b.mean_predicted, b.mean_actual,
       b.min_predicted, b.max_predicted
FROM (SELECT clv_calibration(
                 clv_lifetime_value(m.purchases, m.spend, c.frequency, c.recency, c.t,
                                    c.monetary, c.duration_holdout * interval '7 days',
                                    '7 days', 0),
                 c.revenue_holdout, 10) AS cal
      FROM cdnow c CROSS JOIN cdnow_models m) q
CROSS JOIN LATERAL jsonb_to_recordset(q.cal -> 'bins')
    AS b(bin int, n int, mean_predicted float8, mean_actual float8,
         min_predicted float8, max_predicted float8)
ORDER BY b.bin;
