-- "Is calibration stale or failing?" as one query: the last run, its age and counts.
CREATE VIEW mirt_run_status AS
SELECT r.run_id,
       r.status,
       r.fitted_at,
       extract(epoch FROM now() - r.fitted_at)::float8 AS age_seconds,
       (r.metrics->'ms'->>'total')::float8 AS duration_ms,
       (r.model_spec->>'n_items')::int AS n_items,
       (r.model_spec->>'n_users')::int AS n_users,
       (r.model_spec->>'n_observations')::bigint AS n_observations,
       (r.metrics->>'converged')::boolean AS converged,
       s.fitted_at AS last_success_at,
       extract(epoch FROM now() - s.fitted_at)::float8 AS last_success_age_seconds
FROM (SELECT * FROM @extschema@.mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1) r
LEFT JOIN LATERAL (
    SELECT fitted_at FROM @extschema@.mirt_fit_meta WHERE status = 'succeeded' ORDER BY fitted_at DESC LIMIT 1
) s ON true;

-- The component/status rows of the old pipeline's final verification, every row 'OK' after
-- a successful run in the last day.
CREATE FUNCTION mirt_health()
RETURNS TABLE (component text, status text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'mirt_item_params', CASE WHEN count(*) > 0 THEN 'OK' ELSE 'FAIL' END
    FROM @extschema@.mirt_item_params WHERE fitted_at >= now() - interval '1 day'
    UNION ALL
    SELECT 'mirt_ability', CASE WHEN count(*) > 0 THEN 'OK' ELSE 'FAIL' END
    FROM @extschema@.mirt_ability WHERE fitted_at >= now() - interval '1 day'
    UNION ALL
    SELECT 'last_run', coalesce((
        SELECT CASE WHEN status = 'succeeded' AND age_seconds < 26 * 3600 THEN 'OK' ELSE 'FAIL' END
        FROM @extschema@.mirt_run_status), 'FAIL')
    UNION ALL
    SELECT 'linking_constants', coalesce((
        SELECT CASE WHEN model_spec->'linking_constants' IS NOT NULL THEN 'OK' ELSE 'FAIL' END
        FROM @extschema@.mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1), 'FAIL')
$$;

-- The items a person should look at after the latest run: every item whose status is not ok,
-- with the gate that set it, its fit and the parameters that run gave it (none if excluded).
CREATE VIEW mirt_items_for_review AS
SELECT f.item_id,
       f.status,
       f.reason,
       f.run_id,
       r.fitted_at,
       (h.params->>'a')::float8 AS a,
       (h.params->>'b')::float8 AS b,
       h.p_value,
       f.s_x2_p,
       f.rmsd,
       f.infit,
       f.outfit
FROM (SELECT run_id, fitted_at FROM @extschema@.mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1) r
JOIN @extschema@.mirt_item_fit f ON f.run_id = r.run_id
LEFT JOIN @extschema@.mirt_item_params_history h ON h.run_id = f.run_id AND h.item_id = f.item_id
WHERE f.status <> 'ok';
