\echo Use "ALTER EXTENSION pg_irt UPDATE TO '0.2.0'" to load this file. \quit

-- mirt_schedule and mirt_unschedule answer a NULL argument with an error (22004) naming it,
-- instead of a silent NULL: they are no longer STRICT.
ALTER FUNCTION mirt_schedule(text, text, integer, text) CALLED ON NULL INPUT;
ALTER FUNCTION mirt_unschedule(text) CALLED ON NULL INPUT;

-- mirt_linking_constants no longer returns slope_se and intercept_se: it is given no covariance
-- of the estimates, so they were always NULL.
DROP FUNCTION mirt_linking_constants(text, double precision[], double precision[],
                                     double precision[], double precision[]);
DROP FUNCTION mirt_linking_constants(text, double precision[], double precision[],
                                     double precision[], double precision[],
                                     double precision[], double precision[]);
CREATE FUNCTION mirt_linking_constants(
    "method" TEXT,
    "from_a" double precision[],
    "from_b" double precision[],
    "to_a" double precision[],
    "to_b" double precision[]
) RETURNS TABLE (
    "slope" double precision,
    "intercept" double precision,
    "criterion" double precision
)
IMMUTABLE STRICT PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mirt_linking_constants_wrapper';
CREATE FUNCTION mirt_linking_constants(
    "method" TEXT,
    "from_a" double precision[],
    "from_b" double precision[],
    "to_a" double precision[],
    "to_b" double precision[],
    "from_c" double precision[],
    "to_c" double precision[]
) RETURNS TABLE (
    "slope" double precision,
    "intercept" double precision,
    "criterion" double precision
)
IMMUTABLE STRICT PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mirt_linking_constants_3pl_wrapper';

-- mirt_calibrate takes standard_errors (auto, full, item, none), anchor_drift (purify, flag,
-- off), drift_z, groups and reference_group after algorithm; linking defaults to 'auto' and
-- priors to 'bank'.
DROP FUNCTION mirt_calibrate(text, integer, text, text, text, text, integer, double precision,
                             integer, integer, boolean, integer, integer, text, text);
CREATE FUNCTION mirt_calibrate(
    "model" TEXT DEFAULT '2PL',
    "lookback_days" INT DEFAULT 60,
    "linking" TEXT DEFAULT 'auto',
    "priors" TEXT DEFAULT 'bank',
    "source" TEXT DEFAULT 'attempt',
    "items" TEXT DEFAULT 'question',
    "max_cycles" INT DEFAULT 500,
    "tolerance" double precision DEFAULT 1e-4,
    "quadrature_points" INT DEFAULT 61,
    "threads" INT DEFAULT NULL,
    "accept_nonconverged" bool DEFAULT false,
    "min_anchors" INT DEFAULT 5,
    "min_responses" INT DEFAULT 5,
    "attempt" TEXT DEFAULT 'first',
    "algorithm" TEXT DEFAULT 'squarem',
    "standard_errors" TEXT DEFAULT 'auto',
    "anchor_drift" TEXT DEFAULT 'purify',
    "drift_z" double precision DEFAULT 2.576,
    "groups" TEXT DEFAULT NULL,
    "reference_group" TEXT DEFAULT NULL
) RETURNS TABLE (
    "run_id" TEXT,
    "model" TEXT,
    "n_items" INT,
    "n_users" INT,
    "n_anchors" INT,
    "n_observations" bigint,
    "slope" double precision,
    "intercept" double precision,
    "loglik" double precision,
    "aic" double precision,
    "bic" double precision,
    "em_cycles" INT,
    "converged" bool,
    "elapsed_ms" double precision
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'mirt_calibrate_wrapper';

-- mirt_promote: promotions of new items to anchors and retirements of drifted anchors.
CREATE FUNCTION mirt_promote(
    "run_id" TEXT DEFAULT NULL,
    "min_responses" INT DEFAULT 500,
    "max_se_b" double precision DEFAULT 0.2,
    "stable_runs" INT DEFAULT 3,
    "retire_after" INT DEFAULT 3,
    "apply" bool DEFAULT false,
    "items" TEXT DEFAULT 'question'
) RETURNS TABLE (
    "item_id" TEXT,
    "action" TEXT,
    "reason" TEXT,
    "irt" jsonb,
    "run_id" TEXT,
    "applied" bool
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'mirt_promote_wrapper';

-- Anchor drift, item fit and person fit (sql/tables.sql, sql/monitoring.sql).
ALTER TABLE mirt_ability
    ADD COLUMN zh float8 CHECK (zh > '-Infinity' AND zh < 'Infinity');

CREATE TABLE mirt_anchor_drift (
    run_id    text NOT NULL,
    iteration integer NOT NULL CHECK (iteration > 0),
    item_id   text NOT NULL,
    stored_a  float8 NOT NULL,
    stored_b  float8 NOT NULL,
    stored_c  float8 NOT NULL,
    new_a     float8 NOT NULL,
    new_b     float8 NOT NULL,
    new_c     float8 NOT NULL,
    d_a       float8 NOT NULL,
    d_b       float8 NOT NULL,
    z_a       float8,
    z_b       float8,
    se_a      float8 CHECK (se_a >= 0 AND se_a < 'Infinity'),
    se_b      float8 CHECK (se_b >= 0 AND se_b < 'Infinity'),
    chi2      float8 CHECK (chi2 >= 0 AND chi2 < 'Infinity'),
    p_value   float8 CHECK (p_value >= 0 AND p_value <= 1),
    area      float8 NOT NULL CHECK (area >= 0),
    flagged   boolean NOT NULL,
    PRIMARY KEY (run_id, iteration, item_id)
);
CREATE INDEX mirt_anchor_drift_item ON mirt_anchor_drift (item_id);

CREATE TABLE mirt_item_fit (
    run_id     text NOT NULL,
    item_id    text NOT NULL,
    s_x2       float8,
    s_x2_df    integer,
    s_x2_p     float8 CHECK (s_x2_p >= 0 AND s_x2_p <= 1),
    s_x2_rmsea float8,
    infit      float8,
    infit_z    float8,
    outfit     float8,
    outfit_z   float8,
    rmsd       float8,
    status     text NOT NULL CHECK (status IN ('ok', 'misfit', 'low_discrimination', 'drifted', 'dif', 'trending', 'excluded')),
    reason     text,
    PRIMARY KEY (run_id, item_id)
);

-- DIF per run, item and focal group of a run with groups (against its reference group):
-- Mantel-Haenszel on the matching score, purified (chi2 with continuity correction, p, p adjusted
-- by Benjamini-Hochberg across the items, the common odds ratio alpha > 1 favouring the
-- reference group, ETS delta = -2.35 ln alpha with its SE and class A/B/C; NULL for an item in
-- categories), the likelihood-ratio test of the items Mantel-Haenszel does not clear (X2, df, p,
-- p adjusted across the tested items) with the signed and unsigned areas between the group
-- curves and the item's parameters in each group (as mirt_item_params.params, without SEs), all
-- on the reported scale (NULL where not tested); n_focal and n_reference count each
-- group's persons who answered the item. flagged: ETS B or C, or lr_p_adjusted < 0.05.
CREATE TABLE mirt_item_dif (
    run_id          text NOT NULL,
    item_id         text NOT NULL,
    focal_group     text NOT NULL,
    reference_group text NOT NULL,
    n_focal         bigint NOT NULL CHECK (n_focal >= 0),
    n_reference     bigint NOT NULL CHECK (n_reference >= 0),
    mh_chi2         float8 CHECK (mh_chi2 >= 0),
    mh_p            float8 CHECK (mh_p >= 0 AND mh_p <= 1),
    mh_p_adjusted   float8 CHECK (mh_p_adjusted >= 0 AND mh_p_adjusted <= 1),
    mh_alpha        float8 CHECK (mh_alpha > 0),
    ets_delta       float8,
    ets_delta_se    float8 CHECK (ets_delta_se >= 0),
    ets_class       text CHECK (ets_class IN ('A', 'B', 'C')),
    lr_x2           float8 CHECK (lr_x2 >= 0),
    lr_df           integer CHECK (lr_df > 0),
    lr_p            float8 CHECK (lr_p >= 0 AND lr_p <= 1),
    lr_p_adjusted   float8 CHECK (lr_p_adjusted >= 0 AND lr_p_adjusted <= 1),
    signed_area     float8,
    unsigned_area   float8 CHECK (unsigned_area >= 0),
    reference_params jsonb,
    focal_params    jsonb,
    flagged         boolean NOT NULL,
    PRIMARY KEY (run_id, item_id, focal_group)
);
CREATE INDEX mirt_item_dif_item ON mirt_item_dif (item_id);

-- Each calibrated item's trend across runs (docs/linking-and-drift.md, Trends across runs): its
-- estimate on the anchors' scale in the run (an anchor's from its drift screening, where the
-- answers move it; a held fixed item without one has no row), a and b with the SEs of ln a and b
-- and its answers; z_a and z_b, the change in ln a and b since its previous row over the change's
-- SE (the runs' shared answers taken out; NULL in a series' first run or when the window did not
-- move); the four one-sided CUSUMs max(0, S + z - 0.25) and max(0, S - z - 0.25) (NULL in ln a
-- where the model shares its slope); runs, the series' length; alarm, any sum over 18; fitted_at,
-- the run's.
CREATE TABLE mirt_item_trend (
    run_id       text NOT NULL,
    item_id      text NOT NULL,
    model        text NOT NULL,
    a            float8 CHECK (a > 0 AND a < 'Infinity'),
    se_log_a     float8 CHECK (se_log_a > 0 AND se_log_a < 'Infinity'),
    b            float8 NOT NULL CHECK (b > '-Infinity' AND b < 'Infinity'),
    se_b         float8 NOT NULL CHECK (se_b > 0 AND se_b < 'Infinity'),
    n_responses  bigint NOT NULL CHECK (n_responses > 0),
    z_a          float8,
    z_b          float8,
    cusum_a_up   float8 CHECK (cusum_a_up >= 0),
    cusum_a_down float8 CHECK (cusum_a_down >= 0),
    cusum_b_up   float8 NOT NULL CHECK (cusum_b_up >= 0),
    cusum_b_down float8 NOT NULL CHECK (cusum_b_down >= 0),
    runs         integer NOT NULL CHECK (runs > 0),
    alarm        boolean NOT NULL,
    fitted_at    timestamptz NOT NULL,
    PRIMARY KEY (run_id, item_id)
);
-- Each run reads every item's latest row: by this index, one probe per item, whatever the
-- history's length (a scan of ten years of nightly rows took a second).
CREATE INDEX mirt_item_trend_latest ON mirt_item_trend (item_id, fitted_at DESC);

-- Every change mirt_promote (or pg-irt promote) made to the item bank: the run it judged, the
-- item, promote (parameters into meta->'irt', the "anchor" tag added) or retire (the tag
-- removed), why, and the item's meta before and after.
CREATE TABLE mirt_bank_changes (
    changed_at  timestamptz NOT NULL DEFAULT now(),
    run_id      text NOT NULL,
    item_id     text NOT NULL,
    action      text NOT NULL CHECK (action IN ('promote', 'retire')),
    reason      text NOT NULL,
    meta_before jsonb,
    meta_after  jsonb NOT NULL
);
CREATE INDEX mirt_bank_changes_item ON mirt_bank_changes (item_id, changed_at DESC);

SELECT pg_catalog.pg_extension_config_dump('mirt_anchor_drift', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_fit', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_dif', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_trend', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_bank_changes', '');

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

-- The run report (sql/monitoring.sql, src/report.rs).
-- Everything a report of one run shows, as one document (mirt_report renders it; so does the
-- pg-irt command): the run's record, its items with parameters and fit, every drift screening,
-- with groups every item's DIF, a 40-bin histogram of the abilities of this run still in mirt_ability (later runs overwrite
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

CREATE  FUNCTION "mirt_report"(
	"run_id" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS TEXT /* String */
STABLE PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'mirt_report_wrapper';

-- mirt_score_eap scores a pattern of scores on items given as their stored parameters (items in
-- categories among them).
CREATE FUNCTION mirt_score_eap(
    "scores" INT[],
    "params" jsonb[],
    "mean" double precision DEFAULT 0.0,
    "sd" double precision DEFAULT 1.0
) RETURNS TABLE (
    "theta" double precision,
    "se" double precision
)
IMMUTABLE STRICT PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mirt_score_eap_params_wrapper';

-- mirt_linking_constants links items given as their stored parameters (items in categories
-- among them).
CREATE FUNCTION mirt_linking_constants(
    "method" TEXT,
    "from_params" jsonb[],
    "to_params" jsonb[]
) RETURNS TABLE (
    "slope" double precision,
    "intercept" double precision,
    "criterion" double precision
)
IMMUTABLE STRICT PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mirt_linking_constants_params_wrapper';

-- Least privilege, as a new installation has it (sql/privileges.sql).
DO $$
DECLARE
    f regprocedure;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'irt_calibrator') THEN
        CREATE ROLE irt_calibrator NOLOGIN;
    END IF;
    FOREACH f IN ARRAY ARRAY[
        'mirt_calibrate(text, integer, text, text, text, text, integer, double precision, integer,
                        integer, boolean, integer, integer, text, text, text, text,
                        double precision, text, text)',
        'mirt_schedule(text, text, integer, text)',
        'mirt_unschedule(text)',
        'mirt_promote(text, integer, double precision, integer, integer, boolean, text)'
    ]::regprocedure[] LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO irt_calibrator', f);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE ON mirt_item_params, mirt_ability, mirt_fit_meta,
    mirt_item_params_history TO irt_calibrator;
GRANT SELECT, INSERT ON mirt_anchor_drift, mirt_item_fit, mirt_item_dif, mirt_item_trend, mirt_bank_changes
    TO irt_calibrator;
