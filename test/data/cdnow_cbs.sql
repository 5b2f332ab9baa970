-- CDNOW summary (BTYD's cdnowSummary$cbs) from test/data/cdnow_sample.txt into table :cbs
-- (\set cbs NAME, then \i this file); sql/summary.sql checks it against published facts.
CREATE TEMP TABLE cdnow_raw_lines (line text);
\copy cdnow_raw_lines FROM 'test/data/cdnow_sample.txt'
CREATE TABLE :cbs AS
SELECT customer_id AS cust, (s).frequency::int AS x, (s).recency AS t_x, (s).t AS t_cal,
       (s).frequency_holdout::int AS x_star, (s).monetary AS m_x
FROM (SELECT f[2]::int AS customer_id,
             clv_summary_holdout(to_date(f[3], 'YYYYMMDD')::timestamptz, f[5]::float8,
                                 '1997-09-30', '1998-06-30', '1 day', '7 days') AS s
      FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f
            FROM cdnow_raw_lines) r
      GROUP BY 1) q
ORDER BY cust;
DROP TABLE cdnow_raw_lines;
