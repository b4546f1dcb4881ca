-- mirt_calibrate on the demo database, in a transaction that is rolled back.
SET client_min_messages = warning;
BEGIN;
-- As on a new installation: no earlier drift screening.
DELETE FROM mirt_anchor_drift;
SELECT model, n_items, n_users, n_anchors, n_observations, converged,
       round(slope::numeric, 3) AS slope, round(intercept::numeric, 3) AS intercept,
       round(loglik::numeric, 2) AS loglik
FROM mirt_calibrate('2PL', 60);
SELECT component, status FROM mirt_health();
SELECT model_spec->'skipped_rows' AS skipped_rows, model_spec->>'linking_method' AS linking
FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1;
SELECT item_id, round((params->>'a')::numeric, 3) AS a, round((params->>'b')::numeric, 3) AS b,
       n_responses, round(p_value::numeric, 3) AS p_value
FROM mirt_item_params ORDER BY item_id::int LIMIT 5;
ROLLBACK;
