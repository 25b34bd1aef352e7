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

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::base::cache::Cache;
use crate::base::hostdeps;
use crate::base::manifest::{Component, Manifest};
use crate::base::shell::Ui;
use crate::cmd::test as testcmd;
use crate::env::{docker_lint, exports, rootfs};
use crate::harness::{gcc_check, glibc_compare, glibc_tests, gold_compare, mutants};
use crate::report::{bench, review};
use crate::toolchain::build::BuildOptions;
use crate::toolchain::sources::SourceChoice;
use crate::toolchain::{apt, build, patches, sources};

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
    Conformance(ConformanceArgs),
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
        /// DejaGnu selections, e.g. `aarch64.exp=split-stack-1.c`.
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
        cmd: PatchesCmd,
    },
}

#[derive(Subcommand)]
enum PatchesCmd {
    /// Regenerate patches/<component>/ from the work trees' commits.
    Export {
        /// Components to export (default: all).
        components: Vec<String>,
    },
    /// Verify that every series applies to its pristine source.
    Check,
    /// Show whether work trees and patches/ agree.
    Status,
    /// Drop unexported commits and changes in a work tree.
    Reset { component: String },
}

#[derive(Args, Clone, Default)]
struct BuildArgs {
    /// Compile the toolchain's own programs at -O2 -g (default -O1 -g0,
    /// about twice as fast to build; the generated code is the same).
    #[arg(long)]
    release: bool,
    /// Build the C front end only: no C++ front end, no libstdc++ (about
    /// 7 minutes less from scratch; C++ checks of the conformance suite
    /// then cannot run and are reported as such).
    #[arg(long)]
    c_only: bool,
    /// Parallel jobs for make (default: number of CPUs).
    #[arg(long, short = 'j', default_value_t = 0)]
    jobs: usize,
    /// Upstream binutils tarball to use instead of Debian's binutils-source.
    #[arg(long, env = "SPLIT_STACK_BINUTILS_TARBALL", value_name = "PATH")]
    binutils_tarball: Option<PathBuf>,
    /// Upstream GCC tarball to use instead of Debian's gcc-16-source.
    #[arg(long, env = "SPLIT_STACK_GCC_TARBALL", value_name = "PATH")]
    gcc_tarball: Option<PathBuf>,
    /// Upstream glibc tarball to use instead of Debian's glibc-source.
    #[arg(long, env = "SPLIT_STACK_GLIBC_TARBALL", value_name = "PATH")]
    glibc_tarball: Option<PathBuf>,
    /// Read the Debian package lists again even if matching packages were
    /// downloaded before.
    #[arg(long)]
    refresh: bool,
}

impl BuildArgs {
    fn options(&self) -> BuildOptions {
        let choice = |t: &Option<PathBuf>| SourceChoice {
            tarball: t.clone(),
            refresh: false,
        };
        BuildOptions {
            release: self.release,
            cxx: !self.c_only,
            jobs: self.jobs,
            binutils: choice(&self.binutils_tarball),
            gcc: choice(&self.gcc_tarball),
            glibc: choice(&self.glibc_tarball),
            refresh: self.refresh,
        }
    }
}

#[derive(Args)]
struct ConformanceArgs {
    /// Toolchain prefix: a directory with bin/aarch64-linux-gnu-gcc, or the
    /// path of the gcc driver itself (default: the built toolchain).
    #[arg(long, value_name = "PREFIX")]
    toolchain: Option<PathBuf>,
    /// Sysroot with the glibc to test against (required with --toolchain,
    /// and only meaningful with it).
    #[arg(long, value_name = "DIR", requires = "toolchain")]
    sysroot: Option<PathBuf>,
    /// Stock glibc sysroots that split-stack programs must be refused by
    /// (repeatable).
    #[arg(long = "old-sysroot", value_name = "DIR")]
    old_sysroots: Vec<PathBuf>,
    /// Write the report as JSON to this file as well.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the report as Markdown (a table per check) to this file as well.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Run the programs inside a Debian arm64 root filesystem (chroot,
    /// binfmt_misc, qemu-user-static; as root), with the distribution's
    /// glibc as the old glibc and the patched one installed beside it.
    #[arg(long)]
    rootfs: bool,
    /// Debian suite of the --rootfs root filesystem.
    #[arg(long, default_value = rootfs::DEFAULT_SUITE, requires = "rootfs")]
    suite: String,
    /// Instead of judging the toolchain, test the suite: plant faults
    /// into the (conformant) toolchain's output one at a time and require
    /// each to be caught by the checks that own its rule
    /// (conformance/src/selftest.rs).  Exit 0 only if every fault is
    /// caught and the owning checks pass on the unmodified toolchain.
    #[arg(long, conflicts_with = "rootfs")]
    self_test: bool,
    /// Run the runtime cases with the crossing-stress runtime linked in
    /// (conformance/src/stress.rs, docs/stress.md): functions cross into a
    /// new segment at almost every call.
    #[arg(long, conflicts_with_all = ["rootfs", "self_test"])]
    stress: bool,
    /// With --self-test: plant only this fault (repeatable).
    #[arg(long = "fault", value_name = "NAME", requires = "self_test")]
    faults: Vec<String>,
    #[command(flatten)]
    build: BuildArgs,
}

/// The repository root (the parent of this crate's directory).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
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
    let manifest = || manifest_of(&repo);
    match cli.cmd {
        Command::BuildToolchain(a) => {
            let info = build::build_toolchain(&ui, &cache, &repo, &manifest()?, &a.options())?;
            println!("{}", info.prefix.display());
        }
        Command::Env { json } => exports::print(&cache, json)?,
        Command::StressRuntime { dir, gcc } => {
            let gcc = match gcc {
                Some(g) => g,
                None => crate::toolchain::info::ToolchainInfo::published(&cache)
                    .context(
                        "no built toolchain: run `cargo xtask build-toolchain`, or give --gcc",
                    )?
                    .prefix
                    .join("bin/aarch64-linux-gnu-gcc"),
            };
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let lib = conformance::stress::write_stress_libgcc(&gcc, &dir)?;
            println!(
                "{}\nuse: {} -fsplit-stack -B{}/ prog.c (docs/stress.md)",
                lib.display(),
                gcc.display(),
                dir.display()
            );
        }
        // Exit status: 0 CONFORMANT, 1 NOT CONFORMANT, 2 the suite could
        // not run (the reason is printed).
        Command::Conformance(a) => {
            return Ok(conformance(&ui, &cache, &repo, a).unwrap_or_else(|e| {
                if e.downcast_ref::<conformance::Interrupted>().is_some() {
                    eprintln!("conformance: interrupted; no verdict");
                    return ExitCode::from(130);
                }
                eprintln!("error: the conformance suite could not run: {e:#}");
                ExitCode::from(2)
            }))
        }
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
            let check = patches_check(&ui, &cache, &repo, &manifest()?)?;
            review::run(&ui, &cache, &repo, &out, &check)?;
        }
        Command::Bench {
            coroutines,
            skip_toolchain_times,
            json,
            markdown,
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
            compare: true,
            selections,
        } => {
            let c = gcc_check::compare_run(&ui, &cache, &selections)?;
            if !c.regressions.is_empty() || c.passed_both == 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::GccCheck {
            compare: false,
            selections,
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
        Command::Patches { cmd } => patches_cmd(&ui, &cache, &repo, &manifest()?, cmd)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Rejects options that cannot apply: build options (`--release`,
/// `--c-only`, `-j`, `--refresh`) with `--toolchain`, which tests a
/// toolchain as it is and builds nothing.
fn check_conformance_args(a: &ConformanceArgs) -> Result<()> {
    let b = &a.build;
    if a.toolchain.is_some() && (b.release || b.c_only || b.jobs != 0 || b.refresh) {
        anyhow::bail!(
            "--release, --c-only, -j and --refresh build the project's toolchain; with \
             --toolchain nothing is built: drop them, or drop --toolchain"
        );
    }
    Ok(())
}

/// Makes Ctrl-C stop the conformance suite cleanly: the running program
/// is killed, the scratch directory removed, and the command exits 130.
/// A second Ctrl-C exits at once.
fn stop_on_ctrl_c() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if conformance::request_stop() {
                std::process::exit(130);
            }
            eprintln!(
                "interrupted: stopping the running check and removing the scratch directory \
                 (Ctrl-C again to exit at once)"
            );
        });
    });
}

fn conformance(ui: &Ui, cache: &Cache, repo: &Path, a: ConformanceArgs) -> Result<ExitCode> {
    check_conformance_args(&a)?;
    if a.rootfs {
        return conformance_rootfs(ui, cache, repo, &a);
    }
    let tc = match &a.toolchain {
        Some(prefix) => {
            let sysroot = a
                .sysroot
                .clone()
                .context("--toolchain needs --sysroot DIR (the glibc to run programs against)")?;
            conformance::Toolchain::from_prefix(prefix, &sysroot, &a.old_sysroots)?
        }
        None => {
            let info =
                build::build_toolchain(ui, cache, repo, &manifest_of(repo)?, &a.build.options())?;
            info.conformance_toolchain(&a.old_sysroots)?
        }
    };
    stop_on_ctrl_c();
    if a.self_test {
        let st = conformance::selftest::run(&tc, &a.faults, &mut |m| {
            ui.line(format!("self-test: {m}"))
        })?;
        print!("{}", st.render());
        return Ok(if st.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let report = if a.stress {
        let dir = tempfile::Builder::new()
            .prefix("split-stack-stress")
            .tempdir()?;
        let stc = conformance::stress::stress_toolchain(&tc, dir.path())?;
        ui.line(
            "stress mode: the runtime cases, linked with the crossing-stress runtime (docs/stress.md)",
        );
        conformance::run_checks(
            &stc,
            &conformance::stress::stress_checks(),
            &mut ui.conformance_progress(),
        )?
    } else {
        conformance::run_with_progress(&tc, &mut ui.conformance_progress())?
    };
    write_report(&report, &a)?;
    Ok(if report.conformant() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `conformance --rootfs`: the suite inside a Debian arm64 root filesystem.
fn conformance_rootfs(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    a: &ConformanceArgs,
) -> Result<ExitCode> {
    let (prefix, sysroot) = match &a.toolchain {
        Some(p) => (
            p.clone(),
            a.sysroot.clone().context(
                "--toolchain needs --sysroot DIR (the glibc to install in the root filesystem)",
            )?,
        ),
        None => {
            let info =
                build::build_toolchain(ui, cache, repo, &manifest_of(repo)?, &a.build.options())?;
            (info.prefix, info.sysroot)
        }
    };
    let (report, _launcher, rfs) =
        rootfs::conformance(ui, cache, repo, &prefix, &sysroot, &a.suite)?;
    println!(
        "root filesystem: {} (Debian {} arm64, distribution glibc: libc6 {})",
        rfs.root.display(),
        rfs.suite,
        rfs.libc6
    );
    write_report(&report, a)?;
    Ok(if report.conformant() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The pinned sources (`toolchain.toml`).  Errors: missing or invalid.
fn manifest_of(repo: &Path) -> Result<Manifest> {
    Manifest::load(&build::manifest_path(repo))
}

/// Prints the report and writes the JSON/Markdown files asked for.
fn write_report(report: &conformance::Report, a: &ConformanceArgs) -> Result<()> {
    print!("{}", report.render());
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &a.markdown {
        std::fs::write(path, report.markdown())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `patches check`: applies every series with `git am` to its pristine
/// source; returns one line per component.  Errors: a patch does not
/// apply (the message names it), sources cannot be prepared.
fn patches_check(ui: &Ui, cache: &Cache, repo: &Path, manifest: &Manifest) -> Result<Vec<String>> {
    let _lock = cache.lock()?;
    let mut apt = apt::Apt::new(cache.apt(), manifest);
    let mut out = Vec::new();
    for c in Component::ALL {
        let s = sources::prepare(ui, cache, manifest, &mut apt, c, &SourceChoice::default())?;
        let n = patches::check(ui, &s.tree, repo, c, s.docs_stubbed)?;
        out.push(format!(
            "{c}: {n} patch(es) apply to {}",
            s.origin.describe()
        ));
    }
    Ok(out)
}

fn patches_cmd(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    manifest: &Manifest,
    cmd: PatchesCmd,
) -> Result<()> {
    let parse_all = |names: &[String]| -> Result<Vec<Component>> {
        if names.is_empty() {
            Ok(Component::ALL.to_vec())
        } else {
            names.iter().map(|n| Component::parse(n)).collect()
        }
    };
    match cmd {
        PatchesCmd::Export { components } => {
            let _lock = cache.lock()?;
            for c in parse_all(&components)? {
                let (written, removed) = patches::export(cache, repo, c)?;
                println!(
                    "{c}: {} written, {} removed{}",
                    written.len(),
                    removed.len(),
                    written
                        .iter()
                        .chain(&removed)
                        .map(|n| format!("\n  {n}"))
                        .collect::<String>()
                );
            }
        }
        PatchesCmd::Status => {
            for c in Component::ALL {
                println!("{c}: {}", patches::state(cache, repo, c)?);
            }
        }
        PatchesCmd::Check => {
            for line in patches_check(ui, cache, repo, manifest)? {
                println!("{line}");
            }
        }
        PatchesCmd::Reset { component } => {
            let _lock = cache.lock()?;
            let c = Component::parse(&component)?;
            let stubbed = c == Component::Gcc && sources::gcc_docs_stubbed(&cache.src("gcc"));
            patches::reset(ui, cache, repo, c, stubbed)?;
            println!("{c}: work tree reset to patches/{c}");
        }
    }
    Ok(())
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
                Ok(Command::Conformance(a)) => check_conformance_args(&a),
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
