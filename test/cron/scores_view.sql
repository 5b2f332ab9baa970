-- The scores view of the `cron` stage (test/cron/stage.sh) and of
-- test/bench/bench_refresh.sh, over the table orders (customer_id, ordered_at, amount)
-- of the current schema, with the psql variables
--     as_of            the end of the observation
--     calibration_end  where the forest's training data splits into features and target
-- It makes the table models, fitted once (a job of its own would refit them), and the
-- materialized view scores, with the unique index that REFRESH ... CONCURRENTLY needs.

-- BG/NBD and Gamma-Gamma on the summaries in weeks as of as_of, a forest of the spend
-- after calibration_end from the summaries before it, and the RFM quintile thresholds.
CREATE TABLE models AS
WITH s AS (
    SELECT (clv_summary(ordered_at, amount, :'as_of', '1 day', '7 days')).*
    FROM orders GROUP BY customer_id
), cal AS (
    SELECT (clv_summary_holdout(ordered_at, amount, :'calibration_end', :'as_of',
                                '1 day', '7 days')).*
    FROM orders GROUP BY customer_id
)
SELECT (SELECT clv_bgnbd_fit(frequency, recency, t) FROM s) AS purchases,
       (SELECT clv_gammagamma_fit(frequency, monetary) FROM s) AS spend,
       (SELECT clv_forest_fit(revenue_holdout, ARRAY[frequency, recency, t, monetary],
                              '{"n_trees": 50, "max_depth": 8, "seed": 1}')
        FROM cal WHERE frequency IS NOT NULL) AS revenue,   -- NULL: no calibration order
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY t - recency) AS r_t,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY frequency) AS f_t,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY monetary) AS m_t
FROM s;

-- One row per customer: the summary, the discounted value of the next year, the
-- forest's spend, the RFM segment.
CREATE MATERIALIZED VIEW scores AS
SELECT s.customer_id, s.frequency, s.recency, s.t, s.monetary, s.orders, s.revenue,
       clv_lifetime_value(m.purchases, m.spend, s.frequency, s.recency, s.t, s.monetary,
                          '1 year', '7 days', 0.1) AS value_next_year,
       clv_predict(m.revenue, ARRAY[s.frequency, s.recency, s.t, s.monetary]) AS predicted_spend,
       clv_rfm_segment(clv_rfm_score(s.t - s.recency, m.r_t, false),
                       clv_rfm_score(s.frequency, m.f_t, true),
                       clv_rfm_score(s.monetary, m.m_t, true)) AS segment
FROM (SELECT customer_id,
             (clv_summary(ordered_at, amount, :'as_of', '1 day', '7 days')).*
      FROM orders GROUP BY customer_id) s
CROSS JOIN models m;
CREATE UNIQUE INDEX ON scores (customer_id);
