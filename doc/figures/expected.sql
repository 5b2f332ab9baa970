-- Expected purchases matrix: the purchases BG/NBD expects in the next 39 weeks
-- of a customer aged T = 38.86 weeks (acquired on 1997-01-01), by repeat
-- purchases (0 to 20) and recency, on the grid of palive.sql.
-- Columns: recency, frequency, expected purchases.
\echo '# recency frequency expected_39_weeks'
WITH age AS (SELECT max(t) AS t FROM cdnow)
SELECT g.recency, f AS frequency,
       clv_expected_purchases(m.purchases, 39, f, CASE WHEN f = 0 THEN 0 ELSE g.recency END,
                              age.t) AS expected_39_weeks
FROM cdnow_models m, age,
     generate_series(0, 20) AS f,
     LATERAL (SELECT age.t * (k + 0.5) / 40 AS recency FROM generate_series(0, 39) AS k) g
ORDER BY f, g.recency;
