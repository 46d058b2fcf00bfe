//! `chat-server`: parses flags, checks and opens the archive, binds the listeners and runs
//! the server until a signal.

use std::process::ExitCode;

use clap::Parser;
use linechat::config::{Args, Settings};

fn main() -> ExitCode {
    linechat::logging::init();
    let args = Args::parse();
    if args.hash_password {
        return hash_password();
    }
    let check = args.check_config;
    let settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("chat-server: {e:#}");
            return ExitCode::from(2);
        }
    };
    if check {
        return match linechat::service::check_config(&settings) {
            Ok(()) => {
                println!("configuration is valid");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("chat-server: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chat-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(linechat::service::run(settings));
    // A blocking task stuck on a broken disk (the search indexer) must not keep the
    // process from exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-server: {e:#}");
            // A log directory that cannot be used (a file, a missing parent, another
            // server's) is a configuration error, as --check-config reports it.
            if e.chain().any(|c| c.is::<linechat::logdir::LogDirError>()) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// `--hash-password`: reads one line from standard input and prints its argon2 hash.
fn hash_password() -> ExitCode {
    let mut password = String::new();
    if std::io::stdin().read_line(&mut password).is_err() {
        eprintln!("chat-server: cannot read the password from standard input");
        return ExitCode::from(2);
    }
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!(
            "chat-server: give the password on standard input, e.g. `echo -n secret | chat-server --hash-password`"
        );
        return ExitCode::from(2);
    }
    match linechat::password::hash(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chat-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
