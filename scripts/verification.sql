-- The old pipeline's verification queries, unchanged but for the last one: as written in its
-- deployment guide, its ORDER BY binds to the whole UNION and PostgreSQL answers
-- `column "fitted_at" does not exist`; here the last branch is parenthesised. mirt_health()
-- returns the same rows.

-- 5.1 item parameters written in the last hour
SELECT 
    COUNT(*) AS item_count,
    AVG((params->>'a')::float) AS avg_discrimination,
    AVG((params->>'b')::float) AS avg_difficulty,
    MAX(fitted_at) AS last_fitted
FROM mirt_item_params
WHERE fitted_at >= NOW() - INTERVAL '1 hour';
-- item_count | avg_discrimination | avg_difficulty | last_fitted
-- 150        | 1.15              | 0.05           | 2025-11-02 04:15:23

-- 5.2 abilities written in the last hour
SELECT 
    COUNT(*) AS user_count,
    AVG(theta) AS avg_theta,
    STDDEV(theta) AS sd_theta,
    MAX(fitted_at) AS last_fitted
FROM mirt_ability
WHERE fitted_at >= NOW() - INTERVAL '1 hour';
-- user_count | avg_theta | sd_theta | last_fitted
-- 500        | 0.02      | 0.98     | 2025-11-02 04:15:23

-- 5.3 the latest run, with its linking constants
SELECT 
    run_id,
    model_spec->>'model' AS model,
    model_spec->>'n_items' AS n_items,
    model_spec->>'n_users' AS n_users,
    model_spec->>'n_anchors' AS n_anchors,
    model_spec->'linking_constants' AS linking_constants,
    metrics->>'aic' AS aic,
    fitted_at
FROM mirt_fit_meta
ORDER BY fitted_at DESC
LIMIT 1;
-- run_id                   | model | n_items | n_users | n_anchors | linking_constants              | aic      | fitted_at
-- fit-2025-11-02T04:15:23Z | 2PL   | 150     | 500     | 50        | {"slope":1.02,"intercept":0.05}| 12345.67 | 2025-11-02 04:15:23

-- 5.4 anchor items in the item bank (the application's own table)
SELECT 
    COUNT(*) AS anchor_count,
    AVG((meta->'irt'->>'a')::float) AS avg_anchor_discrimination,
    AVG((meta->'irt'->>'b')::float) AS avg_anchor_difficulty
FROM question
WHERE meta->'tags' @> '["anchor"]'::jsonb;
-- anchor_count | avg_anchor_discrimination | avg_anchor_difficulty
-- 50           | 1.18                      | 0.03

-- Daily check
SELECT 
    'mirt_item_params' AS table_name,
    COUNT(*) AS count,
    MAX(fitted_at) AS last_update
FROM mirt_item_params
WHERE fitted_at >= NOW() - INTERVAL '1 day'
UNION ALL
SELECT 
    'mirt_ability',
    COUNT(*),
    MAX(fitted_at)
FROM mirt_ability
WHERE fitted_at >= NOW() - INTERVAL '1 day';

-- Final verification: every row must say OK
SELECT 'ExternalSecret' AS component, 'OK' AS status
UNION ALL
SELECT 'mirt_item_params', CASE WHEN COUNT(*) > 0 THEN 'OK' ELSE 'FAIL' END FROM mirt_item_params WHERE fitted_at >= NOW() - INTERVAL '1 day'
UNION ALL
SELECT 'mirt_ability', CASE WHEN COUNT(*) > 0 THEN 'OK' ELSE 'FAIL' END FROM mirt_ability WHERE fitted_at >= NOW() - INTERVAL '1 day'
UNION ALL
(SELECT 'linking_constants', CASE WHEN model_spec->'linking_constants' IS NOT NULL THEN 'OK' ELSE 'FAIL' END FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1);

-- The same, from the extension
SELECT * FROM mirt_health();
