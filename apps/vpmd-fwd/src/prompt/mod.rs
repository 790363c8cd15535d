//! `vpmd-fwd -i`: testpmd's interactive prompt.
//!
//! [`run`] opens the configured ports, then reads commands until `quit`, end of input or
//! Ctrl-C, each of which stops forwarding (printing the forward statistics) and closes
//! the ports. With `--auto-start` forwarding starts before the first prompt, as
//! testpmd. A failed command prints one line naming it and the prompt goes on.
//! `commands.rs` parses and runs a line, `session.rs` holds the ports and the running
//! streams, `show.rs` formats, `input.rs` reads lines; `crate::homing` brings queues back
//! from ended streams.

mod commands;
mod input;
mod session;
mod show;

use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use vpmd_config::Config;
use vpmd_pmd::Registry;

use commands::Flow;
use input::{Input, Lines};
use session::Session;

/// Runs the prompt until `quit`, end of input, or `interrupted` (Ctrl-C) is set.
pub fn run(config: Config, registry: &Registry, interrupted: &AtomicBool) -> Result<()> {
    let auto_start = config.run.auto_start;
    let mut session = Session::open(config, registry, interrupted)?;
    if auto_start {
        println!("Start automatic packet forwarding");
        // As a typed `start`: a failure is reported and the prompt goes on.
        if let Err(e) = commands::execute(&mut session, "start", interrupted) {
            eprintln!("vpmd-fwd: {e:#}");
        }
    }
    let lines = Lines::spawn().context("starting the prompt reader")?;
    loop {
        match lines.next(interrupted) {
            Input::Line(line) => match commands::execute(&mut session, &line, interrupted) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => return Ok(()),
                Err(e) => eprintln!("vpmd-fwd: {e:#}"),
            },
            Input::Interrupt | Input::End => {
                // testpmd's Ctrl-C: stop forwarding if it runs, then quit cleanly.
                println!();
                return session.quit();
            }
        }
    }
}
