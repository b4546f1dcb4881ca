//! `pg-irt`: pg_irt's calibration as a command, for PostgreSQL that cannot install the extension
//! (Cloud SQL, RDS, Azure). The same core pipeline as the extension: the same numbers, the same
//! tables, the same messages.

mod calibrate;
mod connect;
mod failure;
mod migrate;
mod progress;
mod promote;
mod read;
mod report;
mod results;
mod session;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use irt_core::promotion::{Action, Rules};
use irt_core::settings::{defaults, Arguments, Settings};
use tokio::runtime::Runtime;

use failure::{Exit, Failure};

#[derive(Parser)]
#[command(
    name = "pg-irt",
    version,
    about = "Item response theory calibration for PostgreSQL without the extension"
)]
#[command(
    after_help = "Connection: DATABASE_URL (postgresql://… or key=value), else PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE; \
TLS by sslmode (disable, prefer, require, verify-ca, verify-full) and sslrootcert, in the URL or as PGSSLMODE, PGSSLROOTCERT.\n\
Exit codes: 0 done, 1 failed, 2 bad arguments, 3 bad input, 4 not converged, 5 another run holds the lock, \
6 connection, 7 cancelled (Ctrl-C, SIGTERM, statement_timeout), 8 out of memory."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Calibrate, link, score and write, as SELECT mirt_calibrate(...) does.
    Calibrate(Box<CalibrateArgs>),
    /// Create or complete the result tables, view and health function (no extension needed).
    Migrate {
        /// Schema to create them in.
        #[arg(long, default_value = "public")]
        schema: String,
    },
    /// Propose, and with --apply make, the bank's promotions and retirements, as SELECT
    /// mirt_promote(...) does: one line per item, tab-separated (item_id, action, reason, irt,
    /// run_id, applied).
    Promote(PromoteArgs),
    /// Write a run's report: one self-contained HTML page, as SELECT mirt_report(...) gives.
    Report {
        /// The run [default: the latest].
        #[arg(long)]
        run_id: Option<String>,
        /// The file to write [default: standard output].
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

/// The arguments of mirt_promote, with the same names (dashes for underscores) and defaults.
#[derive(Args)]
struct PromoteArgs {
    /// The run to judge [default: the latest].
    #[arg(long)]
    run_id: Option<String>,
    /// Answers a new item needs in the run judged.
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    min_responses: i32,
    /// The largest SE of b a new item may have in the run judged.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    max_se_b: f64,
    /// Runs a new item must have been ok in, agreeing within their SEs.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    stable_runs: i32,
    /// Runs an anchor must have been drifted in to retire.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true)]
    retire_after: i32,
    /// Change the bank (otherwise only propose).
    #[arg(long)]
    apply: bool,
    /// The item bank.
    #[arg(long, default_value = defaults::ITEMS)]
    items: String,
}

impl PromoteArgs {
    fn rules(&self) -> Result<Rules, Failure> {
        Ok(Rules::new(
            i64::from(self.min_responses),
            self.max_se_b,
            self.stable_runs,
            self.retire_after,
        )?)
    }
}

/// The arguments of mirt_calibrate, with the same names (dashes for underscores) and defaults.
#[derive(Args)]
struct CalibrateArgs {
    /// Rasch, 1PL, 2PL, 3PL; GRM, GPCM, PCM for items scored in categories.
    #[arg(long, default_value = defaults::MODEL)]
    model: String,
    /// Answers with created_at >= now() - lookback_days.
    #[arg(long, default_value_t = defaults::LOOKBACK_DAYS, allow_negative_numbers = true)]
    lookback_days: i32,
    /// auto, stocking_lord, haebara, mean_sigma, mean_mean, fixed, none.
    #[arg(long, default_value = defaults::LINKING)]
    linking: String,
    /// bank, default, none.
    #[arg(long, default_value = defaults::PRIORS)]
    priors: String,
    /// Relation with the answers.
    #[arg(long, default_value = defaults::SOURCE)]
    source: String,
    /// Relation with the item bank.
    #[arg(long, default_value = defaults::ITEMS)]
    items: String,
    #[arg(long, default_value_t = defaults::MAX_CYCLES, allow_negative_numbers = true)]
    max_cycles: i32,
    /// Largest parameter change in an EM cycle.
    #[arg(long, default_value_t = defaults::TOLERANCE, allow_negative_numbers = true)]
    tolerance: f64,
    #[arg(long, default_value_t = defaults::QUADRATURE_POINTS, allow_negative_numbers = true)]
    quadrature_points: i32,
    /// Threads of the fit [default: the cores available].
    #[arg(long, allow_negative_numbers = true)]
    threads: Option<i32>,
    /// Write a run that did not converge, with status not_converged.
    #[arg(long)]
    accept_nonconverged: bool,
    #[arg(long, default_value_t = defaults::MIN_ANCHORS, allow_negative_numbers = true)]
    min_anchors: i32,
    /// Items with fewer answers in the window are excluded.
    #[arg(long, default_value_t = defaults::MIN_RESPONSES, allow_negative_numbers = true)]
    min_responses: i32,
    /// Which of several attempts counts: first, last.
    #[arg(long, default_value = defaults::ATTEMPT)]
    attempt: String,
    /// squarem, em, mirt.
    #[arg(long, default_value = defaults::ALGORITHM)]
    algorithm: String,
    /// auto (full up to 4,000 parameters, per-item blocks above), full, item, none.
    #[arg(long, default_value = defaults::STANDARD_ERRORS)]
    standard_errors: String,
    /// What to do about drifted anchors: purify (screen, drop the flagged, relink), flag, off.
    #[arg(long, default_value = defaults::ANCHOR_DRIFT)]
    anchor_drift: String,
    /// The |z| whose two-sided level (1 % at 2.576) an anchor's drift test must reach.
    #[arg(long, default_value_t = defaults::DRIFT_Z, allow_negative_numbers = true)]
    drift_z: f64,
    /// The source's column whose value puts each person in a group (one per person).
    #[arg(long)]
    groups: Option<String>,
    /// The group on the anchors' scale [default: the largest].
    #[arg(long)]
    reference_group: Option<String>,
    /// The most answers a run loads (the extension's pg_irt.max_answers).
    #[arg(long, default_value_t = i64::from(defaults::MAX_ANSWERS))]
    max_answers: i64,
    /// The most memory, in MB, a run may be predicted to hold (the extension's pg_irt.max_memory).
    #[arg(long, default_value_t = defaults::MAX_MEMORY_MB as u64)]
    max_memory: u64,
}

impl CalibrateArgs {
    fn settings(&self) -> Result<Settings, Failure> {
        Ok(Settings::from_arguments(&self.arguments())?)
    }

    fn arguments(&self) -> Arguments<'_> {
        Arguments {
            model: Some(&self.model),
            lookback_days: Some(self.lookback_days),
            linking: Some(&self.linking),
            priors: Some(&self.priors),
            source: Some(&self.source),
            items: Some(&self.items),
            max_cycles: Some(self.max_cycles),
            tolerance: Some(self.tolerance),
            quadrature_points: Some(self.quadrature_points),
            threads: self.threads,
            accept_nonconverged: Some(self.accept_nonconverged),
            min_anchors: Some(self.min_anchors),
            min_responses: Some(self.min_responses),
            attempt: Some(&self.attempt),
            algorithm: Some(&self.algorithm),
            standard_errors: Some(&self.standard_errors),
            anchor_drift: Some(&self.anchor_drift),
            drift_z: Some(self.drift_z),
            groups: self.groups.as_deref(),
            reference_group: self.reference_group.as_deref(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot start the runtime: {e}")))
        .and_then(|runtime| run(cli.command, &runtime));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::from(failure.exit as u8)
        }
    }
}

/// Connects and runs the command; statements wait on `runtime`, which also drives the
/// connection's task.
fn run(command: Command, runtime: &Runtime) -> Result<(), Failure> {
    // Arguments are checked before connecting.
    let settings = match &command {
        Command::Calibrate(args) => Some(args.settings()?),
        Command::Promote(args) => {
            args.rules()?;
            None
        }
        Command::Migrate { .. } | Command::Report { .. } => None,
    };
    let target = connect::from_env().map_err(|e| Failure::new(Exit::Connection, e))?;
    let (mut client, connection) = runtime
        .block_on(target.config.connect(target.tls.clone()))
        .map_err(|e| match Failure::from(e) {
            f if f.exit == Exit::Failed => Failure {
                exit: Exit::Connection,
                ..f
            },
            f => f,
        })?;
    // The connection's own task: it runs whenever the run waits on the database.
    runtime.spawn(connection);
    match command {
        Command::Migrate { schema } => {
            let quoted = runtime.block_on(migrate::migrate(&mut client, &schema))?;
            eprintln!("NOTICE:  result tables, view and health function ready in schema {quoted}");
            Ok(())
        }
        Command::Promote(args) => {
            let request = promote::Request {
                run_id: args.run_id.as_deref(),
                rules: args.rules()?,
                items: &args.items,
                apply: args.apply,
            };
            let done = promote::run(runtime, &mut client, &request)?;
            for c in &done.changes {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    c.item_id,
                    c.action.name(),
                    c.reason,
                    c.irt,
                    done.run_id,
                    args.apply
                );
            }
            eprintln!(
                "NOTICE:  run {}: {} to promote, {} to retire{}",
                done.run_id,
                done.changes
                    .iter()
                    .filter(|c| c.action == Action::Promote)
                    .count(),
                done.changes
                    .iter()
                    .filter(|c| c.action == Action::Retire)
                    .count(),
                if args.apply {
                    "; applied"
                } else {
                    "; a dry run, nothing changed (--apply changes the bank)"
                }
            );
            Ok(())
        }
        Command::Report { run_id, output } => {
            let page = runtime.block_on(report::report(&client, run_id.as_deref()))?;
            match output {
                Some(path) => std::fs::write(&path, page).map_err(|e| {
                    Failure::new(
                        Exit::Failed,
                        format!("cannot write {}: {e}", path.display()),
                    )
                }),
                None => {
                    print!("{page}");
                    Ok(())
                }
            }
        }
        Command::Calibrate(args) => {
            let signalled = Arc::new(AtomicBool::new(false));
            on_signal(&client, target.tls, signalled.clone())?;
            let settings = settings.expect("checked above");
            let limits = calibrate::Limits {
                max_answers: args.max_answers,
                max_memory: u128::from(args.max_memory) * 1_048_576,
            };
            let done = calibrate::run(runtime, &mut client, settings, limits, signalled)?;
            let c = &done.calibration;
            eprintln!(
                "NOTICE:  Calibration upsert completed: {} items, {} abilities",
                c.item_ids.len(),
                c.user_ids.len()
            );
            println!(
                "run_id={} model={} n_items={} n_users={} n_anchors={} n_observations={} slope={} intercept={} loglik={} em_cycles={} converged={}",
                done.run_id,
                c.settings.run_model.name(),
                c.item_ids.len(),
                c.user_ids.len(),
                c.n_anchors,
                c.n_answers,
                c.constants.slope,
                c.constants.intercept,
                c.fit.log_lik,
                c.fit.cycles,
                c.converged()
            );
            Ok(())
        }
    }
}

/// On Ctrl-C or SIGTERM: ask the server to cancel what it is running (a read or a write), mark
/// the run for the fit to stop at its next cycle, and if the run is still going a second later
/// (in a phase without a check), end the process. Closing the connection rolls its transaction
/// back on the server, so nothing is written either way.
fn on_signal(
    client: &tokio_postgres::Client,
    tls: postgres_openssl::MakeTlsConnector,
    signalled: Arc<AtomicBool>,
) -> Result<(), Failure> {
    let token = client.cancel_token();
    ctrlc::set_handler(move || {
        if signalled.swap(true, Ordering::SeqCst) {
            return;
        }
        // The handler's own thread, so a runtime of its own for the cancel request.
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            let _ = runtime.block_on(token.cancel_query(tls.clone()));
        }
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_secs(1));
            eprintln!("ERROR:  canceling the calibration: interrupted by a signal (Ctrl-C or SIGTERM)\nDETAIL:  Nothing was written; the previous calibration stays current.");
            std::process::exit(Exit::Cancelled as i32);
        });
    })
    .map_err(|e| Failure::new(Exit::Failed, format!("cannot handle signals: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pg-irt calibrate` without flags is `mirt_calibrate()` without arguments: the flags'
    /// defaults are the core's, and so are the limits the extension's settings default to.
    #[test]
    fn the_flags_default_to_the_cores_defaults() {
        let Command::Calibrate(args) = Cli::try_parse_from(["pg-irt", "calibrate"])
            .unwrap()
            .command
        else {
            panic!("not calibrate");
        };
        assert_eq!(args.arguments(), Arguments::defaults());
        assert_eq!(args.max_answers, i64::from(defaults::MAX_ANSWERS));
        assert_eq!(args.max_memory, defaults::MAX_MEMORY_MB as u64);
    }
}
