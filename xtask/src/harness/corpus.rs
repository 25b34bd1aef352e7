//! `cargo xtask gcc-check --corpus`: GCC's own execute corpora, thousands
//! of programs nobody here wrote, compiled by the patched GCC at the
//! torture option sets and run under qemu-user, once without
//! `-fsplit-stack` (the reference) and once per mode: with
//! `-fsplit-stack`, with the crossing-stress runtime (docs/stress.md) so
//! that functions cross into a new segment at almost every call, and with
//! the distributions' hardening flags.  Every test that passes without
//! `-fsplit-stack` must pass in every mode; the differences are the
//! report (`docs/corpus.md` for the full run).
//!
//! The modes are DejaGnu boards that differ only in `multilib_flags`
//! (flags added to every compilation and link), so the test names are the
//! same across them and [`crate::harness::compare`] lines them up.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::base::cache::{write_atomic, Cache};
use crate::base::shell::{fmt_duration, Cmd, Ui};
use crate::harness::compare::{compare, Comparison, Results};

/// One corpus: the `make` target in GCC's `gcc` build directory and the
/// DejaGnu selection.
#[derive(Debug, Clone, Copy)]
pub struct Corpus {
    /// Its directory under `gcc/testsuite`.
    pub name: &'static str,
    /// `check-gcc` (C) or `check-g++` (C++).
    pub target: &'static str,
    /// The `.exp` driver (with a file selection where needed).
    pub exp: &'static str,
    /// Test files that found defects of the series (docs/corpus.md):
    /// every sample runs them too.
    pub found: &'static [&'static str],
    /// Execution tests that every sample runs too, for corpora whose
    /// first files by name only compile or run little.
    pub executed: &'static [&'static str],
}

/// The corpora of issue 19: C execute tests, the torture tests of
/// `gcc.dg` and `g++.dg` (compile-only ones included: a test that
/// compiles without `-fsplit-stack` must compile with it), and the
/// exception tests of `g++.dg/eh`.
pub const CORPORA: &[Corpus] = &[
    Corpus {
        name: "gcc.c-torture/execute",
        target: "check-gcc",
        exp: "execute.exp",
        // Trampolines on segments (libgcc: executable segments) and
        // __builtin_apply_args on a segment (x14).
        // and, under the stress runtime, the IPA-RA defect (fixed by
        // patches/gcc/0001; docs/corpus.md) and the return address that
        // depended on __morestack's path.
        found: &[
            "nestfunc-3.c",
            "nestfunc-5.c",
            "nestfunc-6.c",
            "20000822-1.c",
            "pr47237.c",
            "20010122-1.c",
            "pr17377.c",
            "bitops-1.c",
            "nest-stdar-1.c",
            "pr38969.c",
            "pr39100.c",
            "pr44575.c",
            "pr51877.c",
            "pr51933.c",
            "pr65427.c",
            "simd-5.c",
            "stdarg-3.c",
        ],
        executed: &[],
    },
    Corpus {
        name: "gcc.dg/torture",
        target: "check-gcc",
        exp: "dg-torture.exp",
        // A trampoline on a segment (libgcc: executable segments).
        found: &["pr86389.c"],
        executed: &[],
    },
    Corpus {
        name: "g++.dg/torture",
        target: "check-g++",
        exp: "dg-torture.exp",
        found: &[],
        // Its first files are compile-only: C++ exceptions that run.
        executed: &["except-1.C", "pr100382.C", "pr111773.C"],
    },
    Corpus {
        name: "g++.dg/eh",
        target: "check-g++",
        exp: "dg.exp=eh/*.C",
        found: &[],
        executed: &["forced1.C", "forced2.C", "ctor1.C", "dtor1.C"],
    },
];

/// A way of building every program of a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No `-fsplit-stack`: the reference.
    Plain,
    /// `-fsplit-stack`.
    Split,
    /// `-fsplit-stack` with the crossing-stress runtime.
    Stress,
    /// `-fsplit-stack` with the distributions' hardening flags.
    Hardened,
    /// The hardening flags without `-fsplit-stack`: the reference of
    /// [`Mode::Hardened`], so that a difference that the flags make by
    /// themselves (a test that checks `_FORTIFY_SOURCE` behaviour, one
    /// that needs `-fstack-check`) is not charged to split stacks.
    HardenedPlain,
}

impl Mode {
    /// Its name, also the DejaGnu board's suffix.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Split => "split",
            Mode::Stress => "stress",
            Mode::Hardened => "hardened",
            Mode::HardenedPlain => "hardened-plain",
        }
    }

    /// The run this mode is compared with: the same flags without
    /// `-fsplit-stack`.
    pub fn reference(self) -> Mode {
        match self {
            Mode::Hardened => Mode::HardenedPlain,
            _ => Mode::Plain,
        }
    }

    /// Whether the mode compiles with `-fsplit-stack`.
    pub fn is_split(self) -> bool {
        !matches!(self, Mode::Plain | Mode::HardenedPlain)
    }

    /// The flags the board adds to every compilation and link.
    /// `stress_dir` holds the crossing-stress runtime.
    pub fn flags(self, stress_dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = match self {
            Mode::Plain => vec![],
            Mode::Split => vec!["-fsplit-stack".into()],
            // -L, not -B: the testsuite's own -B (the build tree, which
            // holds a libgcc.a) comes first, and user -L directories are
            // searched before the driver's.
            Mode::Stress => vec![
                "-fsplit-stack".into(),
                format!("-L{}", stress_dir.display()),
            ],
            Mode::Hardened => {
                let mut v = vec!["-fsplit-stack".to_string()];
                v.extend(Mode::HardenedPlain.flags(stress_dir));
                v
            }
            Mode::HardenedPlain => conformance::stress::HARDENING_FLAGS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        v.shrink_to_fit();
        v
    }
}

/// The modes named by `--mode` (default: split, stress, hardened).
/// Errors: an unknown name.
pub fn parse_modes(names: &[String]) -> Result<Vec<Mode>> {
    if names.is_empty() {
        return Ok(vec![Mode::Split, Mode::Stress, Mode::Hardened]);
    }
    names
        .iter()
        .map(|n| {
            [Mode::Split, Mode::Stress, Mode::Hardened]
                .into_iter()
                .find(|m| m.name() == n)
                .with_context(|| format!("no mode {n}: the modes are split, stress, hardened"))
        })
        .collect()
}

/// The corpora named by `--corpora` (default: all of [`CORPORA`]).
/// Errors: an unknown name.
pub fn parse_corpora(names: &[String]) -> Result<Vec<Corpus>> {
    if names.is_empty() {
        return Ok(CORPORA.to_vec());
    }
    names
        .iter()
        .map(|n| {
            CORPORA
                .iter()
                .copied()
                .find(|c| c.name == n.trim_end_matches('/'))
                .with_context(|| {
                    let all: Vec<&str> = CORPORA.iter().map(|c| c.name).collect();
                    format!("no corpus {n}: the corpora are {}", all.join(", "))
                })
        })
        .collect()
}

/// What `cargo xtask gcc-check --corpus` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The corpora, in order.
    pub corpora: Vec<Corpus>,
    /// The modes besides the plain reference.
    pub modes: Vec<Mode>,
    /// Only the first that many test files of each corpus (CI's sample).
    pub sample: Option<usize>,
    /// A `cc1` (and, beside it, `cc1plus`) to compile with in the modes
    /// instead of the build tree's, through GCC's `-wrapper`.
    pub cc1: Option<PathBuf>,
}

/// The shell script given to GCC's `-wrapper`: runs every subprocess
/// unchanged except `cc1` and `cc1plus`, which it replaces by the ones
/// in `dir`.  Errors: `dir` holds neither.
fn cc1_wrapper(dir: &Path) -> Result<String> {
    if !dir.join("cc1").is_file() && !dir.join("cc1plus").is_file() {
        anyhow::bail!(
            "--cc1: {} holds neither cc1 nor cc1plus; give the path of a cc1 built from \
             the GCC work tree (see docs/corpus.md)",
            dir.display()
        );
    }
    let d = dir.display().to_string().replace('\'', "'\\''");
    Ok(format!(
        "#!/bin/sh\n\
         # Written by cargo xtask gcc-check --corpus --cc1.\n\
         case \"$1\" in\n\
         */cc1) shift; exec '{d}/cc1' \"$@\" ;;\n\
         */cc1plus) shift; exec '{d}/cc1plus' \"$@\" ;;\n\
         esac\n\
         exec \"$@\"\n"
    ))
}

/// The option sets each torture test is built with (`TORTURE_OPTIONS`),
/// chosen to keep a full run near an hour on 2 cores: no optimisation,
/// and the optimisation at which the interesting code moves most.
pub const TORTURE_OPTIONS: &[&str] = &["-O0", "-O2"];

/// Writes the boards of `modes` and the site file (with the torture
/// option sets) under `<cache>/dejagnu-corpus`; returns the site file.
fn write_boards(
    cache: &Cache,
    modes: &[Mode],
    stress_dir: &Path,
    cc1: Option<&Path>,
) -> Result<PathBuf> {
    let dir = cache.root().join("dejagnu-corpus");
    std::fs::create_dir_all(dir.join("boards"))?;
    let wrapper = match cc1 {
        Some(c) => {
            let from = c.parent().unwrap_or(Path::new("."));
            let w = dir.join("cc1-wrapper.sh");
            write_atomic(&w, cc1_wrapper(from)?.as_bytes())?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755))?;
            Some(w)
        }
        None => None,
    };
    for m in modes {
        let mut flags = m.flags(stress_dir);
        if let (Some(w), true) = (&wrapper, m.is_split()) {
            flags.push(format!("-wrapper {}", w.display()));
        }
        std::fs::write(
            dir.join(format!("boards/aarch64-qemu-{}.exp", m.name())),
            crate::harness::gcc_check::board(&cache.patched_sysroot(), &flags),
        )?;
    }
    let opts = TORTURE_OPTIONS
        .iter()
        .map(|o| format!("{{ {o} }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let site = dir.join("site.exp");
    std::fs::write(
        &site,
        format!(
            "lappend boards_dir {}\nset TORTURE_OPTIONS [list {opts}]\n",
            dir.join("boards").display()
        ),
    )?;
    Ok(site)
}

/// The results of one corpus in one mode.
#[derive(Debug)]
pub struct Run {
    pub corpus: &'static str,
    pub mode: Mode,
    pub results: Results,
}

/// Runs `corpus` (restricted to the test files `only`, if any) in `mode`;
/// returns its results.  Errors: make produced no summary.
fn run_one(
    ui: &Ui,
    cache: &Cache,
    site: &Path,
    corpus: &Corpus,
    mode: Mode,
    only: &[String],
) -> Result<Results> {
    let build = cache.build("gcc").join("gcc");
    let tool = if corpus.target == "check-g++" {
        "g++"
    } else {
        "gcc"
    };
    let sum = build.join(format!("testsuite/{tool}/{tool}.sum"));
    let _ = std::fs::remove_file(&sum);
    let exp = if only.is_empty() {
        corpus.exp.to_string()
    } else {
        let driver = corpus.exp.split('=').next().unwrap_or(corpus.exp);
        format!("{driver}=\\\"{}\\\"", only.join(" "))
    };
    let log = cache.log(&format!("corpus-{}", mode.name()));
    let r = Cmd::new("make")
        .arg(format!("-j{}", crate::base::shell::default_jobs()))
        .arg(corpus.target)
        .arg(format!(
            "RUNTESTFLAGS=--target_board=aarch64-qemu-{} {exp}",
            mode.name()
        ))
        .env("DEJAGNU", site)
        .env("LC_ALL", "C")
        .dir(&build)
        .run_logged_status(
            ui,
            &format!("corpus: {} ({})", corpus.name, mode.name()),
            &log,
        );
    r?;
    let text = std::fs::read_to_string(&sum)
        .with_context(|| format!("no {}; see {}", sum.display(), log.display()))?;
    // Kept per corpus and mode: the next run overwrites the build tree's.
    let keep = cache.logs().join(format!(
        "corpus-{}-{}.sum",
        corpus.name.replace(['/', '+'], "_"),
        mode.name()
    ));
    write_atomic(&keep, text.as_bytes())?;
    Ok(crate::harness::gcc_check::parse_gcc_sum(&text))
}

/// What `cargo xtask gcc-check --corpus` ran and found.
#[derive(Debug)]
pub struct CorpusReport {
    /// Every run: the plain reference first for each corpus.
    pub runs: Vec<Run>,
    /// Per corpus and mode other than plain: the comparison with plain.
    pub comparisons: Vec<(&'static str, Mode, Comparison)>,
    /// Wall time.
    pub took: std::time::Duration,
}

impl CorpusReport {
    /// Tests that pass without `-fsplit-stack` and not in some mode (or
    /// run only in the mode and fail there).
    pub fn regressions(&self) -> usize {
        self.comparisons
            .iter()
            .map(|(_, _, c)| c.regressions.len())
            .sum()
    }

    /// The corpus/mode pairs in which no result passed on both sides:
    /// a broken setup (qemu, the board, the toolchain), not a clean run.
    pub fn empty_comparisons(&self) -> Vec<String> {
        self.comparisons
            .iter()
            .filter(|(_, _, c)| c.passed_both == 0)
            .map(|(corpus, mode, _)| format!("{corpus} ({})", mode.name()))
            .collect()
    }

    /// Whether the run shows a problem: a regression, or a comparison in
    /// which nothing passed on both sides.
    pub fn failed(&self) -> bool {
        self.regressions() > 0 || !self.empty_comparisons().is_empty()
    }

    /// The Markdown report.
    pub fn markdown(&self, command: &str) -> String {
        let mut t = conformance::markdown::Table::new(&[
            "corpus",
            "mode",
            "compared with",
            "results",
            "passing in both",
            "regressions",
            "fixed",
            "failing in both",
            "only in the mode (passing or unsupported)",
        ]);
        for (corpus, mode, c) in &self.comparisons {
            let n = self
                .runs
                .iter()
                .find(|r| r.corpus == *corpus && r.mode == *mode)
                .map_or(0, |r| r.results.len());
            t.row(&[
                corpus.to_string(),
                mode.name().to_string(),
                mode.reference().name().to_string(),
                n.to_string(),
                c.passed_both.to_string(),
                c.regressions.len().to_string(),
                c.fixed.len().to_string(),
                c.both_fail.len().to_string(),
                c.new.len().to_string(),
            ]);
        }
        let mut md = format!(
            "# GCC's execute corpora as split-stack programs\n\n\
             Produced by `{command}` in {} on 2 cores: each corpus compiled by the patched \
             GCC at `TORTURE_OPTIONS` {} and run under qemu-user, without `-fsplit-stack` \
             (plain, the reference) and in each mode (`split`: `-fsplit-stack`; `stress`: \
             with the crossing-stress runtime of docs/stress.md; `hardened`: with the \
             distributions' hardening flags, compared with `hardened-plain`, the same flags \
             without `-fsplit-stack`). A regression is a result that passes in the reference \
             and not in the mode, or that exists only in the mode and fails there (ABSENT). \
             XFAIL counts as passing.\n\n{}",
            fmt_duration(self.took),
            TORTURE_OPTIONS.join(", "),
            t.render()
        );
        for e in self.empty_comparisons() {
            md.push_str(&format!(
                "\n**{e}: no result passed on both sides: the setup is broken.**\n"
            ));
        }
        for (corpus, mode, c) in &self.comparisons {
            if !c.regressions.is_empty() {
                md.push_str(&format!("\n## {corpus}, {}: regressions\n\n", mode.name()));
                for (test, u, p) in &c.regressions {
                    md.push_str(&format!("- `{test}`: {u} -> {p}\n"));
                }
            }
            if !c.new.is_empty() {
                md.push_str(&format!(
                    "\n## {corpus}, {}: results only in the mode\n\n",
                    mode.name()
                ));
                for (test, p) in &c.new {
                    md.push_str(&format!("- `{test}`: {p}\n"));
                }
            }
        }
        md
    }
}

/// The first `n` test files of `corpus` (sorted by name) and its
/// [`Corpus::found`] files: the sample.
fn sample_files(cache: &Cache, corpus: &Corpus, n: usize) -> Result<Vec<String>> {
    let dir = cache.src("gcc").join("gcc/testsuite").join(corpus.name);
    let ext = if corpus.target == "check-g++" {
        ".C"
    } else {
        ".c"
    };
    let v: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(ext))
        .collect();
    let extra: Vec<&str> = corpus
        .found
        .iter()
        .chain(corpus.executed)
        .copied()
        .collect();
    Ok(sample(v, n, &extra))
}

/// The first `n` of `files` by name, then those of `found` not among
/// them.
fn sample(mut files: Vec<String>, n: usize, found: &[&str]) -> Vec<String> {
    files.sort();
    files.truncate(n);
    for f in found {
        if !files.iter().any(|x| x == f) {
            files.push(f.to_string());
        }
    }
    files
}

/// Runs `corpora` in plain and in `modes`; with `sample`, only the first
/// that many test files of each corpus (what CI runs).  Errors: no GCC
/// build tree, DejaGnu missing, a run produced no summary.
pub fn run(ui: &Ui, cache: &Cache, opts: &Options) -> Result<CorpusReport> {
    let (corpora, modes, sample) = (&opts.corpora, &opts.modes, opts.sample);
    let start = Instant::now();
    let build = cache.build("gcc").join("gcc");
    crate::harness::gcc_check::check_prerequisites(ui, cache, &build)?;
    let stress_dir = cache.root().join("stress-runtime");
    std::fs::create_dir_all(&stress_dir)?;
    let gcc = cache.toolchain().join("bin/aarch64-linux-gnu-gcc");
    conformance::stress::write_stress_libgcc(&gcc, &stress_dir)?;
    // The references first: each mode is compared with its own.
    let mut all = vec![Mode::Plain];
    if modes.contains(&Mode::Hardened) {
        all.push(Mode::HardenedPlain);
    }
    all.extend(modes.iter().copied().filter(|m| m.is_split()));
    let cc1 = match &opts.cc1 {
        Some(c) => Some(
            std::fs::canonicalize(c)
                .with_context(|| format!("--cc1: cannot find {}", c.display()))?,
        ),
        None => None,
    };
    let site = write_boards(cache, &all, &stress_dir, cc1.as_deref())?;
    let mut runs = Vec::new();
    let mut comparisons = Vec::new();
    for corpus in corpora {
        let only = match sample {
            Some(n) => sample_files(cache, corpus, n)?,
            None => Vec::new(),
        };
        let mut done: Vec<(Mode, Results)> = Vec::new();
        for &mode in &all {
            let results = run_one(ui, cache, &site, corpus, mode, &only)?;
            if mode.is_split() {
                let reference = &done
                    .iter()
                    .find(|(m, _)| *m == mode.reference())
                    .context("a mode ran before its reference")?
                    .1;
                let c = compare(reference, &results);
                ui.line(format!(
                    "corpus: {} ({}): {} results, {} passing in both with {}, {} regressions",
                    corpus.name,
                    mode.name(),
                    results.len(),
                    c.passed_both,
                    mode.reference().name(),
                    c.regressions.len()
                ));
                comparisons.push((corpus.name, mode, c));
            }
            done.push((mode, results));
        }
        for (mode, results) in done {
            runs.push(Run {
                corpus: corpus.name,
                mode,
                results,
            });
        }
    }
    let report = CorpusReport {
        runs,
        comparisons,
        took: start.elapsed(),
    };
    let out = cache.logs().join(if cc1.is_some() {
        "corpus-cc1.md"
    } else {
        "corpus.md"
    });
    let mut command = "cargo xtask gcc-check --corpus".to_string();
    if let Some(n) = sample {
        command.push_str(&format!(" --sample {n}"));
    }
    if opts.corpora.len() != CORPORA.len() {
        let names: Vec<&str> = opts.corpora.iter().map(|c| c.name).collect();
        command.push_str(&format!(" --corpora {}", names.join(",")));
    }
    if opts.modes != [Mode::Split, Mode::Stress, Mode::Hardened] {
        let names: Vec<&str> = opts.modes.iter().map(|m| m.name()).collect();
        command.push_str(&format!(" --mode {}", names.join(",")));
    }
    if let Some(c) = &cc1 {
        command.push_str(&format!(" --cc1 {}", c.display()));
    }
    write_atomic(&out, report.markdown(&command).as_bytes())?;
    ui.line(format!("corpus: report {}", out.display()));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_fails_on_regressions_and_on_comparisons_where_nothing_passed() {
        let results = |v: &[(&str, &str)]| -> crate::harness::compare::Results {
            v.iter()
                .map(|(t, r)| (t.to_string(), r.to_string()))
                .collect()
        };
        let report = |plain: &[(&str, &str)], split: &[(&str, &str)]| CorpusReport {
            runs: Vec::new(),
            comparisons: vec![(
                "c",
                Mode::Split,
                crate::harness::compare::compare(&results(plain), &results(split)),
            )],
            took: std::time::Duration::ZERO,
        };
        let clean = report(&[("a", "PASS")], &[("a", "PASS")]);
        assert!(!clean.failed());
        assert!(clean
            .markdown("x")
            .contains("| c | split | plain | 0 | 1 | 0 | 0 | 0 | 0 |"));
        let broken = report(&[("a", "FAIL")], &[("a", "FAIL")]);
        assert_eq!(broken.empty_comparisons(), ["c (split)"]);
        assert!(broken.failed());
        assert!(broken.markdown("x").contains("setup is broken"));
        let absent = report(&[("a", "PASS")], &[("a", "PASS"), ("b", "FAIL")]);
        assert_eq!(absent.regressions(), 1);
        assert!(absent.failed());
        assert!(absent.markdown("x").contains("- `b`: ABSENT -> FAIL"));
        let only = report(&[("a", "PASS")], &[("a", "PASS"), ("b", "PASS")]);
        assert!(!only.failed());
        assert!(only.markdown("x").contains("results only in the mode"));
    }

    #[test]
    fn corpora_are_chosen_by_directory() {
        assert_eq!(parse_corpora(&[]).unwrap().len(), CORPORA.len());
        let c = parse_corpora(&["g++.dg/eh/".into(), "gcc.c-torture/execute".into()]).unwrap();
        assert_eq!(c[0].name, "g++.dg/eh");
        assert_eq!(c[1].name, "gcc.c-torture/execute");
        let e = parse_corpora(&["gcc.dg".into()]).unwrap_err().to_string();
        assert!(
            e.contains("no corpus gcc.dg") && e.contains("g++.dg/torture"),
            "{e}"
        );
    }

    #[test]
    fn the_wrapper_replaces_cc1_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        assert!(cc1_wrapper(d.path()).is_err());
        let cc1 = d.path().join("cc1");
        std::fs::write(&cc1, "#!/bin/sh\necho \"other cc1 $*\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cc1, std::fs::Permissions::from_mode(0o755)).unwrap();
        let w = d.path().join("w.sh");
        std::fs::write(&w, cc1_wrapper(d.path()).unwrap()).unwrap();
        let run = |args: &[&str]| {
            let o = std::process::Command::new("sh")
                .arg(&w)
                .args(args)
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        assert_eq!(
            run(&["/build/gcc/cc1", "-O2", "x.c"]),
            "other cc1 -O2 x.c\n"
        );
        assert_eq!(run(&["/bin/echo", "as", "-o", "x.o"]), "as -o x.o\n");
        // A cc1plus that is not in the directory is a failure, not the
        // build tree's.
        assert_eq!(run(&["/build/gcc/cc1plus", "x.C"]), "");
    }

    #[test]
    fn every_sample_runs_the_files_that_found_defects() {
        let files = ["c.c", "a.c", "nestfunc-3.c", "b.c"]
            .map(String::from)
            .to_vec();
        assert_eq!(sample(files.clone(), 2, &[]), ["a.c", "b.c"]);
        assert_eq!(
            sample(files.clone(), 2, &["nestfunc-3.c", "a.c"]),
            ["a.c", "b.c", "nestfunc-3.c"]
        );
        assert_eq!(sample(files, 9, &["nestfunc-3.c"]).len(), 4);
    }

    #[test]
    fn modes_add_their_flags_and_nothing_else() {
        let d = Path::new("/s");
        assert!(Mode::Plain.flags(d).is_empty());
        assert_eq!(Mode::Split.flags(d), ["-fsplit-stack"]);
        assert_eq!(Mode::Stress.flags(d), ["-fsplit-stack", "-L/s"]);
        let h = Mode::Hardened.flags(d);
        assert_eq!(h[0], "-fsplit-stack");
        assert!(h.iter().any(|f| f == "-fstack-protector-strong"));
        // Its reference: the same flags without -fsplit-stack.
        assert_eq!(Mode::Hardened.reference(), Mode::HardenedPlain);
        assert_eq!(Mode::HardenedPlain.flags(d), h[1..]);
        assert!(!Mode::HardenedPlain.is_split() && !Mode::Plain.is_split());
        for m in [Mode::Split, Mode::Stress] {
            assert_eq!(m.reference(), Mode::Plain);
            assert!(m.is_split());
        }
        let b = crate::harness::gcc_check::board(Path::new("/sysroot"), &Mode::Split.flags(d));
        assert!(
            b.contains("set_board_info multilib_flags \"-fsplit-stack\""),
            "{b}"
        );
        assert!(b.contains("-L /sysroot"), "{b}");
    }
}
