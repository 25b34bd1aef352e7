//! `cargo xtask gold-compare`: gold's own testsuite (`make -k check` in
//! `gold/testsuite`, automake's parallel test harness) run for binutils
//! without the project's series and for the patched build tree, compared
//! test by test.
//!
//! The toolchain's gold is a cross linker (x86_64 host, `aarch64-linux-gnu`
//! target), so automake selects only the tests that work with a cross
//! linker: the unit tests, the `NATIVE_OR_CROSS_LINKER` tests and the
//! `DEFAULT_TARGET_AARCH64` scripts.  The unpatched binutils (the `base`
//! commit of the binutils work tree) is configured with the toolchain's
//! configure line ([`crate::toolchain::build::binutils_configure`]) in
//! `<cache>/build/binutils-unpatched`; only gas, binutils (readelf, nm,
//! objdump, ... which the testsuite runs) and gold are built, never
//! installed.
//!
//! A regression is a test that passes unpatched and does not pass patched.
//! The report goes to `docs/gold-compare.md` (and `<cache>/logs/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::base::cache::{write_atomic, Cache, KeyHasher};
use crate::base::git::{dirty_files, fresh_worktree, git, rev_parse};
use crate::base::shell::{fmt_duration, Cmd, Ui};
use crate::harness::compare::{compare, Comparison, Results};

/// What `make check` in `gold/testsuite` needs built at the top level:
/// the assembler (`TEST_AS`), the binary utilities (`TEST_READELF`,
/// `TEST_NM`, `TEST_OBJDUMP`, ...) and gold itself.
pub const TARGETS: &[&str] = &["all-gas", "all-binutils", "all-gold"];

/// Programs of a binutils build tree that gold's testsuite runs, relative
/// to the build tree (see `TEST_*` in `gold/testsuite/Makefile`).
const TOOLS: &[&str] = &[
    "gold/ld-new",
    "gas/as-new",
    "binutils/readelf",
    "binutils/objdump",
    "binutils/objcopy",
    "binutils/nm-new",
    "binutils/strip-new",
    "binutils/ar",
];

/// The result a test gets when it has no `.trs` file after the run (its
/// inputs failed to build, so the harness never ran it).
pub const NOT_RUN: &str = "NOT RUN";

/// Host compiler flags used when the patched tree's cannot be read (the
/// default profile of `build-toolchain`).
const DEFAULT_CFLAGS: &str = "-O1 -g0";

/// The result recorded in an automake `.trs` file (`:test-result: X`
/// lines).  A file with several results (a TAP script) gets the first one
/// that does not pass, else the first.  automake's `SKIP` is reported as
/// `UNSUPPORTED`, the name the shared comparison counts as skipped.
/// `None`: no `:test-result:` line (a run cut short).
pub fn parse_trs(text: &str) -> Option<String> {
    let results: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(":test-result:"))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    let r = results
        .iter()
        .find(|r| !matches!(**r, "PASS" | "XFAIL" | "SKIP"))
        .or_else(|| results.first())?;
    Some(if *r == "SKIP" { "UNSUPPORTED" } else { r }.to_string())
}

/// The base name automake gives the `.log`/`.trs` files of test `t`
/// (`TEST_EXTENSIONS` is `.test` in gold's testsuite).
fn base_name(t: &str) -> &str {
    t.strip_suffix(".test").unwrap_or(t)
}

/// The results of the tests `tests` from their `.trs` files in `dir`; a
/// test without one is [`NOT_RUN`].
pub fn collect(dir: &Path, tests: &[String]) -> Results {
    tests
        .iter()
        .map(|t| {
            let r = std::fs::read_to_string(dir.join(format!("{}.trs", base_name(t))))
                .ok()
                .and_then(|s| parse_trs(&s))
                .unwrap_or_else(|| NOT_RUN.to_string());
            (t.clone(), r)
        })
        .collect()
}

/// Targets of `make: *** [Makefile:N: target] Error 1` lines in a make
/// log: what failed to build.
pub fn failed_targets(log: &str) -> Vec<String> {
    let mut v: Vec<String> = log
        .lines()
        .filter_map(|l| {
            let inner = l.split_once("*** [")?.1.split_once(']')?.0;
            Some(
                inner
                    .rsplit(": ")
                    .next()
                    .unwrap_or(inner)
                    .trim()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// `CFLAGS = ...` of a configured top-level `Makefile`.
pub fn configured_cflags(makefile: &str) -> Option<String> {
    makefile
        .lines()
        .find_map(|l| l.strip_prefix("CFLAGS ="))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Why test `t` did not pass: the last line of its automake `.log` that is
/// not the harness's own result line, followed by the targets named like
/// the test (`split_aarch64*` for `split_aarch64.sh`) that failed to build
/// according to the make log `make_log`; for a test that did not run, only
/// those targets.
fn reason(dir: &Path, t: &str, result: &str, make_log: &str) -> String {
    let stem = t.strip_suffix(".sh").unwrap_or(t);
    let failed: Vec<String> = failed_targets(make_log)
        .into_iter()
        .filter(|f| f.starts_with(stem))
        .collect();
    if result == NOT_RUN {
        return if failed.is_empty() {
            "not run (no .trs; see the make log)".to_string()
        } else {
            format!("not built: {}", failed.join(", "))
        };
    }
    let text =
        std::fs::read_to_string(dir.join(format!("{}.log", base_name(t)))).unwrap_or_default();
    let last: String = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !["PASS", "FAIL", "SKIP", "XFAIL", "XPASS", "ERROR"]
                    .iter()
                    .any(|r| l.starts_with(&format!("{r} {t}")))
        })
        .map(|l| l.chars().take(160).collect())
        .unwrap_or_default();
    if failed.is_empty() {
        last
    } else {
        format!("{last} (inputs that did not build: {})", failed.join(", "))
    }
}

/// Parallel make jobs: the number of CPUs, at most 2 (gold's tests are
/// small; this leaves room for other builds on a shared machine).
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(2))
}

/// One timed step of the run, for the report.
struct Step {
    what: String,
    took: Duration,
    log: PathBuf,
    /// Not run now: the time of the run that built the cached tree.
    cached: bool,
}

/// The steps of a build recorded in its stamp's detail (`{"steps":
/// [{"what": ..., "secs": ...}]}`), marked as cached, with `log`.
fn cached_steps(detail: &serde_json::Value, log: &Path) -> Vec<Step> {
    detail["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    Some(Step {
                        what: s["what"].as_str()?.to_string(),
                        took: Duration::from_secs_f64(s["secs"].as_f64()?),
                        log: log.to_path_buf(),
                        cached: true,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `steps` as a stamp detail that [`cached_steps`] reads back.
fn steps_detail(steps: &[Step]) -> serde_json::Value {
    serde_json::json!({
        "steps": steps
            .iter()
            .map(|s| serde_json::json!({"what": s.what, "secs": s.took.as_secs_f64()}))
            .collect::<Vec<_>>()
    })
}

/// Runs `cmd` as a logged step and records its wall time in `steps`.
fn timed(ui: &Ui, steps: &mut Vec<Step>, cmd: Cmd, label: &str, log: &Path) -> Result<()> {
    let t = Instant::now();
    let r = cmd.run_logged(ui, label, log);
    steps.push(Step {
        what: label.to_string(),
        took: t.elapsed(),
        log: log.to_path_buf(),
        cached: false,
    });
    r
}

/// [`timed`] for `make -k check`: failing tests make make fail, and the
/// results are in the `.trs` files, so make's exit status is only logged;
/// a timeout (the process group killed) is an error.
fn timed_check(ui: &Ui, steps: &mut Vec<Step>, cmd: Cmd, label: &str, log: &Path) -> Result<()> {
    let t = Instant::now();
    let r = cmd.run_logged_status(ui, label, log).map(|_| ());
    steps.push(Step {
        what: label.to_string(),
        took: t.elapsed(),
        log: log.to_path_buf(),
        cached: false,
    });
    r
}

/// Errors naming the fix if `build` lacks a program gold's testsuite runs.
fn check_tools(build: &Path, fix: &str) -> Result<()> {
    if !build.join("gold/testsuite/Makefile").is_file() {
        bail!("no gold testsuite in {}: {fix}", build.display());
    }
    for t in TOOLS {
        if !build.join(t).is_file() {
            bail!("{} missing: {fix}", build.join(t).display());
        }
    }
    Ok(())
}

/// Makes sure binutils without the series (the `base` commit of the
/// binutils work tree) is configured like the toolchain's and built
/// ([`TARGETS`]) in `<cache>/build/binutils-unpatched`.  Returns the build
/// tree and the base commit.  Errors: no binutils work tree, configure or
/// make failed (log `<cache>/logs/binutils-unpatched.log`).
fn build_unpatched(
    ui: &Ui,
    cache: &Cache,
    cflags: &str,
    steps: &mut Vec<Step>,
) -> Result<(PathBuf, String)> {
    let main_tree = cache.src("binutils");
    let base = rev_parse(&main_tree, "base")
        .context("no binutils work tree: run `cargo xtask build-toolchain` first")?;
    let tree = cache.src("binutils-unpatched");
    let build = cache.build("binutils-unpatched");
    let log = cache.log("binutils-unpatched");
    // The toolchain's prefix, so that the configure lines are identical;
    // this tree is never installed.
    let configure =
        crate::toolchain::build::binutils_configure(cache, &tree, &cache.toolchain(), cflags)
            .dir(&build);
    // v2: the stamp's detail records the build steps' times (the report
    // shows them when the tree is reused).
    let key = KeyHasher::new("binutils-unpatched-v2")
        .str("base", &base)
        .str("command", &configure.display())
        .str("cflags", cflags)
        .str("targets", &TARGETS.join(" "))
        .finish();
    if cache.is_done("binutils-unpatched", &key) && check_tools(&build, "").is_ok() {
        ui.line(format!(
            "gold-compare: unpatched binutils up to date in {}",
            build.display()
        ));
        if let Some(stamp) = cache.stamp("binutils-unpatched") {
            steps.extend(cached_steps(&stamp.detail, &log));
        }
        return Ok((build, base));
    }
    let first_step = steps.len();
    cache.clear("binutils-unpatched")?;
    let _ = std::fs::remove_file(&log);
    if !tree.join("configure").exists() || rev_parse(&tree, "HEAD").ok().as_deref() != Some(&base) {
        fresh_worktree(&main_tree, &tree, &base)?;
    }
    if build.exists() {
        std::fs::remove_dir_all(&build)
            .with_context(|| format!("cannot remove {}", build.display()))?;
    }
    std::fs::create_dir_all(&build)?;
    timed(
        ui,
        steps,
        configure,
        "gold-compare: unpatched binutils: configure",
        &log,
    )?;
    let make = crate::toolchain::build::host_env(cache, cflags, Cmd::new("make"))
        .arg(format!("-j{}", jobs()))
        .arg("MAKEINFO=true")
        .args(TARGETS)
        .dir(&build);
    timed(
        ui,
        steps,
        make,
        &format!(
            "gold-compare: unpatched binutils: make {}",
            TARGETS.join(" ")
        ),
        &log,
    )?;
    check_tools(
        &build,
        &format!("the build did not produce it; see {}", log.display()),
    )?;
    cache.mark_done(
        "binutils-unpatched",
        &key,
        steps_detail(&steps[first_step..]),
    )?;
    Ok((build, base))
}

/// The tests automake would run in `dir` (`$(TESTS)` under the configured
/// conditionals).  Errors: make cannot read the Makefile.
fn tests_of(dir: &Path) -> Result<Vec<String>> {
    let out = Cmd::new("make")
        .args([
            "-s",
            "--no-print-directory",
            "--eval",
            "xtask-print-tests: ; @echo 'xtask-tests:' $(TESTS)",
            "xtask-print-tests",
        ])
        .env("LC_ALL", "C")
        .dir(dir)
        .read()
        .with_context(|| format!("cannot list the tests of {}", dir.display()))?;
    // Only the marked line: make may print other lines first (e.g. when
    // it regenerates the Makefile).
    Ok(out
        .lines()
        .find_map(|l| l.strip_prefix("xtask-tests:"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// Seconds after which one side's `make check` is stopped.
const CHECK_TIMEOUT: u64 = 3600;

/// The host compilers of `make check`, without the configure line's
/// `ccache`: gold's testsuite puts `-Bgcctestdir/` after the first word
/// of `$(CC)`/`$(CXX)` (so that tests link with the just-built gold), which
/// turns `ccache gcc` into `ccache -Bgcctestdir/ gcc` ("ccache: invalid
/// option -- 'B'") and leaves the unit tests unbuilt.
const CHECK_COMPILERS: &[&str] = &["CC=gcc", "CXX=g++"];

/// Runs gold's testsuite in the binutils build tree `build` (side `name`)
/// and collects the results; returns them with the make log's text.
/// `make -k check` builds every test input it can; when one of them fails,
/// automake's `check-am` never reaches `check-TESTS`, so that is run on
/// its own then, and a test with no result is [`NOT_RUN`].
fn run_side(
    ui: &Ui,
    cache: &Cache,
    name: &str,
    build: &Path,
    cflags: &str,
    steps: &mut Vec<Step>,
) -> Result<(Results, String)> {
    let dir = build.join("gold/testsuite");
    let log = cache.log(&format!("gold-compare-{name}"));
    let _ = std::fs::remove_file(&log);
    let tests = tests_of(&dir)?;
    if tests.is_empty() {
        bail!("{} selects no tests", dir.join("Makefile").display());
    }
    // Fresh results only: nothing from an earlier run may be counted.
    for t in &tests {
        for ext in ["trs", "log"] {
            let _ = std::fs::remove_file(dir.join(format!("{}.{ext}", base_name(t))));
        }
    }
    let _ = std::fs::remove_file(dir.join("test-suite.log"));
    // Failing tests make `make check` fail: the results are in the .trs
    // files, so make's exit status is only logged (a timeout is an error).
    let make = |target: &str| {
        crate::toolchain::build::host_env(cache, cflags, Cmd::new("make"))
            .with_timeout(CHECK_TIMEOUT)
            .arg("-k")
            .arg(format!("-j{}", jobs()))
            .arg("MAKEINFO=true")
            .args(CHECK_COMPILERS)
            .arg(target)
            .dir(&dir)
    };
    timed_check(
        ui,
        steps,
        make("check"),
        &format!("gold-compare: {name}: make -k check"),
        &log,
    )?;
    if !dir.join("test-suite.log").exists() {
        ui.line(format!(
            "gold-compare: {name}: some test inputs did not build ({}); running check-TESTS \
             for the others",
            failed_targets(&std::fs::read_to_string(&log).unwrap_or_default())
                .into_iter()
                .filter(|t| !t.starts_with("check"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        timed_check(
            ui,
            steps,
            make("check-TESTS"),
            &format!("gold-compare: {name}: make -k check-TESTS"),
            &log,
        )?;
    }
    let results = collect(&dir, &tests);
    let ran = results.values().filter(|r| *r != NOT_RUN).count();
    ui.line(format!(
        "gold-compare: {name}: {ran} of {} tests ran, {} passed",
        tests.len(),
        results
            .values()
            .filter(|r| matches!(r.as_str(), "PASS" | "XFAIL"))
            .count()
    ));
    if ran == 0 {
        bail!(
            "no gold test ran in {} (see {})",
            dir.display(),
            log.display()
        );
    }
    Ok((results, std::fs::read_to_string(&log).unwrap_or_default()))
}

/// One-line description of commit `rev` in `tree` (`id subject`).
fn describe(tree: &Path, rev: &str) -> String {
    git(tree)
        .args(["log", "-1", "--format=%h %s", rev])
        .read()
        .unwrap_or_else(|_| rev.to_string())
}

/// Runs the comparison; writes `docs/gold-compare.md` in `repo` and
/// `<cache>/logs/gold-compare.md`.  Takes the cache lock (waits for a
/// running `build-toolchain`).  Returns the comparison; the caller fails
/// on regressions.  Errors: no patched binutils build tree or binutils
/// work tree (run `cargo xtask build-toolchain`), the unpatched build
/// failed, no test ran on a side.
pub fn run(ui: &Ui, cache: &Cache, repo: &Path) -> Result<Comparison> {
    let _lock = cache.lock()?;
    let started = Instant::now();
    let fix = "run `cargo xtask build-toolchain` first";
    let patched = cache.build("binutils");
    check_tools(&patched, fix)?;
    let main_tree = cache.src("binutils");
    let head = rev_parse(&main_tree, "HEAD")
        .with_context(|| format!("no binutils work tree in {}: {fix}", main_tree.display()))?;
    let cflags = std::fs::read_to_string(patched.join("Makefile"))
        .ok()
        .and_then(|m| configured_cflags(&m))
        .unwrap_or_else(|| DEFAULT_CFLAGS.to_string());
    let mut dirty = dirty_files(&main_tree).unwrap_or_default();
    let stale = newer_sources(&main_tree.join("gold"), &patched.join("gold/ld-new"));
    if !stale.is_empty() {
        ui.line(format!(
            "gold-compare: warning: {} is older than gold/{} in the work tree; run \
             `cargo xtask build-toolchain` to test the current sources",
            patched.join("gold/ld-new").display(),
            stale.join(", gold/")
        ));
        dirty.extend(stale.iter().map(|f| format!("gold/{f} newer than ld-new")));
    }
    if !dirty.is_empty() {
        ui.line(format!(
            "gold-compare: warning: {} has {} uncommitted change(s); the patched side may not \
             match them",
            main_tree.display(),
            dirty.len()
        ));
    }
    let mut steps = Vec::new();
    let (unpatched, base) = build_unpatched(ui, cache, &cflags, &mut steps)?;
    let (u, _) = run_side(ui, cache, "unpatched", &unpatched, &cflags, &mut steps)?;
    let (p, p_log) = run_side(ui, cache, "patched", &patched, &cflags, &mut steps)?;
    let c = compare(&u, &p);
    let md = render(
        &RunInfo {
            base: describe(&main_tree, &base),
            head: describe(&main_tree, &head),
            series: git(&main_tree)
                .args([
                    "log",
                    "--reverse",
                    "--format=%h %s",
                    &format!("{base}..{head}"),
                ])
                .read()
                .unwrap_or_default(),
            dirty,
            cflags,
            jobs: jobs(),
            date: crate::base::shell::utc_now()
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string(),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            total: started.elapsed(),
        },
        &u,
        &p,
        &c,
        &steps,
        |t, r| reason(&patched.join("gold/testsuite"), t, r, &p_log),
    );
    let out = cache.logs().join("gold-compare.md");
    write_atomic(&out, md.as_bytes())?;
    let doc = repo.join("docs/gold-compare.md");
    write_atomic(&doc, md.as_bytes())?;
    print!("{md}");
    ui.line(format!(
        "report: {} (copy: {})",
        doc.display(),
        out.display()
    ));
    Ok(c)
}

/// What the report says about the run besides the results.
struct RunInfo {
    base: String,
    head: String,
    series: String,
    /// `git status --porcelain` lines of the binutils work tree.
    dirty: Vec<String>,
    cflags: String,
    jobs: usize,
    date: String,
    cores: usize,
    total: Duration,
}

/// gold's sources (`*.cc`, `*.h` directly in `src_gold`) modified after
/// `ld_new` was built, by file name: the patched build tree is stale.
fn newer_sources(src_gold: &Path, ld_new: &Path) -> Vec<String> {
    let Ok(built) = std::fs::metadata(ld_new).and_then(|m| m.modified()) else {
        return Vec::new();
    };
    let mut v: Vec<String> = std::fs::read_dir(src_gold)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    (n.ends_with(".cc") || n.ends_with(".h"))
                        && e.metadata()
                            .and_then(|m| m.modified())
                            .is_ok_and(|t| t > built)
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The caution printed under the verdict when the binutils work tree had
/// uncommitted changes (`dirty`, `git status --porcelain` lines); empty
/// otherwise.
fn dirty_note(dirty: &[String]) -> String {
    if dirty.is_empty() {
        return String::new();
    }
    format!(
        "\n\n**Caution:** the binutils work tree had uncommitted changes, or sources newer \
         than the patched `ld-new`, during this run ({}). The harness reads test scripts from the source tree, while the patched side's \
         `ld-new` and `Makefile` come from the last `cargo xtask build-toolchain`, so a test \
         edited since then can fail for want of its new inputs. Commit or drop the changes, run \
         `cargo xtask build-toolchain`, then this command again.",
        dirty
            .iter()
            .map(|l| format!("`{}`", l.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The Markdown report; `why(test, result)` explains a patched test that
/// does not pass.
fn render(
    cx: &RunInfo,
    u: &Results,
    p: &Results,
    c: &Comparison,
    steps: &[Step],
    why: impl Fn(&str, &str) -> String,
) -> String {
    let body = crate::harness::compare::report(
        "gold testsuite comparison (aarch64-linux-gnu cross linker)",
        u,
        p,
        c,
    );
    // No qemu-user here: gold's tests link and inspect, they run nothing.
    let body = body.replace(
        "## Failing on both sides (environment: qemu-user, this host)",
        "## Failing on both sides",
    );
    let (title, rest) = body.split_once('\n').unwrap_or((&body, ""));
    let verdict = if c.regressions.is_empty() {
        "**Result: no regressions.**".to_string()
    } else {
        format!(
            "**Result: {} regression(s):** {}.",
            c.regressions.len(),
            c.regressions
                .iter()
                .map(|(t, _, _)| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut md = format!(
        "{title}\n\nProduced by `cargo xtask gold-compare` on {} ({} cores, `-j{}`; wall time \
         {}). binutils built twice with the identical configure line (`xtask/src/toolchain/build.rs`, \
         `binutils_configure`, host flags `{}`): without the series (`base` = {}, build tree \
         `build/binutils-unpatched`, targets `{}`) and with `patches/binutils/` (the \
         toolchain's build tree `build/binutils`, work tree at {}{}). Series:\n\n```text\n{}\n```\n\n\
         Both sides ran gold's own `make -k check {}` in `gold/testsuite` one after the \
         other (without `ccache`, which gold's `-Bgcctestdir/` rewriting of `$(CC)` cannot \
         take; then `make -k check-TESTS` if some test input did not build, since automake \
         runs no test then). Results are read from automake's `.trs` files; its SKIP is \
         counted as unsupported; a test with no `.trs` is `{NOT_RUN}`. gold is a cross \
         linker here (x86_64 host, aarch64 target), so automake selects only the unit tests \
         and the tests that work with a cross linker (`NATIVE_OR_CROSS_LINKER`, \
         `DEFAULT_TARGET_AARCH64`); the native-linker tests are not run on either side.\n\n\
         {verdict}{}\n",
        cx.date,
        cx.cores,
        cx.jobs,
        fmt_duration(cx.total),
        cx.cflags,
        cx.base,
        TARGETS.join(" "),
        cx.head,
        if !cx.dirty.is_empty() {
            format!(", with {} caution(s), see below", cx.dirty.len())
        } else {
            String::new()
        },
        cx.series,
        CHECK_COMPILERS.join(" "),
        dirty_note(&cx.dirty),
    );
    md.push_str(rest);
    let not_passing: BTreeMap<&String, &String> = p
        .iter()
        .filter(|(_, r)| !matches!(r.as_str(), "PASS" | "XFAIL" | "UNSUPPORTED"))
        .collect();
    if !not_passing.is_empty() {
        md.push_str("\n## Why they do not pass (patched side: last line of the test's `.log`)\n\n");
        let mut table = conformance::markdown::Table::new(&["test", "result", "why"]);
        for (t, r) in not_passing {
            table.row(&[
                t.clone(),
                r.clone(),
                format!("`{}`", why(t, r).replace('`', "'")),
            ]);
        }
        md.push_str(&table.render());
    }
    md.push_str("\n## Steps\n\n");
    let mut table = conformance::markdown::Table::new(&["step", "wall time", "log"]);
    for s in steps {
        table.row(&[
            s.what.trim_start_matches("gold-compare: ").to_string(),
            format!(
                "{}{}",
                fmt_duration(s.took),
                if s.cached {
                    " (cached: the run that built it)"
                } else {
                    ""
                }
            ),
            format!(
                "`{}`",
                s.log.file_name().map_or_else(
                    || s.log.display().to_string(),
                    |n| format!("<cache>/logs/{}", n.to_string_lossy())
                )
            ),
        ]);
    }
    md.push_str(&table.render());
    if steps.iter().any(|s| s.cached)
        || steps.iter().all(|s| !s.what.contains("unpatched binutils"))
    {
        md.push_str(
            "\nThe unpatched binutils was already built for the same base commit and \
             configure line (cached), so it was not rebuilt.\n",
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trs_results_are_read() {
        let pass = ":test-result: PASS\n:global-test-result: PASS\n:recheck: no\n\
                    :copy-in-global-log: no\n";
        assert_eq!(parse_trs(pass).as_deref(), Some("PASS"));
        let fail = ":global-test-result: FAIL\n:test-result: FAIL\n:recheck: yes\n";
        assert_eq!(parse_trs(fail).as_deref(), Some("FAIL"));
        assert_eq!(
            parse_trs(":test-result: SKIP\n").as_deref(),
            Some("UNSUPPORTED")
        );
        assert_eq!(parse_trs(":test-result: XFAIL\n").as_deref(), Some("XFAIL"));
        // A TAP script: the first result that does not pass wins.
        assert_eq!(
            parse_trs(":test-result: PASS\n:test-result: ERROR\n:test-result: FAIL\n").as_deref(),
            Some("ERROR")
        );
        assert_eq!(parse_trs(":global-test-result: PASS\n"), None);
        assert_eq!(parse_trs(""), None);
    }

    #[test]
    fn results_come_from_trs_files_and_missing_ones_did_not_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.sh.trs"), ":test-result: PASS\n").unwrap();
        std::fs::write(dir.path().join("b_unittest.trs"), ":test-result: FAIL\n").unwrap();
        std::fs::write(dir.path().join("c.trs"), ":test-result: SKIP\n").unwrap();
        std::fs::write(dir.path().join("stale.sh.trs"), ":test-result: PASS\n").unwrap();
        let tests: Vec<String> = ["a.sh", "b_unittest", "c.test", "d.sh"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = collect(dir.path(), &tests);
        assert_eq!(r.len(), 4);
        assert_eq!(r["a.sh"], "PASS");
        assert_eq!(r["b_unittest"], "FAIL");
        assert_eq!(r["c.test"], "UNSUPPORTED");
        assert_eq!(r["d.sh"], NOT_RUN);
    }

    #[test]
    fn comparison_of_gold_results() {
        let r = |pairs: &[(&str, &str)]| -> Results {
            pairs
                .iter()
                .map(|(t, v)| (t.to_string(), v.to_string()))
                .collect()
        };
        let u = r(&[
            ("script_test_10.sh", "PASS"),
            ("aarch64_relocs.sh", "PASS"),
            ("object_unittest", "PASS"),
            ("package_metadata_test", NOT_RUN),
            ("pr21430.sh", "UNSUPPORTED"),
        ]);
        let p = r(&[
            ("script_test_10.sh", "PASS"),
            ("aarch64_relocs.sh", "FAIL"),
            ("object_unittest", NOT_RUN),
            ("package_metadata_test", NOT_RUN),
            ("pr21430.sh", "UNSUPPORTED"),
            ("split_aarch64.sh", "PASS"),
        ]);
        let c = compare(&u, &p);
        assert_eq!(c.passed_both, 1);
        assert_eq!(
            c.regressions,
            vec![
                ("aarch64_relocs.sh".into(), "PASS".into(), "FAIL".into()),
                ("object_unittest".into(), "PASS".into(), NOT_RUN.into()),
            ]
        );
        assert_eq!(c.new, vec![("split_aarch64.sh".into(), "PASS".into())]);
        assert_eq!(
            c.both_fail,
            vec![("package_metadata_test".into(), NOT_RUN.into())]
        );
        assert_eq!(c.unsupported, vec!["pr21430.sh".to_string()]);
        let md = render(
            &RunInfo {
                base: "b71b218b Import".into(),
                head: "9d7eab52 gold: x".into(),
                series: "8f6bd365 gold: y".into(),
                dirty: vec![],
                cflags: "-O1 -g0".into(),
                jobs: 2,
                date: "2026-12-03".into(),
                cores: 2,
                total: Duration::from_secs(61),
            },
            &u,
            &p,
            &c,
            &[],
            |t, _| format!("why {t}"),
        );
        assert!(md.starts_with("# gold testsuite comparison"), "{md}");
        assert!(md.contains("**Result: 2 regression(s):** `aarch64_relocs.sh`, `object_unittest`."));
        assert!(md.contains("- aarch64_relocs.sh: PASS -> FAIL"));
        assert!(md.contains("| package_metadata_test | NOT RUN | `why package_metadata_test` |"));
        assert!(!md.contains("| pr21430.sh |"));
        assert!(md.contains("## Failing on both sides\n"), "{md}");
        assert!(!md.contains("qemu"), "{md}");
        assert!(md.contains("not rebuilt"));
        assert!(!md.contains("**Caution:**"));
        assert!(dirty_note(&[" M gold/aarch64.cc".into()]).contains("`M gold/aarch64.cc`"));
        assert!(md.contains("`make -k check CC=gcc CXX=g++`"), "{md}");
        assert!(
            md.contains("work tree at 9d7eab52 gold: x). Series:"),
            "{md}"
        );
    }

    #[test]
    fn build_steps_survive_the_stamp() {
        let steps = [Step {
            what: "gold-compare: unpatched binutils: configure".into(),
            took: Duration::from_millis(2600),
            log: PathBuf::from("/c/logs/binutils-unpatched.log"),
            cached: false,
        }];
        let back = cached_steps(&steps_detail(&steps), Path::new("/c/logs/x.log"));
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].what, steps[0].what);
        assert_eq!(back[0].took, steps[0].took);
        assert!(back[0].cached);
        assert!(cached_steps(&serde_json::Value::Null, Path::new("x")).is_empty());
    }

    #[test]
    fn sources_newer_than_the_linker_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.cc");
        std::fs::write(&old, "").unwrap();
        let ld = dir.path().join("ld-new");
        std::fs::write(&ld, "").unwrap();
        let t = std::time::SystemTime::now();
        let f = std::fs::File::options().write(true).open(&old).unwrap();
        f.set_modified(t - Duration::from_secs(60)).unwrap();
        let f = std::fs::File::options().write(true).open(&ld).unwrap();
        f.set_modified(t - Duration::from_secs(30)).unwrap();
        std::fs::write(dir.path().join("aarch64.cc"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        assert_eq!(newer_sources(dir.path(), &ld), ["aarch64.cc"]);
        assert!(newer_sources(dir.path(), &dir.path().join("none")).is_empty());
    }

    #[test]
    fn reasons_name_the_log_line_and_unbuilt_inputs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("split_aarch64.sh.log"),
            "could not find 'x' in y.stdout\nFAIL split_aarch64.sh (exit status: 1)\n",
        )
        .unwrap();
        let log = "make[2]: *** [Makefile:10418: split_aarch64_8.o] Error 1\n\
                   make[2]: *** [Makefile:1: other.o] Error 1\n";
        assert_eq!(
            reason(dir.path(), "split_aarch64.sh", "FAIL", log),
            "could not find 'x' in y.stdout (inputs that did not build: split_aarch64_8.o)"
        );
        assert_eq!(
            reason(dir.path(), "split_aarch64.sh", "FAIL", ""),
            "could not find 'x' in y.stdout"
        );
        assert_eq!(
            reason(dir.path(), "other.sh", NOT_RUN, log),
            "not built: other.o"
        );
    }

    #[test]
    fn failed_make_targets_are_found() {
        let log = "make[2]: *** [Makefile:10670: package_metadata_test] Error 1\n\
                   make[1]: *** [Makefile:7938: check-am] Error 2\n\
                   make: *** [split_aarch64_1.stdout] Error 1\n\
                   make[2]: *** [Makefile:10670: package_metadata_test] Error 1\n\
                   ordinary line\n";
        assert_eq!(
            failed_targets(log),
            [
                "check-am",
                "package_metadata_test",
                "split_aarch64_1.stdout"
            ]
        );
    }

    #[test]
    fn configured_cflags_are_read() {
        let mk = "CC = ccache gcc\nCFLAGS = -O1 -g0\nCFLAGS_FOR_BUILD = -O2\n";
        assert_eq!(configured_cflags(mk).as_deref(), Some("-O1 -g0"));
        assert_eq!(configured_cflags("CFLAGS =\n"), None);
        assert_eq!(configured_cflags("CC = gcc\n"), None);
    }
}
