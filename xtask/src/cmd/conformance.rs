//! `cargo xtask conformance`: the ABI conformance suite on the built
//! toolchain or on one given with `--toolchain`, its self-test, its stress
//! mode, and `--rootfs`.  Exit status: 0 CONFORMANT, 1 NOT CONFORMANT, 2
//! the suite could not run, 130 interrupted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::base::cache::Cache;
use crate::base::shell::Ui;
use crate::cmd::args::BuildArgs;
use crate::env::rootfs;
use crate::toolchain::build;

#[derive(Args)]
pub struct ConformanceArgs {
    /// Toolchain prefix: a directory with bin/aarch64-linux-gnu-gcc, or the
    /// path of the gcc driver itself (default: the built toolchain).
    #[arg(long, value_name = "PREFIX")]
    pub toolchain: Option<PathBuf>,
    /// Sysroot with the glibc to test against (required with --toolchain,
    /// and only meaningful with it).
    #[arg(long, value_name = "DIR", requires = "toolchain")]
    pub sysroot: Option<PathBuf>,
    /// Stock glibc sysroots that split-stack programs must be refused by
    /// (repeatable).
    #[arg(long = "old-sysroot", value_name = "DIR")]
    pub old_sysroots: Vec<PathBuf>,
    /// Write the report as JSON to this file as well.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the report as Markdown (a table per check) to this file as well.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Run the programs inside a Debian arm64 root filesystem (chroot,
    /// binfmt_misc, qemu-user-static; as root), with the distribution's
    /// glibc as the old glibc and the patched one installed beside it.
    #[arg(long)]
    pub rootfs: bool,
    /// Debian suite of the --rootfs root filesystem.
    #[arg(long, default_value = rootfs::DEFAULT_SUITE, requires = "rootfs")]
    pub suite: String,
    /// Instead of judging the toolchain, test the suite: plant faults
    /// into the (conformant) toolchain's output one at a time and require
    /// each to be caught by the checks that own its rule
    /// (conformance/src/selftest.rs).  Exit 0 only if every fault is
    /// caught and the owning checks pass on the unmodified toolchain.
    #[arg(long, conflicts_with = "rootfs")]
    pub self_test: bool,
    /// Run the runtime cases with the crossing-stress runtime linked in
    /// (conformance/src/stress.rs, docs/stress.md): functions cross into a
    /// new segment at almost every call.
    #[arg(long, conflicts_with_all = ["rootfs", "self_test"])]
    pub stress: bool,
    /// Run the runtime cases with the distributions' hardening flags added
    /// to every compilation and link (PIE, stack protector, stack-clash
    /// protection, branch protection, _FORTIFY_SOURCE=2, relro/now).
    #[arg(long, conflicts_with_all = ["rootfs", "self_test", "stress"])]
    pub hardened: bool,
    /// With --self-test: plant only this fault (repeatable).
    #[arg(long = "fault", value_name = "NAME", requires = "self_test")]
    pub faults: Vec<String>,
    #[command(flatten)]
    pub build: BuildArgs,
}

/// Rejects options that cannot apply: build options (`--release`,
/// `--c-only`, `-j`, `--refresh`) with `--toolchain`, which tests a
/// toolchain as it is and builds nothing.
pub fn check_conformance_args(a: &ConformanceArgs) -> Result<()> {
    let b = &a.build;
    if a.toolchain.is_some() && (b.release || b.c_only || b.jobs != 0 || b.refresh) {
        anyhow::bail!(
            "--release, --c-only, -j and --refresh build the project's toolchain; with \
             --toolchain nothing is built: drop them, or drop --toolchain"
        );
    }
    Ok(())
}

/// Runs the suite (or its self-test or stress mode) on the toolchain that
/// `a` names, or on the built one; returns the exit code of the verdict.
/// Errors mean the suite could not run.
pub fn conformance(ui: &Ui, cache: &Cache, repo: &Path, a: ConformanceArgs) -> Result<ExitCode> {
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
            let opts = a.build.options();
            let info = match build::find_current(cache, repo, &opts) {
                Some(info) => {
                    ui.line(format!(
                        "toolchain is up to date: {} (quick key and work-tree heads; \
                         `cargo xtask build-toolchain` checks everything)",
                        info.prefix.display()
                    ));
                    info
                }
                None => {
                    build::build_toolchain(ui, cache, repo, &build::load_manifest(repo)?, &opts)?
                }
            };
            info.conformance_toolchain(&a.old_sysroots)?
        }
    };
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
        runtime_mode(ui, &tc, RuntimeMode::Stress)?
    } else if a.hardened {
        runtime_mode(ui, &tc, RuntimeMode::Hardened)?
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
pub fn conformance_rootfs(
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
            let info = build::build_toolchain(
                ui,
                cache,
                repo,
                &build::load_manifest(repo)?,
                &a.build.options(),
            )?;
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

/// Prints the report and writes the JSON/Markdown files asked for.
pub fn write_report(report: &conformance::Report, a: &ConformanceArgs) -> Result<()> {
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

/// The two other ways of running the suite's runtime cases.
#[derive(Debug, Clone, Copy)]
pub enum RuntimeMode {
    /// With the crossing-stress runtime (`conformance::stress`), every
    /// runtime case but the exact guard values.
    Stress,
    /// With the distributions' hardening flags, every runtime case.
    Hardened,
}

/// Runs the runtime cases of `tc` in `mode` (a driver wrapper in a
/// scratch directory); returns the report.  Errors: as
/// [`conformance::run_checks`], or the wrapper cannot be written.
pub fn runtime_mode(
    ui: &Ui,
    tc: &conformance::Toolchain,
    mode: RuntimeMode,
) -> Result<conformance::Report> {
    use conformance::stress;
    let dir = tempfile::Builder::new()
        .prefix("split-stack-mode")
        .tempdir()?;
    let (mtc, checks, what) = match mode {
        RuntimeMode::Stress => (
            stress::stress_toolchain(tc, dir.path())?,
            stress::stress_checks(),
            "the crossing-stress runtime (docs/stress.md)".to_string(),
        ),
        RuntimeMode::Hardened => (
            stress::hardened_toolchain(tc, dir.path())?,
            stress::runtime_checks(),
            stress::HARDENING_FLAGS.join(" "),
        ),
    };
    ui.line(format!("{mode:?} mode: the runtime cases with {what}"));
    conformance::run_checks(&mtc, &checks, &mut ui.conformance_progress())
}

/// Runs the command and turns "could not run" into exit 2 and an
/// interruption into 130 (after the message).
pub fn main(ui: &Ui, cache: &Cache, repo: &Path, a: ConformanceArgs) -> ExitCode {
    conformance(ui, cache, repo, a).unwrap_or_else(|e| {
        if e.downcast_ref::<conformance::Interrupted>().is_some()
            || e.downcast_ref::<crate::base::shell::Interrupted>()
                .is_some()
        {
            eprintln!("conformance: interrupted; no verdict");
            return ExitCode::from(130);
        }
        eprintln!("error: the conformance suite could not run: {e:#}");
        ExitCode::from(2)
    })
}
