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
    let config = if cli::no_arguments(&args) {
        println!("vpmd-fwd: no arguments, running the demo (two null ports, io forwarding, 5 s)");
        cli::demo_config()
    } else {
        match Cli::parse_from(cli::strip_separator(args)).into_config() {
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
    match vpmd_fwd::run::run(&config, &vpmd_fwd::drivers::registry(), &stop) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vpmd-fwd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
