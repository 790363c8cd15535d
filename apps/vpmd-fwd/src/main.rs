//! `vpmd-fwd`: see `vpmd-fwd --help`. With no arguments it runs a five-second demo on two
//! null ports.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use vpmd_fwd::cli::{self, Cli};

fn main() -> ExitCode {
    vpmd_fwd::log::init();
    let args: Vec<String> = std::env::args().collect();
    let mut interactive = false;
    let config = if cli::no_arguments(&args) {
        println!("vpmd-fwd: no arguments, running the demo (two null ports, io forwarding, 5 s)");
        cli::demo_config()
    } else {
        let cli = Cli::parse_from(cli::strip_separator(args));
        interactive = cli.interactive;
        match cli.into_config() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("vpmd-fwd: error: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("vpmd-fwd: warning: Ctrl-C handler not installed: {e}");
    }
    let registry = vpmd_fwd::drivers::registry();
    let done = if interactive {
        vpmd_fwd::prompt::run(config, &registry, &stop)
    } else {
        vpmd_fwd::run::run(&config, &registry, &stop).map(drop)
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vpmd-fwd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
