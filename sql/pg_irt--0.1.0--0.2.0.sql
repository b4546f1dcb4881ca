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
                        integer, boolean, integer, integer, text, text)',
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
