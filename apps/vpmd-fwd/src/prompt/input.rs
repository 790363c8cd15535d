//! Where prompt lines come from: rustyline (line editing, history) on a terminal, plain
//! lines otherwise, so tests can drive the prompt over a pipe.
//!
//! A reader thread reads one line each time the prompt asks for one, so the next
//! `testpmd> ` is printed after the previous command's output, and the main thread can
//! watch the Ctrl-C flag while the reader blocks.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::Duration;

use rustyline::error::ReadlineError;

/// testpmd's prompt.
pub(crate) const PROMPT: &str = "testpmd> ";

/// What the user did.
pub(crate) enum Input {
    /// A line, without its newline.
    Line(String),
    /// Ctrl-C, at the prompt or while a command ran.
    Interrupt,
    /// End of input (Ctrl-D, or the pipe closed).
    End,
}

/// The reader thread's two channels.
pub(crate) struct Lines {
    ask: SyncSender<()>,
    lines: Receiver<Input>,
}

impl Lines {
    /// Starts the reader thread on stdin.
    pub(crate) fn spawn() -> std::io::Result<Self> {
        let (ask, asked) = mpsc::sync_channel(1);
        let (send, lines) = mpsc::sync_channel(1);
        let tty = std::io::stdin().is_terminal();
        thread::Builder::new()
            .name("vpmd-prompt".into())
            .spawn(move || {
                if tty {
                    read_terminal(&asked, &send)
                } else {
                    read_plain(&asked, &send)
                }
            })?;
        Ok(Self { ask, lines })
    }

    /// Shows the prompt and waits for the next input, or for `interrupted` to be set.
    pub(crate) fn next(&self, interrupted: &AtomicBool) -> Input {
        if self.ask.send(()).is_err() {
            return Input::End;
        }
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(input) => return input,
                Err(RecvTimeoutError::Timeout) if interrupted.load(Ordering::Relaxed) => {
                    return Input::Interrupt
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Input::End,
            }
        }
    }
}

fn read_terminal(asked: &Receiver<()>, send: &SyncSender<Input>) {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("vpmd-fwd: no line editing ({e}); reading plain lines");
            return read_plain(asked, send);
        }
    };
    while asked.recv().is_ok() {
        let input = match editor.readline(PROMPT) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                Input::Line(line)
            }
            Err(ReadlineError::Interrupted) => Input::Interrupt,
            Err(ReadlineError::Eof) => Input::End,
            Err(e) => {
                eprintln!("vpmd-fwd: reading the prompt: {e}");
                Input::End
            }
        };
        let end = matches!(input, Input::End);
        if send.send(input).is_err() || end {
            return;
        }
    }
}

fn read_plain(asked: &Receiver<()>, send: &SyncSender<Input>) {
    let stdin = std::io::stdin();
    while asked.recv().is_ok() {
        print!("{PROMPT}");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let input = match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => Input::End,
            Ok(_) => Input::Line(line.trim_end_matches(['\n', '\r']).to_owned()),
        };
        let end = matches!(input, Input::End);
        if send.send(input).is_err() || end {
            return;
        }
    }
}
