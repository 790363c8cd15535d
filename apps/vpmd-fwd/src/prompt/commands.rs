//! The prompt's commands: a line is split into words, matched against the command table,
//! and run by one function per command. Errors name the command and the argument.

use std::sync::atomic::AtomicBool;

use anyhow::{anyhow, bail, Context, Result};
use vpmd_config::ForwardMode;

use super::session::Session;
use super::show;

/// What the prompt does after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Quit,
}

/// One line of help per command.
const HELP: &str = "\
start | start tx_first [N]           start forwarding (after N txonly bursts per stream)
stop                                 stop forwarding, print forward statistics
show port info|stats|xstats N|all    port details, NIC statistics, extended statistics
clear port stats N|all               reset NIC statistics
show config fwd|cores                streams per forwarding lcore, forwarding lcores
show lcore stats                     busy/idle cycles and packets per forwarding lcore
set fwd MODE                         forwarding mode (while stopped)
set burst N                          packets per burst (takes effect at the next start)
port start|stop|close N|all          port state
port attach DEVARGS                  add a port (joins running forwarding)
port detach N                        remove a port (leaves running forwarding first)
quit                                 stop, close ports, exit
";

/// Runs one line.
pub(crate) fn execute(s: &mut Session<'_>, line: &str, stop: &AtomicBool) -> Result<Flow> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => {}
        ["help"] => print!("{HELP}"),
        ["start"] => s.start(0).context("start")?,
        ["start", "tx_first"] => s.start(1).context("start tx_first")?,
        ["start", "tx_first", n] => s
            .start(number("tx_first burst count", n)?)
            .context("start tx_first")?,
        ["stop"] => s.stop()?,
        ["quit"] => {
            s.quit()?;
            return Ok(Flow::Quit);
        }
        ["show", "port", what, sel] => show_port(s, what, sel)?,
        ["clear", "port", "stats", sel] => clear_stats(s, sel)?,
        ["show", "config", what] => show_config(s, what)?,
        ["show", "lcore", "stats"] => show_lcore_stats(s),
        ["set", "fwd", mode] => set_fwd(s, mode)?,
        ["set", "burst", n] => set_burst(s, n)?,
        ["port", "attach", devargs] => attach(s, devargs)?,
        ["port", "detach", id] => detach(s, id)?,
        ["port", op @ ("start" | "stop" | "close"), sel] => port_op(s, op, sel, stop)?,
        _ => bail!("unknown command {line:?}; type help"),
    }
    Ok(Flow::Continue)
}

fn number<T: std::str::FromStr>(what: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| anyhow!("bad {what} {v:?}: expected a number"))
}

/// `N` or `all`, checked against the attached ports.
fn ports(s: &Session<'_>, sel: &str) -> Result<Vec<u16>> {
    if sel == "all" {
        return Ok(s.port_ids());
    }
    let id = number("port id", sel)?;
    s.slot(id)?;
    Ok(vec![id])
}

fn show_port(s: &mut Session<'_>, what: &str, sel: &str) -> Result<()> {
    let ctx = || format!("show port {what}");
    for id in ports(s, sel).with_context(ctx)? {
        match what {
            "info" => print!("{}", show::port_info(s.slot(id)?.port())),
            "stats" => print!("{}", s.show_stats(id)?),
            "xstats" => print!("{}", show::xstats(id, &s.slot(id)?.port().xstats())),
            _ => bail!("show port: unknown item {what:?} (info, stats, xstats)"),
        }
    }
    Ok(())
}

fn clear_stats(s: &mut Session<'_>, sel: &str) -> Result<()> {
    for id in ports(s, sel).context("clear port stats")? {
        s.clear_stats(id)?;
        println!("\n  NIC statistics for port {id} cleared");
    }
    Ok(())
}

fn show_config(s: &Session<'_>, what: &str) -> Result<()> {
    let plan = s.plan();
    let mut lcores: Vec<u32> = plan
        .iter()
        .flat_map(|p| std::iter::once(p.lcore).chain(p.worker))
        .collect();
    lcores.sort_unstable();
    lcores.dedup();
    match what {
        "fwd" => print!(
            "{}",
            show::config_fwd(s.config.forwarding.mode, s.nb_ports(), &lcores, &plan)
        ),
        "cores" => print!("{}", show::config_cores(&s.fwd_lcores(plan.len().max(1)))),
        _ => bail!("show config: unknown item {what:?} (fwd, cores)"),
    }
    Ok(())
}

fn show_lcore_stats(s: &Session<'_>) {
    let stats = s.lcore_stats();
    if stats.is_empty() {
        println!("No forwarding lcore has run yet");
    }
    print!("{}", show::lcore_stats(&stats));
}

fn set_fwd(s: &mut Session<'_>, mode: &str) -> Result<()> {
    if s.is_forwarding() {
        bail!("set fwd: please stop forwarding first");
    }
    let mode: ForwardMode = mode.parse().context("set fwd")?;
    let old = std::mem::replace(&mut s.config.forwarding.mode, mode);
    // e.g. txonly under --pipeline.
    if let Err(e) = s.config.validate() {
        s.config.forwarding.mode = old;
        return Err(anyhow!(e).context("set fwd"));
    }
    println!("Set {mode} packet forwarding mode");
    Ok(())
}

fn set_burst(s: &mut Session<'_>, n: &str) -> Result<()> {
    let burst = number("burst", n).context("set burst")?;
    let old = std::mem::replace(&mut s.config.forwarding.burst, burst);
    if let Err(e) = s.config.validate() {
        s.config.forwarding.burst = old;
        return Err(anyhow!(e).context("set burst"));
    }
    println!("Number of packets per burst set to {burst}");
    Ok(())
}

fn port_op(s: &mut Session<'_>, op: &str, sel: &str, stop: &AtomicBool) -> Result<()> {
    for id in ports(s, sel).with_context(|| format!("port {op}"))? {
        s.port_op(op, id, stop)
            .with_context(|| format!("port {op} {id}"))?;
    }
    println!("Done");
    Ok(())
}

fn attach(s: &mut Session<'_>, devargs: &str) -> Result<()> {
    let id = s
        .attach(devargs)
        .with_context(|| format!("port attach {devargs}"))?;
    println!(
        "Port {id} is attached. Now total ports is {}\nDone",
        s.nb_ports()
    );
    Ok(())
}

fn detach(s: &mut Session<'_>, id: &str) -> Result<()> {
    let id = number("port id", id).context("port detach")?;
    s.detach(id).with_context(|| format!("port detach {id}"))?;
    println!(
        "Port {id} is detached. Now total ports is {}\nDone",
        s.nb_ports()
    );
    Ok(())
}
