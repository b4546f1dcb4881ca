-- The standalone helpers, with rounded output, each beside an independent computation of the
-- same number: the formula written out in SQL, or data built with a known answer.
SET client_min_messages = warning;
SELECT round(mirt_irf(0, 1.2, -0.5)::numeric, 6) AS p_2pl,
       round((1 / (1 + exp(-1.2 * (0 + 0.5))))::numeric, 6) AS by_formula,
       round(mirt_irf(0, 1.2, -0.5, 0.2)::numeric, 6) AS p_3pl,
       round((0.2 + 0.8 / (1 + exp(-1.2 * (0 + 0.5))))::numeric, 6) AS by_formula,
       round(mirt_item_information(0.3, 1.5, 0.3)::numeric, 6) AS info_at_b,
       1.5 * 1.5 * 0.25 AS a2_pq;
-- Test characteristic curve Σ P, information Σ a²PQ and its SE 1/√I, against the sums written out.
WITH items(a, b) AS (VALUES (0.8, -1), (1.2, 0), (1.6, 1)),
by_sum AS (
    SELECT t, sum(p) AS tcc, sum(a * a * p * (1 - p)) AS information
    FROM (SELECT -2 + k AS t FROM generate_series(0, 4) k) grid,
         LATERAL (SELECT a, 1 / (1 + exp(-a * (t - b))) AS p FROM items) i
    GROUP BY t
)
SELECT round(c.theta::numeric, 2) AS theta, round(c.tcc::numeric, 4) AS tcc,
       round(c.information::numeric, 4) AS information, round(c.se::numeric, 4) AS se,
       abs(c.tcc - s.tcc) < 1e-12 AND abs(c.information - s.information) < 1e-12
           AND abs(c.se - 1 / sqrt(s.information)) < 1e-12 AS equals_the_sums
FROM mirt_test_curves(ARRAY[0.8, 1.2, 1.6], ARRAY[-1, 0, 1], -2, 2, 5) c
JOIN by_sum s ON abs(s.t - c.theta) < 1e-9 ORDER BY c.theta;
-- The 'to' items are the 'from' items moved by A = 1.25, B = 0.5 (a/A, A·b + B): the link
-- must find exactly that.
SELECT round(slope::numeric, 6) AS slope, round(intercept::numeric, 6) AS intercept
FROM mirt_linking_constants('stocking_lord', ARRAY[1.0, 1.2, 0.9], ARRAY[-1.0, 0.0, 1.0],
                            ARRAY[0.8, 0.96, 0.72], ARRAY[-0.75, 0.5, 1.75]);
-- EAP of one pattern against the posterior mean and SD integrated in SQL on 1,201 points.
WITH grid AS (SELECT -6 + 0.01 * k AS t FROM generate_series(0, 1200) k),
posterior AS (
    SELECT t, exp(-t * t / 2)
              / (1 + exp(-1.0 * (t + 1.0))) / (1 + exp(-1.5 * t)) * (1 - 1 / (1 + exp(-0.8 * (t - 0.5)))) AS w
    FROM grid
),
moments AS (SELECT sum(t * w) / sum(w) AS mean FROM posterior)
SELECT round(e.theta::numeric, 4) AS theta, round(e.se::numeric, 4) AS se,
       round(m.mean::numeric, 4) AS integrated_theta,
       round(sqrt((SELECT sum((t - m.mean) ^ 2 * w) / sum(w) FROM posterior))::numeric, 4) AS integrated_se
FROM mirt_score_eap(ARRAY[true, true, false, NULL], ARRAY[1.0, 1.5, 0.8, 1.1], ARRAY[-1.0, 0.0, 0.5, 1.0]) e,
     moments m;
