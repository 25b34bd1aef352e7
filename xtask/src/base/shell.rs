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
                eprintln!(
                    "interrupted: stopping the running programs and cleaning up (Ctrl-C again \
                     to exit at once)"
                );
                signal_live(Signal::TERM);
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

/// Kills the process group whose leader's pid the file `group_file`
/// holds (see [`Cmd::group_file`]), if it still exists, and waits until
/// it is gone; removes the file.  Returns whether there was such a group.
/// This is what an interrupted build leaves behind when only the xtask
/// itself was killed: make, and everything it started, in their group.
pub fn kill_recorded_group(group_file: &Path) -> Result<bool> {
    let Ok(text) = std::fs::read_to_string(group_file) else {
        return Ok(false);
    };
    let pid = text.trim().parse::<i32>().ok().and_then(Pid::from_raw);
    let _ = std::fs::remove_file(group_file);
    let Some(pid) = pid else {
        return Ok(false);
    };
    if test_kill_process_group(pid).is_err() {
        return Ok(false);
    }
    for _ in 0..100 {
        let _ = kill_process_group(pid, Signal::KILL);
        if test_kill_process_group(pid).is_err() {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "process group {} left by an interrupted build ({}) does not stop; stop it and rerun",
        pid.as_raw_nonzero(),
        group_file.display()
    )
}

/// A child started by this layer: its handle and its process group.
struct Child {
    handle: duct::Handle,
    group: Option<i32>,
    group_file: Option<PathBuf>,
}

impl Child {
    /// Stops tracking the group (it has ended).
    fn forget(&self) {
        if let Some(g) = self.group {
            if let Ok(mut live) = LIVE.lock() {
                live.remove(&g);
            }
        }
        if let Some(f) = &self.group_file {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Kills the whole group: SIGTERM, then SIGKILL after `grace`.
    fn kill_group(&self, grace: Duration) {
        let Some(pid) = self.group.and_then(Pid::from_raw) else {
            let _ = self.handle.kill();
            return;
        };
        let _ = kill_process_group(pid, Signal::TERM);
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if self.handle.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = kill_process_group(pid, Signal::KILL);
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

    /// The command line as a shell-like string, for logs and messages.
    pub fn display(&self) -> String {
        let mut s = self.program.to_string_lossy().into_owned();
        for a in &self.args {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(char::is_whitespace) {
                s.push_str(&format!(" '{a}'"));
            } else {
                s.push(' ');
                s.push_str(&a);
            }
        }
        s
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
    fn start(&self, e: duct::Expression) -> Result<Child> {
        if interrupted() {
            return Err(Interrupted.into());
        }
        let handle = e
            .before_spawn(|c| {
                c.process_group(0);
                Ok(())
            })
            .unchecked()
            .start()
            .map_err(|e| self.spawn_error(e))?;
        let group = handle.pids().first().map(|&p| p as i32);
        if let Some(g) = group {
            if let Ok(mut live) = LIVE.lock() {
                live.insert(g);
            }
            if let Some(f) = &self.group_file {
                std::fs::write(f, format!("{g}\n"))
                    .with_context(|| format!("cannot write {}", f.display()))?;
            }
        }
        Ok(Child {
            handle,
            group,
            group_file: self.group_file.clone(),
        })
    }

    /// Waits for `child`, calling `tick` every 200 ms; kills its group on
    /// the timeout or on Ctrl-C (then the error is [`Interrupted`]).
    fn wait(&self, child: Child, mut tick: impl FnMut()) -> Result<Ended> {
        let start = Instant::now();
        let r = loop {
            match child.handle.try_wait() {
                Ok(Some(out)) => break Ok(Ended::Exited(out.clone())),
                Ok(None) => {}
                Err(e) => break Err(anyhow::Error::new(e)),
            }
            if interrupted() {
                child.kill_group(Duration::from_secs(2));
                let _ = child.handle.wait();
                break Err(Interrupted.into());
            }
            if let Some(t) = self.timeout.filter(|t| start.elapsed() >= *t) {
                child.kill_group(Duration::from_secs(10));
                let _ = child.handle.wait();
                break Ok(Ended::TimedOut(t));
            }
            tick();
            std::thread::sleep(Duration::from_millis(200));
        };
        child.forget();
        r
    }

    /// Runs `e` to its end with stdout and stderr captured.
    fn capture(&self, e: duct::Expression) -> Result<std::process::Output> {
        let child = self.start(e.stdout_capture().stderr_capture())?;
        match self.wait(child, || {})? {
            Ended::Exited(out) => Ok(out),
            Ended::TimedOut(t) => bail!(
                "`{}` did not finish in {} s: its process group was killed",
                self.display(),
                t.as_secs()
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
        self.read_expr(self.expr())
    }

    /// Like [`Cmd::read`], with stdin taken from `bytes`.
    pub fn read_with_stdin(&self, bytes: &[u8]) -> Result<String> {
        self.read_expr(self.expr().stdin_bytes(bytes.to_vec()))
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

    /// Runs the command with the terminal as its stdin, stdout and stderr
    /// (for `cargo` steps whose output the user watches); returns whether
    /// it succeeded.  Errors: it cannot start, times out or is interrupted.
    pub fn status(&self) -> Result<bool> {
        let child = self.start(self.expr())?;
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
        let out = self.capture(self.expr())?;
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
