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

-- Everything a report of one run shows, as one document (mirt_report renders it; so does the
-- pg-irt command): the run's record, its items with parameters and fit, every drift screening
-- and, with groups, every item's DIF (numeric ids in numeric order), the items whose trend
-- across runs alarms with their b and SE in their last 60 runs,
-- a 40-bin histogram of the abilities of this run still in mirt_ability (later runs overwrite
-- users), and the failed pg_cron runs of mirt_calibrate between this run and the next one
-- recorded (a failed run rolls back everything it would have written). NULL: the latest run.
CREATE FUNCTION mirt_report_data(run_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run @extschema@.mirt_fit_meta;
    next_at timestamptz;
    doc jsonb;
    failures jsonb := '[]';
BEGIN
    SELECT * INTO run FROM @extschema@.mirt_fit_meta m
    WHERE m.run_id = mirt_report_data.run_id OR mirt_report_data.run_id IS NULL
    ORDER BY m.fitted_at DESC LIMIT 1;

    IF to_regclass('cron.job_run_details') IS NOT NULL
       AND has_table_privilege('cron.job_run_details', 'SELECT') THEN
        SELECT min(m.fitted_at) INTO next_at FROM @extschema@.mirt_fit_meta m WHERE m.fitted_at > run.fitted_at;
        EXECUTE $q$
            SELECT coalesce(jsonb_agg(jsonb_build_object('at', start_time, 'message', return_message)
                                      ORDER BY start_time DESC), '[]')
            FROM (SELECT start_time, return_message FROM cron.job_run_details
                  WHERE status = 'failed' AND command ILIKE '%mirt_calibrate%'
                    AND start_time > coalesce($1, '-infinity') AND start_time < coalesce($2, 'infinity')
                  ORDER BY start_time DESC LIMIT 20) f
        $q$ INTO failures USING run.fitted_at, next_at;
    END IF;

    IF run.run_id IS NULL THEN
        RETURN jsonb_build_object('requested', mirt_report_data.run_id, 'run', NULL,
                                  'items', '[]'::jsonb, 'drift', '[]'::jsonb, 'dif', '[]'::jsonb, 'trend', '[]'::jsonb, 'abilities', NULL,
                                  'failures', failures);
    END IF;

    SELECT jsonb_build_object(
        'requested', mirt_report_data.run_id,
        'run', jsonb_build_object('run_id', run.run_id, 'status', run.status, 'fitted_at', run.fitted_at,
                                  'model_spec', run.model_spec, 'metrics', run.metrics),
        'items', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'item_id', coalesce(h.item_id, f.item_id), 'model', h.model, 'params', h.params,
                      'n_responses', h.n_responses, 'p_value', h.p_value,
                      'fit', CASE WHEN f.item_id IS NOT NULL THEN to_jsonb(f) - 'run_id' - 'item_id' END)
                      ORDER BY CASE WHEN coalesce(h.item_id, f.item_id) ~ '^[0-9]{1,18}$'
                               THEN coalesce(h.item_id, f.item_id)::bigint END,
                               coalesce(h.item_id, f.item_id)), '[]')
                  FROM (SELECT * FROM @extschema@.mirt_item_params_history x WHERE x.run_id = run.run_id) h
                  FULL JOIN (SELECT * FROM @extschema@.mirt_item_fit y WHERE y.run_id = run.run_id) f
                      ON f.item_id = h.item_id),
        'drift', (SELECT coalesce(jsonb_agg(to_jsonb(d) - 'run_id' ORDER BY d.iteration,
                      CASE WHEN d.item_id ~ '^[0-9]{1,18}$' THEN d.item_id::bigint END, d.item_id), '[]')
                  FROM @extschema@.mirt_anchor_drift d WHERE d.run_id = run.run_id),
        'dif', (SELECT coalesce(jsonb_agg(to_jsonb(d) - 'run_id' ORDER BY d.focal_group,
                      CASE WHEN d.item_id ~ '^[0-9]{1,18}$' THEN d.item_id::bigint END, d.item_id), '[]')
                FROM @extschema@.mirt_item_dif d WHERE d.run_id = run.run_id),
        'trend', (SELECT coalesce(jsonb_agg((to_jsonb(t) - 'run_id') || jsonb_build_object('history', (
                      SELECT jsonb_agg(jsonb_build_object('b', s.b, 'se_b', s.se_b) ORDER BY s.fitted_at)
                      FROM (SELECT h.b, h.se_b, h.fitted_at FROM @extschema@.mirt_item_trend h
                            WHERE h.item_id = t.item_id AND h.fitted_at <= run.fitted_at
                            ORDER BY h.fitted_at DESC LIMIT 60) s))
                      ORDER BY CASE WHEN t.item_id ~ '^[0-9]{1,18}$' THEN t.item_id::bigint END, t.item_id), '[]')
                  FROM @extschema@.mirt_item_trend t WHERE t.run_id = run.run_id AND t.alarm),
        'abilities', (
            WITH a AS (SELECT theta FROM @extschema@.mirt_ability x WHERE x.run_id = run.run_id),
            r AS (SELECT count(*) AS n, avg(theta) AS mean, stddev_samp(theta) AS sd,
                         min(theta) AS lo, greatest(max(theta), min(theta) + 1e-9) AS hi FROM a),
            b AS (SELECT k, count(a.theta) AS c
                  FROM r CROSS JOIN generate_series(1, 40) k
                  LEFT JOIN a ON least(width_bucket(a.theta, r.lo, r.hi, 40), 40) = k GROUP BY k)
            SELECT CASE WHEN r.n > 0 THEN jsonb_build_object('n', r.n, 'mean', r.mean, 'sd', r.sd,
                'bins', (SELECT jsonb_agg(jsonb_build_object(
                             'lo', r.lo + (b.k - 1) * (r.hi - r.lo) / 40,
                             'hi', r.lo + b.k * (r.hi - r.lo) / 40, 'count', b.c) ORDER BY b.k) FROM b)) END
            FROM r),
        'failures', failures)
    INTO doc;
    RETURN doc;
END
$$;
