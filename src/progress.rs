//! Progress: a bar on a terminal; with `-v`, one line per phase on stderr (for logs);
//! otherwise silence.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rejig_store::Progress;

/// Reports progress the way the invocation asks for.
pub struct Bar {
    quiet: bool,
    draw: bool,
    log: bool,
    bar: Mutex<Option<ProgressBar>>,
    phase: Mutex<Option<(String, Instant)>>,
    done: AtomicU64,
}

impl Bar {
    /// Bars only on a terminal and never with `--quiet` or `--json`; `-v` logs phases.
    pub fn new(quiet: bool, json: bool, verbose: u8) -> Self {
        Self {
            quiet,
            draw: !quiet && !json && std::io::stderr().is_terminal(),
            log: verbose > 0,
            bar: Mutex::new(None),
            phase: Mutex::new(None),
            done: AtomicU64::new(0),
        }
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64) {
        self.done.store(0, Ordering::Relaxed);
        if let Ok(mut slot) = self.phase.lock() {
            *slot = Some((phase.to_owned(), Instant::now()));
        }
        if !self.draw {
            return;
        }
        let bar = if total > 0 {
            ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            )
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_message(phase.to_owned());
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, units: u64) {
        self.done.fetch_add(units, Ordering::Relaxed);
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(units);
            }
        }
    }

    fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        match self.bar.lock().ok().as_ref().and_then(|slot| slot.as_ref().cloned()) {
            Some(bar) => bar.suspend(|| eprintln!("rejig: warning: {message}")),
            None => eprintln!("rejig: warning: {message}"),
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
        if let (true, Ok(mut slot)) = (self.log, self.phase.lock()) {
            if let Some((phase, started)) = slot.take() {
                let done = self.done.load(Ordering::Relaxed);
                eprintln!("rejig: {phase}: {done} done in {:.2}s", started.elapsed().as_secs_f64());
            }
        }
    }
}
