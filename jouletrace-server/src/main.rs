//! `jouletrace-server`: the measurement service's binary.

use std::io::{IsTerminal, Read};

use clap::Parser;
use jouletrace_server::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_tracing();
            let config = (*args).resolve()?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(jouletrace_server::serve(config))
        }
        Command::HashKey { id } => {
            let mut key = String::new();
            if std::io::stdin().is_terminal() {
                eprintln!("type the key, then Enter:");
            }
            std::io::stdin().read_to_string(&mut key)?;
            let key = key.trim();
            anyhow::ensure!(key.len() >= 16, "use a key of at least 16 characters");
            println!("{id} sha256:{}", jouletrace_server::auth::hash_key(key));
            Ok(())
        }
        // fleet: `jouletrace-server agent` (issue 15).
        Command::Agent(args) => {
            init_tracing();
            jouletrace_server::fleet::command::main(*args)
        }
        Command::Worker(args) => {
            init_tracing();
            jouletrace_server::worker::main(args.validate_only)
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("JOULETRACE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
