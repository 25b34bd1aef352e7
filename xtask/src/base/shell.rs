//! The one layer that runs external programs.
//!
//! Long-running steps (configure, make, tar) write their whole output to a
//! log file in the cache and show one progress line (component, step, elapsed
//! time, log path); a failure prints the last lines of the log and its path.
//! Short queries ([`Cmd::read`]) capture stdout and report stderr on failure.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

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
}

impl Cmd {
    pub fn new(program: impl Into<OsString>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            env_remove: Vec::new(),
        }
    }

    /// The same command run under coreutils' `timeout`: killed (SIGTERM,
    /// then SIGKILL 10 s later) after `secs` seconds, exit status 124.
    pub fn with_timeout(self, secs: u64) -> Cmd {
        let mut args = vec![
            OsString::from("--kill-after=10"),
            OsString::from(secs.to_string()),
            self.program,
        ];
        args.extend(self.args);
        Cmd {
            program: "timeout".into(),
            args,
            dir: self.dir,
            env: self.env,
            env_remove: self.env_remove,
        }
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
        let out = e
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))?;
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

    /// Runs the command and returns its exit success, stdout and stderr
    /// without treating failure as an error.
    pub fn output(&self) -> Result<(bool, String, String)> {
        let out = self
            .expr()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))?;
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
        let handle = self
            .expr()
            // duct applies the outer redirection first: join stderr to
            // stdout, then point stdout at the log, so both reach the log.
            .stderr_to_stdout()
            .stdout_file(f.try_clone()?)
            .stdin_null()
            .unchecked()
            .start()
            .map_err(|e| self.spawn_error(e))?;
        let mut progress = ui.progress(label, log);
        let status = loop {
            if let Some(out) = handle.try_wait()? {
                break out.status;
            }
            progress.tick();
            std::thread::sleep(Duration::from_millis(200));
        };
        let elapsed = progress.finish(status.success());
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
        Ok(())
    }
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
