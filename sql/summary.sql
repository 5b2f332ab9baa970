-- clv_summary and clv_summary_holdout: lifetimes' semantics, checked against
-- published facts about the BTYD package's CDNOW calibration/holdout summary.
CREATE EXTENSION IF NOT EXISTS clv;
SET timezone = 'UTC';

-- The CDNOW sample (2,357 customers), as bundled: whitespace-separated, CRLF.
CREATE TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'test/data/cdnow_sample.txt'
CREATE TABLE cdnow_orders AS
SELECT f[2]::int AS customer_id,
       to_date(f[3], 'YYYYMMDD')::timestamptz AS ordered_at,
       f[5]::float8 AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM cdnow_raw) r;
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers FROM cdnow_orders;

CREATE TABLE cdnow_summary AS
SELECT customer_id, (s).*
FROM (SELECT customer_id,
             clv_summary_holdout(ordered_at, amount, '1997-09-30', '1998-06-30',
                                 '1 day', '7 days') AS s
      FROM cdnow_orders GROUP BY customer_id) q;

-- Published facts about the BTYD package's CDNOW summary (cdnowSummary$cbs:
-- x, t_x, T_cal in weeks, x_star in the 39-week holdout, m_x): its totals,
-- and a few customers' rows (cust, x, t_x·7, T_cal·7, x_star, m_x).
SELECT count(*) AS customers,
       sum(frequency) AS sum_x,                                   -- 2,457
       sum(frequency_holdout) AS sum_x_star,                      -- 1,882
       count(*) FILTER (WHERE frequency > 0) AS repeat_buyers,    -- 946
       count(*) FILTER (WHERE frequency_holdout > 0) AS holdout_buyers,  -- 684
       max(frequency) AS max_x, max(frequency_holdout) AS max_x_star,    -- 29, 34
       round(sum(recency) * 7) AS sum_t_x_days,                   -- 112,949
       round(sum(t) * 7) AS sum_t_cal_days,                       -- 539,779
       abs(sum(monetary) - 33183.64376687064) < 1e-8 AS sum_m_x,
       abs(sum(monetary * frequency) - 95355.60) < 1e-8 AS repeat_revenue,
       count(*) FILTER (WHERE duration_holdout = 39) AS duration_39
FROM cdnow_summary;
SELECT c.cust, s.frequency = c.x AS x, abs(s.recency * 7 - c.t_x_days) < 1e-9 AS t_x,
       abs(s.t * 7 - c.t_cal_days) < 1e-9 AS t_cal, s.frequency_holdout = c.x_star AS x_star,
       abs(s.monetary - c.m_x) < 1e-9 AS m_x
FROM (VALUES (1, 2, 213, 272, 1, 22.345), (2, 1, 12, 272, 0, 11.77),
             (61, 4, 206, 269, 3, 53.3975), (1000, 4, 171, 235, 3, 16.26),
             (1230, 3, 181, 226, 5, 23.49333333333333), (2357, 0, 0, 189, 0, 0))
     c(cust, x, t_x_days, t_cal_days, x_star, m_x)
LEFT JOIN cdnow_summary s ON s.customer_id = c.cust
ORDER BY c.cust;
-- t_x and T_cal are whole days over 7
SELECT count(*) FILTER (WHERE abs(recency * 7 - round(recency * 7)) > 1e-9
                        OR abs(t * 7 - round(t * 7)) > 1e-9) AS not_whole_days
FROM cdnow_summary;

-- the plain form agrees with the holdout form's calibration columns
SELECT count(*) AS disagreements
FROM (SELECT customer_id, (clv_summary(ordered_at, amount, '1997-09-30', '1 day', '7 days')).*
      FROM cdnow_orders GROUP BY customer_id) p
JOIN cdnow_summary s USING (customer_id)
WHERE (p.frequency, p.recency, p.t, p.monetary, p.orders, p.revenue, p.first_purchase,
       p.last_purchase, p.days_since_last)
      IS DISTINCT FROM
      (s.frequency, s.recency, s.t, s.monetary, s.orders, s.revenue, s.first_purchase,
       s.last_purchase, s.days_since_last);

-- a worked example: same-day orders merge; orders after as_of are not counted
CREATE TABLE small_orders (customer_id int, ordered_at timestamptz, amount float8);
INSERT INTO small_orders VALUES
    (1, '2024-01-01 09:00', 10), (1, '2024-01-01 17:00', 5),   -- one purchase day
    (1, '2024-01-05 12:00', 20), (1, '2024-01-10 08:00', 40),
    (1, '2024-01-10 20:00', 2),  (1, '2024-02-01 00:00', 99),  -- after as_of
    (2, '2024-01-09 10:00', 7),
    (3, '2024-02-02 10:00', 1);                                -- only after as_of
SELECT customer_id, (clv_summary(ordered_at, amount, '2024-01-20')).*
FROM small_orders GROUP BY customer_id ORDER BY customer_id;
-- weekly periods (ISO weeks, from Monday), measured in days
SELECT customer_id, (clv_summary(ordered_at, amount, '2024-01-20', '7 days', '1 day')).*
FROM small_orders GROUP BY customer_id ORDER BY customer_id;
-- holdout to the end of February
SELECT customer_id, (clv_summary_holdout(ordered_at, amount, '2024-01-20', '2024-02-29')).*
FROM small_orders GROUP BY customer_id ORDER BY customer_id;

-- periods follow the session time zone: 23:30 UTC is the next day in Berlin
CREATE TABLE tz_orders (ordered_at timestamptz, amount float8);
INSERT INTO tz_orders VALUES ('2024-03-01 10:00+00', 1), ('2024-03-01 23:30+00', 1),
                             ('2024-07-01 12:00+00', 1);
SELECT (clv_summary(ordered_at, amount, '2024-08-01 00:00+00')).frequency FROM tz_orders;
SET timezone = 'Europe/Berlin';
SELECT (clv_summary(ordered_at, amount, '2024-08-01 00:00+00')).frequency FROM tz_orders;
-- a DST change between orders does not shift day boundaries in local time
SELECT (s).recency, (s).t
FROM (SELECT clv_summary(ordered_at, amount, '2024-08-01 12:00+02') s FROM tz_orders) q;
RESET timezone;
SET timezone = 'UTC';

-- empty input gives NULL, like other aggregates
SELECT clv_summary(ordered_at, amount, '2024-01-20') IS NULL AS is_null
FROM small_orders WHERE false;

-- errors
SELECT clv_summary(NULL::timestamptz, 1.0, '2024-01-20');
SELECT clv_summary(now(), NULL::float8, '2024-01-20');
SELECT clv_summary(now(), 'NaN'::float8, '2024-01-20');
SELECT clv_summary(now(), 'Infinity'::float8, '2024-01-20');
SELECT clv_summary('infinity'::timestamptz, 1.0, '2024-01-20');
SELECT clv_summary(now(), 1.0, NULL::timestamptz);
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 month 3 days');
SELECT clv_summary(now(), 1.0, '2024-01-20', '0 days');
SELECT clv_summary(now(), 1.0, '2024-01-20', '1 day', '-1 day');
SELECT clv_summary(now(), 1.0, '2024-01-20', NULL::interval);
SELECT clv_summary_holdout(now(), 1.0, '2024-01-20', '2024-01-01');
SELECT clv_summary(ordered_at, amount, ordered_at) FROM small_orders;
