//! The `numberd` binary: serve the API, run migrations, manage workspaces and keys, sweep once,
//! inspect the outbox, print the OpenAPI document.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use clap::{Parser, Subcommand};
use serde_json::json;

use numberd::app;
use numberd::config::{Config, LogFormat};
use numberd::domain::clock::SystemClock;
use numberd::domain::ids::{AccessKeyId, WorkspaceId};
use numberd::store::{jobs, workspaces};

/// mimalloc instead of glibc's malloc: a request allocates and frees many small values, and glibc
/// spent an eighth of a GET's time doing it (consolidating its free lists among others).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "numberd", version, about = "Phone-number lifecycle service")]
struct Cli {
    /// TOML configuration file (also `NUMBERD_CONFIG`).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API and the period-end worker.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Settle every due billing period and deliver due carrier work once, then exit.
    Sweep,
    /// Print the OpenAPI document.
    Openapi,
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    #[command(subcommand)]
    Key(KeyCommand),
    /// Carrier work queued by releases (the outbox).
    #[command(subcommand)]
    Jobs(JobsCommand),
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and its first access key; prints {"workspaceId", "accessKey"}.
    Create {
        name: String,
        /// Give the workspace its own test clock (see POST /workspaces/{id}/test-clock/advance).
        #[arg(long)]
        test_mode: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create another access key for a workspace.
    Create {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke an access key by its id.
    Revoke { key_id: String },
    /// List a workspace's keys (ids and prefixes, never secrets).
    List {
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List jobs, optionally only those in one status (pending, done, failed).
    List {
        #[arg(long)]
        status: Option<String>,
    },
    /// Put a parked (failed) job back in the queue.
    Retry { job_id: i64 },
}

fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("NUMBERD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Logs go to stderr so commands that print JSON keep stdout clean.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        println!("{}", numberd::http::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(format!("invalid configuration: {e}")),
    };
    // NUMBERD_LOG is the log filter, read by init_logging, not a setting.
    init_logging(config.log_format);
    match run(cli.command, config).await {
        Ok(code) => code,
        Err(e) => fail(format!("{e:#}")),
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    if let Command::Serve = command {
        app::serve(config).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let db = app::connect(&config).await?;
    let now = Utc::now();
    match command {
        Command::Serve | Command::Openapi => unreachable!("handled above"),
        Command::Migrate => eprintln!("migrations applied"),
        Command::Sweep => {
            let core = app::core(&config, db, Arc::new(SystemClock), app::carrier_for(&config))?;
            let (settled, delivered) = app::sweep_once(&core, config.worker.batch).await?;
            println!("{}", json!({ "settled": settled, "delivered": delivered }));
        }
        Command::Workspace(WorkspaceCommand::Create { name, test_mode }) => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 255 {
                return Ok(fail("workspace name must be 1 to 255 characters"));
            }
            let (ws, key) = workspaces::create_workspace(&db, name, test_mode, now).await?;
            println!("{}", json!({ "workspaceId": ws.id, "accessKey": key.secret }));
        }
        Command::Key(KeyCommand::Create { workspace }) => {
            let Ok(ws) = workspace.parse::<WorkspaceId>() else { return Ok(fail("--workspace is not a workspace id")) };
            match workspaces::create_key(&db, ws, now).await? {
                Some(key) => println!("{}", json!({ "keyId": key.id, "workspaceId": ws, "accessKey": key.secret })),
                None => return Ok(fail(format!("workspace {ws} does not exist"))),
            }
        }
        Command::Key(KeyCommand::Revoke { key_id }) => {
            let Ok(id) = key_id.parse::<AccessKeyId>() else { return Ok(fail("not a key id")) };
            if !workspaces::revoke_key(&db, id, now).await? {
                return Ok(fail(format!("key {id} does not exist")));
            }
            println!("{}", json!({ "keyId": id, "revoked": true }));
        }
        Command::Key(KeyCommand::List { workspace }) => {
            let Ok(ws) = workspace.parse::<WorkspaceId>() else { return Ok(fail("--workspace is not a workspace id")) };
            for k in workspaces::list_keys(&db, ws).await? {
                println!("{}", json!({ "keyId": k.id, "prefix": k.prefix, "createdAt": k.created_at, "revokedAt": k.revoked_at }));
            }
        }
        Command::Jobs(JobsCommand::List { status }) => {
            let status = match status.as_deref().map(numberd::jobs::JobStatus::parse) {
                Some(None) => return Ok(fail("--status must be pending, done or failed")),
                Some(s) => s,
                None => None,
            };
            for j in jobs::list(&db, status).await? {
                println!(
                    "{}",
                    json!({ "id": j.id, "kind": j.kind.as_str(), "queue": j.queue.as_str(), "workspaceId": j.workspace_id,
                        "numberId": j.number_id, "payload": j.payload, "status": j.status.as_str(),
                        "attempts": j.attempts, "runAt": j.run_at, "lastError": j.last_error })
                );
            }
        }
        Command::Jobs(JobsCommand::Retry { job_id }) => {
            if !jobs::requeue(&db, job_id, now).await? {
                return Ok(fail(format!("job {job_id} is not a failed job")));
            }
            println!("{}", json!({ "id": job_id, "status": "pending" }));
        }
    }
    Ok(ExitCode::SUCCESS)
}
