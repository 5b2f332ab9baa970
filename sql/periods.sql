-- Periods as the peers count them: ISO weeks from Monday, calendar months,
-- quarters and years, an origin for other calendars, and calibration_end and
-- as_of as time boundaries.  The expected numbers are those of the lifetimes
-- package (0.11.3: summary_data_from_transaction_data and
-- calibration_and_holdout_data with freq 'D', 'W' and 'M') on the same orders.
CREATE EXTENSION IF NOT EXISTS clv;
SET timezone = 'UTC';

CREATE TABLE p_orders (customer_id int, ordered_at timestamptz, amount float8);
INSERT INTO p_orders VALUES
    (1, '2024-01-05 10:00', 10),   -- Friday
    (1, '2024-01-06 09:00', 20),   -- Saturday: the same ISO week
    (1, '2024-01-17 14:00', 5),
    (1, '2024-02-29 08:00', 3),    -- before the calibration end below ...
    (1, '2024-02-29 18:00', 8),    -- ... and after it, the same day
    (2, '2024-01-07 23:00', 15),   -- Sunday
    (2, '2024-01-08 01:00', 25),   -- Monday: the next ISO week
    (2, '2024-03-31 12:00', 30), (2, '2024-03-31 15:00', 10),
    (3, '2024-02-13 11:00', 12),
    (4, '2024-01-31 16:00', 40), (4, '2024-02-01 10:00', 50),
    (4, '2024-02-15 10:00', 5),  (4, '2024-04-02 10:00', 60),
    (5, '2024-04-20 10:00', 7);    -- after as_of below

-- lifetimes: summary_data_from_transaction_data(freq='D',
-- observation_period_end='2024-04-10', monetary_value_col='amount')
SELECT customer_id, s.frequency, s.recency, s.t, s.monetary, s.days_since_last,
       (s.frequency, s.recency, s.t) = (l.frequency, l.recency, l.t)
           AND abs(s.monetary - l.monetary) < 1e-9 AS as_lifetimes
FROM (VALUES (1, 3, 55, 96, 12), (2, 2, 84, 94, 32.5), (3, 0, 0, 57, 0),
             (4, 3, 62, 70, 38.333333333333)) l(customer_id, frequency, recency, t, monetary)
LEFT JOIN (SELECT customer_id, (clv_summary(ordered_at, amount, '2024-04-10')).*
           FROM p_orders GROUP BY customer_id) s USING (customer_id)
ORDER BY customer_id;

-- freq='D', freq_multiplier=7: daily periods measured in weeks
SELECT customer_id, s.frequency, round(s.recency::numeric, 6) AS recency,
       round(s.t::numeric, 6) AS t,
       s.frequency = l.frequency AND abs(s.recency - l.recency) < 1e-9
           AND abs(s.t - l.t) < 1e-9 AS as_lifetimes
FROM (VALUES (1, 3, 7.857142857143, 13.714285714286), (2, 2, 12, 13.428571428571),
             (3, 0, 0, 8.142857142857), (4, 3, 8.857142857143, 10))
         l(customer_id, frequency, recency, t)
LEFT JOIN (SELECT customer_id, (clv_summary(ordered_at, amount, '2024-04-10', '1 day', '7 days')).*
           FROM p_orders GROUP BY customer_id) s USING (customer_id)
ORDER BY customer_id;

-- freq='W' (pandas' weeks, Monday to Sunday): '7 days' periods are ISO weeks.
-- Customer 1's Friday and Saturday orders are one purchase; customer 2's
-- Sunday and Monday orders are two.
SELECT customer_id, s.frequency, s.recency, s.t, s.monetary, s.days_since_last,
       (s.frequency, s.recency, s.t, s.monetary) = (l.frequency, l.recency, l.t, l.monetary)
           AS as_lifetimes
FROM (VALUES (1, 2, 8, 14, 8), (2, 2, 12, 14, 32.5), (3, 0, 0, 8, 0), (4, 2, 9, 10, 32.5))
         l(customer_id, frequency, recency, t, monetary)
LEFT JOIN (SELECT customer_id,
                  (clv_summary(ordered_at, amount, '2024-04-10', '7 days', '7 days')).*
           FROM p_orders GROUP BY customer_id) s USING (customer_id)
ORDER BY customer_id;
-- the weeks are date_trunc's
SELECT count(DISTINCT date_trunc('week', ordered_at)) - 1 AS frequency,
       (clv_summary(ordered_at, amount, '2024-04-10', '7 days')).frequency AS clv
FROM p_orders WHERE customer_id = 1;

-- freq='M': calendar months, frequency and monetary as lifetimes.  recency and
-- t count whole months between the months' starts; lifetimes divides the days
-- between them by numpy's mean month (30.436875 days), which unit
-- '30.436875 days' reproduces.  Orders after as_of do not count (customer 5).
SELECT customer_id, s.frequency, s.recency, s.t, s.monetary, s.days_since_last,
       (s.frequency, s.monetary) = (l.frequency, l.monetary) AS as_lifetimes
FROM (VALUES (1, 1, 11.0), (2, 1, 40), (3, 0, 0), (4, 2, 57.5), (5, NULL, NULL))
         l(customer_id, frequency, monetary)
LEFT JOIN (SELECT customer_id, (clv_summary(ordered_at, amount, '2024-04-10', '1 month')).*
           FROM p_orders GROUP BY customer_id) s USING (customer_id)
ORDER BY customer_id;
SELECT customer_id, s.frequency, round(s.recency::numeric, 9) AS recency,
       round(s.t::numeric, 9) AS t, s.monetary,
       s.frequency = l.frequency AND abs(s.recency - l.recency) < 1e-9
           AND abs(s.t - l.t) < 1e-9 AND s.monetary = l.monetary AS as_lifetimes
FROM (VALUES (1, 1, 1.0185014066, 2.989794451631, 11.0), (2, 1, 1.971293045032, 2.989794451631, 40),
             (3, 0, 0, 1.971293045032, 0), (4, 2, 2.989794451631, 2.989794451631, 57.5),
             (5, 0, 0, 0, 0))
         l(customer_id, frequency, recency, t, monetary)
LEFT JOIN (SELECT customer_id,
                  (clv_summary(ordered_at, amount, '2024-04-30 23:59:59.999999', '1 month',
                               '30.436875 days')).*
           FROM p_orders GROUP BY customer_id) s USING (customer_id)
ORDER BY customer_id;

-- lifetimes' plain summary counts every order of the period that contains
-- observation_period_end, even after it (customer 5 above); clv counts none
-- after as_of.  An as_of at the end of its period gives lifetimes' rows.
SELECT customer_id, (clv_summary(ordered_at, amount, '2024-04-10', '1 month')).t AS t_as_of,
       (clv_summary(ordered_at, amount, '2024-04-30 23:59:59.999999', '1 month')).t AS t_month_end
FROM p_orders GROUP BY customer_id ORDER BY customer_id;

-- Quarters and years: whole periods; lifetimes' freq='Q' fails in numpy.
SELECT customer_id, (s).frequency, (s).recency, (s).t, (s).monetary, (s).days_since_last
FROM (SELECT customer_id, clv_summary(ordered_at, amount, '2024-04-10', '3 months') AS s
      FROM p_orders GROUP BY customer_id) q ORDER BY customer_id;
SELECT customer_id, (s).frequency, (s).recency, (s).t
FROM (SELECT customer_id, clv_summary(ordered_at, amount, '2024-04-10', '3 months', '1 month') AS s
      FROM p_orders GROUP BY customer_id) q ORDER BY customer_id;
SELECT customer_id, (s).frequency, (s).recency, (s).t
FROM (SELECT customer_id, clv_summary(ordered_at, amount, '2024-04-10', '1 month', '1 year') AS s
      FROM p_orders GROUP BY customer_id) q ORDER BY customer_id;
-- monthly periods measured in days: the days between the months' starts
SELECT customer_id, (s).frequency, (s).recency, (s).t, (s).days_since_last
FROM (SELECT customer_id, clv_summary(ordered_at, amount, '2024-04-10', '1 month', '1 day') AS s
      FROM p_orders GROUP BY customer_id) q ORDER BY customer_id;

-- origin: Saturday weeks (pandas' 'W-FRI'), and fiscal years from April
-- (pandas' 'A-MAR'): customer 4's orders fall in fiscal 2023 and 2024.
SELECT customer_id, (s).frequency, (s).recency, (s).t, (s).monetary
FROM (SELECT customer_id,
             clv_summary(ordered_at, amount, '2024-04-10', '7 days', '7 days', '2024-01-06') AS s
      FROM p_orders GROUP BY customer_id) q ORDER BY customer_id;
SELECT customer_id, (s).frequency, (s).recency, (s).t, (s).monetary
FROM (SELECT customer_id,
             clv_summary(ordered_at, amount, '2024-04-30', '1 year', '1 year', '2023-04-01') AS s
      FROM p_orders GROUP BY customer_id) q ORDER BY customer_id;
-- any Monday gives the default weeks, however far from the orders: one
-- result per customer
SELECT count(DISTINCT (customer_id, s::text)) AS distinct_results,
       bool_and(o IS NULL OR extract(isodow FROM o) = 1) AS mondays
FROM (SELECT customer_id, o, clv_summary(ordered_at, amount, '2024-04-10', '7 days', '1 day', o) AS s
      FROM p_orders, (VALUES (timestamptz '2000-01-03'), ('1900-01-01'), ('2024-04-08'),
                             ('2300-01-01')) v(o)
      WHERE customer_id IN (1, 2) GROUP BY customer_id, o
      UNION ALL
      SELECT customer_id, NULL, clv_summary(ordered_at, amount, '2024-04-10', '7 days', '1 day')
      FROM p_orders WHERE customer_id IN (1, 2) GROUP BY customer_id) q;
-- a sub-day origin: days that start at 06:00
SELECT (clv_summary(ordered_at, amount, '2024-01-08 12:00', '1 day', '1 day', '2024-01-01 06:00')).*
FROM p_orders WHERE customer_id = 2;

-- calibration_and_holdout_data(calibration_period_end='2024-02-29 12:00',
-- observation_period_end='2024-04-10'): calibration_end is a boundary.  Its
-- day (week, month) is split: customer 1's order of 08:00 counts in the
-- calibration, that of 18:00 in the holdout, where the period is a purchase.
SELECT customer_id, s.frequency, s.recency, s.t, s.monetary,
       s.frequency_holdout, s.monetary_holdout, s.duration_holdout,
       (s.frequency, s.recency, s.t, s.frequency_holdout, s.duration_holdout)
           = (l.frequency, l.recency, l.t, l.frequency_holdout, l.duration_holdout)
           AND abs(s.monetary - l.monetary) < 1e-9 AS as_lifetimes
FROM (VALUES (1, 3, 55, 55, 9.333333333333, 1, 41), (2, 1, 1, 53, 25, 1, 41),
             (3, 0, 0, 16, 0, 0, 41), (4, 2, 15, 29, 27.5, 1, 41))
         l(customer_id, frequency, recency, t, monetary, frequency_holdout, duration_holdout)
LEFT JOIN (SELECT customer_id,
                  (clv_summary_holdout(ordered_at, amount, '2024-02-29 12:00', '2024-04-10')).*
           FROM p_orders GROUP BY customer_id) s USING (customer_id)
ORDER BY customer_id;
-- freq='W'
SELECT customer_id, s.frequency, s.recency, s.t, s.monetary,
       s.frequency_holdout, s.monetary_holdout, s.duration_holdout,
       (s.frequency, s.recency, s.t, s.monetary, s.frequency_holdout, s.duration_holdout)
           = (l.frequency, l.recency, l.t, l.monetary, l.frequency_holdout, l.duration_holdout)
           AS as_lifetimes
FROM (VALUES (1, 2, 8, 8, 4, 1, 6), (2, 1, 1, 8, 25, 1, 6),
             (3, 0, 0, 2, 0, 0, 6), (4, 1, 2, 4, 5, 1, 6))
         l(customer_id, frequency, recency, t, monetary, frequency_holdout, duration_holdout)
LEFT JOIN (SELECT customer_id,
                  (clv_summary_holdout(ordered_at, amount, '2024-02-29 12:00', '2024-04-10',
                                       '7 days')).*
           FROM p_orders GROUP BY customer_id) s USING (customer_id)
ORDER BY customer_id;
-- freq='M' (whole months; duration_holdout is whole months in lifetimes too)
SELECT customer_id, s.frequency, s.recency, s.t, s.monetary,
       s.frequency_holdout, s.monetary_holdout, s.duration_holdout,
       (s.frequency, s.monetary, s.frequency_holdout, s.duration_holdout)
           = (l.frequency, l.monetary, l.frequency_holdout, l.duration_holdout)
           AS as_lifetimes
FROM (VALUES (1, 1, 3, 1, 2), (2, 0, 0, 1, 2), (3, 0, 0, 0, 2), (4, 1, 55, 1, 2))
         l(customer_id, frequency, monetary, frequency_holdout, duration_holdout)
LEFT JOIN (SELECT customer_id,
                  (clv_summary_holdout(ordered_at, amount, '2024-02-29 12:00', '2024-04-10',
                                       '1 month')).*
           FROM p_orders GROUP BY customer_id) s USING (customer_id)
ORDER BY customer_id;
-- monetary_holdout is the mean per holdout period (customer 2: 30 + 10 on
-- 03-31), as PyMC-Marketing's test_monetary_value; lifetimes' is the mean per
-- order (20).

-- no calibration column ever counts an order after calibration_end, and the
-- plain form as of calibration_end gives the calibration columns
SELECT p AS period,
       count(*) FILTER (WHERE (h).last_purchase > '2024-02-29 12:00') AS after_calibration_end,
       count(*) FILTER (WHERE (c).frequency IS DISTINCT FROM (h).frequency
                           OR (c).recency IS DISTINCT FROM (h).recency
                           OR (c).t IS DISTINCT FROM (h).t
                           OR (c).monetary IS DISTINCT FROM (h).monetary
                           OR (c).orders IS DISTINCT FROM (h).orders
                           OR (c).last_purchase IS DISTINCT FROM (h).last_purchase
                           OR (c).days_since_last IS DISTINCT FROM (h).days_since_last) AS differences
FROM (VALUES (interval '1 hour'), ('1 day'), ('7 days'), ('1 month'), ('3 months'), ('1 year')) v(p),
     LATERAL (SELECT customer_id,
                     clv_summary_holdout(ordered_at, amount, '2024-02-29 12:00', '2024-04-10', p, p) AS h,
                     clv_summary(ordered_at, amount, '2024-02-29 12:00', p, p) AS c
              FROM p_orders GROUP BY customer_id) q
GROUP BY p ORDER BY p;
-- an order exactly at calibration_end counts in the calibration
SELECT (s).orders, (s).orders_holdout
FROM (SELECT clv_summary_holdout(ordered_at, amount, '2024-02-29 08:00', '2024-02-29 18:00', '1 month') AS s
      FROM p_orders WHERE customer_id = 1) q;

-- Local time: months and weeks follow the session time zone.
CREATE TABLE p_tz_orders (ordered_at timestamptz, amount float8);
INSERT INTO p_tz_orders VALUES
    ('2024-01-31 23:30+00', 1),    -- February 1 in Berlin
    ('2024-03-31 21:30+00', 1),    -- Sunday 23:30 in Berlin (CEST since 02:00)
    ('2024-03-31 22:30+00', 1);    -- Monday 00:30 in Berlin
SELECT (clv_summary(ordered_at, amount, '2024-04-10', '1 month')).frequency AS months_utc,
       (clv_summary(ordered_at, amount, '2024-04-10', '7 days')).frequency AS weeks_utc
FROM p_tz_orders;
SET timezone = 'Europe/Berlin';
SELECT (clv_summary(ordered_at, amount, '2024-04-10', '1 month')).frequency AS months_berlin,
       (clv_summary(ordered_at, amount, '2024-04-10', '7 days')).frequency AS weeks_berlin
FROM p_tz_orders;
-- the weeks are still date_trunc's after the change to summer time
SELECT count(DISTINCT date_trunc('week', ordered_at)) - 1 AS date_trunc_weeks FROM p_tz_orders;
-- months are local calendar months: February 1 to April 1 is 2 months, and
-- 60 days of local clock time across the change to summer time
SELECT (s).recency AS months, (s).t, (s).days_since_last
FROM (SELECT clv_summary(ordered_at, amount, '2024-04-10', '1 month') AS s FROM p_tz_orders) q;
SELECT (s).recency AS days, (s).t
FROM (SELECT clv_summary(ordered_at, amount, '2024-04-10', '1 month', '1 day') AS s FROM p_tz_orders) q;
-- an origin is read in local time too: midnight in Berlin starts a month ...
SELECT (clv_summary(ordered_at, amount, '2024-04-10', '1 year', '1 year', '2023-04-01')).frequency
FROM p_tz_orders;
-- ... midnight UTC does not
SELECT (clv_summary(ordered_at, amount, '2024-04-10', '1 year', '1 year', '2023-04-01 00:00+00')).frequency
FROM p_tz_orders;
RESET timezone;
SET timezone = 'UTC';

-- Partial states with month periods and an origin combine to the serial result.
CREATE TABLE p_many AS
SELECT i % 500 AS customer_id,
       timestamptz '2022-01-01' + ((i * 7919) % 900) * interval '1 day'
           + (i % 24) * interval '1 hour' AS ordered_at,
       (i % 37)::float8 AS amount
FROM generate_series(1, 40000) i;
ANALYZE p_many;
CREATE TABLE p_serial AS
SELECT customer_id,
       clv_summary_holdout(ordered_at, amount, '2023-06-15 12:00', '2024-03-01',
                           '3 months', '1 month', '2021-02-01') AS s
FROM p_many GROUP BY customer_id;
\i test/sql/force_parallel.sql
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT customer_id, clv_summary_holdout(ordered_at, amount, '2023-06-15 12:00', '2024-03-01',
                                        '3 months', '1 month', '2021-02-01')
FROM p_many GROUP BY customer_id;
SELECT count(*) AS customers, count(*) FILTER (WHERE p.s = s.s) AS identical
FROM (SELECT customer_id,
             clv_summary_holdout(ordered_at, amount, '2023-06-15 12:00', '2024-03-01',
                                 '3 months', '1 month', '2021-02-01') AS s
      FROM p_many GROUP BY customer_id) p
JOIN p_serial s USING (customer_id);
RESET ALL;
SET timezone = 'UTC';

-- spans beyond 64 bits of microseconds: the whole range of timestamps in
-- hours, and in 300,000-year periods
SELECT (s).recency, (s).t, (s).days_since_last
FROM (SELECT clv_summary(t, 1, '294000-01-01', '1 hour', '1 day') AS s
      FROM (VALUES (timestamptz '4713-11-25 BC'), ('294000-01-01')) v(t)) q;
SELECT (s).recency, (s).t, (s).days_since_last
FROM (SELECT clv_summary(t, 1, '2024-01-01', '300000 years', '1 day') AS s
      FROM (VALUES (timestamptz '4000-01-01 BC'), ('2023-01-01')) v(t)) q;

-- errors
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 month 3 days');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 day', '1 year 1 second');
SELECT clv_summary(now(), 1.0, '2024-01-20', '-1 month');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 month', '-1 year');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 day', '1 month');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1000000000 days');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1000000 years');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 month', '1 month', '2024-01-15');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 month', '1 month', '2024-01-01 00:00:01');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 day', '1 day', NULL);
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 day', '1 day', 'infinity');
SELECT clv_summary_holdout(now(), 1.0, '2024-01-20', '2024-02-01', '1 day', '1 day', '-infinity');
SELECT clv_summary(ordered_at, amount, '2024-04-10', '7 days', '7 days', ordered_at) FROM p_orders;
