-- Least privilege. Starting a run (it reads the answers and rewrites every current row) and
-- changing the schedule are not for every role that can log in, so EXECUTE on those functions
-- is taken from PUBLIC and given to irt_calibrator, a NOLOGIN role created here when it does not
-- exist (roles belong to the cluster: DROP EXTENSION leaves it). Grant it to the role that runs
-- the calibration, with SELECT on the source relations (docs/operations.md, Roles and security).
-- The helper functions stay open to all.
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
