//! Writes a seeded simulated data set as CSV, for the benchmark: `answers.csv`
//! (user_id, question_id, correct) and `items.csv` (id, a, b, the true parameters), ids from 1.
//! With `--categories K` (3 to 10) the items are graded (`simulate_graded`, θ ~ N(0, 1)): the
//! answers' column is `score` and b is an item's location, the mean of its thresholds.
//!
//! irt-simulate --persons N --items N --per-person K [--seed S] [--mean M] [--sd SD]
//!              [--categories K] --out DIR

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use irt_core::simulate::{simulate, simulate_graded};

struct Args {
    persons: usize,
    items: usize,
    per_person: usize,
    seed: u64,
    mean: f64,
    sd: f64,
    categories: usize,
    out: PathBuf,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        persons: 0,
        items: 0,
        per_person: 0,
        seed: 1,
        mean: 0.0,
        sd: 1.0,
        categories: 2,
        out: PathBuf::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--persons" => args.persons = value.parse().map_err(|e| bad(&e))?,
            "--items" => args.items = value.parse().map_err(|e| bad(&e))?,
            "--per-person" => args.per_person = value.parse().map_err(|e| bad(&e))?,
            "--seed" => args.seed = value.parse().map_err(|e| bad(&e))?,
            "--mean" => args.mean = value.parse().map_err(|e| bad(&e))?,
            "--sd" => args.sd = value.parse().map_err(|e| bad(&e))?,
            "--categories" => args.categories = value.parse().map_err(|e| bad(&e))?,
            "--out" => args.out = PathBuf::from(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.persons == 0 || args.per_person == 0 || args.per_person > args.items {
        return Err("need --persons > 0 and 0 < --per-person <= --items".into());
    }
    if !(2..=10).contains(&args.categories) {
        return Err("--categories is 2 (right/wrong) to 10".into());
    }
    if args.out.as_os_str().is_empty() {
        return Err("need --out DIR".into());
    }
    Ok(args)
}

fn write(args: &Args) -> std::io::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let graded = args.categories > 2;
    let sim = if graded {
        simulate_graded(
            args.seed,
            args.persons,
            args.items,
            args.per_person,
            args.categories,
        )
    } else {
        simulate(
            args.seed,
            args.persons,
            args.items,
            args.per_person,
            args.mean,
            args.sd,
        )
    };
    let mut items = BufWriter::new(std::fs::File::create(args.out.join("items.csv"))?);
    writeln!(items, "id,a,b")?;
    for (j, p) in sim.items.iter().enumerate() {
        writeln!(items, "{},{},{}", j + 1, p.slope(), p.location())?;
    }
    items.flush()?;
    let mut answers = BufWriter::new(std::fs::File::create(args.out.join("answers.csv"))?);
    writeln!(
        answers,
        "user_id,question_id,{}",
        if graded { "score" } else { "correct" }
    )?;
    for i in 0..sim.data.n_persons() {
        let (answered, correct) = sim.data.person(i);
        for (&j, &x) in answered.iter().zip(correct) {
            writeln!(answers, "{},{},{}", i + 1, j + 1, x)?;
        }
    }
    answers.flush()
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("irt-simulate: {e}");
            return ExitCode::from(2);
        }
    };
    match write(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("irt-simulate: {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}
