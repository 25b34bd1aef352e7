//! `cargo xtask test`: the project's whole test run, as CI runs it:
//! `cargo fmt --check`, `cargo clippy -- -D warnings`, build/update the
//! toolchain, the glibc series' tests, gold's `split_aarch64.sh`, the
//! `docker/` lint, `install-glibc` into a scratch prefix, the conformance
//! suite inside a Debian arm64 root filesystem (as root; otherwise it says
//! SKIPPED), then `cargo test --workspace --all-targets` with the
//! toolchain's location exported so the integration tests really use it,
//! the conformance suite's planted-fault self-test, GCC's Go testsuite
//! split vs fixed goroutine stacks when the toolchain has Go (`go-check`;
//! the conformance suite's `gccgo/` checks run with the others then), and
//! mutation testing of the judging code changed since `docs/mutants.md`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::base::cache::Cache;
use crate::base::manifest::Manifest;
use crate::base::shell::{Cmd, Ui};
use crate::cmd::conformance::RuntimeMode;
use crate::toolchain::build::{self, BuildOptions};

/// Environment variable through which tests find the built toolchain's
/// description (the JSON of `cargo xtask env --json`).
pub const TOOLCHAIN_JSON_ENV: &str = "SPLIT_STACK_TOOLCHAIN_JSON";

fn cargo(args: &[&str], repo: &Path, env: &[(&str, &Path)]) -> Result<bool> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Cmd::new(cargo).args(args.iter().copied()).dir(repo);
    for (k, v) in env {
        cmd = cmd.env(*k, *v);
    }
    cmd.status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))
}

/// Runs the test sequence; stops at the first failing stage.
pub fn run(ui: &Ui, repo: &Path, opts: &BuildOptions) -> Result<ExitCode> {
    ui.line("test: cargo fmt --check");
    if !cargo(&["fmt", "--all", "--", "--check"], repo, &[])? {
        eprintln!("cargo fmt --check failed: run `cargo fmt --all`");
        return Ok(ExitCode::FAILURE);
    }
    ui.line("test: cargo clippy -- -D warnings");
    if !cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        repo,
        &[],
    )? {
        return Ok(ExitCode::FAILURE);
    }
    ui.line("test: build/update the toolchain");
    let cache = Cache::from_env()?;
    let manifest = Manifest::load(&build::manifest_path(repo))?;
    let info = build::build_toolchain(ui, &cache, repo, &manifest, opts)?;
    let json = cache.root().join("toolchain.json");
    crate::base::cache::write_atomic(&json, serde_json::to_string_pretty(&info)?.as_bytes())?;
    ui.line("test: the glibc series' tests under qemu-user");
    let tests: Vec<String> = crate::harness::glibc_tests::DEFAULT_TESTS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let outcomes = crate::harness::glibc_tests::run(ui, &cache, repo, &tests)?;
    let bad: Vec<String> = outcomes
        .iter()
        .filter(|o| o.result != "PASS")
        .map(|o| format!("{}: {}", o.result, o.test))
        .collect();
    if !bad.is_empty() {
        eprintln!(
            "glibc tests failed: {} (log: {})",
            bad.join(", "),
            cache.log("glibc-tests").display()
        );
        return Ok(ExitCode::FAILURE);
    }
    ui.line("test: the gold series' testsuite scripts");
    let gold: Vec<String> = crate::harness::gold_tests::run(ui, &cache)?
        .into_iter()
        .filter(|r| !r.starts_with("PASS"))
        .collect();
    if !gold.is_empty() {
        eprintln!(
            "gold tests failed: {} (log: {})",
            gold.join(", "),
            cache.log("gold-tests").display()
        );
        return Ok(ExitCode::FAILURE);
    }
    ui.line("test: docker/ recipes (hadolint, shellcheck, only tested commands)");
    crate::env::docker_lint::run(ui, &cache, repo)?;
    // The recipes run `cargo xtask host-deps` (the same check
    // build_toolchain made above) and `cargo xtask install-glibc`.
    ui.line("test: install-glibc into a scratch prefix");
    let scratch = tempfile::tempdir()?;
    crate::env::rootfs::install_glibc(ui, repo, &info.sysroot, scratch.path())?;
    for f in ["lib/ld-linux-aarch64.so.1", "bin/split-stack-run"] {
        if !scratch.path().join(f).exists() {
            eprintln!("install-glibc did not install {f}");
            return Ok(ExitCode::FAILURE);
        }
    }
    let mut skipped: Vec<&str> = Vec::new();
    if crate::base::hostdeps::is_root() {
        ui.line("test: conformance --rootfs (Debian arm64 root filesystem, binfmt_misc)");
        let (report, launcher, rfs) = crate::env::rootfs::conformance(
            ui,
            &cache,
            repo,
            &info.prefix,
            &info.sysroot,
            crate::env::rootfs::DEFAULT_SUITE,
        )?;
        let (p, f, k) = report.counts();
        ui.line(format!(
            "test: rootfs Debian {} (libc6 {}): {p} passed, {f} failed, {k} skipped; launcher {}",
            rfs.suite,
            rfs.libc6,
            if launcher.ok { "PASS" } else { "FAIL" }
        ));
        if !report.conformant() || !launcher.ok {
            eprintln!("{}{}", report.render(), launcher.detail);
            return Ok(ExitCode::FAILURE);
        }
        if k > 0 {
            skipped.push("checks of conformance --rootfs");
        }
    } else {
        skipped.push("conformance --rootfs (needs root)");
        eprintln!(
            "SKIPPED (not counted as passed): conformance --rootfs needs root \
             (binfmt_misc, chroot, mount); run `sudo cargo xtask conformance --rootfs`"
        );
    }
    ui.line("test: cargo test --workspace");
    // bench/insn-count is a QEMU plugin: its symbols come from the qemu
    // binary that loads it, so no test executable of it can link (it has
    // no tests; clippy above checks it).
    if !cargo(
        &[
            "test",
            "--workspace",
            "--exclude",
            "insn-count",
            "--all-targets",
        ],
        repo,
        &[(TOOLCHAIN_JSON_ENV, json.as_path())],
    )? {
        return Ok(ExitCode::FAILURE);
    }
    ui.line("test: conformance --self-test (planted faults must be caught by their owning checks)");
    let tc = info.conformance_toolchain(&[])?;
    let st = conformance::selftest::run(&tc, &[], &mut |m| ui.line(format!("self-test: {m}")))?;
    if !st.passed() {
        eprint!("{}", st.render());
        return Ok(ExitCode::FAILURE);
    }
    let caught = st.faults.iter().filter(|r| r.caught()).count();
    ui.line(format!(
        "test: self-test: {caught} of {} planted faults caught",
        st.faults.len()
    ));
    for (mode, name) in [
        (RuntimeMode::Stress, "stress"),
        (RuntimeMode::Hardened, "hardened"),
    ] {
        ui.line(format!("test: conformance --{name}"));
        let report = crate::cmd::conformance::runtime_mode(ui, &tc, mode)?;
        if !report.conformant() {
            eprint!("{}", report.render());
            return Ok(ExitCode::FAILURE);
        }
        ui.line(format!(
            "test: {name}: {} runtime cases passed",
            report.results.len()
        ));
    }
    ui.line("test: gcc-check --corpus --sample 3 (GCC's execute corpora, every mode)");
    let corpus = crate::harness::corpus::run(
        ui,
        &cache,
        &crate::harness::corpus::Options {
            corpora: crate::harness::corpus::CORPORA.to_vec(),
            modes: crate::harness::corpus::parse_modes(&[])?,
            sample: Some(3),
            cc1: None,
        },
    )?;
    if corpus.failed() {
        eprintln!(
            "corpus sample: {} regression(s), nothing passing in: {:?}; report: {}",
            corpus.regressions(),
            corpus.empty_comparisons(),
            cache.logs().join("corpus.md").display()
        );
        return Ok(ExitCode::FAILURE);
    }
    if info.go {
        ui.line("test: go-check (GCC's Go testsuite, fixed vs split goroutine stacks)");
        let go = crate::harness::go_check::run(ui, &cache, &[], false, true)?;
        if go.failed() {
            eprintln!(
                "go-check: {} regression(s), {} passing in both; report: {}",
                go.comparison.regressions.len(),
                go.comparison.passed_both,
                cache.logs().join("go-check.md").display()
            );
            return Ok(ExitCode::FAILURE);
        }
    } else {
        skipped
            .push("the Go checks (the toolchain has no Go front end: build-toolchain --with-go)");
    }
    ui.line("test: cargo xtask mutants --changed (judging code changed since docs/mutants.md)");
    crate::harness::mutants::ensure_installed(ui)?;
    if !crate::harness::mutants::run(ui, repo, true)? {
        return Ok(ExitCode::FAILURE);
    }
    // The last line says what did not run: a skip is never a pass.
    println!("{}", final_line(&skipped));
    Ok(ExitCode::SUCCESS)
}

/// The last line `cargo xtask test` prints after every step passed:
/// `skipped` names the steps (or checks) that did not run.
pub fn final_line(skipped: &[&str]) -> String {
    if skipped.is_empty() {
        "test: everything passed, nothing skipped".to_string()
    } else {
        format!(
            "test: passed, but SKIPPED (not counted as passed): {}",
            skipped.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::final_line;

    #[test]
    fn a_skip_is_named_in_the_last_line() {
        assert_eq!(final_line(&[]), "test: everything passed, nothing skipped");
        let l = final_line(&["conformance --rootfs (needs root)"]);
        assert!(l.contains("SKIPPED") && l.contains("--rootfs"), "{l}");
    }
}
