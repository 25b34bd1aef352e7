//! `cargo xtask mutants`: mutation testing of the conformance suite's
//! judging code with `cargo-mutants`.
//!
//! The judging code is every `judge_*` function and the decoders they
//! rely on ([`JUDGING_FUNCTIONS`]); its unit tests (`cargo test -p conformance
//! --lib`) must catch at least [`REQUIRED_PERCENT`] of the viable mutants,
//! and every mutant they miss must be listed in [`EQUIVALENT`] with the
//! reason it cannot change a verdict.  The full run writes
//! `docs/mutants.md`; `--changed` tests only the mutants in lines of
//! `conformance/src` changed since the commit that last wrote that report
//! (what `cargo xtask test` runs, to fit CI's time).

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::base::shell::{Cmd, Ui};

/// Mutants examined: those inside the judging functions and decoders of
/// the conformance crate (matched against cargo-mutants' mutant names).
pub const JUDGING_FUNCTIONS: &[&str] = &[
    r"judge_\w+",
    "parse_fast_path",
    "check_cold_block",
    "continuation",
    "frame_bytes",
    "requested_bytes",
    "tp_access_offset",
    "local_target",
    "unexpected",
    "scratch",
    "is_bti_c",
    "call_landing_pad_at",
    "is_nop",
    "is_x",
    "is_sp",
    "is_plain_reg",
    "cold_sub_bytes",
    "cold_block_target",
    "first_error_line",
    "broke_the_build",
    "cxx_driver",
    "summarize",
    "offsets",
    "info_lines",
    "is_aarch64_linux_gnu",
    "listing",
    "FrameForm::name",
    "Report::conformant",
    "Report::counts",
];

/// The `--re` regex built from [`JUDGING_FUNCTIONS`].
pub fn judging_re() -> String {
    let alt = JUDGING_FUNCTIONS.join("|");
    format!(" in ({alt})$|replace ({alt}) ")
}

/// Minimum share of viable mutants (caught + missed + timeout) that must
/// be caught, in percent (issue 18).
pub const REQUIRED_PERCENT: f64 = 90.0;

/// A missed mutant that is equivalent: it cannot change any verdict.
pub struct Equivalent {
    /// The mutant's name without its `:line:column` ([`stable_name`]).
    pub mutant: &'static str,
    /// The mutated source line, trimmed: with the name, it picks out one
    /// mutant even where a function has several alike (two `|` in
    /// `frame_bytes`), and it survives edits elsewhere in the file.
    pub line: &'static str,
    /// Why it is equivalent.
    pub why: &'static str,
}

/// The missed mutants that are equivalent.
pub const EQUIVALENT: &[Equivalent] = &[
    Equivalent {
        mutant: "conformance/src/prologue.rs: replace | with ^ in frame_bytes",
        line: "*c = (*c & !(0xffff << sh)) | (u64::from(v) << sh);",
        why: "`movk` first clears its 16-bit field (`& !(0xffff << sh)`), so OR-ing and XOR-ing the new bits into it give the same value",
    },
    Equivalent {
        mutant: "conformance/src/prologue.rs: replace | with ^ in parse_fast_path",
        line: "bytes: (lo as u64) | ((hi as u64) << 16),",
        why: "form H's bytes are `lo16 | hi16 << 16`: the two halves share no bit, so OR and XOR give the same value",
    },
    Equivalent {
        mutant: "conformance/src/prologue.rs: replace < with <= in frame_bytes",
        line: "if off < 0 =>",
        why: "a pre-indexed store with writeback of offset 0 adds 0 bytes to the frame either way",
    },
];

/// The trimmed source line that the mutant `name` (`file:line:column:
/// description`, file relative to `repo`) changes; `None` if the name has
/// no position or the file no such line.
pub fn source_line(repo: &Path, name: &str) -> Option<String> {
    let mut parts = name.splitn(3, ':');
    let file = parts.next()?;
    let line: usize = parts.next()?.parse().ok()?;
    let text = std::fs::read_to_string(repo.join(file)).ok()?;
    text.lines()
        .nth(line.checked_sub(1)?)
        .map(|l| l.trim().to_string())
}

/// Why the missed mutant `name` is equivalent, if [`EQUIVALENT`] says so
/// for its name and its source line `line` (see [`source_line`]).
pub fn explanation(name: &str, line: Option<&str>) -> Option<&'static str> {
    let k = stable_name(name);
    EQUIVALENT
        .iter()
        .find(|e| e.mutant == k && Some(e.line) == line)
        .map(|e| e.why)
}

/// A mutant's name without the `:line:column` after its file, so that
/// the key survives edits elsewhere in the file.
pub fn stable_name(name: &str) -> String {
    let mut parts = name.splitn(4, ':');
    let file = parts.next().unwrap_or_default();
    let _line = parts.next();
    let _col = parts.next();
    let rest = parts.next().unwrap_or_default().trim_start();
    format!("{file}: {rest}")
}

/// Counts and lists of one run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub caught: Vec<String>,
    pub missed: Vec<String>,
    pub timeout: Vec<String>,
    pub unviable: Vec<String>,
}

impl Summary {
    /// Caught mutants as a share of the viable ones, in percent (100 with
    /// no viable mutant).  A timeout counts as caught: the mutant made the
    /// tests hang (an endless loop), which `cargo test` would report.
    pub fn percent(&self) -> f64 {
        let viable = self.caught.len() + self.missed.len() + self.timeout.len();
        if viable == 0 {
            100.0
        } else {
            100.0 * (self.caught.len() + self.timeout.len()) as f64 / viable as f64
        }
    }

    /// Missed mutants not explained in [`EQUIVALENT`] (source lines read
    /// from `repo`).
    pub fn unexplained(&self, repo: &Path) -> Vec<&String> {
        self.missed
            .iter()
            .filter(|m| explanation(m, source_line(repo, m).as_deref()).is_none())
            .collect()
    }

    /// Passed: at least [`REQUIRED_PERCENT`] caught, every missed mutant
    /// explained.
    pub fn passed(&self, repo: &Path) -> bool {
        self.percent() >= REQUIRED_PERCENT && self.unexplained(repo).is_empty()
    }
}

/// Reads `mutants.out/{caught,missed,timeout,unviable}.txt`.
pub fn read_summary(out: &Path) -> Result<Summary> {
    let read = |f: &str| -> Result<Vec<String>> {
        let p = out.join(f);
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect())
    };
    Ok(Summary {
        caught: read("caught.txt")?,
        missed: read("missed.txt")?,
        timeout: read("timeout.txt")?,
        unviable: read("unviable.txt")?,
    })
}

/// The Markdown report.
pub fn markdown(s: &Summary, repo: &Path, command: &str, minutes: f64) -> String {
    let viable = s.caught.len() + s.missed.len() + s.timeout.len();
    let mut counts = conformance::markdown::Table::new(&["", "mutants"]);
    counts
        .row(&["caught".to_string(), s.caught.len().to_string()])
        .row(&["missed".to_string(), s.missed.len().to_string()])
        .row(&["timeout".to_string(), s.timeout.len().to_string()])
        .row(&[
            "unviable (do not compile)".to_string(),
            s.unviable.len().to_string(),
        ])
        .row(&[
            "**caught of viable** (timeouts count as caught: the tests hung)".to_string(),
            format!(
                "**{:.1}%** ({} of {viable}; required: {REQUIRED_PERCENT}%)",
                s.percent(),
                s.caught.len() + s.timeout.len()
            ),
        ]);
    let mut md = format!(
        "# Mutation testing of the conformance suite's judging code\n\n\
         Produced by `{command}` ({minutes:.0} min on 2 cores): `cargo-mutants` mutates every \
         `judge_*` function and the decoders they use (`xtask/src/harness/mutants.rs`, \
         `JUDGING_FUNCTIONS`), one mutation at a time, and runs the crate's unit tests \
         (`cargo test -p conformance --lib`).\n\n{}\n",
        counts.render()
    );
    md.push_str("## Missed mutants and why each is equivalent\n\n");
    if s.missed.is_empty() {
        md.push_str("None.\n");
    }
    for m in &s.missed {
        let why = explanation(m, source_line(repo, m).as_deref())
            .unwrap_or("**NOT EXPLAINED**: a test is missing");
        md.push_str(&format!("- `{m}`: {why}\n"));
    }
    if !s.timeout.is_empty() {
        md.push_str("\n## Timeouts (counted as caught: the tests hung)\n\n");
        for m in &s.timeout {
            md.push_str(&format!("- `{m}`\n"));
        }
    }
    md
}

/// The cargo-mutants release this project uses.
pub const CARGO_MUTANTS_VERSION: &str = "27.1.0";

/// Installs cargo-mutants with `cargo install --locked` if it is missing
/// (about 5 minutes on 2 cores; crates.io is one of the package
/// registries this project may use).
pub fn ensure_installed(ui: &Ui) -> Result<()> {
    if Cmd::new("cargo")
        .args(["mutants", "--version"])
        .read()
        .is_ok()
    {
        return Ok(());
    }
    let log = std::env::temp_dir().join("cargo-install-cargo-mutants.log");
    Cmd::new("cargo")
        .args(["install", "--locked", "cargo-mutants", "--version"])
        .arg(CARGO_MUTANTS_VERSION)
        .run_logged(ui, "mutants: cargo install cargo-mutants", &log)
        .with_context(|| {
            format!(
                "cannot install cargo-mutants {CARGO_MUTANTS_VERSION}; install it by hand: \
                 cargo install --locked cargo-mutants"
            )
        })
}

/// Runs cargo-mutants on the judging code; `diff`: only the mutants in
/// this unified diff.  Returns the summary.
fn run_mutants(ui: &Ui, repo: &Path, diff: Option<&Path>, out: &Path) -> Result<Summary> {
    if Cmd::new("cargo")
        .args(["mutants", "--version"])
        .read()
        .is_err()
    {
        bail!("cargo-mutants is not installed: cargo install --locked cargo-mutants");
    }
    let mut cmd = Cmd::new("cargo")
        .args([
            "mutants",
            "-p",
            "conformance",
            "--no-shuffle",
            "-j",
            "1",
            "-F",
        ])
        .arg(judging_re())
        .arg("-o")
        .arg(out)
        .dir(repo);
    if let Some(d) = diff {
        cmd = cmd.arg("--in-diff").arg(d);
    }
    cmd = cmd.args(["--", "--lib"]);
    let log = out.join("xtask-mutants.log");
    std::fs::create_dir_all(out)?;
    // cargo-mutants exits 2 when mutants were missed, 3 on timeouts: the
    // summary files say what happened.  With nothing to mutate (a diff
    // that touches no judging function) it exits 0 without writing them.
    let status = cmd.run_logged_status(ui, "mutants: cargo mutants", &log)?;
    // 0: all caught, 2: some missed, 3: some timed out.  Anything else (a
    // usage error, a failing baseline, a signal) leaves an incomplete
    // summary that must not become a report.
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        anyhow::bail!(
            "cargo mutants did not finish ({status}); log: {}",
            log.display()
        );
    }
    let summary = out.join("mutants.out");
    if status.success() && !summary.exists() {
        ui.line("mutants: no mutant in the selected code");
        return Ok(Summary::default());
    }
    read_summary(&summary)
        .with_context(|| format!("cargo mutants did not finish (log: {})", log.display()))
}

/// `cargo xtask mutants [--changed]`.
pub fn run(ui: &Ui, repo: &Path, changed: bool) -> Result<bool> {
    let report = repo.join("docs/mutants.md");
    let scratch = tempfile::Builder::new().prefix("xtask-mutants").tempdir()?;
    if changed {
        let base = Cmd::new("git")
            .args(["log", "-1", "--format=%H", "--", "docs/mutants.md"])
            .dir(repo)
            .read()?;
        let base = base.trim();
        if base.is_empty() {
            bail!("docs/mutants.md was never committed: run `cargo xtask mutants` first");
        }
        let diff = Cmd::new("git")
            .args(["diff", base, "--", "conformance/src"])
            .dir(repo)
            .read()?;
        if diff.trim().is_empty() {
            ui.line(format!(
                "mutants: conformance/src unchanged since docs/mutants.md ({}): nothing to test",
                &base[..base.len().min(12)]
            ));
            return Ok(true);
        }
        let diff_file = scratch.path().join("changes.diff");
        std::fs::write(&diff_file, diff)?;
        let s = run_mutants(ui, repo, Some(&diff_file), scratch.path())?;
        ui.line(format!(
            "mutants (changed lines since {}): {} caught, {} missed, {} timeout, {} unviable",
            &base[..base.len().min(12)],
            s.caught.len(),
            s.missed.len(),
            s.timeout.len(),
            s.unviable.len()
        ));
        for m in s.unexplained(repo) {
            eprintln!("missed, not explained in xtask/src/harness/mutants.rs EQUIVALENT: {m}");
        }
        for m in &s.timeout {
            eprintln!("timeout: {m}");
        }
        return Ok(s.unexplained(repo).is_empty());
    }
    let start = std::time::Instant::now();
    let s = run_mutants(ui, repo, None, scratch.path())?;
    let md = markdown(
        &s,
        repo,
        "cargo xtask mutants",
        start.elapsed().as_secs_f64() / 60.0,
    );
    std::fs::write(&report, md).with_context(|| format!("cannot write {}", report.display()))?;
    ui.line(format!(
        "mutants: {:.1}% of viable mutants caught ({} caught, {} missed, {} timeout, {} unviable); report: {}",
        s.percent(),
        s.caught.len(),
        s.missed.len(),
        s.timeout.len(),
        s.unviable.len(),
        report.display()
    ));
    for m in s.unexplained(repo) {
        eprintln!("missed, not explained: {m}");
    }
    Ok(s.passed(repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_position() {
        assert_eq!(
            stable_name("conformance/src/lib.rs:191:9: replace Report::counts -> (usize, usize, usize) with (1, 1, 1)"),
            "conformance/src/lib.rs: replace Report::counts -> (usize, usize, usize) with (1, 1, 1)"
        );
    }

    #[test]
    fn an_explanation_needs_the_name_and_the_line() {
        let repo = env!("CARGO_MANIFEST_DIR").to_string() + "/..";
        let repo = Path::new(&repo);
        for e in EQUIVALENT {
            // The line still exists in the file, once: the entry is not stale.
            let file = e.mutant.split(':').next().unwrap();
            let text = std::fs::read_to_string(repo.join(file)).unwrap();
            let at: Vec<usize> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.trim() == e.line)
                .map(|(k, _)| k + 1)
                .collect();
            assert_eq!(at.len(), 1, "{}: line {:?} at {at:?}", e.mutant, e.line);
            let (_, what) = e.mutant.split_once(": ").unwrap();
            let name = format!("{file}:{}:5: {what}", at[0]);
            assert_eq!(
                explanation(&name, source_line(repo, &name).as_deref()),
                Some(e.why)
            );
            // The same mutation on another line of the function is not
            // explained by it.
            let other = format!("{file}:{}:5: {what}", at[0] + 1);
            assert_eq!(
                explanation(&other, source_line(repo, &other).as_deref()),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn the_share_counts_viable_mutants_only() {
        let v = |n: usize| {
            (0..n)
                .map(|i| format!("f.rs:{i}:1: m{i}"))
                .collect::<Vec<_>>()
        };
        let s = Summary {
            caught: v(9),
            missed: v(1),
            timeout: vec![],
            unviable: v(50),
        };
        assert!((s.percent() - 90.0).abs() < 1e-9);
        assert!(
            !s.passed(Path::new("/nonexistent")),
            "an unexplained missed mutant fails"
        );
        let s = Summary {
            caught: v(8),
            missed: vec![],
            timeout: v(1),
            unviable: vec![],
        };
        assert!(
            s.passed(Path::new("/nonexistent")),
            "a timeout is a hang the tests report: caught"
        );
        assert!((s.percent() - 100.0).abs() < 1e-9);
        let s = Summary {
            caught: v(3),
            ..Default::default()
        };
        assert!(s.passed(Path::new("/nonexistent")));
        assert!(Summary::default().percent() == 100.0);
    }

    #[test]
    fn the_filter_matches_judging_functions_only() {
        let re = judging_re();
        assert!(re.contains("judge_\\w+"));
        assert!(re.starts_with(" in ("));
    }
}
