//! `cargo xtask go-check`: GCC's Go testsuite (`go.test`, `go.go-torture`,
//! `go.dg`: `make check-go` in the GCC build tree) run under qemu-user
//! twice, with fixed goroutine stacks (the reference) and with split
//! stacks, and compared (docs/gccgo.md).
//!
//! | mode | Go code | libgo at run time |
//! |---|---|---|
//! | `fixed` | `-fno-split-stack -fuse-ld=gold` | libgo built without split stacks ([`crate::toolchain::libgo_fixed`]), through `LD_LIBRARY_PATH` set with qemu's `-E` |
//! | `split` | gccgo's default (`-fsplit-stack`) | the toolchain's libgo (split stacks) |
//!
//! With `--packages`, libgo's own package tests ([`PACKAGES`], `make
//! <pkg>/check` in each libgo build tree) are run the same two ways; their
//! test binaries are run by libgo's `gotest` script directly, so AArch64
//! programs are made runnable through a `binfmt_misc` registration of
//! qemu-user-static (needs root; undone at the end) with `QEMU_LD_PREFIX`
//! naming the sysroot.
//!
//! So the two runs differ only in split stacks.  Before the testsuite,
//! each mode's setup is proven: `conformance/cases/go_small_goroutines.go`
//! must pass in `split` and fail in `fixed` (4 MiB of address space per
//! goroutine), or the run stops: a reference that silently used the split
//! libgo would compare split stacks with themselves.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::base::cache::{write_atomic, Cache};
use crate::base::shell::{fmt_duration, Cmd, Ui};
use crate::harness::compare::{compare, Comparison, Results};
use crate::toolchain::info::ToolchainInfo;

/// The program that tells split from fixed goroutine stacks.
const PROBE_SRC: &str = include_str!("../../../conformance/cases/go_small_goroutines.go");

/// libgo packages whose tests `--packages` runs (the list first).
pub const PACKAGES: &[&str] = &[
    "runtime",
    "sync",
    "sync/atomic",
    "os/signal",
    "context",
    "strings",
    "bytes",
    "sort",
    "fmt",
    "encoding/json",
    "net/http/httptest",
    "runtime/pprof",
    "time",
    "os",
    "io",
    "bufio",
    "strconv",
    "math/big",
    "regexp",
    "container/list",
];

/// A way of building and running the Go testsuite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoMode {
    /// `-fno-split-stack`, fixed-stack libgo: the reference.
    Fixed,
    /// gccgo's default, split-stack libgo.
    Split,
}

impl GoMode {
    pub fn name(self) -> &'static str {
        match self {
            GoMode::Fixed => "fixed",
            GoMode::Split => "split",
        }
    }

    /// Flags added to every compilation and link (DejaGnu's
    /// `multilib_flags`), with the fixed-stack libgo in `fixed_libs`.
    fn flags(self, fixed_libs: &Path) -> Vec<String> {
        match self {
            GoMode::Fixed => crate::toolchain::libgo_fixed::program_flags(fixed_libs),
            GoMode::Split => vec![],
        }
    }

    /// The guest's environment: qemu `-E` settings.
    fn guest_env(self, fixed_libs: &Path) -> Vec<String> {
        match self {
            GoMode::Fixed => vec![format!("LD_LIBRARY_PATH={}", fixed_libs.display())],
            GoMode::Split => vec![],
        }
    }
}

/// The DejaGnu board of `mode`: [`crate::harness::gcc_check::board`] with
/// the mode's flags, and its guest environment in qemu's options.
fn board(sysroot: &Path, mode: GoMode, fixed_libs: &Path) -> String {
    // No status wrapper: it wraps `exit` in the executable only, and Go
    // programs exit through libgo.so, so every execution would lack its
    // "*** EXIT code" line and FAIL; qemu-user passes the exit status on.
    let mut b = crate::harness::gcc_check::board(sysroot, &mode.flags(fixed_libs))
        .replace("set_board_info needs_status_wrapper 1\n", "");
    let env: Vec<String> = mode
        .guest_env(fixed_libs)
        .iter()
        .map(|e| format!(" -E {e}"))
        .collect();
    b = b.replace(
        &format!("set_board_info sim,options \"-L {}\"", sysroot.display()),
        &format!(
            "set_board_info sim,options \"-L {}{}\"",
            sysroot.display(),
            env.concat()
        ),
    );
    b
}

/// What `go-check` ran and found.
#[derive(Debug)]
pub struct GoCheckReport {
    /// The results of each mode.
    pub runs: Vec<(GoMode, Results)>,
    /// `split` compared with `fixed`.
    pub comparison: Comparison,
    /// What the setup probe printed in each mode.
    pub probes: Vec<(GoMode, String)>,
    /// libgo package tests, `split` compared with `fixed` (`None` without
    /// `--packages`).
    pub packages: Option<Comparison>,
    /// Per package: (fixed, split) results.
    pub package_results: Vec<PackageRow>,
    /// What the store-buffering litmus test gave under qemu-user (with
    /// `--packages`), or why it did not run: whether qemu can explain a
    /// `sync/atomic` failure.  A diagnostic: its failure does not stop
    /// the report.
    pub litmus: Option<std::result::Result<Litmus, String>>,
    pub took: std::time::Duration,
}

/// Source of the store-buffering litmus test (STLR then LDAR on two
/// threads; `sync/atomic`'s `TestStoreLoadSeqCst32/64` in C).
const SB_LITMUS_SRC: &str = include_str!("sb_litmus.c");

/// Rounds of each litmus run (well under a second under qemu-user on a
/// quiet 2-core host; seconds when the host is busy).
const SB_ROUNDS: u64 = 30000;

/// Outcome of the store-buffering litmus test under qemu-user: in how
/// many of `rounds` rounds both loads saw the old value (forbidden by the
/// Arm memory model), with the `host_cpus` CPUs the process may use and
/// with every thread pinned to host CPU `pinned_cpu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Litmus {
    pub rounds: u64,
    pub host_cpus: usize,
    pub pinned_cpu: usize,
    pub all_cpus: u64,
    pub one_cpu: u64,
}

impl Litmus {
    /// The report's paragraph.
    fn markdown(&self) -> String {
        let verdict = if self.one_cpu > 0 {
            "reordered even with every thread on one host CPU, which a store buffer cannot \
             explain: unexpected, look into it"
                .to_string()
        } else if self.all_cpus > 0 {
            "qemu-user let a store-release pass a later load-acquire when the two threads ran \
             on different host CPUs, so a `sync/atomic` `TestStoreLoadSeqCst32/64` failure, in \
             either mode, can be qemu's rather than the toolchain's"
                .to_string()
        } else {
            format!(
                "no reordering in this run: inconclusive (a run can miss it: when measured, 3 of \
                 11 runs on 2 host CPUs saw none, docs/gccgo.md){}",
                if self.host_cpus < 2 {
                    "; with one host CPU it cannot show"
                } else {
                    ""
                }
            )
        };
        format!(
            "\nStore-buffering litmus test (`xtask/src/harness/sb_litmus.c`, STLR then LDAR on \
             two threads, {} rounds): both loads saw the old value in {} rounds with {} host \
             CPUs, in {} pinned to host CPU {} (`taskset`); {verdict}.\n",
            self.rounds, self.all_cpus, self.host_cpus, self.one_cpu, self.pinned_cpu
        )
    }
}

/// The report's paragraph for a litmus test that did not run.
fn litmus_not_run(reason: &str) -> String {
    format!("\nStore-buffering litmus test not run: {reason}.\n")
}

/// The count of forbidden outcomes in the litmus program's output line
/// (`N of M rounds: ...`).
fn litmus_count(line: &str) -> Option<u64> {
    line.trim().split_once(" of ")?.0.parse().ok()
}

/// The first CPU of a `Cpus_allowed_list` value of `/proc/self/status`
/// (`0-1`, `2,5-7`).
fn first_allowed_cpu(list: &str) -> Option<usize> {
    list.trim().split([',', '-']).next()?.trim().parse().ok()
}

/// Builds the store-buffering litmus test with the toolchain's C driver
/// and runs it with qemu-user-static (the binfmt_misc interpreter that ran
/// the package tests) twice: with every CPU the process may use, and with
/// all threads pinned to the first of them (util-linux's `taskset`).
/// Errors: it does not build, a runner is missing, or it does not print
/// its line.
fn sb_litmus(ui: &Ui, tc: &ToolchainInfo, dir: &Path) -> Result<Litmus> {
    let src = dir.join("sb_litmus.c");
    std::fs::write(&src, SB_LITMUS_SRC)?;
    let exe = dir.join("sb_litmus");
    Cmd::new(tc.tool("gcc"))
        .args(["-O2", "-pthread"])
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .read()
        .context("cannot build the store-buffering litmus test")?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let pinned_cpu = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(first_allowed_cpu)
        .unwrap_or(0);
    let host_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rounds = SB_ROUNDS.to_string();
    let qemu = crate::env::rootfs::QEMU_STATIC;
    let mut counts = Vec::new();
    for pinned in [false, true] {
        let cmd = if pinned {
            Cmd::new("taskset").args(["-c".to_string(), pinned_cpu.to_string(), qemu.into()])
        } else {
            Cmd::new(qemu)
        };
        let cmd = cmd
            .arg("-L")
            .arg(&tc.sysroot)
            .arg(&exe)
            .arg(&rounds)
            .with_timeout(600);
        let (_, out, err) = cmd
            .output()
            .with_context(|| format!("cannot run {}", cmd.display()))?;
        let n = litmus_count(&out)
            .with_context(|| format!("`{}` printed {out:?} ({})", cmd.display(), err.trim()))?;
        ui.line(format!(
            "go-check: store-buffering litmus ({}): {}",
            if pinned {
                format!("pinned to host CPU {pinned_cpu}")
            } else {
                format!("{host_cpus} host CPUs")
            },
            out.trim()
        ));
        counts.push(n);
    }
    Ok(Litmus {
        rounds: SB_ROUNDS,
        host_cpus,
        pinned_cpu,
        all_cpus: counts[0],
        one_cpu: counts[1],
    })
}

impl GoCheckReport {
    /// Whether the run shows a problem: a regression, or nothing passed
    /// in both modes (a broken setup).
    pub fn failed(&self) -> bool {
        !self.comparison.regressions.is_empty()
            || (!self.runs.is_empty() && self.comparison.passed_both == 0)
            || self
                .packages
                .as_ref()
                .is_some_and(|p| !p.regressions.is_empty() || p.passed_both == 0)
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let c = &self.comparison;
        let count = |m: GoMode| {
            self.runs
                .iter()
                .find(|(r, _)| *r == m)
                .map_or(0, |(_, r)| r.len())
        };
        let mut md = format!(
            "# GCC's Go testsuite, split vs fixed goroutine stacks\n\n\
             Produced by `cargo xtask go-check` in {} with {} parallel jobs: `make check-go` \
             (`go.test`, `go.go-torture`, `go.dg`) in the GCC build tree, programs run \
             under qemu-user; `fixed`: `-fno-split-stack` and libgo built without split \
             stacks; `split`: gccgo's default and the toolchain's libgo. XFAIL counts as \
             passing.\n\n\
             | | fixed | split |\n|---|---|---|\n| results | {} | {} |\n\n\
             Compared: {} passing in both, {} regressions, {} fixed, {} failing in both, \
             {} unsupported or untested in both, {} only in split, {} only in fixed (not \
             passing there).\n\nSetup probe (`conformance/cases/go_small_goroutines.go`):\n\n",
            fmt_duration(self.took),
            crate::base::shell::default_jobs(),
            count(GoMode::Fixed),
            count(GoMode::Split),
            c.passed_both,
            c.regressions.len(),
            c.fixed.len(),
            c.both_fail.len(),
            c.unsupported.len(),
            c.new.len(),
            c.dropped.len()
        );
        for (m, p) in &self.probes {
            md.push_str(&format!("- {}: `{}`\n", m.name(), p.trim()));
        }
        if let Some(p) = &self.packages {
            md.push_str(&format!(
                "\n## libgo package tests\n\n`make <package>/check` in each libgo build tree \
                 (test code built with `-fno-split-stack` in fixed), test binaries run under \
                 qemu-user through binfmt_misc: {} passing in both, {} regressions, {} fixed, \
                 {} failing in both.\n\n| package | fixed | split |\n|---|---|---|\n",
                p.passed_both,
                p.regressions.len(),
                p.fixed.len(),
                p.both_fail.len()
            ));
            for (pkg, f, sp) in &self.package_results {
                md.push_str(&format!("| `{pkg}` | {f} | {sp} |\n"));
            }
            match &self.litmus {
                Some(Ok(l)) => md.push_str(&l.markdown()),
                Some(Err(why)) => md.push_str(&litmus_not_run(why)),
                None => {}
            }
        }
        for (title, list) in [
            (
                "Regressions",
                c.regressions
                    .iter()
                    .map(|(t, u, p)| format!("`{t}`: {u} -> {p}"))
                    .collect::<Vec<_>>(),
            ),
            (
                "Fixed by split stacks",
                c.fixed.iter().map(|t| format!("`{t}`")).collect(),
            ),
            (
                "Failing in both",
                c.both_fail
                    .iter()
                    .map(|(t, r)| format!("`{t}`: {r}"))
                    .collect(),
            ),
            (
                "Only in split",
                c.new.iter().map(|(t, r)| format!("`{t}`: {r}")).collect(),
            ),
            (
                "Only in fixed, not passing there",
                c.dropped
                    .iter()
                    .map(|(t, r)| format!("`{t}`: {r}"))
                    .collect(),
            ),
        ] {
            if !list.is_empty() {
                md.push_str(&format!("\n## {title}\n\n"));
                for l in list {
                    md.push_str(&format!("- {l}\n"));
                }
            }
        }
        md
    }
}

/// The address space per goroutine (KiB) in the probe's FAILED line,
/// `go small goroutines FAILED: 4110.7 KiB address space and ...`.
fn probe_address_space_kib(line: &str) -> Option<f64> {
    line.split_once("FAILED: ")?
        .1
        .split_once(" KiB address space")?
        .0
        .trim()
        .parse()
        .ok()
}

/// Checks the DejaGnu logs of `mode` (the `go.log` of each parallel
/// part): every program was run with the fixed-stack libgo first in
/// `LD_LIBRARY_PATH` in `fixed` and never in `split`.  Returns the number
/// of runs seen.  Errors: a run that breaks this.
fn check_runs(logs: &[String], mode: GoMode, fixed_libs: &Path) -> Result<usize> {
    let want = format!("-E LD_LIBRARY_PATH={}", fixed_libs.display());
    let mut n = 0;
    for log in logs {
        for l in log.lines().filter(|l| l.starts_with("spawn qemu-aarch64")) {
            n += 1;
            if l.contains(&want) != (mode == GoMode::Fixed) {
                bail!(
                    "go-check ({}): a program ran with the wrong libgo: {l}",
                    mode.name()
                );
            }
        }
    }
    Ok(n)
}

/// Builds the probe with `mode`'s flags and runs it with its environment;
/// returns (exit 0, first line of output).
fn probe(
    tc: &ToolchainInfo,
    dir: &Path,
    mode: GoMode,
    fixed_libs: &Path,
) -> Result<(bool, String)> {
    let src = dir.join("go_small_goroutines.go");
    std::fs::write(&src, PROBE_SRC)?;
    let exe = dir.join(format!("probe-{}", mode.name()));
    Cmd::new(tc.tool("gccgo"))
        .arg("-O2")
        .args(mode.flags(fixed_libs))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .read()
        .with_context(|| format!("cannot build the setup probe ({})", mode.name()))?;
    let mut cmd = Cmd::new("qemu-aarch64").arg("-L").arg(&tc.sysroot);
    for e in mode.guest_env(fixed_libs) {
        cmd = cmd.arg("-E").arg(e);
    }
    let (ok, out, _) = cmd.arg(&exe).with_timeout(600).output()?;
    Ok((ok, out.lines().next().unwrap_or("").to_string()))
}

/// Runs the Go testsuite in both modes (only the test files `only`,
/// e.g. `go-test.exp=\"a.go b.go\"` selections, if given) and compares
/// them; writes `<cache>/logs/go-check.md`.  Errors: no toolchain with Go,
/// DejaGnu missing, a setup probe that does not tell the modes apart, a
/// run without a summary.
pub fn run(
    ui: &Ui,
    cache: &Cache,
    only: &[String],
    packages: bool,
    testsuite: bool,
) -> Result<GoCheckReport> {
    let start = Instant::now();
    let tc = ToolchainInfo::published(cache)
        .filter(|t| t.go)
        .context("no toolchain with Go: run `cargo xtask build-toolchain --with-go`")?;
    let build = cache.build("gcc").join("gcc");
    crate::harness::gcc_check::check_prerequisites(ui, cache, &build)?;
    let fixed_libs = crate::toolchain::libgo_fixed::fixed_libgo(ui, cache, &tc)?;
    let dir = cache.root().join("go-check");
    std::fs::create_dir_all(dir.join("boards"))?;
    let mut probes = Vec::new();
    for mode in [GoMode::Fixed, GoMode::Split] {
        let (ok, line) = probe(&tc, &dir, mode, &fixed_libs)?;
        ui.line(format!("go-check: setup probe, {}: {line}", mode.name()));
        // Fixed stacks must fail the probe by their address space (libgo's
        // 4 MiB StackMin), not by failing to start.
        let fixed_stacks = probe_address_space_kib(&line).is_some_and(|k| k >= 4096.0);
        if ok != (mode == GoMode::Split) || (mode == GoMode::Fixed && !fixed_stacks) {
            bail!(
                "go-check: the setup probe {} in mode {} ({line}): the mode does not run the \
                 goroutine stacks it claims",
                if ok { "passed" } else { "failed" },
                mode.name()
            );
        }
        probes.push((mode, line));
        std::fs::write(
            dir.join(format!("boards/aarch64-qemu-go-{}.exp", mode.name())),
            board(&tc.sysroot, mode, &fixed_libs),
        )?;
    }
    let site = dir.join("site.exp");
    std::fs::write(
        &site,
        format!("lappend boards_dir {}\n", dir.join("boards").display()),
    )?;
    let sum = build.join("testsuite/go/go.sum");
    let mut runs = Vec::new();
    let modes: &[GoMode] = if testsuite {
        &[GoMode::Fixed, GoMode::Split]
    } else {
        &[]
    };
    for &mode in modes {
        let _ = std::fs::remove_file(&sum);
        let log = cache.log(&format!("go-check-{}", mode.name()));
        let mut flags = format!("--target_board=aarch64-qemu-go-{}", mode.name());
        for o in only {
            flags.push(' ');
            flags.push_str(o);
        }
        Cmd::new("make")
            .arg(format!("-j{}", crate::base::shell::default_jobs()))
            .arg("check-go")
            .arg(format!("RUNTESTFLAGS={flags}"))
            .env("DEJAGNU", &site)
            .env("LC_ALL", "C")
            .dir(&build)
            .run_logged_status(ui, &format!("go-check: check-go ({})", mode.name()), &log)?;
        let text = std::fs::read_to_string(&sum)
            .with_context(|| format!("no {}; see {}", sum.display(), log.display()))?;
        write_atomic(
            &cache.logs().join(format!("go-check-{}.sum", mode.name())),
            text.as_bytes(),
        )?;
        // check-go runs in parallel parts (testsuite/go, go1, go2, ...),
        // each with its own go.log: keep them, and check every run.
        let mut logs = Vec::new();
        for e in std::fs::read_dir(build.join("testsuite"))? {
            let d = e?.path();
            let name = d
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let part = d.join("go.log");
            if name.starts_with("go") && !name.contains("parallel") && part.is_file() {
                let t = std::fs::read_to_string(&part)?;
                write_atomic(
                    &cache
                        .logs()
                        .join(format!("go-check-{}-{name}.log", mode.name())),
                    t.as_bytes(),
                )?;
                logs.push(t);
            }
        }
        let spawned = check_runs(&logs, mode, &fixed_libs)?;
        ui.line(format!(
            "go-check: {}: {spawned} program runs, each with the libgo of the mode",
            mode.name()
        ));
        // UNTESTED (go-test.exp's "not run here") is compared like
        // UNSUPPORTED: UNTESTED in fixed and FAIL in split is a regression.
        let results: Results = crate::harness::gcc_check::parse_gcc_sum(&text)
            .into_iter()
            .map(|(t, r)| {
                let r = if r == "UNTESTED" {
                    "UNSUPPORTED".to_string()
                } else {
                    r
                };
                (t, r)
            })
            .collect();
        ui.line(format!(
            "go-check: {}: {} results",
            mode.name(),
            results.len()
        ));
        runs.push((mode, results));
    }
    let comparison = match runs.as_slice() {
        [(_, fixed), (_, split)] => compare(fixed, split),
        _ => Comparison::default(),
    };
    let (packages, package_results, litmus) = if packages {
        let (c, r) = package_tests(ui, cache, &tc, &fixed_libs)?;
        // A diagnostic: a litmus test that cannot run is reported as such,
        // and the report is still written.
        let litmus = sb_litmus(ui, &tc, &dir).map_err(|e| format!("{e:#}"));
        if let Err(why) = &litmus {
            ui.line(format!("go-check: store-buffering litmus not run: {why}"));
        }
        (Some(c), r, Some(litmus))
    } else {
        (None, Vec::new(), None)
    };
    let report = GoCheckReport {
        runs,
        comparison,
        probes,
        packages,
        package_results,
        litmus,
        took: start.elapsed(),
    };
    let out = cache.logs().join("go-check.md");
    write_atomic(&out, report.markdown().as_bytes())?;
    ui.line(format!(
        "go-check: {} passing in both, {} regressions; report {}",
        report.comparison.passed_both,
        report.comparison.regressions.len(),
        out.display()
    ));
    Ok(report)
}

/// A libgo package and its result with fixed and with split stacks.
pub type PackageRow = (String, String, String);

/// Runs [`PACKAGES`]' tests in the fixed-stack and the split-stack libgo
/// build trees; returns their comparison and (package, fixed, split)
/// results.  Errors: not root (binfmt_misc), a tree missing.
fn package_tests(
    ui: &Ui,
    cache: &Cache,
    tc: &ToolchainInfo,
    fixed_libs: &Path,
) -> Result<(Comparison, Vec<PackageRow>)> {
    let _binfmt = crate::env::rootfs::binfmt(ui)?;
    let target = cache.build("gcc").join("aarch64-linux-gnu");
    let fixed_dir = fixed_libs.parent().context("no libgo-fixed")?.to_path_buf();
    let mut per_mode: Vec<Results> = Vec::new();
    for (mode, dir) in [
        (GoMode::Fixed, fixed_dir),
        (GoMode::Split, target.join("libgo")),
    ] {
        let targets: Vec<String> = PACKAGES.iter().map(|p| format!("{p}/check")).collect();
        for p in PACKAGES {
            let _ = std::fs::remove_file(dir.join(format!("{p}/check-testsum")));
        }
        let log = cache.log(&format!("go-check-packages-{}", mode.name()));
        // A cross-built libgo reports through DejaGnu (USE_DEJAGNU=yes,
        // results only on standard output); with binfmt_misc the test
        // binaries run as if native, so use gotest's own mode, which
        // writes each package's check-testsum.
        let mut make = Cmd::new("make")
            .arg("-k")
            .arg(format!("-j{}", crate::base::shell::default_jobs()))
            .arg("USE_DEJAGNU=no")
            .args(targets)
            .env("QEMU_LD_PREFIX", &tc.sysroot)
            .env("LC_ALL", "C")
            .dir(&dir);
        if mode == GoMode::Fixed {
            // The package tests are compiled with GOCFLAGS, which lacks
            // the tree's -fno-split-stack (AM_GOCFLAGS).
            make = make.arg("GOCFLAGS=-g -O2 -fno-split-stack");
        }
        // A failing package makes make fail: the results are read from
        // each package's check-testsum, a missing one is a failure.
        let _ = make.run_logged_status(
            ui,
            &format!("go-check: libgo package tests ({})", mode.name()),
            &log,
        );
        let mut r = Results::new();
        for p in PACKAGES {
            let sum =
                std::fs::read_to_string(dir.join(format!("{p}/check-testsum"))).unwrap_or_default();
            let result = if sum.starts_with("PASS:") {
                "PASS"
            } else if sum.starts_with("FAIL:") {
                "FAIL"
            } else {
                "UNRESOLVED"
            };
            r.insert(format!("libgo {p}"), result.to_string());
        }
        per_mode.push(r);
    }
    let rows = PACKAGES
        .iter()
        .map(|p| {
            let k = format!("libgo {p}");
            let get = |r: &Results| r.get(&k).cloned().unwrap_or_default();
            (p.to_string(), get(&per_mode[0]), get(&per_mode[1]))
        })
        .collect();
    Ok((compare(&per_mode[0], &per_mode[1]), rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_litmus_line_gives_its_count_and_the_verdict_follows_the_counts() {
        assert_eq!(
            litmus_count("16 of 30000 rounds: both loads saw the old value\n"),
            Some(16)
        );
        assert_eq!(litmus_count("qemu: cannot run"), None);
        let l = |all_cpus, one_cpu| Litmus {
            rounds: 30000,
            host_cpus: 2,
            pinned_cpu: 0,
            all_cpus,
            one_cpu,
        };
        assert!(l(16, 0).markdown().contains("can be qemu's"));
        assert!(l(0, 0).markdown().contains("inconclusive"));
        assert!(!l(0, 0).markdown().contains("cannot show"));
        assert!(l(3, 2).markdown().contains("unexpected"));
        assert!(l(0, 2).markdown().contains("unexpected"));
        assert!(l(16, 0)
            .markdown()
            .contains("in 16 rounds with 2 host CPUs"));
        let one = Litmus {
            host_cpus: 1,
            ..l(0, 0)
        };
        assert!(one.markdown().contains("cannot show"));
        assert!(litmus_not_run("no taskset").contains("not run: no taskset"));
        assert_eq!(first_allowed_cpu(" 0-1\n"), Some(0));
        assert_eq!(first_allowed_cpu("2,5-7"), Some(2));
        assert_eq!(first_allowed_cpu("3"), Some(3));
        assert_eq!(first_allowed_cpu(""), None);
    }

    #[test]
    fn the_probe_line_gives_the_address_space() {
        let l = "go small goroutines FAILED: 4110.7 KiB address space and 14.2 KiB resident per parked goroutine, 0 wrong results";
        assert_eq!(probe_address_space_kib(l), Some(4110.7));
        assert_eq!(probe_address_space_kib("go small goroutines ok"), None);
        assert_eq!(
            probe_address_space_kib("error while loading shared libraries"),
            None
        );
    }

    #[test]
    fn every_fixed_run_must_use_the_fixed_libgo() {
        let libs = Path::new("/c/f/.libs");
        let good = "spawn qemu-aarch64 -L /s -E LD_LIBRARY_PATH=/c/f/.libs /t/a.x\nPASS: a\n";
        let bad = "spawn qemu-aarch64 -L /s /t/b.x\n";
        assert_eq!(check_runs(&[good.into()], GoMode::Fixed, libs).unwrap(), 1);
        assert!(check_runs(&[good.into(), bad.into()], GoMode::Fixed, libs).is_err());
        assert_eq!(check_runs(&[bad.into()], GoMode::Split, libs).unwrap(), 1);
        assert!(check_runs(&[good.into()], GoMode::Split, libs).is_err());
    }

    #[test]
    fn the_fixed_board_adds_the_fixed_libgo_and_nothing_else() {
        let libs = Path::new("/c/libgo-fixed/.libs");
        let b = board(Path::new("/sys"), GoMode::Fixed, libs);
        assert!(
            b.contains("sim,options \"-L /sys -E LD_LIBRARY_PATH=/c/libgo-fixed/.libs\""),
            "{b}"
        );
        assert!(
            b.contains("multilib_flags \"-fno-split-stack -fuse-ld=gold -L/c/libgo-fixed/.libs\""),
            "{b}"
        );
        let s = board(Path::new("/sys"), GoMode::Split, libs);
        assert!(s.contains("sim,options \"-L /sys\""), "{s}");
        assert!(!s.contains("multilib_flags"), "{s}");
        assert!(!s.contains("libgo-fixed"), "{s}");
        assert!(!s.contains("needs_status_wrapper") && !b.contains("needs_status_wrapper"));
    }
}
