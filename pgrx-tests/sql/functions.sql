-- The standalone helpers, with rounded output.
SET client_min_messages = warning;
SELECT round(mirt_irf(0, 1.2, -0.5)::numeric, 6) AS p_2pl,
       round(mirt_irf(0, 1.2, -0.5, 0.2)::numeric, 6) AS p_3pl,
       round(mirt_item_information(0.3, 1.5, 0.3)::numeric, 6) AS info_at_b;
SELECT round(theta::numeric, 2) AS theta, round(tcc::numeric, 4) AS tcc,
       round(information::numeric, 4) AS information, round(se::numeric, 4) AS se
FROM mirt_test_curves(ARRAY[0.8, 1.2, 1.6], ARRAY[-1, 0, 1], -2, 2, 5);
SELECT round(slope::numeric, 6) AS slope, round(intercept::numeric, 6) AS intercept
FROM mirt_linking_constants('stocking_lord', ARRAY[1.0, 1.2, 0.9], ARRAY[-1.0, 0.0, 1.0],
                            ARRAY[0.8, 0.96, 0.72], ARRAY[-0.75, 0.5, 1.75]);
SELECT round(theta::numeric, 4) AS theta, round(se::numeric, 4) AS se
FROM mirt_score_eap(ARRAY[true, true, false, NULL], ARRAY[1.0, 1.5, 0.8, 1.1], ARRAY[-1.0, 0.0, 0.5, 1.0]);
