//! The `onboarding-adapter` binary: serves by default; sub-commands for migrations,
//! customer import, the OpenAPI export, the effective configuration and the decision policy
//! check.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onboarding_adapter::configuration::Settings;
use onboarding_adapter::services::policy;
use onboarding_adapter::startup::{Application, openapi_document};
use onboarding_adapter::{import, openapi, storage, telemetry};

#[derive(Parser)]
#[command(
    version,
    about = "External Onboarding Services for Wultra's Onboarding Server"
)]
struct Cli {
    /// TOML configuration file (also `ADAPTER_CONFIG`).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the callbacks (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import customers from a CSV or JSON file into the registry (insert or update by userId).
    ImportCustomers { file: PathBuf },
    /// Write the OpenAPI document.
    Openapi {
        #[arg(long, default_value = "openapi/openapi.json")]
        out: PathBuf,
    },
    /// Print the effective configuration (secrets redacted).
    Config,
    /// Decision policy tools (need no database or configuration).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file and run its golden test cases. Exit code 0: valid and every
    /// case passes; 1: a case fails; 2: the policy is invalid.
    Check { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Policy { command }) = &cli.command {
        return run_policy(command);
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = telemetry::init(&settings.log, std::io::stdout) {
        eprintln!("{e:#}");
        return ExitCode::from(2);
    }
    let result =
        actix_web::rt::System::new().block_on(run(cli.command.unwrap_or(Command::Serve), settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error.cause_chain = ?e, "onboarding-adapter stopped with an error");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await?;
            tracing::info!("onboarding-adapter stopped");
        }
        Command::Migrate => {
            storage::migrate(&settings).await?;
            println!("migrations applied");
        }
        Command::ImportCustomers { file } => {
            let rows = import::read(&file)?;
            let db = storage::connect(&settings).await?;
            if settings.database.migrate_on_start {
                storage::migrate(&settings).await?;
            }
            let n = import::import(&db, &rows, chrono::Utc::now()).await?;
            println!("imported {n} customers from {}", file.display());
        }
        Command::Openapi { out } => {
            let text = openapi::render(&openapi_document(&settings))?;
            std::fs::write(&out, text)?;
            println!("wrote {}", out.display());
        }
        Command::Config => print!("{}", settings.redacted_toml()),
        // Handled in `main`, before the configuration is loaded.
        Command::Policy { .. } => anyhow::bail!("the policy sub-commands do not run here"),
    }
    Ok(())
}

fn run_policy(command: &PolicyCommand) -> ExitCode {
    match command {
        PolicyCommand::Check { file } => match policy::check_file(file) {
            Ok(report) => {
                print!("{}", report.render());
                if report.passed() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
    }
}
