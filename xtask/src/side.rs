//! Stages that run side by side: a compile-bound stage (the Windows build, the macOS check)
//! beside one that mostly waits (tests, downloads), so that the two processors stay busy.
//!
//! A side stage is a thread. The commands it runs (through [`crate::status`] as everywhere
//! else) write to a log of its own instead of the terminal, which [`Stage::finish`] prints in
//! one piece, so the main stage's output stays readable. Its steps are timed into the same
//! table. When the run fails before a side stage ends, [`stop_all`] stops what it is running.

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::target_dir;

thread_local! {
    /// The log of the side stage this thread runs, if it runs one.
    static LOG: RefCell<Option<File>> = const { RefCell::new(None) };
}

/// The process groups that side stages are running now.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A side stage started by [`start`].
#[derive(Debug)]
pub struct Stage<T> {
    name: &'static str,
    log: PathBuf,
    thread: JoinHandle<Result<T, String>>,
}

/// Runs `work` in a thread of its own, its commands' output going to a log named after
/// `name` in the target folder.
pub fn start<T: Send + 'static>(
    name: &'static str,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<Stage<T>, String> {
    let log = target_dir().join(format!("{}.log", name.replace(' ', "-")));
    let file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    eprintln!(
        "xtask: the {name} runs beside what follows; its output goes to {}",
        log.display()
    );
    let thread = std::thread::spawn(move || {
        LOG.with(|l| *l.borrow_mut() = Some(file));
        work()
    });
    Ok(Stage { name, log, thread })
}

impl<T> Stage<T> {
    /// Waits for the stage, prints its log, and gives what it made.
    pub fn finish(self) -> Result<T, String> {
        let result = self
            .thread
            .join()
            .unwrap_or_else(|_| Err(format!("the {} panicked", self.name)));
        let said = std::fs::read_to_string(&self.log).unwrap_or_default();
        eprintln!(
            "xtask: ---- the {} said:\n{said}xtask: ---- end of the {}",
            self.name, self.name
        );
        result.map_err(|e| format!("{} (in the {}; its output is above)", e, self.name))
    }
}

/// Prints a line of xtask's own to the terminal, or to the log of the side stage this thread
/// runs.
pub fn say(line: &str) {
    let written = LOG.with(|l| {
        l.borrow_mut()
            .as_mut()
            .map(|log| writeln!(log, "{line}").is_ok())
    });
    if written.is_none() {
        eprintln!("{line}");
    }
}

/// A command started by [`spawn`]: in a side stage, stopped by [`stop_all`] until it ends.
#[derive(Debug)]
pub struct Running {
    pub child: Child,
}

impl Running {
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let id = self.child.id();
        RUNNING.lock().expect("running").retain(|g| *g != id);
    }
}

/// Starts `cmd`; in a side stage, with its output (or its standard error only, when
/// `piped_stdout`) going to the stage's log and in a process group of its own.
pub fn spawn(cmd: &mut Command, piped_stdout: bool) -> std::io::Result<Running> {
    let in_side_stage = LOG.with(|l| -> std::io::Result<bool> {
        let Some(log) = l.borrow().as_ref().map(File::try_clone).transpose()? else {
            return Ok(false);
        };
        cmd.stderr(Stdio::from(log.try_clone()?));
        if !piped_stdout {
            cmd.stdout(Stdio::from(log));
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(cmd, 0);
        Ok(true)
    })?;
    if piped_stdout {
        cmd.stdout(Stdio::piped());
    }
    let child = cmd.spawn()?;
    if in_side_stage {
        RUNNING.lock().expect("running").push(child.id());
    }
    Ok(Running { child })
}

/// Stops what every side stage is running, with everything it started (a failed run must not
/// leave compilers behind).
pub fn stop_all() {
    for group in RUNNING.lock().expect("running").drain(..) {
        // It may have ended since: nothing to do then.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{group}")])
            .stderr(Stdio::null())
            .status();
    }
}
