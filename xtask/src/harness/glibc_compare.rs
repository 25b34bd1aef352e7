//! `cargo xtask glibc-compare`: runs glibc's own test subdirectories (by
//! default `nptl` and `elf`) under qemu-user for the patched glibc and for
//! the same glibc without the project's series, and compares the results.
//!
//! This is long (the unpatched build alone is ~6.5 minutes, the test runs
//! much longer), so it is an on-demand command; CI runs only the series' own
//! tests (`cargo xtask glibc-tests`).
//!
//! A regression is a test that passes unpatched and does not pass patched.
//! Tests that fail on both sides are listed by name as environment
//! limitations (qemu-user, this host), not hidden.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::base::cache::{Cache, KeyHasher};
use crate::base::git::{fresh_worktree, rev_parse};
use crate::base::shell::{Cmd, Ui};
use crate::harness::compare::{compare, passes, report, Comparison, Results};
use crate::toolchain::build::glibc_configure;

/// Parses glibc `*.sum` files (`PASS: nptl/tst-x` lines).
pub fn parse_sum(text: &str) -> Results {
    text.lines()
        .filter_map(|l| {
            let (r, t) = l.split_once(": ")?;
            r.chars()
                .all(|c| c.is_ascii_uppercase())
                .then(|| (t.trim().to_string(), r.to_string()))
        })
        .collect()
}

/// Makes sure the unpatched glibc (the `base` commit of the glibc work tree)
/// is built in `<cache>/build/glibc-unpatched`.
fn build_unpatched(ui: &Ui, cache: &Cache) -> Result<PathBuf> {
    let main_tree = cache.src("glibc");
    let base = rev_parse(&main_tree, "base")
        .context("no glibc work tree: run `cargo xtask build-toolchain` first")?;
    let tree = cache.src("glibc-unpatched");
    let build = cache.build("glibc-unpatched");
    let log = cache.log("glibc-unpatched");
    let key = KeyHasher::new("glibc-unpatched-v1")
        .str("base", &base)
        .finish();
    if cache.is_done("glibc-unpatched", &key) && build.join("libc.so").exists() {
        return Ok(build);
    }
    if !cache
        .patched_sysroot()
        .join("usr/include/linux/version.h")
        .exists()
    {
        bail!(
            "no Linux headers in {} yet (glibc's configure needs them): run \
             `cargo xtask build-toolchain` first",
            cache.patched_sysroot().display()
        );
    }
    cache.clear("glibc-unpatched")?;
    fresh_worktree(&main_tree, &tree, &base)?;
    if build.exists() {
        std::fs::remove_dir_all(&build)?;
    }
    std::fs::create_dir_all(&build)?;
    glibc_configure(cache, &tree)?.dir(&build).run_logged(
        ui,
        "glibc-unpatched: configure",
        &log,
    )?;
    Cmd::new("make")
        .arg(format!("-j{}", crate::base::shell::default_jobs()))
        .env("CCACHE_DIR", cache.ccache())
        .env("LC_ALL", "C")
        .dir(&build)
        .run_logged(ui, "glibc-unpatched: make", &log)?;
    cache.mark_done("glibc-unpatched", &key, serde_json::Value::Null)?;
    Ok(build)
}

/// Runs `make -k check subdirs=...` in `build` and collects the results.
fn run_side(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    name: &str,
    build: &Path,
    sysroot: &Path,
    subdirs: &[String],
) -> Result<Results> {
    let log = cache.log(&format!("glibc-compare-{name}"));
    let _ = std::fs::remove_file(&log);
    // Failing tests make `make check` fail; the results are in the .sum
    // files, so the exit status is not an error here.
    Cmd::new("make")
        .arg("-k")
        .arg(format!("-j{}", 2 * crate::base::shell::default_jobs()))
        .arg("check")
        // `make check` installs into testroot.pristine; Debian's tarball
        // has no GFDL manual to build.
        .arg("MAKEINFO=:")
        .arg(format!("subdirs={}", subdirs.join(" ")))
        .arg(format!(
            "test-wrapper={}",
            crate::harness::glibc_tests::wrapper(repo).display()
        ))
        .env("SPLIT_STACK_TEST_SYSROOT", sysroot)
        .env("CCACHE_DIR", cache.ccache())
        .env("LC_ALL", "C")
        .dir(build)
        .run_logged_status(ui, &format!("glibc-compare: {name}: make check"), &log)?;
    collect(build, name, subdirs, &log)
}

/// The results of the last `make check` of `subdirs` in `build` (their
/// `subdir-tests.sum` files).  Errors: a summary is missing (the run named
/// `name`, logged in `log`, did not complete).
fn collect(build: &Path, name: &str, subdirs: &[String], log: &Path) -> Result<Results> {
    let mut all = Results::new();
    for s in subdirs {
        let sum = build.join(s).join("subdir-tests.sum");
        let text = std::fs::read_to_string(&sum).with_context(|| {
            format!(
                "{} missing: the {name} test run did not complete (see {})",
                sum.display(),
                log.display()
            )
        })?;
        all.extend(parse_sum(&text));
    }
    Ok(all)
}

/// The last non-empty line of each failing test's `.out` file in the
/// patched build (glibc writes a test's output to `<build>/<subdir>/<test>.out`),
/// cut to 160 characters: the reason shown beside a test that fails on
/// both sides.
fn failure_reasons(build: &Path, tests: &[(String, String)]) -> BTreeMap<String, String> {
    tests
        .iter()
        .filter_map(|(t, _)| {
            let text = std::fs::read_to_string(build.join(format!("{t}.out"))).ok()?;
            let last = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
            Some((t.clone(), last.chars().take(160).collect()))
        })
        .collect()
}

/// Runs `make check` in the unpatched and the patched build trees at the
/// same time; each side is (build tree, sysroot for the qemu wrapper).
#[allow(clippy::type_complexity)]
fn run_both(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    subdirs: &[String],
    unpatched: (&Path, &Path),
    patched: (&Path, &Path),
) -> Result<(Result<Results>, Result<Results>)> {
    let (u, p) = std::thread::scope(|s| {
        let u = s.spawn(|| {
            run_side(
                ui,
                cache,
                repo,
                "unpatched",
                unpatched.0,
                unpatched.1,
                subdirs,
            )
        });
        let p = s.spawn(|| run_side(ui, cache, repo, "patched", patched.0, patched.1, subdirs));
        (u.join(), p.join())
    });
    let u = u.map_err(|_| anyhow::anyhow!("unpatched test run panicked"))?;
    let p = p.map_err(|_| anyhow::anyhow!("patched test run panicked"))?;
    Ok((u, p))
}

/// How often a test that regressed in the full run is run again alone.
pub const RERUNS: usize = 2;

/// Runs every regression (not the missing ones) [`RERUNS`] times alone in
/// the patched build.  A test that passes every rerun is moved out of
/// `c.regressions` and returned with the last line of its first failing
/// output: under qemu-user on a loaded machine some timing tests time out
/// (`Killed`) when many run at once.  A test that fails any rerun stays a
/// regression.
fn confirm_regressions(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    build: &Path,
    sysroot: &Path,
    c: &mut Comparison,
) -> Result<Vec<(String, String)>> {
    let log = cache.log("glibc-compare-reruns");
    let _ = std::fs::remove_file(&log);
    let mut flaky = Vec::new();
    let mut confirmed = Vec::new();
    for (t, u, p) in std::mem::take(&mut c.regressions) {
        if p == "MISSING" {
            confirmed.push((t, u, p));
            continue;
        }
        let first = failure_reasons(build, &[(t.clone(), p.clone())])
            .remove(&t)
            .unwrap_or_default();
        let mut all_pass = true;
        for i in 1..=RERUNS {
            let r =
                crate::harness::glibc_tests::run_one(ui, cache, repo, build, sysroot, &t, &log)?;
            ui.line(format!("glibc-compare: rerun {i}/{RERUNS} of {t}: {r}"));
            all_pass &= passes(&r);
        }
        if all_pass {
            flaky.push((t, first));
        } else {
            confirmed.push((t, u, p));
        }
    }
    c.regressions = confirmed;
    Ok(flaky)
}

/// Runs the comparison and writes `<cache>/logs/glibc-compare.md`.
/// The two sides run at the same time (each `make check` with twice as
/// many jobs as cores: many glibc tests sleep or wait on timeouts under
/// qemu-user).  Returns the comparison; the caller fails on regressions.
///
/// With `report_only`, nothing is built or run but the reruns: the
/// comparison is made from the summaries the last full run left in both
/// build trees.
pub fn run(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    subdirs: &[String],
    report_only: bool,
) -> Result<Comparison> {
    let started = std::time::Instant::now();
    let unpatched = if report_only {
        cache.build("glibc-unpatched")
    } else {
        build_unpatched(ui, cache)?
    };
    let patched = cache.build("glibc");
    if !patched.join("libc.so").exists() {
        bail!("no patched glibc build: run `cargo xtask build-toolchain` first");
    }
    let stock = cache.old_sysroot("glibc-2.44-stock");
    if !stock.join("lib/ld-linux-aarch64.so.1").exists() {
        bail!(
            "no stock glibc sysroot at {}: run `cargo xtask build-toolchain` first",
            stock.display()
        );
    }
    let patched_sysroot = cache.patched_sysroot();
    let (u, p) = if report_only {
        (
            collect(
                &unpatched,
                "unpatched",
                subdirs,
                &cache.log("glibc-compare-unpatched"),
            ),
            collect(
                &patched,
                "patched",
                subdirs,
                &cache.log("glibc-compare-patched"),
            ),
        )
    } else {
        run_both(
            ui,
            cache,
            repo,
            subdirs,
            (&unpatched, &stock),
            (&patched, &patched_sysroot),
        )?
    };
    let (u, p) = (u?, p?);
    let mut c = compare(&u, &p);
    let flaky = confirm_regressions(ui, cache, repo, &patched, &patched_sysroot, &mut c)?;
    let mut md = report(
        &format!(
            "glibc test comparison under qemu-user ({})",
            subdirs.join(", ")
        ),
        &u,
        &p,
        &c,
    );
    if !flaky.is_empty() {
        md.push_str(&format!(
            "\n## Flaky: failed in the full run, passed both times when rerun alone \
             ({RERUNS} reruns each, patched build)\n\n"
        ));
        for (t, why) in &flaky {
            md.push_str(&format!("- {t}: first run: `{}`\n", why.replace('`', "'")));
        }
    }
    let reasons = failure_reasons(&patched, &c.both_fail);
    if !reasons.is_empty() {
        md.push_str("\n## Why they fail (last line of the patched test's `.out`)\n\n");
        let mut t = conformance::markdown::Table::new(&["test", "last line"]);
        for (test, r) in &reasons {
            t.row(&[test.clone(), format!("`{}`", r.replace('`', "'"))]);
        }
        md.push_str(&t.render());
    }
    md.push_str(&format!(
        "\nMethod: `cargo xtask glibc-compare {}`: glibc's `make -k check` in the patched \
         and the unpatched build trees (same source, same configure line), tests run \
         under qemu-user through `xtask/scripts/qemu-test-wrapper.sh`; {}.\n",
        subdirs.join(" "),
        if report_only {
            "this report was made with `--report-only` from the results of the last full run"
                .to_string()
        } else {
            format!("wall time {} min", started.elapsed().as_secs() / 60)
        }
    ));
    crate::harness::compare::publish(ui, cache, "glibc-compare.md", &md)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(pairs: &[(&str, &str)]) -> Results {
        pairs
            .iter()
            .map(|(t, v)| (t.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sum_files_are_parsed() {
        let text = "PASS: nptl/tst-a\nFAIL: nptl/tst-b\nUNSUPPORTED: elf/tst-c\nnoise line\n";
        let m = parse_sum(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m["nptl/tst-b"], "FAIL");
    }

    #[test]
    fn comparison_classifies_every_test() {
        let u = r(&[
            ("a", "PASS"),
            ("b", "PASS"),
            ("c", "FAIL"),
            ("d", "FAIL"),
            ("e", "UNSUPPORTED"),
            ("gone", "PASS"),
        ]);
        let p = r(&[
            ("a", "PASS"),
            ("b", "FAIL"),
            ("c", "PASS"),
            ("d", "FAIL"),
            ("e", "UNSUPPORTED"),
            ("new", "PASS"),
        ]);
        let c = compare(&u, &p);
        assert_eq!(c.passed_both, 1);
        assert_eq!(
            c.regressions,
            vec![
                ("b".into(), "PASS".into(), "FAIL".into()),
                ("gone".into(), "PASS".into(), "MISSING".into())
            ]
        );
        assert_eq!(c.fixed, vec!["c".to_string()]);
        assert_eq!(c.both_fail, vec![("d".into(), "FAIL".into())]);
        assert_eq!(c.unsupported, vec!["e".to_string()]);
        assert_eq!(c.new, vec![("new".into(), "PASS".into())]);
    }
}
