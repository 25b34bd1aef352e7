//! `cargo xtask glibc-tests`: runs tests of the patched glibc build tree
//! under qemu-user, through glibc's own `test-wrapper` hook
//! (`xtask/scripts/qemu-test-wrapper.sh`).
//!
//! By default it runs the tests the project's glibc series adds plus the
//! existing tests that guard what the series must not break (TLS layout);
//! `cargo xtask test` (and so CI) runs exactly these.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::base::cache::Cache;
use crate::base::shell::{Cmd, Ui};

/// Tests run by default: `subdir/name` as glibc's `make test t=` takes them.
pub const DEFAULT_TESTS: &[&str] = &[
    "nptl/tst-split-stack-guard",
    "nptl/tst-split-stack-guard-static",
    "nptl/tst-split-stack-tls",
    "nptl/tst-split-stack-tls-static",
    "nptl/tst-split-stack-longjmp",
    "nptl/tst-split-stack-longjmp-static",
    "nptl/check-abi-split-stack",
    "elf/tst-tls_tp_offset",
    "nptl/tst-tls5",
    CHECK_ABI,
];

/// Pseudo test name for glibc's `make check-abi` (every library's exported
/// symbols against its `.abilist`; `__tcb_private_ss`, in the marker node
/// GLIBC_ABI_SPLIT_STACK that abilist files leave out, is checked by the
/// series' `nptl/check-abi-split-stack` instead).
pub const CHECK_ABI: &str = "check-abi";

/// Outcome of one glibc test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    pub test: String,
    /// `PASS`, `FAIL`, `UNSUPPORTED`, `XFAIL`, `XPASS` or `ERROR` (no result).
    pub result: String,
}

/// The wrapper script shipped in the repository.
pub fn wrapper(repo: &Path) -> PathBuf {
    repo.join("xtask/scripts/qemu-test-wrapper.sh")
}

/// Parses the result line glibc's test harness prints (`PASS: nptl/tst-x`).
pub fn parse_result(output: &str, test: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let (result, name) = l.split_once(": ")?;
        (name.trim() == test
            && ["PASS", "FAIL", "UNSUPPORTED", "XFAIL", "XPASS", "ERROR"].contains(&result))
        .then(|| result.to_string())
    })
}

/// Runs `tests` in the patched glibc build tree; returns their outcomes.
///
/// Errors: no glibc build tree (run `cargo xtask build-toolchain`).
pub fn run(ui: &Ui, cache: &Cache, repo: &Path, tests: &[String]) -> Result<Vec<TestOutcome>> {
    let build = cache.build("glibc");
    if !build.join("config.make").is_file() {
        bail!(
            "no glibc build tree in {}: run `cargo xtask build-toolchain` first",
            build.display()
        );
    }
    let log = cache.log("glibc-tests");
    let _ = std::fs::remove_file(&log);
    let mut out = Vec::new();
    for t in tests {
        if t == CHECK_ABI {
            let r = Cmd::new("make")
                .arg("check-abi")
                .env("LC_ALL", "C")
                .dir(&build)
                .run_logged(ui, "glibc-tests: check-abi", &log);
            let libc = std::fs::read_to_string(build.join("elf/check-abi-libc.test-result"))
                .unwrap_or_default();
            let result = if r.is_ok() && libc.starts_with("PASS") {
                "PASS"
            } else {
                "FAIL"
            };
            ui.line(format!("glibc-tests: {result}: {t}"));
            out.push(TestOutcome {
                test: t.clone(),
                result: result.to_string(),
            });
            continue;
        }
        let result = run_one(ui, cache, repo, &build, &cache.patched_sysroot(), t, &log)?;
        ui.line(format!("glibc-tests: {result}: {t}"));
        out.push(TestOutcome {
            test: t.clone(),
            result,
        });
    }
    Ok(out)
}

/// Runs one test `t` (`subdir/name`) in the glibc build tree `build`
/// (`make test t=...` through the qemu wrapper, programs that name the
/// standard loader run against `sysroot`), appending to `log`; returns
/// its result (`PASS`, `FAIL`, ..., or `ERROR` if none was printed).
///
/// Errors: make failed although the test printed PASS.
pub fn run_one(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    build: &Path,
    sysroot: &Path,
    t: &str,
    log: &Path,
) -> Result<String> {
    let start = std::fs::metadata(log).map_or(0, |m| m.len() as usize);
    let r = Cmd::new("make")
        .arg("test")
        .arg(format!("t={t}"))
        .arg(format!("test-wrapper={}", wrapper(repo).display()))
        .env("SPLIT_STACK_TEST_SYSROOT", sysroot)
        .env("CCACHE_DIR", cache.ccache())
        .env("LC_ALL", "C")
        .dir(build)
        .run_logged(ui, &format!("glibc test {t}"), log);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let result =
        parse_result(text.get(start..).unwrap_or(&text), t).unwrap_or_else(|| "ERROR".to_string());
    if r.is_err() && result == "PASS" {
        bail!(
            "make failed for {t} although it printed PASS; see {}",
            log.display()
        );
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_are_matched_by_test_name() {
        let out = "make[2]: Entering\nFAIL: nptl/tst-a2\nPASS: nptl/tst-a\n";
        assert_eq!(parse_result(out, "nptl/tst-a").as_deref(), Some("PASS"));
        assert_eq!(parse_result(out, "nptl/tst-a2").as_deref(), Some("FAIL"));
        assert_eq!(parse_result(out, "nptl/tst-b"), None);
    }

    #[test]
    fn wrapper_runs_host_programs_with_the_given_environment() {
        let w = wrapper(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap());
        let out = Cmd::new(&w)
            .args(["env", "-i", "A=x", "sh", "-c", "echo \"[$A][$HOME]\""])
            .read()
            .unwrap();
        assert_eq!(out, "[x][]");
        let out = Cmd::new(&w)
            .args(["env", "A=y", "sh", "-c", "echo \"[$A]\""])
            .read()
            .unwrap();
        assert_eq!(out, "[y]");
    }
}
