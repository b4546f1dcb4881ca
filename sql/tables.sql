-- Tables written by mirt_calibrate. Created in the extension's schema and registered with
-- pg_extension_config_dump so that pg_dump keeps their rows. Every run updates every row of
-- the current tables: half-empty pages let those updates stay on their page (HOT) without
-- touching the index, which made the write of 50,000 abilities nearly twice as fast.

CREATE TABLE mirt_fit_meta (
    run_id      text PRIMARY KEY,
    model_spec  jsonb NOT NULL,
    metrics     jsonb NOT NULL,
    status      text NOT NULL CHECK (status IN ('succeeded', 'not_converged')),
    fitted_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mirt_fit_meta_fitted_at ON mirt_fit_meta (fitted_at DESC);

CREATE TABLE mirt_item_params (
    item_id     text PRIMARY KEY,
    model       text NOT NULL,
    params      jsonb NOT NULL CHECK (
        jsonb_typeof(params->'a') = 'number' AND jsonb_typeof(params->'b') = 'number'
    ),
    n_responses bigint NOT NULL CHECK (n_responses > 0),
    p_value     float8 CHECK (p_value >= 0 AND p_value <= 1),
    run_id      text NOT NULL,
    fitted_at   timestamptz NOT NULL
) WITH (fillfactor = 50);

CREATE TABLE mirt_item_params_history (
    run_id      text NOT NULL,
    item_id     text NOT NULL,
    model       text NOT NULL,
    params      jsonb NOT NULL,
    n_responses bigint NOT NULL,
    p_value     float8,
    fitted_at   timestamptz NOT NULL,
    PRIMARY KEY (run_id, item_id)
);

-- NaN and ±Infinity are valid float8 values in PostgreSQL; none may be written.
CREATE TABLE mirt_ability (
    user_id     text PRIMARY KEY,
    theta       float8 NOT NULL CHECK (theta > '-Infinity' AND theta < 'Infinity'),
    se          float8 CHECK (se >= 0 AND se < 'Infinity'),
    n_responses integer NOT NULL CHECK (n_responses > 0),
    run_id      text NOT NULL,
    fitted_at   timestamptz NOT NULL,
    -- Person fit lz (Drasgow, Levine & Williams): strongly negative for an unlikely pattern.
    zh          float8 CHECK (zh > '-Infinity' AND zh < 'Infinity')
) WITH (fillfactor = 50);

-- Every screening of every anchor in a run (iteration 1 links with all anchors; each further
-- one without those flagged before): stored against new on the anchors' scale, displacements
-- d_a = ln a_new - ln a_stored and d_b = b_new - b_stored, the weighted RMS distance between
-- the two curves over the population (area), and the score test of the stored values: the
-- standardised displacements z_a and z_b (the answers' pull less the anchors' median, over
-- its SE), the SEs se_a (of ln a) and se_b, chi2 (df 2, or 1 where slopes are shared) and its
-- p_value; flagged when p_value is at most the two-sided level of drift_z.
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

-- Item fit and the item's status per run: S-X2 (Orlando-Thissen) with df, p and RMSEA, infit
-- and outfit mean squares with their z, RMSD; status ok, misfit, low_discrimination, drifted,
-- dif, trending or excluded, and the gate that set it (reason).
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

SELECT pg_catalog.pg_extension_config_dump('mirt_fit_meta', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_params', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_params_history', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_ability', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_anchor_drift', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_fit', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_dif', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_item_trend', '');
SELECT pg_catalog.pg_extension_config_dump('mirt_bank_changes', '');
