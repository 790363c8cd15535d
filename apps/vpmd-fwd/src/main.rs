//! `vpmd-fwd`: see `vpmd-fwd --help`. With no arguments (or `--demo`) it runs a
//! five-second demo: a simulated Xen guest and a vhost-user guest forwarded through
//! vpmd (`--demo qemu`: a QEMU Linux guest pings the Xen guest; `--demo null`: two null
//! ports).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use vpmd_fwd::cli::{self, Cli};
use vpmd_fwd::demo::DemoKind;

/// What the command line asks for.
enum Plan {
    Demo(DemoKind),
    Forward(Box<vpmd_config::Config>),
}

fn main() -> ExitCode {
    vpmd_fwd::log::init();
    let args: Vec<String> = std::env::args().collect();
    let plan = if cli::no_arguments(&args) {
        Plan::Demo(DemoKind::default())
    } else {
        let cli = Cli::parse_from(cli::strip_separator(args));
        match cli.demo {
            Some(kind) => Plan::Demo(kind),
            None => match cli.into_config() {
                Ok(config) => Plan::Forward(Box::new(config)),
                Err(e) => {
                    eprintln!("vpmd-fwd: error: {e}");
                    return ExitCode::FAILURE;
                }
            },
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("vpmd-fwd: warning: Ctrl-C handler not installed: {e}");
    }
    let registry = vpmd_fwd::drivers::registry();
    let done = match plan {
        Plan::Demo(kind) => vpmd_fwd::demo::run(kind, &registry, &stop),
        Plan::Forward(config) if config.run.interactive => {
            vpmd_fwd::prompt::run(*config, &registry, &stop)
        }
        Plan::Forward(config) => vpmd_fwd::run::run(&config, &registry, &stop).map(drop),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vpmd-fwd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
