//! Progress reporting. Libraries never print; they report through this trait and the command
//! line decides how (a bar on a terminal, nothing otherwise).

/// Receives progress from long operations. Implementations must be cheap and thread-safe.
pub trait Progress: Sync {
    /// A phase begins with `total` units of work (0 when unknown).
    fn start(&self, phase: &str, total: u64);
    /// `units` more units are done.
    fn advance(&self, units: u64);
    /// The phase is over.
    fn finish(&self);
    /// Something the user should know that does not stop the work (a dead mirror, a skipped
    /// file). Dropped by default.
    fn warn(&self, _message: &str) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Progress that passes on only warnings: for work that runs beside a phase whose bar and
/// log line it must not replace (a jigdo export fetches packages while it imports others).
#[derive(Clone, Copy)]
pub struct WarningsOnly<'a>(pub &'a dyn Progress);

impl Progress for WarningsOnly<'_> {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
    fn warn(&self, message: &str) {
        self.0.warn(message);
    }
}
