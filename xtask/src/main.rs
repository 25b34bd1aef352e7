//! `cargo xtask`: builds the patched aarch64-linux-gnu split-stack toolchain
//! and runs the ABI conformance suite (docs/abi.md) on it.
//!
//! This file only declares the command line and dispatches; each subcommand
//! lives in its own module.

mod base;
mod cmd;
mod env;
mod harness;
mod report;
mod toolchain;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::base::cache::Cache;
use crate::base::hostdeps;
use crate::base::shell::Ui;
use crate::cmd::args::BuildArgs;
use crate::cmd::test as testcmd;
use crate::env::{docker_lint, exports, rootfs};
use crate::harness::{gcc_check, glibc_compare, glibc_tests, gold_compare, mutants};
use crate::report::{bench, bench_go, review};
use crate::toolchain::build;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "AArch64 split-stack toolchain tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mutation testing of the conformance suite's judging code
    /// (cargo-mutants): at least 90% of viable mutants caught, every
    /// missed one explained; writes docs/mutants.md.
    Mutants {
        /// Only the mutants in lines of conformance/src changed since
        /// docs/mutants.md was last committed (what `cargo xtask test`
        /// runs); writes no report.
        #[arg(long)]
        changed: bool,
    },
    /// Build (or update) the patched cross toolchain and the stock sysroots.
    BuildToolchain(BuildArgs),
    /// Write the crossing-stress runtime (docs/stress.md) into DIR: link a
    /// split-stack program with `-B DIR/` and its functions cross into a
    /// new segment at almost every call.  A test facility.
    StressRuntime {
        /// Output directory (created): DIR/libgcc.a.
        dir: PathBuf,
        /// The gcc driver whose libgcc.a to rewrite (default: the built
        /// toolchain's; it is not built by this command).
        #[arg(long, value_name = "GCC")]
        gcc: Option<PathBuf>,
    },
    /// Print shell exports for using the toolchain by hand.
    Env {
        /// Print JSON instead of shell exports.
        #[arg(long)]
        json: bool,
    },
    /// Run the ABI conformance suite (builds the toolchain when needed).
    /// Exit status: 0 CONFORMANT, 1 NOT CONFORMANT, 2 could not run.
    Conformance(cmd::conformance::ConformanceArgs),
    /// The project's tests: fmt, clippy, toolchain build, cargo test.
    Test(BuildArgs),
    /// Run tests of the patched glibc build under qemu-user (default: the
    /// tests the project's glibc series adds, and TLS layout tests).
    GlibcTests {
        /// Tests as `subdir/name` (e.g. nptl/tst-split-stack-guard).
        tests: Vec<String>,
    },
    /// Run glibc's own test subdirectories for the patched and the unpatched
    /// glibc under qemu-user and compare (long; on demand).
    GlibcCompare {
        /// Test subdirectories (default: nptl elf).
        #[arg(default_values_t = ["nptl".to_string(), "elf".to_string()])]
        subdirs: Vec<String>,
        /// Build and run nothing but the reruns of regressions: compare
        /// the results the last full run left in both build trees.
        #[arg(long)]
        report_only: bool,
    },
    /// Run gold's own testsuite (`make -k check` in gold/testsuite) for
    /// binutils without the series (built once, in the cache) and for the
    /// patched build tree, and compare; writes docs/gold-compare.md and
    /// fails on any test that passes unpatched and not patched.
    GoldCompare,
    /// Run GCC's split-stack tests (gcc.dg/split-*.c,
    /// gcc.target/aarch64/split-stack-*.c) through DejaGnu with a qemu-user
    /// board, or the given `file.exp=test.c ...` selections (on demand).
    GccCheck {
        /// Also build GCC without the series (once, in the cache) and run
        /// the selections (default: all of aarch64.exp and
        /// gcc.dg/split-*.c) with both compilers side by side; fails on any
        /// test that passes unpatched and not patched.
        #[arg(long)]
        compare: bool,
        /// Run GCC's execute corpora (gcc.c-torture/execute, gcc.dg/torture,
        /// g++.dg/torture, g++.dg/eh) without -fsplit-stack and in each
        /// mode (split, stress, hardened); fails on any test that passes
        /// without -fsplit-stack and not in a mode.  Writes
        /// <cache>/logs/corpus.md.
        #[arg(long, conflicts_with = "compare")]
        corpus: bool,
        /// With --corpus: only the first N test files of each corpus.
        #[arg(long, requires = "corpus", value_name = "N")]
        sample: Option<usize>,
        /// With --corpus: the modes (default: split, stress, hardened).
        #[arg(long, requires = "corpus", value_delimiter = ',', value_name = "MODE")]
        mode: Vec<String>,
        /// With --corpus: only these corpora (default: all four), by
        /// directory, e.g. gcc.c-torture/execute.
        #[arg(
            long,
            requires = "corpus",
            value_delimiter = ',',
            value_name = "CORPUS"
        )]
        corpora: Vec<String>,
        /// With --corpus: compile in the modes (not in the plain reference)
        /// with this cc1/cc1plus instead of the build tree's, through GCC's
        /// -wrapper; for showing what the corpora catch in a changed
        /// compiler.  Writes <cache>/logs/corpus-cc1.md instead.
        #[arg(long, requires = "corpus", value_name = "PATH")]
        cc1: Option<PathBuf>,
        /// DejaGnu selections, e.g. `aarch64.exp=split-stack-1.c`.
        selections: Vec<String>,
    },
    /// GCC's Go testsuite (go.test, go.go-torture, go.dg) under qemu-user
    /// with fixed goroutine stacks and with split stacks, compared
    /// (docs/gccgo.md).  Needs a toolchain built --with-go.
    GoCheck {
        /// Also run libgo's package tests (runtime, sync, os/signal, ...)
        /// both ways; needs root (binfmt_misc).
        #[arg(long)]
        packages: bool,
        /// Only the libgo package tests, not GCC's Go testsuite.
        #[arg(long, requires = "packages")]
        packages_only: bool,
        /// DejaGnu selections, e.g. `go-test.exp=\"chan1.go\"`.
        selections: Vec<String>,
    },
    /// Measure what split stacks cost (executed instructions, memory,
    /// build times) on AArch64 and on the x86_64 host as the reference.
    Bench {
        /// Coroutine counts of the memory figure.
        #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
        coroutines: Vec<usize>,
        /// Skip the toolchain build and conformance timings (figure 5).
        #[arg(long)]
        skip_toolchain_times: bool,
        /// Also write the table as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write the table as Markdown to this file.
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Measure goroutines instead (docs/gccgo.md): split-stack gccgo,
        /// fixed-stack gccgo, Debian's gccgo and Go's own toolchain.
        /// Needs a toolchain built --with-go.
        #[arg(long)]
        go: bool,
        /// Goroutine counts of the Go parking workload.
        #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000, 1_000_000], requires = "go")]
        go_counts: Vec<usize>,
        /// Recursion depths (KiB) before the goroutines park.
        #[arg(long, value_delimiter = ',', default_values_t = [0usize, 8, 64], requires = "go")]
        go_depths: Vec<usize>,
        /// Kill a Go run whose qemu process holds more than this (GiB).
        #[arg(long, default_value_t = 16.0, requires = "go")]
        go_limit_gib: f64,
        /// Do not measure Debian's gccgo and Go (they need root the first
        /// time, to make their sid root filesystem).
        #[arg(long, requires = "go")]
        go_no_anchors: bool,
    },
    /// Write a review report and a cover-letter draft per series (runs the
    /// conformance suite; includes the benchmark table and the testsuite
    /// comparisons).
    Review {
        /// Output directory (default: <cache>/review).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Install the host packages the toolchain build needs (Debian,
    /// as root; `build-toolchain` does this itself when needed).
    HostDeps,
    /// Build (or reuse) a Debian arm64 root filesystem with mmdebstrap,
    /// run through binfmt_misc and qemu-user-static (as root).
    Rootfs {
        /// Debian suite (bookworm: glibc 2.36; sid: the current glibc).
        #[arg(long, default_value = rootfs::DEFAULT_SUITE)]
        suite: String,
        /// Build it again even if the cached one is complete.
        #[arg(long)]
        rebuild: bool,
    },
    /// Install the patched glibc's run-time files and the split-stack-run
    /// launcher under DEST (the layout of docker/runtime.Dockerfile).
    InstallGlibc {
        /// Destination prefix, e.g. /opt/split-stack-aarch64.
        dest: PathBuf,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Lint docker/ (hadolint, shellcheck) and check that every command the
    /// recipes run is one the project's tests run too.
    DockerLint,
    /// Work with the patch series in patches/.
    Patches {
        #[command(subcommand)]
        cmd: cmd::patches::PatchesCmd,
    },
}

/// The repository root (the parent of this crate's directory).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    base::shell::install_interrupt_handler();
    match run() {
        Ok(code) => code,
        Err(e)
            if e.downcast_ref::<base::shell::Interrupted>().is_some()
                || e.downcast_ref::<conformance::Interrupted>().is_some() =>
        {
            eprintln!("interrupted");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    let repo = repo_root();
    let ui = Ui::new();
    let cache = Cache::from_env()?;
    let manifest = || build::load_manifest(&repo);
    match cli.cmd {
        Command::BuildToolchain(a) => {
            let info = build::build_toolchain(&ui, &cache, &repo, &manifest()?, &a.options())?;
            println!("{}", info.prefix.display());
        }
        Command::Env { json } => exports::print(&cache, json)?,
        Command::StressRuntime { dir, gcc } => cmd::stress::run(&cache, &dir, gcc)?,
        // Exit status: 0 CONFORMANT, 1 NOT CONFORMANT, 2 the suite could
        // not run (the reason is printed).
        Command::Conformance(a) => return Ok(cmd::conformance::main(&ui, &cache, &repo, a)),
        Command::Test(a) => return testcmd::run(&ui, &repo, &a.options()),
        Command::GlibcCompare {
            subdirs,
            report_only,
        } => {
            let c = glibc_compare::run(&ui, &cache, &repo, &subdirs, report_only)?;
            if !c.regressions.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Mutants { changed } => {
            if !mutants::run(&ui, &repo, changed)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::GoldCompare => {
            let c = gold_compare::run(&ui, &cache, &repo)?;
            if !c.regressions.is_empty() || c.passed_both == 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Review { out } => {
            let out = out.unwrap_or_else(|| cache.root().join("review"));
            // Fail before downloading and importing 3 GB of sources.
            crate::toolchain::info::ToolchainInfo::published(&cache).ok_or_else(|| {
                anyhow::anyhow!("no toolchain: run `cargo xtask build-toolchain` first")
            })?;
            let check = cmd::patches::check_all(&ui, &cache, &repo, &manifest()?)?;
            review::run(&ui, &cache, &repo, &out, &check)?;
        }
        Command::GoCheck {
            packages,
            packages_only,
            selections,
        } => {
            let report =
                harness::go_check::run(&ui, &cache, &selections, packages, !packages_only)?;
            if report.failed() {
                anyhow::bail!(
                    "go-check: {} regression(s), {} passing in both; see {}",
                    report.comparison.regressions.len(),
                    report.comparison.passed_both,
                    cache.logs().join("go-check.md").display()
                );
            }
        }
        Command::Bench {
            go: true,
            go_counts,
            go_depths,
            go_limit_gib,
            go_no_anchors,
            json,
            markdown,
            ..
        } => {
            let mut counts = go_counts;
            counts.sort_unstable();
            counts.dedup();
            let mut go_depths = go_depths;
            go_depths.sort_unstable();
            go_depths.dedup();
            bench_go::run(
                &ui,
                &cache,
                &repo,
                &bench_go::GoBenchOptions {
                    counts,
                    depths: go_depths,
                    limit_gib: go_limit_gib,
                    anchors: !go_no_anchors,
                    json,
                    markdown,
                },
            )?;
        }
        Command::Bench {
            coroutines,
            skip_toolchain_times,
            json,
            markdown,
            ..
        } => {
            bench::run(
                &ui,
                &cache,
                &repo,
                &bench::BenchOptions {
                    coroutines,
                    skip_toolchain_times,
                    json,
                    markdown,
                },
            )?;
        }
        Command::GccCheck {
            corpus: true,
            sample,
            mode,
            corpora,
            cc1,
            ..
        } => {
            let opts = harness::corpus::Options {
                corpora: harness::corpus::parse_corpora(&corpora)?,
                modes: harness::corpus::parse_modes(&mode)?,
                sample,
                cc1,
            };
            let r = harness::corpus::run(&ui, &cache, &opts)?;
            if r.failed() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::GccCheck {
            compare: true,
            selections,
            ..
        } => {
            let c = gcc_check::compare_run(&ui, &cache, &selections)?;
            if !c.regressions.is_empty() || c.passed_both == 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::GccCheck {
            compare: false,
            selections,
            ..
        } => {
            let s = gcc_check::run(&ui, &cache, &selections)?;
            if !s.bad.is_empty() || s.pass == 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::GlibcTests { tests } => {
            let tests = if tests.is_empty() {
                glibc_tests::DEFAULT_TESTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                tests
            };
            let outcomes = glibc_tests::run(&ui, &cache, &repo, &tests)?;
            let failed = outcomes.iter().filter(|o| o.result != "PASS").count();
            println!("{} passed, {failed} failed", outcomes.len() - failed);
            if failed > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::HostDeps => {
            hostdeps::ensure(&ui, hostdeps::REQUIREMENTS, &cache.log("host-packages"))?;
            println!("host packages: all present");
        }
        Command::Rootfs { suite, rebuild } => {
            hostdeps::ensure(&ui, rootfs::REQUIREMENTS, &cache.log("host-packages"))?;
            let _host = rootfs::binfmt(&ui)?;
            let r = rootfs::ensure(&ui, &cache, &suite, rebuild)?;
            println!(
                "{} (Debian {} arm64, libc6 {})",
                r.root.display(),
                r.suite,
                r.libc6
            );
        }
        Command::InstallGlibc { dest, build: b } => {
            let info = build::build_toolchain(&ui, &cache, &repo, &manifest()?, &b.options())?;
            rootfs::install_glibc(&ui, &repo, &info.sysroot, &dest)?;
        }
        Command::DockerLint => docker_lint::run(&ui, &cache, &repo)?,
        Command::Patches { cmd } => cmd::patches::run(&ui, &cache, &repo, &manifest()?, cmd)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysroot_without_toolchain_is_rejected() {
        // It used to start a build of the project's toolchain silently.
        let e = match Cli::try_parse_from(["xtask", "conformance", "--sysroot", "/x"]) {
            Ok(_) => panic!("--sysroot without --toolchain was accepted"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("--toolchain"), "{e}");
        assert!(Cli::try_parse_from([
            "xtask",
            "conformance",
            "--toolchain",
            "/t",
            "--sysroot",
            "/x"
        ])
        .is_ok());
    }

    #[test]
    fn build_flags_with_toolchain_are_rejected() {
        let parse = |extra: &[&str]| {
            let mut v = vec![
                "xtask",
                "conformance",
                "--toolchain",
                "/t",
                "--sysroot",
                "/x",
            ];
            v.extend_from_slice(extra);
            match Cli::try_parse_from(v).map(|c| c.cmd) {
                Ok(Command::Conformance(a)) => cmd::conformance::check_conformance_args(&a),
                _ => panic!("did not parse"),
            }
        };
        assert!(parse(&[]).is_ok());
        for flag in [
            &["--release"][..],
            &["--c-only"],
            &["-j", "4"],
            &["--refresh"],
        ] {
            let e = parse(flag).unwrap_err().to_string();
            assert!(e.contains("nothing is built"), "{flag:?}: {e}");
        }
    }
}
