//! `cargo xtask gcc-check`: GCC's own DejaGnu testsuite for the split-stack
//! series, run from the incremental GCC build tree with a qemu-user board
//! (Debian's `dejagnu` provides `runtest`).  By default it runs
//! `gcc.dg/split-*.c` and `gcc.target/aarch64/split-stack-*.c`; other
//! `.exp=files` selections can be given.  On demand, not part of CI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::base::cache::{Cache, KeyHasher};
use crate::base::git::{fresh_worktree, rev_parse};
use crate::base::shell::{Cmd, Ui};
use crate::harness::compare::{compare, Comparison, Results};

/// The DejaGnu board: programs run under `qemu-aarch64 -L <sysroot>`, with
/// GCC's status wrapper reporting the exit code; `flags` (if any) are
/// added to every compilation and link as `multilib_flags`.
pub(crate) fn board(sysroot: &Path, flags: &[String]) -> String {
    let mut b = format!(
        "load_generic_config \"sim\"\n\
         set_board_info sim \"qemu-aarch64\"\n\
         set_board_info sim,options \"-L {}\"\n\
         set_board_info is_simulator 1\n\
         set_board_info compiler \"[find_gcc]\"\n\
         set_board_info gdb,noinferiorio 1\n\
         set_board_info needs_status_wrapper 1\n",
        sysroot.display()
    );
    if !flags.is_empty() {
        b.push_str(&format!(
            "set_board_info multilib_flags \"{}\"\n",
            flags.join(" ")
        ));
    }
    b
}

/// Test files of `dir` whose names start with `prefix` and end in `.c`,
/// sorted.  (A glob such as `aarch64.exp=split-stack-*.c` did not select
/// anything through GCC's `make check` here: the whole `.exp` ran.  A
/// quoted list of names does; the quotes are escaped once for the
/// recursive make that GCC's check target runs.)
fn select(dir: &Path, prefix: &str) -> Result<Vec<String>> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".c"))
        .collect();
    v.sort();
    Ok(v)
}

/// Summary of a `gcc.sum`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Number of PASS lines.
    pub pass: usize,
    /// FAIL, XPASS and UNRESOLVED lines, verbatim.
    pub bad: Vec<String>,
}

/// Reads DejaGnu's summary text.
pub fn summarize(sum: &str) -> Summary {
    let mut s = Summary::default();
    for l in sum.lines() {
        if l.starts_with("PASS: ") {
            s.pass += 1;
        } else if l.starts_with("FAIL: ")
            || l.starts_with("XPASS: ")
            || l.starts_with("UNRESOLVED: ")
        {
            s.bad.push(l.to_string());
        }
    }
    s
}

/// The default selections: GCC's `gcc.dg/split-*.c` and the series'
/// `gcc.target/aarch64/split-stack-*.c`, as escaped quoted lists.
fn default_selections(cache: &Cache) -> Result<Vec<String>> {
    let src = cache.src("gcc").join("gcc/testsuite");
    Ok(vec![
        format!(
            "dg.exp=\\\"{}\\\"",
            select(&src.join("gcc.dg"), "split-")?.join(" ")
        ),
        format!(
            "aarch64.exp=\\\"{}\\\"",
            select(&src.join("gcc.target/aarch64"), "split-stack-")?.join(" ")
        ),
    ])
}

/// Writes the qemu board and DejaGnu's site file; returns the site file.
fn write_board(cache: &Cache) -> Result<PathBuf> {
    let dir = cache.root().join("dejagnu");
    std::fs::create_dir_all(dir.join("boards"))?;
    std::fs::write(
        dir.join("boards/aarch64-qemu.exp"),
        board(&cache.patched_sysroot(), &[]),
    )?;
    let site = dir.join("site.exp");
    std::fs::write(
        &site,
        format!("lappend boards_dir {}\n", dir.join("boards").display()),
    )?;
    Ok(site)
}

/// Host programs `gcc-check` needs beyond the toolchain build's.
const REQUIREMENTS: &[crate::base::hostdeps::Requirement] = &[crate::base::hostdeps::Requirement {
    what: "runtest",
    package: "dejagnu",
}];

/// Errors: no GCC build tree; DejaGnu missing and not installable (not
/// root: the message names the `apt-get install` command).
pub(crate) fn check_prerequisites(ui: &Ui, cache: &Cache, build: &Path) -> Result<()> {
    if !build.join("Makefile").is_file() {
        bail!(
            "no GCC build tree in {}: run `cargo xtask build-toolchain` first",
            build.display()
        );
    }
    crate::base::hostdeps::ensure(ui, REQUIREMENTS, &cache.log("host-packages"))?;
    if Cmd::new("runtest").arg("--version").read().is_err() {
        bail!("`runtest` does not run: reinstall Debian's dejagnu (apt-get install dejagnu)");
    }
    Ok(())
}

/// Runs `selections` in the GCC build tree `build` (its `gcc` subdirectory)
/// one after the other, logging to the log `log_name`; returns the
/// concatenated `gcc.sum` text.  Errors: a selection produced no summary.
fn run_in(
    ui: &Ui,
    cache: &Cache,
    build: &Path,
    selections: &[String],
    log_name: &str,
) -> Result<String> {
    let site = write_board(cache)?;
    let sum_path = build.join("testsuite/gcc/gcc.sum");
    let log = cache.log(log_name);
    let _ = std::fs::remove_file(&log);
    let mut sum_text = String::new();
    for sel in selections {
        let _ = std::fs::remove_file(&sum_path);
        let r = Cmd::new("make")
            .arg("check-gcc")
            .arg(format!("RUNTESTFLAGS=--target_board=aarch64-qemu {sel}"))
            .env("DEJAGNU", &site)
            .env("LC_ALL", "C")
            .dir(build)
            .run_logged(
                ui,
                &format!("{log_name}: {}", sel.split('=').next().unwrap_or(sel)),
                &log,
            );
        let text = std::fs::read_to_string(&sum_path)
            .with_context(|| format!("no {} ({r:?}); see {}", sum_path.display(), log.display()))?;
        sum_text.push_str(&text);
    }
    Ok(sum_text)
}

/// Runs the selection; returns the summary.  Errors: no GCC build tree,
/// `runtest` missing, make failed before producing a summary.
pub fn run(ui: &Ui, cache: &Cache, selections: &[String]) -> Result<Summary> {
    let build = cache.build("gcc").join("gcc");
    check_prerequisites(ui, cache, &build)?;
    let selections = if selections.is_empty() {
        default_selections(cache)?
    } else {
        selections.to_vec()
    };
    let sum_text = run_in(ui, cache, &build, &selections, "gcc-check")?;
    let s = summarize(&sum_text);
    ui.line(format!(
        "gcc-check: {} passed, {} failed or unresolved",
        s.pass,
        s.bad.len()
    ));
    for b in &s.bad {
        ui.line(format!("gcc-check: {b}"));
    }
    Ok(s)
}

/// Parses DejaGnu `gcc.sum` text into test name -> result.  A name that
/// occurs more than once (the same check run twice, e.g. under two option
/// sets that print alike) gets ` #2`, ` #3`, ... so that no result is lost.
pub fn parse_gcc_sum(text: &str) -> Results {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Results::new();
    for l in text.lines() {
        let Some((r, t)) = l.split_once(": ") else {
            continue;
        };
        if !matches!(
            r,
            "PASS" | "FAIL" | "XPASS" | "XFAIL" | "UNRESOLVED" | "UNSUPPORTED" | "UNTESTED"
        ) {
            continue;
        }
        let t = t.trim().to_string();
        let n = seen.entry(t.clone()).or_insert(0);
        *n += 1;
        let key = if *n == 1 { t } else { format!("{t} #{n}") };
        out.insert(key, r.to_string());
    }
    out
}

/// Makes sure GCC without the project's series (the `base` commit of the
/// GCC work tree) is built in `<cache>/build/gcc-unpatched`, configured
/// exactly as the toolchain's compiler ([`crate::toolchain::build::gcc_configure`]);
/// only what `check-gcc` needs is built (compiler, libgcc, libatomic).  It is never installed.  Returns the
/// build tree.  Errors: no GCC work tree, configure or make failed (log
/// in `<cache>/logs/gcc-unpatched.log`).
fn build_unpatched(ui: &Ui, cache: &Cache) -> Result<PathBuf> {
    let main_tree = cache.src("gcc");
    let base = rev_parse(&main_tree, "base")
        .context("no GCC work tree: run `cargo xtask build-toolchain` first")?;
    let tree = cache.src("gcc-unpatched");
    let build = cache.build("gcc-unpatched");
    let log = cache.log("gcc-unpatched");
    let prefix = cache.root().join("gcc-unpatched-prefix");
    // The default profile's host flags (fastest to build); GCC's host
    // flags do not change the code it generates.
    let configure = crate::toolchain::build::gcc_configure(cache, &tree, &prefix, "c", "-O1 -g0");
    // What `check-gcc` needs: the compiler, libgcc, and libatomic (GCC's
    // driver links -latomic_asneeded, so without it every static test is
    // unsupported).
    let targets = ["all-gcc", "all-target-libgcc", "all-target-libatomic"];
    let configured_key = KeyHasher::new("gcc-unpatched-configure-v1")
        .str("base", &base)
        .str("command", &configure.display())
        .finish();
    let key = KeyHasher::new("gcc-unpatched-v2")
        .str("configured", &configured_key)
        .str("targets", &targets.join(" "))
        .finish();
    if cache.is_done("gcc-unpatched", &key) && build.join("gcc/xgcc").exists() {
        return Ok(build);
    }
    // The same configured tree is reused (make is incremental) when only
    // the make targets changed.
    // (A tree finished by the first version of this step, which built
    // only the compiler and libgcc, is configured the same way.)
    let first_version = KeyHasher::new("gcc-unpatched-v1")
        .str("base", &base)
        .str("command", &configure.display())
        .finish();
    let reuse = (cache.is_done("gcc-unpatched-configure", &configured_key)
        || cache.is_done("gcc-unpatched", &first_version))
        && build.join("Makefile").is_file()
        && rev_parse(&tree, "HEAD").ok().as_deref() == Some(&base);
    cache.clear("gcc-unpatched")?;
    if reuse {
        cache.mark_done(
            "gcc-unpatched-configure",
            &configured_key,
            serde_json::Value::Null,
        )?;
    } else {
        cache.clear("gcc-unpatched-configure")?;
        if !tree.join("configure").exists()
            || rev_parse(&tree, "HEAD").ok().as_deref() != Some(&base)
        {
            fresh_worktree(&main_tree, &tree, &base)?;
        }
        if build.exists() {
            std::fs::remove_dir_all(&build)?;
        }
        std::fs::create_dir_all(&build)?;
        configure
            .dir(&build)
            .run_logged(ui, "gcc-unpatched: configure", &log)?;
        cache.mark_done(
            "gcc-unpatched-configure",
            &configured_key,
            serde_json::Value::Null,
        )?;
    }
    Cmd::new("make")
        .arg(format!("-j{}", crate::base::shell::default_jobs()))
        .arg("MAKEINFO=true")
        .args(targets)
        .env("CCACHE_DIR", cache.ccache())
        .env("LC_ALL", "C")
        .dir(&build)
        .run_logged(
            ui,
            &format!("gcc-unpatched: make {}", targets.join(" ")),
            &log,
        )?;
    cache.mark_done("gcc-unpatched", &key, serde_json::Value::Null)?;
    Ok(build)
}

/// `gcc-check --compare`: runs `selections` (default: all of `aarch64.exp`
/// plus the split-stack selections) with the unpatched and the patched
/// compiler, the two runs side by side (one job each), and compares them.
/// Writes `<cache>/logs/gcc-compare.md`; returns the comparison (the
/// caller fails on regressions).
pub fn compare_run(ui: &Ui, cache: &Cache, selections: &[String]) -> Result<Comparison> {
    let patched = cache.build("gcc").join("gcc");
    check_prerequisites(ui, cache, &patched)?;
    let selections = if selections.is_empty() {
        let mut v = vec!["aarch64.exp".to_string()];
        v.extend(
            default_selections(cache)?
                .into_iter()
                .filter(|s| s.starts_with("dg.exp")),
        );
        v
    } else {
        selections.to_vec()
    };
    let unpatched = build_unpatched(ui, cache)?.join("gcc");
    let (u, p) = std::thread::scope(|s| {
        let u = s.spawn(|| run_in(ui, cache, &unpatched, &selections, "gcc-compare-unpatched"));
        let p = s.spawn(|| run_in(ui, cache, &patched, &selections, "gcc-compare-patched"));
        (u.join(), p.join())
    });
    let u = u.map_err(|_| anyhow::anyhow!("unpatched test run panicked"))??;
    let p = p.map_err(|_| anyhow::anyhow!("patched test run panicked"))??;
    let (u, p) = (parse_gcc_sum(&u), parse_gcc_sum(&p));
    let c = compare(&u, &p);
    let md = crate::harness::compare::report(
        &format!(
            "GCC testsuite comparison under qemu-user ({})",
            selections.join(", ")
        ),
        &u,
        &p,
        &c,
    );
    crate::harness::compare::publish(ui, cache, "gcc-compare.md", &md)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcc_sum_keeps_repeated_names_apart() {
        let r = parse_gcc_sum(
            "Running x.exp ...\n\
             PASS: gcc.target/aarch64/a.c (test for excess errors)\n\
             PASS: gcc.target/aarch64/a.c scan-assembler ret\n\
             FAIL: gcc.target/aarch64/a.c scan-assembler ret\n\
             UNSUPPORTED: gcc.target/aarch64/b.c\n\
             WARNING: program timed out.\n\
             # of expected passes 2\n",
        );
        assert_eq!(r.len(), 4);
        assert_eq!(r["gcc.target/aarch64/a.c scan-assembler ret"], "PASS");
        assert_eq!(r["gcc.target/aarch64/a.c scan-assembler ret #2"], "FAIL");
        assert_eq!(r["gcc.target/aarch64/b.c"], "UNSUPPORTED");
        assert!(!r.keys().any(|k| k.contains("timed out")));
    }

    #[test]
    fn summary_counts_passes_and_keeps_failures() {
        let s = summarize(
            "PASS: a.c (test for excess errors)\nFAIL: b.c execution test\nUNRESOLVED: c.c\nXFAIL: d.c\nPASS: e.c\n",
        );
        assert_eq!(s.pass, 2);
        assert_eq!(s.bad.len(), 2);
        assert!(s.bad[0].contains("b.c"));
    }
}
