//! The accuracy study (issue 16): seeded worlds with known truth (`irt_core::accuracy`),
//! calibrated by the pipeline the front ends run under every linking method and priors setting,
//! and measured against the truth. Prints markdown tables; with `--write FILE` also puts them
//! between the markers `<!-- accuracy:begin -->` and `<!-- accuracy:end -->` of FILE.
//!
//! With `--dif` it runs the DIF study alone (the false alarms and power of Mantel–Haenszel and
//! of the run's whole screen by group size and DIF size), written between `<!-- dif:begin -->` and `<!-- dif:end -->`.
//!
//! With `--trend` it runs the trend study alone (the CUSUM across runs: how often a stable item
//! alarms, how soon a drifting one does, by window overlap and answers), written between
//! `<!-- trend:begin -->` and `<!-- trend:end -->`.
//!
//! irt-accuracy [--quick] [--drift | --dif | --trend] [--reps N] [--seed S] [--threads N] [--machine TEXT] [--write FILE]

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use irt_core::accuracy::{dif_world, world, DifWorld, Failure, Measures, Scenario, Shape, World};
use irt_core::dif::{screen, EtsClass, Matching};
use irt_core::drift::DriftRule;
use irt_core::settings::Arguments;

const MARKERS: (&str, &str) = ("<!-- accuracy:begin -->", "<!-- accuracy:end -->");
const DIF_MARKERS: (&str, &str) = ("<!-- dif:begin -->", "<!-- dif:end -->");
const TREND_MARKERS: (&str, &str) = ("<!-- trend:begin -->", "<!-- trend:end -->");

struct Args {
    quick: bool,
    /// The drift study alone.
    drift: bool,
    /// The DIF study alone.
    dif: bool,
    /// The trend study alone.
    trend: bool,
    reps: Option<usize>,
    seed: u64,
    threads: usize,
    machine: String,
    write: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        quick: false,
        drift: false,
        dif: false,
        trend: false,
        reps: None,
        seed: 16,
        threads: 2,
        machine: "unknown".into(),
        write: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if ["--quick", "--drift", "--dif", "--trend"].contains(&flag.as_str()) {
            args.quick |= flag == "--quick";
            args.drift |= flag == "--drift";
            args.dif |= flag == "--dif";
            args.trend |= flag == "--trend";
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--reps" => args.reps = Some(value.parse().map_err(|e| bad(&e))?),
            "--seed" => args.seed = value.parse().map_err(|e| bad(&e))?,
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--write" => args.write = Some(value),
            "--machine" => args.machine = value,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(args)
}

/// A block of the study: one shape, its replications, and the cells run on each world.
#[derive(Clone, Copy)]
struct Block {
    name: &'static str,
    shape: Shape,
    reps: usize,
    noises: &'static [f64],
    drift: &'static [bool],
    linkings: &'static [&'static str],
    priors: &'static [&'static str],
}

const SEED_SHAPE: Shape = Shape {
    persons: 500,
    items: 150,
    anchors: 50,
    per_person: 24,
};

fn blocks(quick: bool, reps: Option<usize>) -> Vec<Block> {
    let r = |full: usize| reps.unwrap_or(if quick { 2 } else { full });
    let links: &[&str] = &["stocking_lord", "haebara", "fixed", "auto"];
    let mut blocks = vec![Block {
        name: "The seed's shape",
        shape: SEED_SHAPE,
        reps: r(20),
        noises: &[0.0, 0.05, 0.1],
        drift: &[false, true],
        linkings: links,
        priors: &["default", "bank"],
    }];
    if quick {
        return blocks;
    }
    blocks.push(Block {
        name: "The seed's shape without priors",
        reps: r(6),
        noises: &[0.05],
        linkings: &["stocking_lord", "fixed"],
        priors: &["none"],
        ..blocks[0]
    });
    let shape = |persons, items, anchors, per_person| Shape {
        persons,
        items,
        anchors,
        per_person,
    };
    for (name, shape, reps) in [
        ("1,000 × 150", shape(1_000, 150, 50, 24), r(10)),
        ("2,000 × 150", shape(2_000, 150, 50, 24), r(10)),
        ("5,000 × 250", shape(5_000, 250, 75, 40), r(6)),
        ("20,000 × 400", shape(20_000, 400, 100, 40), r(4)),
    ] {
        blocks.push(Block {
            name,
            shape,
            reps,
            noises: &[0.05, 0.1],
            drift: &[false, true],
            linkings: links,
            priors: &["default", "bank"],
        });
    }
    blocks
}

/// The runs of one cell.
#[derive(Default)]
struct Cell {
    runs: usize,
    not_converged: usize,
    errors: Vec<String>,
    measures: Vec<Measures>,
    seconds: f64,
}

impl Cell {
    /// Runs `w`'s calibration and records what came of it.
    fn run(&mut self, w: &World, arguments: &Arguments, rule: DriftRule, pool: &rayon::ThreadPool) {
        let t = Instant::now();
        let outcome = w.calibrate(arguments, rule, pool);
        self.seconds += t.elapsed().as_secs_f64();
        self.runs += 1;
        match outcome {
            Ok(c) => self.measures.push(w.measure(&c)),
            Err(Failure::NotConverged) => self.not_converged += 1,
            Err(Failure::Error(e)) => self.errors.push(e),
        }
    }

    fn mean(&self, f: impl Fn(&Measures) -> f64) -> f64 {
        self.measures.iter().map(f).sum::<f64>() / self.measures.len() as f64
    }

    fn max(&self, f: impl Fn(&Measures) -> f64) -> f64 {
        self.measures.iter().map(f).fold(0.0, f64::max)
    }
}

fn run(args: &Args) -> Result<String, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut out = String::new();
    let blocks = if args.drift {
        Vec::new()
    } else {
        blocks(args.quick, args.reps)
    };
    let max_reps = blocks.iter().map(|b| b.reps).max().unwrap_or(1);
    for block in blocks {
        let shape = block.shape;
        let drifted_of = |d: bool| if d { shape.anchors * 8 / 50 } else { 0 };
        let _ = writeln!(
            out,
            "\n#### {}: {} persons × {} items ({} anchors), {} answers per person, {:.0} per item; {} replications\n",
            block.name,
            shape.persons,
            shape.items,
            shape.anchors,
            shape.per_person,
            shape.answers_per_item(),
            block.reps
        );
        out.push_str("| noise | drifted | linking | priors | conv. | RMSE a | RMSE b | RMSE a new | RMSE b new | RMSE θ | bias μ | bias σ | max \\|b̂\\| (beyond truth) | hits | false alarms | drifted held | s/run |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for &noise in block.noises {
            for &drift in block.drift {
                let scenario = Scenario {
                    shape,
                    noise,
                    noise_recorded: false,
                    drifted: drifted_of(drift),
                    drift: 1.0,
                };
                let n_cells = block.linkings.len() * block.priors.len();
                let mut cells: Vec<Cell> = (0..n_cells).map(|_| Cell::default()).collect();
                for rep in 0..block.reps {
                    let w = world(&scenario, args.seed + rep as u64);
                    for (l, &linking) in block.linkings.iter().enumerate() {
                        for (p, &priors) in block.priors.iter().enumerate() {
                            let arguments = Arguments {
                                linking: Some(linking),
                                priors: Some(priors),
                                ..Arguments::defaults()
                            };
                            cells[l * block.priors.len() + p].run(
                                &w,
                                &arguments,
                                DriftRule::ScoreTest,
                                &pool,
                            );
                        }
                    }
                    eprintln!(
                        "{} noise {noise} drift {drift} rep {rep}: {:.0} s",
                        block.name,
                        started.elapsed().as_secs_f64()
                    );
                }
                for (l, &linking) in block.linkings.iter().enumerate() {
                    for (p, &priors) in block.priors.iter().enumerate() {
                        let cell = &cells[l * block.priors.len() + p];
                        row(&mut out, noise, scenario.drifted, linking, priors, cell);
                    }
                }
            }
        }
    }
    drift_study(&mut out, args, &pool);
    let _ = writeln!(
        out,
        "\nSeeds {} to {} (replication r draws world seed {} + r), {} s on {} threads of {}.",
        args.seed,
        args.seed + max_reps as u64 - 1,
        args.seed,
        started.elapsed().as_secs_f64().round(),
        args.threads,
        args.machine
    );
    Ok(out)
}

fn row(out: &mut String, noise: f64, drifted: usize, linking: &str, priors: &str, c: &Cell) {
    let conv = format!(
        "{}/{}{}",
        c.measures.len(),
        c.runs,
        if c.errors.is_empty() {
            String::new()
        } else {
            format!(" ({} errors: {})", c.errors.len(), c.errors[0])
        }
    );
    if c.measures.is_empty() {
        let _ = writeln!(
            out,
            "| {noise} | {drifted} | {linking} | {priors} | {conv} | | | | | | | | | | | | |"
        );
        return;
    }
    let used: Vec<&str> = {
        let mut u: Vec<&str> = c.measures.iter().map(|m| m.linking.as_str()).collect();
        u.sort_unstable();
        u.dedup();
        u
    };
    let linking = if linking == "auto" {
        format!("auto ({})", used.join(", "))
    } else {
        linking.to_string()
    };
    let n = c.measures.len() as f64;
    let hits = if drifted == 0 {
        "–".to_string()
    } else {
        format!(
            "{:.2}",
            c.measures.iter().map(|m| m.hits).sum::<usize>() as f64 / (n * drifted as f64)
        )
    };
    let _ = writeln!(
        out,
        "| {noise} | {drifted} | {linking} | {priors} | {conv} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:+.3} | {:+.3} | {:.2} ({:+.2}) | {hits} | {:.2} | {} | {:.2} |",
        c.mean(|m| m.rmse_a),
        c.mean(|m| m.rmse_b),
        c.mean(|m| m.rmse_a_new),
        c.mean(|m| m.rmse_b_new),
        c.mean(|m| m.rmse_theta),
        c.mean(|m| m.mean_bias),
        c.mean(|m| m.sd_bias),
        c.max(|m| m.max_abs_b),
        c.measures
            .iter()
            .map(|m| m.max_abs_b - m.max_abs_b_true)
            .fold(f64::NEG_INFINITY, f64::max),
        c.mean(|m| m.false_alarms as f64),
        c.measures.iter().map(|m| m.drifted_held_fixed).sum::<usize>(),
        c.seconds / c.runs as f64,
    );
}

/// The drift screening by the robust z and by the score test, side by side (issue 24): at 80,
/// 320 and 2,000 answers per anchor, no drift or 8 of 50 anchors drifted by half a logit or a
/// logit, every argument at its default; false alarms per 100 clean anchors per run and the
/// share of drifted anchors flagged, both at the last screening, and the RMSE of the link's A
/// and B (the reported latent SD and mean against those of the window's true θ). The stored
/// anchors are exact, or carry an error of 0.05 that the bank does not record, or records.
fn drift_study(out: &mut String, args: &Args, pool: &rayon::ThreadPool) {
    let shapes: &[(usize, usize)] = if args.quick {
        &[(500, 2)]
    } else {
        &[(500, 40), (2_000, 20), (12_500, 20)]
    };
    let rules = [
        ("robust z", DriftRule::RobustZ),
        ("score test", DriftRule::ScoreTest),
    ];
    for (noise, noise_recorded) in [(0.0, false), (0.05, false), (0.05, true)] {
        let recorded = match (noise > 0.0, noise_recorded) {
            (false, _) => "",
            (true, false) => ", not recorded",
            (true, true) => ", recorded as their SEs",
        };
        let _ = writeln!(
            out,
            "\n#### Drift screening, robust z against score test: 150 items (50 anchors), 24 answers per person, anchors stored with noise {noise}{recorded}, every argument at its default\n"
        );
        out.push_str("| answers per anchor | drift (8 of 50) | reps | rule | conv. | false alarms per 100 clean anchors | power per drifted anchor | RMSE A | RMSE B | s/run |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        for &(persons, reps) in shapes {
            let shape = Shape {
                persons,
                items: 150,
                anchors: 50,
                per_person: 24,
            };
            for drift in [0.0, 0.5, 1.0] {
                let drifted = if drift > 0.0 { 8 } else { 0 };
                let scenario = Scenario {
                    shape,
                    noise,
                    noise_recorded,
                    drifted,
                    drift,
                };
                let mut cells: Vec<Cell> = rules.iter().map(|_| Cell::default()).collect();
                for rep in 0..args.reps.unwrap_or(reps) {
                    let w = world(&scenario, args.seed + rep as u64);
                    for (cell, &(_, rule)) in cells.iter_mut().zip(&rules) {
                        cell.run(&w, &Arguments::defaults(), rule, pool);
                    }
                }
                for (cell, (name, _)) in cells.iter().zip(rules) {
                    let power = if drifted == 0 {
                        "–".to_string()
                    } else {
                        format!("{:.2}", cell.mean(|m| m.hits as f64) / drifted as f64)
                    };
                    let rms = |f: &dyn Fn(&Measures) -> f64| cell.mean(|m| f(m).powi(2)).sqrt();
                    let _ = writeln!(
                        out,
                        "| {:.0} | {drift} | {} | {name} | {}/{} | {:.2} | {power} | {:.3} | {:.3} | {:.2} |",
                        shape.answers_per_item(),
                        cell.runs,
                        cell.measures.len(),
                        cell.runs,
                        100.0 * cell.mean(|m| m.false_alarms as f64) / (shape.anchors - drifted) as f64,
                        rms(&|m| m.sd_bias),
                        rms(&|m| m.mean_bias),
                        cell.seconds / cell.runs as f64,
                    );
                }
                eprintln!("drift study: noise {noise}, {persons} persons, drift {drift}: done");
            }
        }
    }
}

fn write_between_markers(
    path: &str,
    tables: &str,
    (begin, end): (&str, &str),
) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else {
        return Err(format!("{path}: no {begin} … {end} markers"));
    };
    let updated = format!("{}{begin}\n{tables}\n{}", &text[..b], &text[e..]);
    std::fs::write(path, updated).map_err(|e| format!("{path}: {e}"))
}

/// DIF-free items' and DIF items' shares of one measure over the replications.
#[derive(Default)]
struct Rates {
    free: (usize, usize),
    dif: (usize, usize),
}

impl Rates {
    fn add(&mut self, has_dif: bool, hit: bool) {
        let r = if has_dif {
            &mut self.dif
        } else {
            &mut self.free
        };
        r.0 += usize::from(hit);
        r.1 += 1;
    }

    fn share((hits, n): (usize, usize)) -> String {
        if n == 0 {
            "–".into()
        } else {
            format!("{:.3}", hits as f64 / n as f64)
        }
    }
}

/// The DIF study: two groups of 200, 500 and 1,500 persons answer 25 right/wrong items, the
/// first two harder for the focal group by 0, 0.3 or 0.6 logits, the focal group 0.4 lower and
/// more spread (impact); Mantel–Haenszel on the purified total score. Per DIF-free item, the
/// share of replications flagged — at p < .05 (the nominal false-alarm rate), after
/// Benjamini–Hochberg, and as ETS B or C; per DIF item the same shares, the power.
fn dif_study(args: &Args) -> Result<String, String> {
    let reps = args.reps.unwrap_or(if args.quick { 20 } else { 200 });
    let (items, dif_items) = STUDY_ITEMS;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n#### Mantel–Haenszel: {items} items, the first {dif_items} with uniform DIF, {reps} replications per row (seed {}; {})\n",
        args.seed, args.machine
    );
    out.push_str("| persons per group | DIF (logits) | DIF-free: p < .05 | DIF-free: BH p < .05 | DIF-free: B or C | DIF items: p < .05 | DIF items: BH p < .05 | DIF items: B or C |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for per_group in [200, 500, 1500] {
        for dif in [0.0, 0.3, 0.6] {
            let (mut p, mut bh, mut class) = (Rates::default(), Rates::default(), Rates::default());
            for rep in 0..reps {
                let world = study_world(args, per_group, dif, rep);
                let screening = screen(
                    &world.responses,
                    &world.side,
                    &vec![true; items],
                    true,
                    &Matching::NumberRight,
                )
                .map_err(|e| e.to_string())?;
                for (j, item) in screening.items.iter().enumerate() {
                    let Some(item) = item else { continue };
                    let has_dif = world.dif[j] && dif > 0.0;
                    p.add(has_dif, item.p < 0.05);
                    bh.add(has_dif, screening.adjusted_p[j].is_some_and(|q| q < 0.05));
                    class.add(has_dif, item.class != EtsClass::A);
                }
            }
            let _ = writeln!(
                out,
                "| {per_group} | {dif} | {} | {} | {} | {} | {} | {} |",
                Rates::share(p.free),
                Rates::share(bh.free),
                Rates::share(class.free),
                Rates::share(p.dif),
                Rates::share(bh.dif),
                Rates::share(class.dif),
            );
        }
    }
    out.push_str(&run_screen_study(args)?);
    Ok(out)
}

/// The DIF study's test: 25 items, the first 2 with DIF.
const STUDY_ITEMS: (usize, usize) = (25, 2);

/// Replication `rep` of the world with `per_group` persons per group and `dif` logits of DIF:
/// the same for both tables, so they screen the same worlds.
fn study_world(args: &Args, per_group: usize, dif: f64, rep: usize) -> DifWorld {
    let seed = args.seed ^ ((per_group as u64) << 32) ^ (((dif * 10.0) as u64) << 24) ^ rep as u64;
    let (items, dif_items) = STUDY_ITEMS;
    dif_world(per_group, items, dif_items, dif, seed)
}

/// The run's whole screen on the same worlds, each calibrated as a run with groups is
/// (`DifWorld::calibrate`): Mantel–Haenszel, then the likelihood-ratio test of the items it does
/// not clear; per DIF-free and per DIF item the share flagged (class B or C, or the test's
/// adjusted p < .05), and the likelihood-ratio tests a world ran on average. Fewer
/// replications than the Mantel–Haenszel table: every world is a calibration and its refits.
fn run_screen_study(args: &Args) -> Result<String, String> {
    let reps = args
        .reps
        .unwrap_or(if args.quick { 20 } else { 200 })
        .min(200);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n#### The run's screen (Mantel–Haenszel, then the likelihood-ratio test): the same worlds, {reps} replications per row\n",
    );
    out.push_str("| persons per group | DIF (logits) | DIF-free: flagged | DIF items: flagged | DIF items: flagged by the LR test alone | LR tests per world | failed runs |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
    for per_group in [200, 500, 1500] {
        for dif in [0.0, 0.3, 0.6] {
            let (mut flagged, mut by_lr) = (Rates::default(), Rates::default());
            let (mut tests, mut failed) = (0usize, 0usize);
            for rep in 0..reps {
                let world = study_world(args, per_group, dif, rep);
                let Ok(c) = world.calibrate(&pool) else {
                    failed += 1;
                    continue;
                };
                let Some(screening) = c.dif else {
                    return Err("a run with groups screened nothing".into());
                };
                tests += screening.focal.iter().map(|f| f.lr_tested).sum::<usize>();
                for row in &screening.rows {
                    let j: usize = c.item_ids[row.item].parse().map_err(|_| "an item id")?;
                    let has_dif = world.dif[j - 1] && dif > 0.0;
                    let class_b_or_c = row.mh.is_some_and(|m| m.class != EtsClass::A);
                    flagged.add(has_dif, row.flagged);
                    by_lr.add(has_dif, row.flagged && !class_b_or_c);
                }
            }
            let done = (reps - failed).max(1);
            let _ = writeln!(
                out,
                "| {per_group} | {dif} | {} | {} | {} | {:.2} | {failed} |",
                Rates::share(flagged.free),
                Rates::share(flagged.dif),
                Rates::share(by_lr.dif),
                tests as f64 / done as f64,
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} s on {} threads of {}.",
        started.elapsed().as_secs(),
        args.threads,
        args.machine
    );
    Ok(out)
}

/// The trend CUSUM on item histories with known truth (`irt_core::trend_worlds`): a stable
/// item's false alarms by the runs a window spans (the Gaussian world, fast enough for run
/// lengths of thousands), then stable and drifting items whose estimates come from answers.
fn trend_study(args: &Args) -> String {
    use irt_core::simulate::Rng;
    use irt_core::trend::{DECISION, REFERENCE};
    use irt_core::trend_worlds::{average_run_length, first_alarm, History, World as Trend};
    let reps = args.reps.unwrap_or(if args.quick { 100 } else { 2_000 });
    let started = Instant::now();
    let history = |m: usize, answers: usize, drift: f64| History {
        runs_per_window: m,
        a: 1.2,
        se_b: 0.1,
        answers_per_run: answers,
        drift,
        drift_from: if drift == 0.0 { 0 } else { m },
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n#### A stable item: estimates with normal errors, {reps} histories per row (seed {}; k = {REFERENCE}, h = {DECISION})\n",
        args.seed
    );
    out.push_str("| runs per window | alarmed within 365 runs | average run length to an alarm |\n|---:|---:|---:|\n");
    for m in [1, 7, 30, 60, 90] {
        let mut rng = Rng::new(args.seed ^ m as u64);
        let within = (0..reps)
            .filter(|_| {
                first_alarm(
                    &history(m, 0, 0.0),
                    Trend::Gaussian,
                    DECISION,
                    365,
                    &mut rng,
                )
                .is_some()
            })
            .count();
        let cap = 20_000;
        let (arl, cut) = average_run_length(
            &history(m, 0, 0.0),
            Trend::Gaussian,
            DECISION,
            reps / 4,
            cap,
            args.seed + m as u64,
        );
        let arl = if cut > 0 {
            format!(
                "≥ {arl:.0} ({cut} of {} histories without one in {cap} runs)",
                reps / 4
            )
        } else {
            format!("{arl:.0}")
        };
        let _ = writeln!(
            out,
            "| {m} | {:.1} % | {arl} |",
            100.0 * within as f64 / reps as f64
        );
    }
    let reps = (reps / 10).max(20);
    let _ = writeln!(
        out,
        "\n#### Estimates from answers (a 2PL item, a = 1.2, b = 0, persons of known θ ~ N(0, 1)), {reps} histories per row; the drift 0.05 logit per run in b from the first run\n",
    );
    out.push_str("| runs per window | answers per run (per window) | stable: alarmed within 365 runs | drifting: runs to the alarm, median | 90th percentile | last | caught within 200 runs |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    for (m, answers) in [(60, 3), (60, 10), (60, 30), (7, 50), (1, 300), (1, 1000)] {
        let mut rng = Rng::new(args.seed ^ (m * 1000 + answers) as u64);
        let stable = (0..reps)
            .filter(|_| {
                first_alarm(
                    &history(m, answers, 0.0),
                    Trend::Logistic,
                    DECISION,
                    365,
                    &mut rng,
                )
                .is_some()
            })
            .count();
        let mut caught: Vec<usize> = (0..reps)
            .filter_map(|_| {
                first_alarm(
                    &history(m, answers, 0.05),
                    Trend::Logistic,
                    DECISION,
                    200,
                    &mut rng,
                )
            })
            .collect();
        caught.sort_unstable();
        let at = |q: f64| {
            caught
                .get(((reps as f64 * q).ceil() as usize).saturating_sub(1))
                .map_or("-".into(), |r: &usize| r.to_string())
        };
        let _ = writeln!(
            out,
            "| {m} | {answers} ({}) | {:.1} % | {} | {} | {} | {:.0} % |",
            m * answers,
            100.0 * stable as f64 / reps as f64,
            at(0.5),
            at(0.9),
            at(1.0),
            100.0 * caught.len() as f64 / reps as f64
        );
    }
    let _ = writeln!(
        out,
        "\n{} s on one thread of {}.",
        started.elapsed().as_secs(),
        args.machine
    );
    out
}

fn main() -> ExitCode {
    let result = parse().and_then(|args| {
        let (tables, markers) = if args.trend {
            (trend_study(&args), TREND_MARKERS)
        } else if args.dif {
            (dif_study(&args)?, DIF_MARKERS)
        } else {
            (run(&args)?, MARKERS)
        };
        print!("{tables}");
        match &args.write {
            Some(path) => write_between_markers(path, &tables, markers),
            None => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("irt-accuracy: {e}");
            ExitCode::FAILURE
        }
    }
}
