-- P(alive) matrix: the probability, under BG/NBD, that a customer is still
-- active, for customers with T = 38.86 weeks (those acquired on 1997-01-01, the
-- oldest of the first-quarter cohort), by repeat purchases (0 to 20) and
-- recency, at the midpoints of 40 equal steps from 0 to T.  A customer without
-- repeat purchases has recency 0 whatever the column: BG/NBD gives them
-- P(alive) = 1.
-- Columns: recency, frequency, P(alive).
\echo '# recency frequency p_alive'
WITH age AS (SELECT max(t) AS t FROM cdnow)
SELECT g.recency, f AS frequency,
       clv_palive(m.purchases, f, CASE WHEN f = 0 THEN 0 ELSE g.recency END, age.t) AS p_alive
FROM cdnow_models m, age,
     generate_series(0, 20) AS f,
     LATERAL (SELECT age.t * (k + 0.5) / 40 AS recency FROM generate_series(0, 39) AS k) g
ORDER BY f, g.recency;
