//! What a run writes, statement by statement with its parameters: the one list both front ends
//! execute, so a column is added here (and in the core's `Columns` and the tables) and nowhere
//! else.

use irt_core::pipeline::{Calibration, Columns};

use crate::statements::{Statements, NOTIFY};

/// A value bound to a parameter. Each statement casts its parameters to their SQL types, so
/// the extension (datums) and the command (the wire protocol) bind these the same way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param<'a> {
    Text(&'a str),
    Int(i32),
    Float(f64),
    Texts(&'a [String]),
    MaybeTexts(&'a [Option<String>]),
    Ints(&'a [i32]),
    MaybeInts(&'a [Option<i32>]),
    Bigints(&'a [i64]),
    Floats(&'a [f64]),
    MaybeFloats(&'a [Option<f64>]),
    Bools(&'a [bool]),
}

/// One statement of a write and its parameters, in order.
pub struct Write<'a> {
    pub sql: &'a str,
    pub params: Vec<Param<'a>>,
}

/// The run's own record, made before its rows are: the id and timestamp the database gave it
/// (`Statements::run_id`), and the documents of `mirt_fit_meta`.
pub struct Record {
    pub run_id: String,
    /// ISO 8601 UTC with microseconds, cast back to timestamptz by every statement.
    pub stamp: String,
    pub model_spec: String,
    pub metrics: String,
    pub notification: Option<String>,
}

/// The statements that write `calibration` and its `columns` under `record`, in the order they
/// run (the run's metadata first, so every later row names an existing run).
pub fn writes<'a>(
    statements: &'a Statements,
    calibration: &'a Calibration,
    columns: &'a Columns,
    record: &'a Record,
) -> Vec<Write<'a>> {
    use Param::*;
    let (run_id, stamp) = (Text(&record.run_id), Text(&record.stamp));
    let items = vec![
        Texts(&calibration.item_ids),
        Texts(&columns.params),
        Bigints(&columns.n_responses),
        Floats(&columns.p_values),
        run_id,
        Texts(&columns.models),
        stamp,
    ];
    let d = &columns.drift;
    let f = &columns.item_fit;
    let mut writes = vec![
        Write {
            sql: &statements.insert_run,
            params: vec![
                run_id,
                Text(&record.model_spec),
                Text(&record.metrics),
                Text(calibration.status()),
                stamp,
            ],
        },
        Write {
            sql: &statements.upsert_items,
            params: items.clone(),
        },
        Write {
            sql: &statements.append_history,
            params: items,
        },
        Write {
            sql: &statements.upsert_abilities,
            params: vec![
                Texts(&calibration.user_ids),
                Floats(&columns.thetas),
                Floats(&columns.ses),
                Ints(&calibration.answers_per_user),
                run_id,
                stamp,
                MaybeFloats(&columns.zh),
            ],
        },
        Write {
            sql: &statements.insert_drift,
            params: vec![
                run_id,
                Ints(&d.iteration),
                Texts(&d.item_id),
                Floats(&d.stored_a),
                Floats(&d.stored_b),
                Floats(&d.stored_c),
                Floats(&d.new_a),
                Floats(&d.new_b),
                Floats(&d.new_c),
                Floats(&d.d_a),
                Floats(&d.d_b),
                MaybeFloats(&d.z_a),
                MaybeFloats(&d.z_b),
                MaybeFloats(&d.se_a),
                MaybeFloats(&d.se_b),
                MaybeFloats(&d.chi2),
                MaybeFloats(&d.p_value),
                Floats(&d.area),
                Bools(&d.flagged),
            ],
        },
        Write {
            sql: &statements.insert_item_fit,
            params: vec![
                run_id,
                Texts(&f.item_id),
                MaybeFloats(&f.s_x2),
                MaybeInts(&f.s_x2_df),
                MaybeFloats(&f.s_x2_p),
                MaybeFloats(&f.s_x2_rmsea),
                MaybeFloats(&f.infit),
                MaybeFloats(&f.infit_z),
                MaybeFloats(&f.outfit),
                MaybeFloats(&f.outfit_z),
                MaybeFloats(&f.rmsd),
                Texts(&f.status),
                MaybeTexts(&f.reason),
            ],
        },
    ];
    let t = &columns.trend;
    if !t.item_id.is_empty() {
        writes.push(Write {
            sql: &statements.insert_trend,
            params: vec![
                run_id,
                Texts(&t.item_id),
                Texts(&t.model),
                MaybeFloats(&t.a),
                MaybeFloats(&t.se_log_a),
                Floats(&t.b),
                Floats(&t.se_b),
                Bigints(&t.n_responses),
                MaybeFloats(&t.z_a),
                MaybeFloats(&t.z_b),
                MaybeFloats(&t.cusum_a_up),
                MaybeFloats(&t.cusum_a_down),
                Floats(&t.cusum_b_up),
                Floats(&t.cusum_b_down),
                Ints(&t.runs),
                Bools(&t.alarm),
                stamp,
            ],
        });
    }
    let g = &columns.dif;
    // Only a run with groups screens for DIF.
    if !g.item_id.is_empty() {
        writes.push(Write {
            sql: &statements.insert_dif,
            params: vec![
                run_id,
                Texts(&g.item_id),
                Texts(&g.focal_group),
                Texts(&g.reference_group),
                Bigints(&g.n_focal),
                Bigints(&g.n_reference),
                MaybeFloats(&g.mh_chi2),
                MaybeFloats(&g.mh_p),
                MaybeFloats(&g.mh_p_adjusted),
                MaybeFloats(&g.mh_alpha),
                MaybeFloats(&g.ets_delta),
                MaybeFloats(&g.ets_delta_se),
                MaybeTexts(&g.ets_class),
                MaybeFloats(&g.lr_x2),
                MaybeInts(&g.lr_df),
                MaybeFloats(&g.lr_p),
                MaybeFloats(&g.lr_p_adjusted),
                MaybeFloats(&g.signed_area),
                MaybeFloats(&g.unsigned_area),
                MaybeTexts(&g.reference_params),
                MaybeTexts(&g.focal_params),
                Bools(&g.flagged),
            ],
        });
    }
    if let Some(payload) = &record.notification {
        writes.push(Write {
            sql: NOTIFY,
            params: vec![Text(payload)],
        });
    }
    writes
}

/// The write's last statement: the times of the write and of the whole run into its metrics.
pub fn timing<'a>(
    statements: &'a Statements,
    run_id: &'a str,
    write_ms: f64,
    total_ms: f64,
) -> Write<'a> {
    Write {
        sql: &statements.record_timing,
        params: vec![
            Param::Text(run_id),
            Param::Float(write_ms),
            Param::Float(total_ms),
        ],
    }
}

#[cfg(test)]
mod tests {
    use irt_core::accuracy::{world, Scenario, Shape};
    use irt_core::drift::DriftRule;
    use irt_core::settings::Arguments;

    use super::*;

    fn rows(param: &Param) -> Option<usize> {
        match param {
            Param::Text(_) | Param::Int(_) | Param::Float(_) => None,
            Param::Texts(v) => Some(v.len()),
            Param::MaybeTexts(v) => Some(v.len()),
            Param::Ints(v) => Some(v.len()),
            Param::MaybeInts(v) => Some(v.len()),
            Param::Bigints(v) => Some(v.len()),
            Param::Floats(v) => Some(v.len()),
            Param::MaybeFloats(v) => Some(v.len()),
            Param::Bools(v) => Some(v.len()),
        }
    }

    /// Each write binds exactly the parameters its statement names, and the columns of one
    /// statement have one value per row: a column added to a table but not to its write (or
    /// the reverse) fails here, before any database sees it.
    #[test]
    fn each_write_binds_what_its_statement_names() {
        let scenario = Scenario {
            shape: Shape {
                persons: 600,
                items: 24,
                anchors: 8,
                per_person: 24,
            },
            noise: 0.0,
            noise_recorded: false,
            drifted: 1,
            drift: 1.5,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let calibration = world(&scenario, 11)
            .calibrate(&Arguments::defaults(), DriftRule::ScoreTest, &pool)
            .expect("the world calibrates");
        let columns = calibration.columns().unwrap();
        let record = Record {
            run_id: "fit-2026-01-01T00:00:00Z".into(),
            stamp: "2026-01-01T00:00:00.000000Z".into(),
            model_spec: "{}".into(),
            metrics: "{}".into(),
            notification: calibration.notification("fit-2026-01-01T00:00:00Z"),
        };
        assert!(
            record.notification.is_some(),
            "the drifted anchor is flagged"
        );
        let statements = Statements::new("\"irt\"");
        let writes = writes(&statements, &calibration, &columns, &record);
        assert_eq!(writes.len(), 8);
        for write in writes
            .iter()
            .chain([&timing(&statements, &record.run_id, 1.0, 2.0)])
        {
            let named = write
                .sql
                .split('$')
                .skip(1)
                .filter_map(|s| {
                    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<usize>().ok()
                })
                .max()
                .unwrap_or(0);
            assert_eq!(named, write.params.len(), "{}", write.sql);
            let lengths: Vec<usize> = write.params.iter().filter_map(rows).collect();
            assert!(
                lengths.windows(2).all(|w| w[0] == w[1]) && lengths.first() != Some(&0),
                "{}: {lengths:?}",
                write.sql
            );
        }
    }
}
