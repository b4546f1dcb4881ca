//! The accuracy study (issue 16): seeded worlds with known truth (`irt_core::accuracy`),
//! calibrated by the pipeline the front ends run under every linking method and priors setting,
//! and measured against the truth. Prints markdown tables; with `--write FILE` also puts them
//! between the markers `<!-- accuracy:begin -->` and `<!-- accuracy:end -->` of FILE.
//!
//! irt-accuracy [--quick] [--reps N] [--seed S] [--threads N] [--machine TEXT] [--write FILE]

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use irt_core::accuracy::{world, Failure, Measures, Scenario, Shape};
use irt_core::settings::Arguments;

const BEGIN: &str = "<!-- accuracy:begin -->";
const END: &str = "<!-- accuracy:end -->";

struct Args {
    quick: bool,
    reps: Option<usize>,
    seed: u64,
    threads: usize,
    machine: String,
    write: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        quick: false,
        reps: None,
        seed: 16,
        threads: 2,
        machine: "unknown".into(),
        write: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--quick" {
            args.quick = true;
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
    let blocks = blocks(args.quick, args.reps);
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
        let mut screening = Vec::new();
        for &noise in block.noises {
            for &drift in block.drift {
                let scenario = Scenario {
                    shape,
                    noise,
                    drifted: drifted_of(drift),
                };
                let n_cells = block.linkings.len() * block.priors.len();
                let mut cells: Vec<Cell> = (0..n_cells).map(|_| Cell::default()).collect();
                for rep in 0..block.reps {
                    let w = world(&scenario, args.seed + rep as u64);
                    for (l, &linking) in block.linkings.iter().enumerate() {
                        for (p, &priors) in block.priors.iter().enumerate() {
                            let cell = &mut cells[l * block.priors.len() + p];
                            let t = Instant::now();
                            let outcome = w.calibrate(
                                &Arguments {
                                    linking: Some(linking),
                                    priors: Some(priors),
                                    ..Arguments::defaults()
                                },
                                &pool,
                            );
                            cell.seconds += t.elapsed().as_secs_f64();
                            cell.runs += 1;
                            match outcome {
                                Ok(c) => cell.measures.push(w.measure(&c)),
                                Err(Failure::NotConverged) => cell.not_converged += 1,
                                Err(Failure::Error(e)) => cell.errors.push(e),
                            }
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
                        if linking == "stocking_lord" && priors == "default" {
                            screening.push((noise, scenario.drifted, screening_summary(cell)));
                        }
                    }
                }
            }
        }
        if screening.is_empty() {
            continue;
        }
        out.push_str("\nThe first screening of Stocking–Lord with the default priors, by the robust z and by a z weighted by each anchor's standard error (`accuracy::weighted_flags`):\n\n| noise | drifted | robust: hits, false alarms per run | SE-weighted: hits, false alarms per run |\n|---|---|---|---|\n");
        for (noise, drifted, s) in screening {
            let _ = writeln!(out, "| {noise} | {drifted} | {s} |");
        }
    }
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

fn screening_summary(c: &Cell) -> String {
    let s: Vec<_> = c
        .measures
        .iter()
        .filter_map(|m| m.first_screening)
        .collect();
    let n = s.len() as f64;
    let mean = |f: &dyn Fn(&irt_core::accuracy::Screening) -> usize| {
        s.iter().map(f).sum::<usize>() as f64 / n
    };
    format!(
        "{:.2}, {:.2} | {:.2}, {:.2}",
        mean(&|x| x.robust_hits),
        mean(&|x| x.robust_false_alarms),
        mean(&|x| x.weighted_hits),
        mean(&|x| x.weighted_false_alarms)
    )
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
