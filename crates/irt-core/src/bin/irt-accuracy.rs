//! The accuracy study (issue 16): seeded worlds with known truth (`irt_core::accuracy`),
//! calibrated by the pipeline the front ends run under every linking method and priors setting,
//! and measured against the truth. Prints markdown tables; with `--write FILE` also puts them
//! between the markers `<!-- accuracy:begin -->` and `<!-- accuracy:end -->` of FILE.
//!
//! irt-accuracy [--quick] [--drift] [--reps N] [--seed S] [--threads N] [--machine TEXT] [--write FILE]

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use irt_core::accuracy::{world, Failure, Measures, Scenario, Shape, World};
use irt_core::drift::DriftRule;
use irt_core::settings::Arguments;

const BEGIN: &str = "<!-- accuracy:begin -->";
const END: &str = "<!-- accuracy:end -->";

struct Args {
    quick: bool,
    /// The drift study alone.
    drift: bool,
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
        reps: None,
        seed: 16,
        threads: 2,
        machine: "unknown".into(),
        write: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--quick" || flag == "--drift" {
            args.quick |= flag == "--quick";
            args.drift |= flag == "--drift";
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

fn write_between_markers(path: &str, tables: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!("{path}: no {BEGIN} … {END} markers"));
    };
    let updated = format!("{}{BEGIN}\n{tables}\n{}", &text[..b], &text[e..]);
    std::fs::write(path, updated).map_err(|e| format!("{path}: {e}"))
}

fn main() -> ExitCode {
    let result = parse().and_then(|args| {
        let tables = run(&args)?;
        print!("{tables}");
        match &args.write {
            Some(path) => write_between_markers(path, &tables),
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
