//! The one layer that runs external programs.
//!
//! Long-running steps (configure, make, tar) write their whole output to a
//! log file in the cache and show one progress line (component, step, elapsed
//! time, log path); a failure prints the last lines of the log and its path.
//! Short queries ([`Cmd::read`]) capture stdout and report stderr on failure.
//!
//! Every child starts in a process group of its own, which this layer
//! kills as a whole: when the child's timeout ([`Cmd::with_timeout`],
//! measured here) expires, when the user presses Ctrl-C
//! ([`install_interrupt_handler`]), and, through the group file a step
//! may name ([`Cmd::group_file`]), when a build resumes after the xtask
//! itself was killed ([`kill_recorded_group`]).

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};

/// The process groups of the children running now (their leaders' pids).
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
/// Set by the first Ctrl-C.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Run by a second Ctrl-C before the process exits (for example: undo
/// the mounts of a root filesystem).
static ON_FORCED_EXIT: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// The command was stopped by Ctrl-C: `main` exits with 130.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Sends `sig` to every live child group.
fn signal_live(sig: Signal) {
    if let Ok(live) = LIVE.lock() {
        for &g in live.iter() {
            if let Some(pid) = Pid::from_raw(g) {
                let _ = kill_process_group(pid, sig);
            }
        }
    }
}

/// Installs the one Ctrl-C handler of the process.  The first Ctrl-C asks
/// the running work to stop: the conformance suite finishes the current
/// program and removes its scratch directory, every child group of this
/// layer gets SIGTERM, and the command unwinds (undoing what it set up)
/// and exits 130.  A second Ctrl-C kills the child groups, runs the hooks
/// of [`on_forced_exit`] and exits 130 at once.
pub fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if !INTERRUPTED.swap(true, Ordering::SeqCst) {
                conformance::request_stop();
                signal_live(Signal::TERM);
                signal_live(Signal::CONT);
                // A terminal that is gone must not turn this into a panic.
                let _ = writeln!(
                    std::io::stderr(),
                    "interrupted: stopping the running programs and cleaning up (once more to \
                     exit at once)"
                );
                return;
            }
            signal_live(Signal::KILL);
            if let Ok(hooks) = ON_FORCED_EXIT.lock() {
                for h in hooks.iter() {
                    h();
                }
            }
            std::process::exit(130);
        });
    });
}

/// Registers `hook` to run when a second Ctrl-C exits at once.
pub fn on_forced_exit(hook: fn()) {
    if let Ok(mut hooks) = ON_FORCED_EXIT.lock() {
        hooks.push(hook);
    }
}

/// Stops what a killed xtask left running from a command that had the
/// group file `group_file` (see [`Cmd::group_file`]): the file is locked
/// (`flock`) by every process of that command, which inherit the lock, so
/// if it can be locked now nothing is left and nothing is killed (a pid
/// recorded in it may by now belong to anyone).  Otherwise the group it
/// names gets SIGTERM, then SIGKILL, until the lock is free.  Removes the
/// file.  Returns whether anything was still running.  Errors: processes
/// that hold the lock do not stop (for example because they left the
/// group).
pub fn kill_recorded_group(group_file: &Path) -> Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(group_file)
    else {
        return Ok(false);
    };
    let free = || flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok();
    if free() {
        let _ = std::fs::remove_file(group_file);
        return Ok(false);
    }
    let pid = std::fs::read_to_string(group_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .and_then(Pid::from_raw);
    for (sig, tries) in [(Signal::TERM, 100), (Signal::KILL, 100)] {
        if let Some(pid) = pid {
            let _ = kill_process_group(pid, sig);
            let _ = kill_process_group(pid, Signal::CONT);
        }
        for _ in 0..tries {
            if free() {
                let _ = std::fs::remove_file(group_file);
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    bail!(
        "processes left by an interrupted build still hold {} (process group {}); stop them \
         and rerun",
        group_file.display(),
        pid.map_or_else(|| "unknown".to_string(), |p| p.as_raw_nonzero().to_string())
    )
}

/// A child started by this layer: its handle, its process group, and the
/// locked group file that it and its descendants inherit.
struct Child {
    handle: duct::Handle,
    group: Option<i32>,
    group_file: Option<(PathBuf, std::fs::File)>,
}

impl Child {
    /// Stops tracking the group (it has ended).
    fn forget(&self) {
        if let Some(g) = self.group {
            if let Ok(mut live) = LIVE.lock() {
                live.remove(&g);
            }
        }
        if let Some((f, _)) = &self.group_file {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Whether the leader has been reaped and no process of the group is
    /// left (a member that is a zombie nobody reaps counts as left until
    /// the grace period ends).
    fn gone(&self) -> bool {
        let reaped = self.handle.try_wait().ok().flatten().is_some();
        reaped
            && self
                .group
                .and_then(Pid::from_raw)
                .is_none_or(|p| test_kill_process_group(p).is_err())
    }

    /// Kills the whole group: SIGTERM (and SIGCONT, for members stopped
    /// by job control), then SIGKILL when `grace` has passed with a member
    /// left; reaps the leader.
    fn kill_group(&self, grace: Duration) {
        let Some(pid) = self.group.and_then(Pid::from_raw) else {
            let _ = self.handle.kill();
            return;
        };
        let _ = kill_process_group(pid, Signal::TERM);
        let _ = kill_process_group(pid, Signal::CONT);
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if self.gone() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = kill_process_group(pid, Signal::KILL);
        let _ = self.handle.wait();
    }
}

/// How a child ended.
enum Ended {
    Exited(std::process::Output),
    TimedOut(Duration),
}

/// Lines of a failing step's log printed to the terminal.
pub const TAIL_LINES: usize = 40;

/// A command line with its working directory and extra environment.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    timeout: Option<Duration>,
    group_file: Option<PathBuf>,
}

impl Cmd {
    pub fn new(program: impl Into<OsString>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            timeout: None,
            group_file: None,
        }
    }

    /// Kills the command's process group (SIGTERM, then SIGKILL 10 s
    /// later) when it has run `secs` seconds; that is an error naming the
    /// timeout.
    pub fn with_timeout(mut self, secs: u64) -> Cmd {
        self.timeout = Some(Duration::from_secs(secs));
        self
    }

    /// While the command runs, the file `path` holds the pid of its
    /// process group's leader, so that a later run can stop what a killed
    /// xtask left behind ([`kill_recorded_group`]); removed when it ends.
    pub fn group_file(mut self, path: impl Into<PathBuf>) -> Cmd {
        self.group_file = Some(path.into());
        self
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Cmd {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn dir(mut self, d: impl AsRef<Path>) -> Cmd {
        self.dir = Some(d.as_ref().to_path_buf());
        self
    }

    pub fn env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Cmd {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn env_remove(mut self, k: impl Into<OsString>) -> Cmd {
        self.env_remove.push(k.into());
        self
    }

    /// The command line as a shell-like string, for logs and messages
    /// (quoted with `shlex` where a word needs it).
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| {
                let a = a.to_string_lossy();
                shlex::try_quote(&a).map_or_else(|_| a.to_string(), |q| q.into_owned())
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn expr(&self) -> duct::Expression {
        let mut e = duct::cmd(&self.program, &self.args);
        if let Some(d) = &self.dir {
            e = e.dir(d);
        }
        for (k, v) in &self.env {
            e = e.env(k, v);
        }
        for k in &self.env_remove {
            e = e.env_remove(k);
        }
        e
    }

    /// Starts `e` in a process group of its own and tracks the group.
    /// With a group file, the file is created, locked, and inherited by
    /// the child (see [`kill_recorded_group`]), and holds the group's id.
    /// The leader gets SIGTERM if this process dies (`PR_SET_PDEATHSIG`).
    fn start(&self, e: duct::Expression) -> Result<Child> {
        use std::os::fd::AsRawFd;
        if interrupted() {
            return Err(Interrupted.into());
        }
        let group_file = match &self.group_file {
            Some(f) => {
                let file = std::fs::File::create(f)
                    .with_context(|| format!("cannot write {}", f.display()))?;
                rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
                Some((f.clone(), file))
            }
            None => None,
        };
        let inherit = group_file.as_ref().map(|(_, f)| f.as_raw_fd());
        let handle = e
            .before_spawn(move |c| {
                c.process_group(0);
                // SAFETY: the closure runs in the child between fork and
                // exec and makes only async-signal-safe system calls
                // (prctl, fcntl) on a descriptor that stays open in the
                // parent until the child has been spawned.
                unsafe {
                    c.pre_exec(move || {
                        let _ =
                            rustix::process::set_parent_process_death_signal(Some(Signal::TERM));
                        if let Some(fd) = inherit {
                            let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
                            rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                        }
                        Ok(())
                    });
                }
                Ok(())
            })
            .unchecked()
            .start()
            .map_err(|e| self.spawn_error(e))?;
        let group = handle.pids().first().map(|&p| p as i32);
        let child = Child {
            handle,
            group,
            group_file,
        };
        if let Some(g) = group {
            if let Ok(mut live) = LIVE.lock() {
                live.insert(g);
            }
            if let Some((f, file)) = &child.group_file {
                use std::io::Write as _;
                let written = (&*file).write_all(format!("{g}\n").as_bytes());
                if let Err(e) = written {
                    child.kill_group(Duration::from_secs(2));
                    child.forget();
                    return Err(
                        anyhow::Error::new(e).context(format!("cannot write {}", f.display()))
                    );
                }
            }
        }
        Ok(child)
    }

    /// Waits for `child`, calling `tick` now and then (polling from 1 ms,
    /// backing off to 200 ms); kills its group on the timeout, on Ctrl-C
    /// (then the error is [`Interrupted`]) or if waiting fails.
    fn wait(&self, child: Child, mut tick: impl FnMut()) -> Result<Ended> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        let r = loop {
            match child.handle.try_wait() {
                // A child that ended because Ctrl-C stopped its group is
                // an interruption, not a failure of its own.
                Ok(Some(_)) if interrupted() => break Err(Interrupted.into()),
                Ok(Some(out)) => break Ok(Ended::Exited(out.clone())),
                Ok(None) => {}
                Err(e) => {
                    child.kill_group(Duration::from_secs(2));
                    break Err(anyhow::Error::new(e));
                }
            }
            if interrupted() {
                child.kill_group(Duration::from_secs(2));
                break Err(Interrupted.into());
            }
            if let Some(t) = self.timeout.filter(|t| start.elapsed() >= *t) {
                child.kill_group(Duration::from_secs(10));
                break Ok(Ended::TimedOut(t));
            }
            tick();
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        };
        child.forget();
        r
    }

    /// Runs `e` to its end with stdout and stderr captured (into
    /// anonymous files, so that a grandchild that keeps the output open
    /// cannot keep the wait, or a timeout, from ending) and no stdin
    /// unless `e` has one.
    fn capture(&self, e: duct::Expression) -> Result<std::process::Output> {
        use std::io::{Read, Seek};
        let mut out = tempfile::tempfile()?;
        let mut err = tempfile::tempfile()?;
        let child = self.start(
            e.stdout_file(out.try_clone()?)
                .stderr_file(err.try_clone()?),
        )?;
        let ended = self.wait(child, || {})?;
        let read = |f: &mut std::fs::File| -> Result<Vec<u8>> {
            let mut v = Vec::new();
            f.seek(std::io::SeekFrom::Start(0))?;
            f.read_to_end(&mut v)?;
            Ok(v)
        };
        let (stdout, stderr) = (read(&mut out)?, read(&mut err)?);
        match ended {
            Ended::Exited(o) => Ok(std::process::Output {
                status: o.status,
                stdout,
                stderr,
            }),
            Ended::TimedOut(t) => bail!(
                "`{}` did not finish in {} s: its process group was killed; it wrote:\n{}",
                self.display(),
                t.as_secs(),
                String::from_utf8_lossy(&stderr).trim_end()
            ),
        }
    }

    fn spawn_error(&self, e: std::io::Error) -> anyhow::Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "`{}` was not found on PATH (run `cargo xtask build-toolchain`, which installs \
                 missing host tools when run as root)",
                self.program.to_string_lossy()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot run `{}`", self.display()))
        }
    }

    /// Runs the command, capturing stdout (trimmed); a non-zero exit is an
    /// error that quotes stderr.
    pub fn read(&self) -> Result<String> {
        self.read_expr(self.expr().stdin_null())
    }

    /// Like [`Cmd::read`], with stdin taken from `bytes` (through an
    /// anonymous file: no writer thread that a child which does not read
    /// could hold up).
    pub fn read_with_stdin(&self, bytes: &[u8]) -> Result<String> {
        use std::io::{Seek, Write as _};
        let mut f = tempfile::tempfile()?;
        f.write_all(bytes)?;
        f.seek(std::io::SeekFrom::Start(0))?;
        self.read_expr(self.expr().stdin_file(f))
    }

    /// Like [`Cmd::read`], with stdin taken from the file `path`.
    pub fn read_stdin_file(&self, path: &Path) -> Result<String> {
        self.read_expr(self.expr().stdin_path(path))
    }

    fn read_expr(&self, e: duct::Expression) -> Result<String> {
        let out = self.capture(e)?;
        if !out.status.success() {
            bail!(
                "`{}` failed ({}):\n{}",
                self.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// Runs the command with the terminal as its stdout and stderr and
    /// no stdin (for `cargo` steps whose output the user watches); returns
    /// whether it succeeded.  Errors: it cannot start, times out or is interrupted.
    pub fn status(&self) -> Result<bool> {
        let child = self.start(self.expr().stdin_null())?;
        match self.wait(child, || {})? {
            Ended::Exited(out) => Ok(out.status.success()),
            Ended::TimedOut(t) => bail!(
                "`{}` did not finish in {} s: its process group was killed",
                self.display(),
                t.as_secs()
            ),
        }
    }

    /// Runs the command and returns its exit success, stdout and stderr
    /// without treating failure as an error.
    pub fn output(&self) -> Result<(bool, String, String)> {
        let out = self.capture(self.expr().stdin_null())?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// Runs the command with stdout and stderr appended to `log`, showing a
    /// live progress line labelled `label` while it runs.  On failure the
    /// last [`TAIL_LINES`] lines of the log and the log's path are printed.
    pub fn run_logged(&self, ui: &Ui, label: &str, log: &Path) -> Result<()> {
        self.run_logged_inner(ui, label, log, true).map(|_| ())
    }

    /// Like [`Cmd::run_logged`], but a non-zero exit is not an error: its
    /// status is returned (and written to the log).  Errors: the command
    /// cannot start, times out, or is interrupted.
    pub fn run_logged_status(
        &self,
        ui: &Ui,
        label: &str,
        log: &Path,
    ) -> Result<std::process::ExitStatus> {
        self.run_logged_inner(ui, label, log, false)
    }

    fn run_logged_inner(
        &self,
        ui: &Ui,
        label: &str,
        log: &Path,
        fail_on_status: bool,
    ) -> Result<std::process::ExitStatus> {
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open log {}", log.display()))?;
        writeln!(
            f,
            "\n### {} (in {})",
            self.display(),
            self.dir
                .as_deref()
                .unwrap_or_else(|| Path::new("."))
                .display()
        )?;
        let child = self.start(
            self.expr()
                // duct applies the outer redirection first: join stderr to
                // stdout, then point stdout at the log, so both reach the log.
                .stderr_to_stdout()
                .stdout_file(f.try_clone()?)
                .stdin_null(),
        )?;
        let mut progress = ui.progress(label, log);
        let ended = self.wait(child, || progress.tick());
        let status = match ended {
            Ok(Ended::Exited(out)) => out.status,
            Ok(Ended::TimedOut(t)) => {
                progress.finish(false);
                let _ = writeln!(
                    f,
                    "xtask: {} did not finish in {} s: its process group was killed",
                    self.display(),
                    t.as_secs()
                );
                bail!(
                    "{label} did not finish in {} s: its process group was killed; log: {}",
                    t.as_secs(),
                    log.display()
                );
            }
            Err(e) => {
                progress.finish(false);
                return Err(e);
            }
        };
        let elapsed = progress.finish(status.success() || !fail_on_status);
        if !fail_on_status {
            let mut f = OpenOptions::new().append(true).open(log)?;
            writeln!(f, "xtask: {} exited with {status}", self.display())?;
            return Ok(status);
        }
        if !status.success() {
            let tail = tail_lines(log, TAIL_LINES);
            eprintln!("---- last {TAIL_LINES} lines of {} ----", log.display());
            eprintln!("{tail}");
            eprintln!("---- end of log ----");
            bail!(
                "{label} failed after {} ({status}); full log: {}",
                fmt_duration(elapsed),
                log.display()
            );
        }
        Ok(status)
    }
}

/// Parallel jobs when none are asked for: the number of CPUs (2 if
/// unknown).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`, for reports.
pub fn utc_now() -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::now_utc()
        .format(f)
        .unwrap_or_else(|_| "unknown time".into())
}

/// `uname -srm` (kernel name, release, machine), from `uname(2)`.
pub fn uname_srm() -> String {
    let u = rustix::system::uname();
    format!(
        "{} {} {}",
        u.sysname().to_string_lossy(),
        u.release().to_string_lossy(),
        u.machine().to_string_lossy()
    )
}

/// The last `n` lines of a text file (lossy UTF-8); empty if unreadable.
pub fn tail_lines(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `1h02m03s`, `4m05s` or `6.1s`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Terminal output: one line per step, and a live spinner on a terminal.
pub struct Ui {
    start: Instant,
    tty: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui::new()
    }
}

impl Ui {
    pub fn new() -> Ui {
        Ui {
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// Prints one status line, prefixed with the total elapsed time.
    pub fn line(&self, msg: impl AsRef<str>) {
        eprintln!(
            "[{:>7}] {}",
            fmt_duration(self.start.elapsed()),
            msg.as_ref()
        );
    }

    /// The progress callback of a conformance run: a line when each check
    /// starts (`[k/N] id`) and when it ends (its result and seconds).
    pub fn conformance_progress(&self) -> impl FnMut(conformance::checks::Progress<'_>) + '_ {
        move |p| match p {
            conformance::checks::Progress::Start { index, total, id } => {
                self.line(format!("conformance: [{}/{total}] {id} ...", index + 1))
            }
            conformance::checks::Progress::Done { result, seconds } => self.line(format!(
                "conformance: {} {} ({seconds:.1}s)",
                match result.outcome {
                    conformance::Outcome::Pass(_) => "PASS",
                    conformance::Outcome::Fail(_) => "FAIL",
                    conformance::Outcome::Skip(_) => "SKIP",
                },
                result.id
            )),
        }
    }

    fn progress(&self, label: &str, log: &Path) -> Progress {
        self.line(format!("{label} ... (log: {})", log.display()));
        let bar = if self.tty {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_style(
                indicatif::ProgressStyle::with_template("          {spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            pb.set_message(label.to_string());
            Some(pb)
        } else {
            None
        };
        Progress {
            bar,
            started: Instant::now(),
            label: label.to_string(),
            start: self.start,
            last_note: Instant::now(),
        }
    }
}

struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    label: String,
    start: Instant,
    last_note: Instant,
}

impl Progress {
    fn tick(&mut self) {
        if let Some(b) = &self.bar {
            b.tick();
        } else if self.last_note.elapsed() >= Duration::from_secs(180) {
            // Without a terminal, print a heartbeat so a long step in a CI
            // log is not mistaken for a hung one.
            self.last_note = Instant::now();
            eprintln!(
                "[{:>7}] {} still running ({})",
                fmt_duration(self.start.elapsed()),
                self.label,
                fmt_duration(self.started.elapsed())
            );
        }
    }

    fn finish(mut self, ok: bool) -> Duration {
        let d = self.started.elapsed();
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        eprintln!(
            "[{:>7}] {} {} in {}",
            fmt_duration(self.start.elapsed()),
            self.label,
            if ok { "finished" } else { "FAILED" },
            fmt_duration(d)
        );
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_machine_read_like_date_and_uname() {
        let t = utc_now();
        assert!(
            t.ends_with(" UTC") && t.len() == "2026-12-07 14:00 UTC".len(),
            "{t}"
        );
        assert!(uname_srm().starts_with("Linux "), "{}", uname_srm());
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("pid");
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {}; sleep 600 & sleep 600",
                pidfile.display()
            ))
            .with_timeout(1);
        let t = Instant::now();
        let e = cmd.output().unwrap_err().to_string();
        assert!(e.contains("did not finish in 1 s"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(10));
        let leader: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The background sleep was in the group too: nothing is left
        // (once its parent, init, has reaped it).
        let group = Pid::from_raw(leader).unwrap();
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            test_kill_process_group(group).is_err()
        });
        assert!(gone, "process group {leader} still exists");
        assert!(!LIVE.lock().unwrap().contains(&leader));
    }

    #[test]
    fn a_grandchild_that_keeps_the_output_open_does_not_hold_up_the_caller() {
        let t = Instant::now();
        let out = Cmd::new("sh")
            .args(["-c", "sleep 5 & echo done"])
            .with_timeout(60)
            .read()
            .unwrap();
        assert_eq!(out, "done");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }

    #[test]
    fn stdin_goes_through_a_file() {
        let big = "x".repeat(200_000);
        let out = Cmd::new("wc")
            .arg("-c")
            .read_with_stdin(big.as_bytes())
            .unwrap();
        assert_eq!(out.trim(), "200000");
        // A child that never reads its stdin does not hold up the caller.
        let t = Instant::now();
        Cmd::new("sh")
            .args(["-c", "sleep 5 <&0 & exit 0"])
            .read_with_stdin(big.as_bytes())
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }

    #[test]
    fn short_commands_are_not_slowed_by_polling() {
        let t = Instant::now();
        for _ in 0..20 {
            Cmd::new("true").read().unwrap();
        }
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn a_group_file_names_the_running_group() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("group");
        let out = Cmd::new("sh")
            .args([
                "-c",
                "sleep 0.5; cat \"$0\"; echo $$",
                &f.display().to_string(),
            ])
            .group_file(&f)
            .read()
            .unwrap();
        let mut lines = out.lines();
        assert_eq!(lines.next(), lines.next(), "the file held the shell's pid");
        assert!(!f.exists(), "removed when the command ended");
    }

    #[test]
    fn durations_format_compactly() {
        assert_eq!(fmt_duration(Duration::from_millis(6100)), "6.1s");
        assert_eq!(fmt_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(fmt_duration(Duration::from_secs(3723)), "1h02m03s");
    }

    #[test]
    fn failing_step_reports_log_tail_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("step.log");
        let err = Cmd::new("sh")
            .args([
                "-c",
                "for i in $(seq 1 100); do echo line$i; done; echo to-stderr >&2; exit 3",
            ])
            .run_logged(&Ui::new(), "test: fail", &log)
            .unwrap_err()
            .to_string();
        assert!(err.contains("test: fail failed"), "{err}");
        assert!(err.contains(&log.display().to_string()), "{err}");
        let tail = tail_lines(&log, 2);
        assert_eq!(tail, "line100\nto-stderr");
    }

    #[test]
    fn missing_program_names_itself() {
        let err = Cmd::new("no-such-tool-xyz").read().unwrap_err().to_string();
        assert!(err.contains("no-such-tool-xyz"), "{err}");
        assert!(err.contains("not found"), "{err}");
    }
}
