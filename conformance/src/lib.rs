//! Conformance checks for the AArch64 split-stack ABI of `docs/abi.md`.
//!
//! Given any aarch64-linux-gnu toolchain (a GCC driver, a sysroot with the
//! glibc under test, and stock "old glibc" sysroots), each check compiles
//! small programs, inspects them with `object`, runs them under
//! `qemu-aarch64 -L <sysroot>`, and reports PASS, FAIL or SKIP with a
//! reason.  A SKIP is never counted as a pass: a toolchain is conformant
//! only when every check passes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

pub mod abi;
pub mod checks;
pub mod elf;
pub mod markdown;
mod probe;
pub mod prologue;
pub mod selftest;
pub mod stress;

pub use probe::{request_stop, stop_requested, Interrupted, Probe};

/// The toolchain under test.
#[derive(Debug, Clone, Serialize)]
pub struct Toolchain {
    /// The C compiler driver (`aarch64-linux-gnu-gcc`).
    pub gcc: PathBuf,
    /// Sysroot holding the glibc under test (the loader at
    /// `lib/ld-linux-aarch64.so.1`).
    pub sysroot: PathBuf,
    /// Stock glibc sysroots without the split-stack slot.
    pub old_sysroots: Vec<PathBuf>,
    /// The qemu-user binary used to run aarch64 programs (`-L` mode).
    pub qemu: PathBuf,
    /// When set, programs run inside this AArch64 root filesystem
    /// (`chroot`, executed through a `binfmt_misc` registration of
    /// qemu-user-static) instead of `qemu-aarch64 -L`.  `sysroot` and
    /// `old_sysroots` are then host paths inside it: a sysroot equal to the
    /// root filesystem itself means the distribution's glibc (programs run
    /// as they are); any other one is a glibc installed under its own
    /// prefix, whose loader is invoked explicitly
    /// (`PREFIX/lib/ld-linux-aarch64.so.1 --library-path PREFIX/lib`).
    /// Scratch files are created in its `tmp/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chroot: Option<PathBuf>,
    /// How programs are compiled and linked: `Sysroot` passes
    /// `--sysroot=<sysroot>` (the sysroot has `usr/include`), `Own` uses
    /// the driver's own headers and libraries because they are the
    /// sysroot's (its `-print-sysroot` is the same directory, or the
    /// root filesystem's glibc was installed from it), `Elsewhere` means
    /// they are another glibc's: dynamic programs still run on the
    /// sysroot's loader and libc.so.6, but static programs would test
    /// the driver's own libc.a, so the probe refuses to build them.
    pub compile_with: CompileWith,
}

impl CompileWith {
    /// One line for the report.
    pub fn describe(&self) -> String {
        match self {
            CompileWith::Sysroot(p) => format!("against --sysroot={}", p.display()),
            CompileWith::Own => "against the driver's own sysroot, which is the sysroot".into(),
            CompileWith::Elsewhere(p) => format!(
                "against the driver's own headers and libraries ({}), not the sysroot's: static programs are not built",
                p.display()
            ),
        }
    }
}

/// See [`Toolchain::compile_with`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CompileWith {
    /// `--sysroot=<this path>` is passed to the driver (normally the
    /// sysroot under test itself).
    Sysroot(PathBuf),
    /// The driver's own sysroot is the sysroot under test.
    Own,
    /// The driver's own sysroot (this path, `-print-sysroot`) is another
    /// one, and the sysroot under test cannot be compiled against (no
    /// `usr/include`).
    Elsewhere(PathBuf),
}

/// How `gcc` compiles for `sysroot` (see [`Toolchain::compile_with`]).
pub fn compile_with(gcc: &Path, sysroot: &Path) -> CompileWith {
    if sysroot.join("usr/include").is_dir() {
        return CompileWith::Sysroot(sysroot.to_path_buf());
    }
    let own = std::process::Command::new(gcc)
        .arg("-print-sysroot")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    // A driver without a configured sysroot ("" or "/", Debian's cross
    // compilers) finds its headers and libraries in its own
    // target directory, <prefix>/<target> = the sysroot given for it.
    let own_dir = if own.is_empty() || own == "/" {
        gcc.parent()
            .and_then(Path::parent)
            .map(|p| p.join("aarch64-linux-gnu"))
            .unwrap_or_default()
    } else {
        PathBuf::from(&own)
    };
    if same(&own_dir, sysroot) {
        CompileWith::Own
    } else {
        CompileWith::Elsewhere(own_dir)
    }
}

impl Toolchain {
    /// A toolchain from a prefix (`PREFIX/bin/aarch64-linux-gnu-gcc`) or
    /// the path of a gcc driver.
    ///
    /// Errors: no driver found, sysroot without an aarch64 loader.
    pub fn from_prefix(prefix: &Path, sysroot: &Path, old: &[PathBuf]) -> Result<Toolchain> {
        let gcc = if prefix.is_file() {
            prefix.to_path_buf()
        } else {
            prefix.join("bin/aarch64-linux-gnu-gcc")
        };
        if !gcc.is_file() {
            bail!(
                "no aarch64-linux-gnu-gcc at {} (give --toolchain PREFIX or the driver's path)",
                gcc.display()
            );
        }
        // Refuse another target up front: an x86_64 gcc would otherwise
        // pass split-stack/accepted and fail every run as "Invalid ELF
        // image".
        let target = std::process::Command::new(&gcc)
            .arg("-dumpmachine")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        if !is_aarch64_linux_gnu(&target) {
            bail!(
                "{} targets `{target}`, not aarch64-linux-gnu: give the aarch64-linux-gnu cross \
                 compiler (its `-dumpmachine` must print aarch64-linux-gnu or \
                 aarch64-<vendor>-linux-gnu)",
                gcc.display()
            );
        }
        for s in std::iter::once(sysroot).chain(old.iter().map(PathBuf::as_path)) {
            if !s.join("lib/ld-linux-aarch64.so.1").exists() {
                bail!(
                    "{} is not an aarch64 glibc sysroot (no lib/ld-linux-aarch64.so.1)",
                    s.display()
                );
            }
        }
        let with = compile_with(&gcc, sysroot);
        Ok(Toolchain {
            gcc,
            sysroot: sysroot.to_path_buf(),
            old_sysroots: old.to_vec(),
            qemu: PathBuf::from("qemu-aarch64"),
            chroot: None,
            compile_with: with,
        })
    }

    /// A toolchain whose programs run inside the AArch64 root filesystem
    /// `rootfs` (see [`Toolchain::chroot`]): the glibc under test is
    /// installed at `rootfs/<prefix>` (`prefix` relative, e.g.
    /// `opt/split-stack-aarch64`), the distribution's own glibc of
    /// `rootfs` is the old glibc.
    ///
    /// Errors: no driver found, no loader in `rootfs/<prefix>/lib`, or a
    /// root filesystem without `/lib/ld-linux-aarch64.so.1`.
    pub fn in_rootfs(gcc_prefix: &Path, rootfs: &Path, prefix: &Path) -> Result<Toolchain> {
        let sysroot = rootfs.join(prefix);
        let mut tc = Toolchain::from_prefix(gcc_prefix, &sysroot, &[])?;
        // The distribution's loader is usually an absolute symlink, which
        // resolves only inside the chroot: check the link itself.
        let loader = rootfs.join("lib/ld-linux-aarch64.so.1");
        if std::fs::symlink_metadata(&loader).is_err() {
            bail!(
                "{} is not an AArch64 root filesystem (no lib/ld-linux-aarch64.so.1)",
                rootfs.display()
            );
        }
        tc.old_sysroots = vec![rootfs.to_path_buf()];
        tc.chroot = Some(rootfs.to_path_buf());
        // The glibc installed in the root filesystem is the driver's own
        // (cargo xtask install-glibc copies it from the toolchain).
        tc.compile_with = CompileWith::Own;
        Ok(tc)
    }
}

/// The path that the host path `p` has inside the root filesystem `root`
/// (`root/tmp/x` -> `/tmp/x`), as a program run by `chroot root` sees it.
///
/// Errors: `p` is not below `root`.
pub fn chroot_path(root: &Path, p: &Path) -> Result<PathBuf> {
    let rel = p
        .strip_prefix(root)
        .with_context(|| format!("{} is not inside {}", p.display(), root.display()))?;
    Ok(Path::new("/").join(rel))
}

/// Outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "UPPERCASE")]
pub enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Pass(_) => "PASS",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skip(_) => "SKIP",
        }
    }
    fn reason(&self) -> &str {
        match self {
            Outcome::Pass(r) | Outcome::Fail(r) | Outcome::Skip(r) => r,
        }
    }
}

/// One named check and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Stable identifier, e.g. `tls/variant-1`.
    pub id: String,
    /// What the check verifies, in one line.
    pub title: String,
    pub outcome: Outcome,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub toolchain: Toolchain,
    /// One-line answer for the reader.
    pub verdict: String,
    pub results: Vec<CheckResult>,
}

impl Report {
    /// True only if every check passed (no FAIL and no SKIP).
    pub fn conformant(&self) -> bool {
        !self.results.is_empty()
            && self
                .results
                .iter()
                .all(|r| matches!(r.outcome, Outcome::Pass(_)))
    }

    /// Counts of (pass, fail, skip).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for r in &self.results {
            match r.outcome {
                Outcome::Pass(_) => c.0 += 1,
                Outcome::Fail(_) => c.1 += 1,
                Outcome::Skip(_) => c.2 += 1,
            }
        }
        c
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut s = format!(
            "AArch64 split-stack ABI conformance (docs/abi.md)\n  compiler: {}\n  sysroot:  {}\n",
            self.toolchain.gcc.display(),
            self.toolchain.sysroot.display()
        );
        for o in &self.toolchain.old_sysroots {
            s.push_str(&format!("  old glibc: {}\n", o.display()));
        }
        if let Some(root) = &self.toolchain.chroot {
            s.push_str(&format!(
                "  run in:   chroot {} (binfmt_misc, qemu-user-static)\n",
                root.display()
            ));
        }
        s.push_str(&format!(
            "  compiled: {}\n",
            self.toolchain.compile_with.describe()
        ));
        s.push_str(&format!("  go:       {}\n", self.go_line()));
        s.push('\n');
        for r in &self.results {
            s.push_str(&format!(
                "{:<5} {:<28} {}\n",
                r.outcome.label(),
                r.id,
                r.title
            ));
            for line in r.outcome.reason().lines() {
                s.push_str(&format!("      {line}\n"));
            }
        }
        let (p, f, k) = self.counts();
        s.push_str(&format!(
            "\n{p} passed, {f} failed, {k} skipped\nverdict: {}\n",
            self.verdict
        ));
        s
    }
}

impl Report {
    /// Whether the `gccgo/` family ran, for the report's header: the Go
    /// driver it used, or that the toolchain has none (the family is then
    /// not in the suite, docs/gccgo.md).
    fn go_line(&self) -> String {
        let ran = self.results.iter().any(|r| r.id.starts_with("gccgo/"));
        match crate::probe::go_driver(&self.toolchain.gcc) {
            Some(d) if ran => format!("gccgo/ checks run with {}", d.display()),
            Some(d) => format!("{} present; gccgo/ checks not selected", d.display()),
            None => "no gccgo beside the C driver: the gccgo/ checks were not run".into(),
        }
    }

    /// The report as Markdown, fit for a mailing-list message or a CI
    /// summary: the verdict, the toolchain, and one table row per check
    /// (multi-line details are joined with `<br>`, `|` is escaped).
    pub fn markdown(&self) -> String {
        let (p, f, k) = self.counts();
        let mut s = format!(
            "## AArch64 split-stack ABI conformance\n\n**{}** ({p} passed, {f} failed, {k} skipped; the ABI is `docs/abi.md`)\n\n",
            self.verdict
        );
        s.push_str(&format!(
            "- compiler: `{}`\n- sysroot: `{}`\n",
            self.toolchain.gcc.display(),
            self.toolchain.sysroot.display()
        ));
        for o in &self.toolchain.old_sysroots {
            s.push_str(&format!("- old glibc: `{}`\n", o.display()));
        }
        if let Some(root) = &self.toolchain.chroot {
            s.push_str(&format!(
                "- run in: `chroot {}` (binfmt_misc, qemu-user-static)\n",
                root.display()
            ));
        }
        s.push_str(&format!(
            "- compiled: {}\n",
            self.toolchain.compile_with.describe()
        ));
        s.push_str(&format!("- go: {}\n", self.go_line()));
        let mut t = markdown::Table::new(&["check", "result", "what", "detail"]);
        for r in &self.results {
            t.row(&[
                format!("`{}`", r.id).as_str(),
                r.outcome.label(),
                &r.title,
                r.outcome.reason(),
            ]);
        }
        s.push('\n');
        s.push_str(&t.render());
        s
    }
}

/// Runs every check of [`checks::registry`] against `tc`, telling
/// `progress` about each one (see [`checks::run`]).
///
/// Errors only for problems of the suite itself (no temporary directory,
/// qemu missing); everything about the toolchain is a check outcome.
pub fn run(tc: &Toolchain) -> Result<Report> {
    run_with_progress(tc, &mut |_| {})
}

/// [`run`], reporting progress.
pub fn run_with_progress(
    tc: &Toolchain,
    progress: &mut dyn FnMut(checks::Progress<'_>),
) -> Result<Report> {
    run_checks(tc, &checks::registry_for(&tc.gcc), progress)
}

/// Runs `checks` (a selection of the registry, in order) against `tc`.
/// The verdict is made here, once.
pub fn run_checks(
    tc: &Toolchain,
    checks: &[checks::Check],
    progress: &mut dyn FnMut(checks::Progress<'_>),
) -> Result<Report> {
    let work = match &tc.chroot {
        Some(root) => tempfile::Builder::new()
            .prefix("split-stack-conformance")
            .tempdir_in(root.join("tmp")),
        None => tempfile::Builder::new()
            .prefix("split-stack-conformance")
            .tempdir(),
    }
    .context("cannot create a temporary directory")?;
    let probe = Probe::new(tc, work.path());
    probe.require_qemu()?;
    probe.require_compiler()?;
    let results = checks::run(checks, &probe, progress);
    if stop_requested() {
        // The scratch directory is removed when `work` is dropped.
        return Err(Interrupted.into());
    }
    let mut report = Report {
        toolchain: tc.clone(),
        verdict: String::new(),
        results,
    };
    report.verdict = judge_verdict(&report);
    Ok(report)
}

/// The one-line verdict of a report: CONFORMANT only if every check
/// passed ([`Report::conformant`]); a failed `split-stack/accepted` is
/// named as the reason; otherwise the counts.
pub fn judge_verdict(report: &Report) -> String {
    let (_, f, k) = report.counts();
    let split = report
        .results
        .iter()
        .find(|r| r.id == checks::split_stack::ACCEPTED)
        .map(|r| &r.outcome);
    match split {
        Some(Outcome::Fail(why)) => format!(
            "NOT CONFORMANT: `-fsplit-stack` not supported by this toolchain ({})",
            why.lines().next().unwrap_or_default()
        ),
        _ if report.conformant() => "CONFORMANT".to_string(),
        _ if f == 0 && k > 0 => {
            // Nothing failed, but not everything was tested: never a pass.
            let first = report
                .results
                .iter()
                .find_map(|r| match &r.outcome {
                    Outcome::Skip(why) => Some(format!(
                        "{}: {}",
                        r.id,
                        why.lines().next().unwrap_or_default()
                    )),
                    _ => None,
                })
                .unwrap_or_default();
            format!("NOT CONFORMANT: 0 check(s) failed, but {k} skipped (first: {first})")
        }
        _ => format!("NOT CONFORMANT: {f} check(s) failed, {k} skipped"),
    }
}

#[cfg(test)]
impl Toolchain {
    /// A toolchain for unit tests: the driver `gcc`, sysroot `/s`, no old
    /// sysroots, `qemu-aarch64`, no chroot, the driver's own sysroot.
    pub(crate) fn for_tests(gcc: &str) -> Toolchain {
        Toolchain {
            gcc: gcc.into(),
            sysroot: "/s".into(),
            old_sysroots: vec![],
            qemu: "qemu-aarch64".into(),
            chroot: None,
            compile_with: CompileWith::Own,
        }
    }
}

/// Whether a GCC target triplet (`gcc -dumpmachine`) is AArch64
/// little-endian GNU/Linux: `aarch64-linux-gnu` or
/// `aarch64-<vendor>-linux-gnu`.
pub fn is_aarch64_linux_gnu(triplet: &str) -> bool {
    let parts: Vec<&str> = triplet.split('-').collect();
    parts.first() == Some(&"aarch64") && parts.ends_with(&["linux", "gnu"]) && parts.len() <= 4
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_aarch64_linux_gnu_triplets_are_accepted() {
        assert!(super::is_aarch64_linux_gnu("aarch64-linux-gnu"));
        assert!(super::is_aarch64_linux_gnu("aarch64-unknown-linux-gnu"));
        assert!(!super::is_aarch64_linux_gnu("x86_64-linux-gnu"));
        assert!(!super::is_aarch64_linux_gnu("aarch64_be-linux-gnu"));
        assert!(!super::is_aarch64_linux_gnu("aarch64-linux-musl"));
        assert!(!super::is_aarch64_linux_gnu(""));
    }

    use super::*;

    #[test]
    fn markdown_has_one_row_per_check_and_escapes_pipes() {
        let report = Report {
            toolchain: Toolchain {
                gcc: "gcc".into(),
                sysroot: "/s".into(),
                old_sysroots: vec![],
                qemu: "qemu-aarch64".into(),
                chroot: None,
                compile_with: CompileWith::Own,
            },
            verdict: "NOT CONFORMANT: 1 check(s) failed, 0 skipped".into(),
            results: vec![
                CheckResult {
                    id: "a/b".into(),
                    title: "t".into(),
                    outcome: Outcome::Fail("x | y\nsecond".into()),
                },
                CheckResult {
                    id: "c/d".into(),
                    title: "u".into(),
                    outcome: Outcome::Pass("ok".into()),
                },
            ],
        };
        let md = report.markdown();
        assert!(md.contains("**NOT CONFORMANT"));
        assert!(
            md.contains("| `a/b` | FAIL | t | x \\| y<br>second |"),
            "{md}"
        );
        assert!(md.contains("| `c/d` | PASS | u | ok |"));
    }

    fn report(outcomes: Vec<Outcome>) -> Report {
        Report {
            toolchain: Toolchain {
                gcc: "gcc".into(),
                sysroot: "/s".into(),
                old_sysroots: vec![],
                qemu: "qemu-aarch64".into(),
                chroot: None,
                compile_with: CompileWith::Own,
            },
            verdict: String::new(),
            results: outcomes
                .into_iter()
                .enumerate()
                .map(|(i, outcome)| CheckResult {
                    id: format!("c/{i}"),
                    title: "t".into(),
                    outcome,
                })
                .collect(),
        }
    }

    #[test]
    fn chroot_paths_are_relative_to_the_root() {
        let root = Path::new("/r/fs");
        assert_eq!(
            chroot_path(root, Path::new("/r/fs/tmp/x")).unwrap(),
            Path::new("/tmp/x")
        );
        assert!(chroot_path(root, Path::new("/elsewhere/x")).is_err());
    }

    #[test]
    fn a_skip_is_never_a_pass() {
        assert!(report(vec![Outcome::Pass("a".into())]).conformant());
        assert!(!report(vec![Outcome::Pass("a".into()), Outcome::Skip("b".into())]).conformant());
        assert!(!report(vec![Outcome::Fail("a".into())]).conformant());
        assert!(!report(vec![]).conformant(), "no checks is not conformance");
    }

    #[test]
    fn the_verdict_names_the_gate_or_the_counts() {
        let mut r = report(vec![Outcome::Pass("a".into()), Outcome::Pass("b".into())]);
        assert_eq!(judge_verdict(&r), "CONFORMANT");
        r.results[1].outcome = Outcome::Fail("x".into());
        assert_eq!(
            judge_verdict(&r),
            "NOT CONFORMANT: 1 check(s) failed, 0 skipped"
        );
        r.results[0].outcome = Outcome::Skip("y".into());
        assert_eq!(
            judge_verdict(&r),
            "NOT CONFORMANT: 1 check(s) failed, 1 skipped"
        );
        // A failed gate is named, with the first line of its reason.
        r.results[0].id = checks::split_stack::ACCEPTED.into();
        r.results[0].outcome = Outcome::Fail("cc1: error: no\nmore".into());
        assert_eq!(
            judge_verdict(&r),
            "NOT CONFORMANT: `-fsplit-stack` not supported by this toolchain (cc1: error: no)"
        );
        // A passing gate changes nothing.
        r.results[0].outcome = Outcome::Pass("yes".into());
        assert_eq!(
            judge_verdict(&r),
            "NOT CONFORMANT: 1 check(s) failed, 0 skipped"
        );
        assert_eq!(
            judge_verdict(&report(vec![])),
            "NOT CONFORMANT: 0 check(s) failed, 0 skipped"
        );
        // Nothing failed, something could not run: named, not a pass.
        r.results[1].outcome = Outcome::Skip("no C++ driver\nmore".into());
        assert_eq!(
            judge_verdict(&r),
            format!(
                "NOT CONFORMANT: 0 check(s) failed, but 1 skipped (first: {}: no C++ driver)",
                r.results[1].id
            )
        );
    }

    #[test]
    fn render_lists_every_check_and_the_counts() {
        let r = report(vec![
            Outcome::Pass("ok".into()),
            Outcome::Pass("ok".into()),
            Outcome::Fail("bad\nsecond line".into()),
            Outcome::Fail("bad".into()),
            Outcome::Fail("bad".into()),
            Outcome::Skip("later".into()),
        ]);
        let text = r.render();
        assert!(text.contains("PASS  c/0"), "{text}");
        assert!(text.contains("FAIL  c/2"), "{text}");
        assert!(text.contains("      second line"), "{text}");
        assert!(text.contains("SKIP  c/5"), "{text}");
        assert!(text.contains("2 passed, 3 failed, 1 skipped"), "{text}");
        assert_eq!(r.counts(), (2, 3, 1));
    }

    #[test]
    fn missing_driver_or_sysroot_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let err = Toolchain::from_prefix(d.path(), d.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no aarch64-linux-gnu-gcc"), "{err}");
        let gcc = d.path().join("bin/aarch64-linux-gnu-gcc");
        std::fs::create_dir_all(gcc.parent().unwrap()).unwrap();
        let driver = |triplet: &str| {
            std::fs::write(&gcc, format!("#!/bin/sh\necho {triplet}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&gcc, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        // A driver for another target is refused before anything runs.
        driver("x86_64-linux-gnu");
        let err = Toolchain::from_prefix(d.path(), d.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not aarch64-linux-gnu"), "{err}");
        driver("aarch64-linux-gnu");
        let err = Toolchain::from_prefix(d.path(), d.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an aarch64 glibc sysroot"), "{err}");
    }
}
