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
-- off) and drift_z after algorithm; linking defaults to 'auto' and priors to 'bank'.
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
    "drift_z" double precision DEFAULT 2.576
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
    status     text NOT NULL CHECK (status IN ('ok', 'misfit', 'low_discrimination', 'drifted', 'excluded')),
    reason     text,
    PRIMARY KEY (run_id, item_id)
);

SELECT pg_catalog.pg_extension_config_dump('mirt_anchor_drift', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_fit', '');

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
                        double precision)',
        'mirt_schedule(text, text, integer, text)',
        'mirt_unschedule(text)'
    ]::regprocedure[] LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO irt_calibrator', f);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE ON mirt_item_params, mirt_ability, mirt_fit_meta,
    mirt_item_params_history TO irt_calibrator;
GRANT SELECT, INSERT ON mirt_anchor_drift, mirt_item_fit TO irt_calibrator;
