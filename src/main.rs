//! `cost-guard`: see what the guard would stop in your account, or try it on
//! this machine against a local emulator. It only dispatches; each command is
//! a module of its own.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod doctor;
mod plan;
mod resume;
mod status;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How long `plan` may take in all: every region has until then.
const PLAN_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);
/// How long `resume` may take: as long as a Lambda function may run, so that
/// the command can start at least what the resume function could.
const RESUME_BUDGET: std::time::Duration = std::time::Duration::from_secs(900);

/// cost-guard stops runaway AWS spend. This command line plans a sweep against
/// your account, or runs the functions against a local emulator.
#[derive(Parser)]
#[command(name = "cost-guard", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Dry run against the configured AWS credentials and endpoint (AWS_PROFILE,
    /// AWS_REGION, AWS_ENDPOINT_URL, ...): per region, what a sweep would stop
    /// and what it would skip, and why. Changes nothing. Reads SELECTION,
    /// STOP_TAG_KEY, STOP_TAG_VALUE, EXEMPT_TAG_KEY and REGIONS.
    Plan,
    /// Start a local AWS emulator (moto), seed a fleet in several regions, run
    /// stop-on-overspend on the sample events, and print what subscribers
    /// received and the fleet before and after. No AWS account needed.
    Demo {
        /// Run the function with DRY_RUN=true: it stops and tags nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check that every piece the guard needs is in place, with the
    /// configured credentials (AWS_PROFILE, AWS_REGION = the stack's region):
    /// the stack, a confirmed subscription, something that triggers it, a
    /// trail, the forwarder in every enabled region, GuardDuty, member
    /// accounts, and the account's hygiene. One line per check, with the fix
    /// for each failure. Changes nothing. Exits 1 when a check failed.
    Doctor {
        /// The cost-guard stack's name.
        #[arg(long, default_value = "cost-guard")]
        stack_name: String,
        /// The stack's region (default: the AWS CLI's, from AWS_REGION or
        /// the profile).
        #[arg(long)]
        region: Option<String>,
        /// Print JSON for scripts instead of the checklist.
        #[arg(long)]
        json: bool,
        /// Exit 1 also when a check could not be made (a missing permission).
        #[arg(long)]
        strict: bool,
    },
    /// What is running now in every enabled region (REGIONS) and account
    /// (ACCOUNTS), what each resource costs an hour on demand, and the totals
    /// per hour, per day and for the rest of the month at this rate. Prices
    /// from AWS's price list, else a built-in table (marked). Changes nothing.
    Status {
        /// Print JSON for scripts (amounts as exact decimal strings).
        #[arg(long)]
        json: bool,
    },
    /// Start again what cost-guard stopped (what carries its stamp), in every
    /// region of REGIONS, with the configured credentials. Shows what it would
    /// start unless --yes is given.
    Resume {
        /// Only what this trigger stopped, e.g. budget:student-monthly (the
        /// cost-guard:stopped-by tag).
        #[arg(long, value_name = "TRIGGER")]
        stopped_by: Option<String>,
        /// Only what was stopped at or after this time, e.g. 2026-11-22T10:00:00Z.
        #[arg(long, value_name = "TIME", value_parser = rfc3339)]
        since: Option<time::OffsetDateTime>,
        /// Show what would be started, and start nothing (the default without --yes).
        #[arg(long, conflicts_with = "yes")]
        dry_run: bool,
        /// Start them.
        #[arg(long)]
        yes: bool,
    },
}

fn rfc3339(text: &str) -> std::result::Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{e}: expected a time such as 2026-11-22T10:00:00Z"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Plan => plan::run().await,
        Command::Status { json } => status::run(json).await,
        Command::Demo { dry_run } => demo::run(dry_run).await,
        Command::Doctor {
            stack_name,
            region,
            json,
            strict,
        } => match doctor::run(&stack_name, region, json, strict).await {
            Ok(0) => Ok(()),
            Ok(status) => return ExitCode::from(status),
            Err(e) => Err(e),
        },
        Command::Resume {
            stopped_by,
            since,
            dry_run,
            yes,
        } => {
            let request = guard::domain::resume::ResumeRequest {
                stopped_by,
                since,
                dry_run,
            };
            resume::run(request, yes).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cost-guard: {e}");
            ExitCode::FAILURE
        }
    }
}
