-- A fingerprint of the latest run's written rows: one md5 per table over every value the
-- calibration decided, less what differs between two runs of the same data (the run id, the
-- timestamps, the provenance and the timings). A refactoring that must not move the numbers
-- shows the same fingerprints before and after: `psql -d DB -f scripts/written_rows.sql`.
WITH latest AS (SELECT run_id FROM mirt_fit_meta ORDER BY fitted_at DESC LIMIT 1)
SELECT 'mirt_item_params' AS rows, md5(string_agg(concat_ws('|', item_id, model, params, n_responses, p_value), ',' ORDER BY item_id))
  FROM mirt_item_params WHERE run_id = (SELECT run_id FROM latest)
UNION ALL
SELECT 'mirt_ability', md5(string_agg(concat_ws('|', user_id, theta, se, n_responses, zh), ',' ORDER BY user_id))
  FROM mirt_ability WHERE run_id = (SELECT run_id FROM latest)
UNION ALL
SELECT 'mirt_item_fit', md5(string_agg(concat_ws('|', item_id, s_x2, s_x2_df, s_x2_p, s_x2_rmsea, infit, infit_z, outfit, outfit_z, rmsd, status, reason), ',' ORDER BY item_id))
  FROM mirt_item_fit WHERE run_id = (SELECT run_id FROM latest)
UNION ALL
SELECT 'mirt_anchor_drift', md5(string_agg(concat_ws('|', iteration, item_id, stored_a, stored_b, stored_c, new_a, new_b, new_c, d_a, d_b, z_a, z_b, se_a, se_b, chi2, p_value, area, flagged), ',' ORDER BY iteration, item_id))
  FROM mirt_anchor_drift WHERE run_id = (SELECT run_id FROM latest)
UNION ALL
SELECT 'model_spec', md5((model_spec - 'window' - 'written_by' - 'extension_version' - 'threads')::text)
  FROM mirt_fit_meta WHERE run_id = (SELECT run_id FROM latest)
UNION ALL
SELECT 'metrics', md5((metrics - 'ms')::text)
  FROM mirt_fit_meta WHERE run_id = (SELECT run_id FROM latest);
