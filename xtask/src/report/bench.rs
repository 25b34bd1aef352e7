//! `cargo xtask bench`: what split stacks cost, in executed instructions.
//!
//! Every workload in `bench/cases/` is built four ways: AArch64 with the
//! project's toolchain and x86_64 with the host's GCC (the reference, which
//! supports `-fsplit-stack` natively; split-stack builds are linked with
//! gold, as the AArch64 driver does, so that both get the linker's
//! rewrite of calls into non-split code), each with and without
//! `-fsplit-stack`.  Executed instructions are counted exactly: AArch64
//! under `qemu-aarch64` with the `insn-count` TCG plugin
//! (`bench/insn-count`), x86_64 under `valgrind --tool=callgrind` (its
//! `summary:` line, instructions read).  Per-unit figures are slopes: each
//! workload runs at two sizes and the difference of the counts is divided
//! by the difference of the units it reports (calls, crossings,
//! iterations), which removes start-up and exit exactly.  Wall time is a
//! secondary figure, a ratio of two runs of the same run of the bench.
//!
//! Behaviour a figure depends on is checked, not assumed: the crossing
//! workloads report whether the measured frame really was on another
//! segment, and the bench fails if not.  Timings are reported, never
//! asserted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::base::cache::{write_atomic, Cache};
use crate::base::shell::{Cmd, Ui};
use crate::toolchain::info::ToolchainInfo;

/// Longest a single workload run may take (seconds) before it is killed.
const RUN_TIMEOUT_S: u64 = 900;

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Coroutine counts of the memory figure.
    pub coroutines: Vec<usize>,
    /// Skip figure 5 (toolchain build and conformance times).
    pub skip_toolchain_times: bool,
    /// Write the table as JSON here.
    pub json: Option<PathBuf>,
    /// Write the table as Markdown here.
    pub markdown: Option<PathBuf>,
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Figure number (1-5, as in the issue and the README).
    pub figure: u32,
    /// What is measured.
    pub item: String,
    /// AArch64 value (this project's toolchain), if measured.
    pub aarch64: Option<f64>,
    /// x86_64 reference value (host GCC), if measured.
    pub x86_64: Option<f64>,
    /// Unit of both values.
    pub unit: String,
    /// How it was obtained.
    pub method: String,
}

/// The whole result.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Where it was measured (`uname -srm`, CPU model, qemu and valgrind
    /// versions).
    pub machine: String,
    pub rows: Vec<Row>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Arch {
    Aarch64,
    X86_64,
}

impl Arch {
    fn name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
        }
    }
}

/// A built workload binary.
struct Bin {
    arch: Arch,
    path: PathBuf,
}

/// The key=value lines a workload prints.
type Output = BTreeMap<String, String>;

fn parse_output(text: &str) -> Output {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn field(out: &Output, key: &str, bin: &Path) -> Result<f64> {
    out.get(key)
        .with_context(|| format!("{} printed no {key}=", bin.display()))?
        .parse::<f64>()
        .with_context(|| format!("{} printed a non-numeric {key}=", bin.display()))
}

struct Bench<'a> {
    ui: &'a Ui,
    tc: &'a ToolchainInfo,
    dir: PathBuf,
    plugin: PathBuf,
    repo: PathBuf,
}

/// Extracts callgrind's total from its output file (`summary: N`, or
/// `totals: N` in older formats).  Errors: no such line.
pub fn callgrind_total(text: &str) -> Result<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .context("callgrind output has no summary: line")
}

impl Bench<'_> {
    fn compile(&self, arch: Arch, case: &str, split: bool, extra: &[&str]) -> Result<Bin> {
        self.compile_tagged(arch, case, split, extra, "")
    }

    /// [`Self::compile`] into a directory of its own, named after `tag`
    /// (for builds whose `extra` flags differ from the usual ones).
    fn compile_tagged(
        &self,
        arch: Arch,
        case: &str,
        split: bool,
        extra: &[&str],
        tag: &str,
    ) -> Result<Bin> {
        let src = self.repo.join("bench/cases").join(format!("{case}.c"));
        let variant = if split { "split" } else { "nosplit" };
        let out = self
            .dir
            .join(format!("{}-{variant}{tag}", arch.name()))
            .join(case);
        std::fs::create_dir_all(out.parent().context("no parent")?)?;
        let cc = match arch {
            Arch::Aarch64 => self.tc.tool("gcc"),
            Arch::X86_64 => PathBuf::from("gcc"),
        };
        let mut cmd = Cmd::new(&cc)
            .args(["-O2", "-fno-optimize-sibling-calls"])
            .args(extra.iter().copied());
        if split {
            cmd = cmd.args(["-fsplit-stack", "-DSPLIT"]);
            // Like for like: the AArch64 driver links split-stack programs
            // with gold, which rewrites calls into non-split code; Debian's
            // x86_64 GCC would use ld.bfd, which does not.
            if arch == Arch::X86_64 {
                cmd = cmd.arg("-fuse-ld=gold");
            }
        }
        cmd.arg(&src)
            .arg("-o")
            .arg(&out)
            .read()
            .with_context(|| format!("cannot build bench case {case} for {}", arch.name()))?;
        Ok(Bin { arch, path: out })
    }

    /// Runs `bin` with `args`; returns its output and, with `count`, the
    /// executed instructions.  Errors: non-zero exit, tool failure.
    fn run(&self, bin: &Bin, args: &[String], count: bool) -> Result<(Output, Option<u64>, f64)> {
        self.run_env(bin, args, count, &[])
    }

    /// [`Self::run`] with extra environment variables for the program
    /// (under qemu-user they reach the guest through qemu's environment).
    fn run_env(
        &self,
        bin: &Bin,
        args: &[String],
        count: bool,
        env: &[(&str, &str)],
    ) -> Result<(Output, Option<u64>, f64)> {
        let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        let cmd = match (bin.arch, count) {
            (Arch::Aarch64, true) => Cmd::new("qemu-aarch64")
                .arg("-L")
                .arg(&self.tc.sysroot)
                .arg("-plugin")
                .arg(format!(
                    "{},out={}",
                    self.plugin.display(),
                    tmp.path().display()
                ))
                .arg(&bin.path),
            (Arch::Aarch64, false) => Cmd::new("qemu-aarch64")
                .arg("-L")
                .arg(&self.tc.sysroot)
                .arg(&bin.path),
            (Arch::X86_64, true) => Cmd::new("valgrind")
                .args(["--tool=callgrind", "-q"])
                .arg(format!("--callgrind-out-file={}", tmp.path().display()))
                .arg(&bin.path),
            (Arch::X86_64, false) => Cmd::new(&bin.path),
        }
        .args(args.iter().cloned())
        .env("LC_ALL", "C");
        let cmd = env.iter().fold(cmd, |c, (k, v)| c.env(k, v));
        // A workload that hangs must not hang the bench.
        let cmd = cmd.with_timeout(RUN_TIMEOUT_S);
        let t = Instant::now();
        let (ok, stdout, stderr) = cmd.output()?;
        let wall = t.elapsed().as_secs_f64();
        if !ok {
            bail!(
                "`{}` failed:\n{}{}",
                cmd.display(),
                stdout,
                stderr.trim_end()
            );
        }
        let n = if count {
            let text = std::fs::read_to_string(tmp.path())?;
            Some(match bin.arch {
                Arch::Aarch64 => text
                    .trim()
                    .parse()
                    .with_context(|| format!("insn-count wrote {text:?}"))?,
                Arch::X86_64 => callgrind_total(&text)?,
            })
        } else {
            None
        };
        Ok((parse_output(&stdout), n, wall))
    }

    /// Instructions per unit between two sizes: (I2 - I1) / (u2 - u1).
    /// Also returns the larger run's output.
    fn slope(&self, bin: &Bin, a1: &[String], a2: &[String]) -> Result<(f64, Output)> {
        let (o1, n1, _) = self.run(bin, a1, true)?;
        let (o2, n2, _) = self.run(bin, a2, true)?;
        let (u1, u2) = (
            field(&o1, "units", &bin.path)?,
            field(&o2, "units", &bin.path)?,
        );
        if u2 <= u1 {
            bail!("{}: units did not grow with the size", bin.path.display());
        }
        let (n1, n2) = (n1.unwrap_or(0) as f64, n2.unwrap_or(0) as f64);
        Ok(((n2 - n1) / (u2 - u1), o2))
    }

    /// System calls the program made (AArch64: `qemu-aarch64 -strace`;
    /// x86_64: `strace -f`), counted from the tracers' one line per call;
    /// signal deliveries and exit notes are not calls.  Errors: the run
    /// fails or the tracer cannot be started.
    fn syscalls(&self, bin: &Bin, args: &[String]) -> Result<u64> {
        let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        let cmd = match bin.arch {
            Arch::Aarch64 => Cmd::new("qemu-aarch64")
                .arg("-L")
                .arg(&self.tc.sysroot)
                .arg("-strace")
                .arg(&bin.path),
            Arch::X86_64 => Cmd::new("strace")
                .args(["-f", "-qq", "-o"])
                .arg(tmp.path())
                .arg(&bin.path),
        }
        .args(args.iter().cloned())
        .env("LC_ALL", "C")
        .with_timeout(RUN_TIMEOUT_S);
        let (ok, _stdout, stderr) = cmd.output()?;
        if !ok {
            bail!("`{}` failed:\n{}", cmd.display(), stderr.trim_end());
        }
        let text = match bin.arch {
            // qemu writes its trace to stderr: "PID name(args) = ret".
            Arch::Aarch64 => stderr,
            Arch::X86_64 => std::fs::read_to_string(tmp.path())?,
        };
        Ok(count_syscall_lines(&text))
    }

    /// System calls per unit between two sizes, like [`Bench::slope`].
    fn syscall_slope(&self, bin: &Bin, a1: &[String], a2: &[String], u: (f64, f64)) -> Result<f64> {
        let n1 = self.syscalls(bin, a1)? as f64;
        let n2 = self.syscalls(bin, a2)? as f64;
        Ok((n2 - n1) / (u.1 - u.0))
    }

    fn ui_step(&self, msg: &str) {
        self.ui.line(format!("bench: {msg}"));
    }
}

/// The lines of a system-call trace that are calls: those with a name
/// followed by `(`, after an optional leading PID; not `--- SIG...`
/// (signal deliveries) or `+++ exited` lines.
pub(crate) fn count_syscall_lines(text: &str) -> u64 {
    text.lines()
        .filter(|l| {
            let l = l.trim_start();
            let l = l
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start();
            let name: String = l
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && l[name.len()..].starts_with('(')
        })
        .count() as u64
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Counts of the fast path of each function of
/// `conformance/cases/prologue.c`, decoded from objects compiled with
/// `-O2 -fsplit-stack` for each architecture: AArch64 with the
/// conformance suite's decoder (docs/abi.md, 5.2), x86_64 with
/// `yaxpeax-x86`, counting from the entry up to and including the first
/// conditional branch (GCC's x86 check is `cmp %fs:0x70, %rsp` or
/// `lea -N(%rsp), %r11; cmp %fs:0x70, %r11`, then `jae` over the call).
fn static_counts(b: &Bench) -> Result<Vec<Row>> {
    let src = b.repo.join("conformance/cases/prologue.c");
    let mut per_arch: BTreeMap<String, (Option<usize>, Option<usize>, String)> = BTreeMap::new();
    for arch in [Arch::Aarch64, Arch::X86_64] {
        let obj = b.dir.join(format!("prologue-{}.o", arch.name()));
        let cc = match arch {
            Arch::Aarch64 => b.tc.tool("gcc"),
            Arch::X86_64 => PathBuf::from("gcc"),
        };
        Cmd::new(cc)
            .args(["-O2", "-fsplit-stack", "-c"])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .read()?;
        let data = std::fs::read(&obj)?;
        for f in conformance::elf::functions(&data, "__morestack")? {
            let e = per_arch.entry(f.name.clone()).or_default();
            match arch {
                Arch::Aarch64 => {
                    if let Ok(fp) = conformance::prologue::parse_fast_path(&f.code) {
                        e.0 = Some(fp.instructions);
                        e.2 = format!("form {}", fp.form.name());
                    } else {
                        e.2 = "no check".into();
                    }
                }
                Arch::X86_64 => e.1 = x86_fast_path(&f.code, !f.morestack_relocs.is_empty()),
            }
        }
    }
    Ok(per_arch
        .into_iter()
        .map(|(name, (a, x, form))| Row {
            figure: 1,
            item: format!("fast path of {name} ({form})"),
            aarch64: a.map(|v| v as f64),
            x86_64: x.map(|v| v as f64),
            unit: "instructions (static)".into(),
            method: "decoded from -O2 -fsplit-stack objects of conformance/cases/prologue.c".into(),
        })
        .collect())
}

/// Instructions of an x86_64 split-stack check: from the entry up to and
/// including the first conditional jump; `None` if the function has no
/// call of `__morestack` (no check) or no conditional jump.
fn x86_fast_path(code: &[u8], has_check: bool) -> Option<usize> {
    use yaxpeax_arch::{Decoder, LengthedInstruction, U8Reader};
    use yaxpeax_x86::long_mode::{InstDecoder, Opcode};
    if !has_check {
        return None;
    }
    let dec = InstDecoder::default();
    let mut at = 0usize;
    for n in 1..=8 {
        let mut r = U8Reader::new(code.get(at..)?);
        let inst = dec.decode(&mut r).ok()?;
        let conditional = matches!(
            inst.opcode(),
            Opcode::JO
                | Opcode::JNO
                | Opcode::JB
                | Opcode::JNB
                | Opcode::JZ
                | Opcode::JNZ
                | Opcode::JA
                | Opcode::JNA
                | Opcode::JS
                | Opcode::JNS
                | Opcode::JP
                | Opcode::JNP
                | Opcode::JL
                | Opcode::JGE
                | Opcode::JG
                | Opcode::JLE
        );
        if conditional {
            return Some(n);
        }
        at += inst.len().to_const() as usize;
    }
    None
}

fn dynamic_calls(b: &Bench, rows: &mut Vec<Row>) -> Result<()> {
    // (case, label, smaller size, larger size, size of the wall-time runs)
    let cases = [
        ("fib", "naive fib", ["24"], ["26"], ["34"]),
        ("tree", "tree walk", ["13"], ["14"], ["21"]),
        (
            "atomics",
            "atomic add (AArch64: outline-atomics helper)",
            ["2000"],
            ["4000"],
            ["20000000"],
        ),
    ];
    for (case, label, a1, a2, wall_size) in cases {
        b.ui_step(&format!("figure 1: {label}"));
        let mut per = BTreeMap::new();
        let mut wall = BTreeMap::new();
        for arch in [Arch::Aarch64, Arch::X86_64] {
            for split in [false, true] {
                let bin = b.compile(arch, case, split, &[])?;
                let (s, _) = b.slope(&bin, &args(&a1), &args(&a2))?;
                per.insert((arch, split), s);
                // Wall time: a larger size, the fastest of three runs.
                let mut best = f64::INFINITY;
                for _ in 0..3 {
                    let (_, _, w) = b.run(&bin, &args(&wall_size), false)?;
                    best = best.min(w);
                }
                wall.insert((arch, split), best);
            }
        }
        let get = |arch, split| per.get(&(arch, split)).copied();
        let diff = |arch| Some(get(arch, true)? - get(arch, false)?);
        rows.push(Row {
            figure: 1,
            item: format!("{label}: instructions per call, no split"),
            aarch64: get(Arch::Aarch64, false),
            x86_64: get(Arch::X86_64, false),
            unit: "instructions/call".into(),
            method: format!("slope between {case} {} and {}", a1[0], a2[0]),
        });
        rows.push(Row {
            figure: 1,
            item: format!("{label}: instructions per call, -fsplit-stack"),
            aarch64: get(Arch::Aarch64, true),
            x86_64: get(Arch::X86_64, true),
            unit: "instructions/call".into(),
            method: format!("slope between {case} {} and {}", a1[0], a2[0]),
        });
        rows.push(Row {
            figure: 1,
            item: format!("{label}: extra instructions per call (split - no split)"),
            aarch64: diff(Arch::Aarch64),
            x86_64: diff(Arch::X86_64),
            unit: "instructions/call".into(),
            method: "difference of the two rows above".into(),
        });
        let ratio = |arch| Some(wall.get(&(arch, true))? / wall.get(&(arch, false))?);
        rows.push(Row {
            figure: 1,
            item: format!("{label}: wall time split / no split (secondary)"),
            aarch64: ratio(Arch::Aarch64),
            x86_64: ratio(Arch::X86_64),
            unit: "ratio".into(),
            method: format!(
                "fastest of 3 runs each of {case} {} (AArch64 under qemu-user without the \
                 plugin, x86_64 native)",
                wall_size[0]
            ),
        });
    }
    Ok(())
}

/// Runs `bin` at two sizes and requires `crossed=<want>` in the output.
fn checked_slope(b: &Bench, bin: &Bin, a1: &[String], a2: &[String], want: &str) -> Result<f64> {
    let (s, o) = b.slope(bin, a1, a2)?;
    match o.get("crossed") {
        Some(v) if v == want => Ok(s),
        v => bail!(
            "{} {}: expected crossed={want}, got {v:?}: the workload did not measure what it \
             claims",
            bin.path.display(),
            a2.join(" ")
        ),
    }
}

fn crossings(b: &Bench, rows: &mut Vec<Row>) -> Result<()> {
    b.ui_step("figure 2: __morestack round trip");
    let mut per = BTreeMap::new();
    for arch in [Arch::Aarch64, Arch::X86_64] {
        for split in [false, true] {
            let bin = b.compile(arch, "crossing", split, &[])?;
            let want = if split { "1" } else { "0" };
            let s = checked_slope(b, &bin, &args(&["2000"]), &args(&["4000"]), want)?;
            per.insert((arch, split), s);
        }
    }
    let diff = |arch| Some(per.get(&(arch, true))? - per.get(&(arch, false))?);
    rows.push(Row {
        figure: 2,
        item: "__morestack round trip, warm segment (2 MiB frame)".into(),
        aarch64: diff(Arch::Aarch64),
        x86_64: diff(Arch::X86_64),
        unit: "instructions/crossing".into(),
        method: "slope of bench/cases/crossing.c 2000 vs 4000 calls, split minus no split".into(),
    });
    let mut sys = BTreeMap::new();
    for arch in [Arch::Aarch64, Arch::X86_64] {
        let bin = b.compile(arch, "crossing", true, &[])?;
        let s = b.syscall_slope(&bin, &args(&["2000"]), &args(&["4000"]), (2000.0, 4000.0))?;
        sys.insert(arch, s);
    }
    rows.push(Row {
        figure: 2,
        item: "__morestack round trip, warm segment: system calls".into(),
        aarch64: sys.get(&Arch::Aarch64).copied(),
        x86_64: sys.get(&Arch::X86_64).copied(),
        unit: "system calls/crossing".into(),
        method: "slope of bench/cases/crossing.c 2000 vs 4000 calls under qemu-aarch64 -strace \
                 (AArch64) and strace -f (x86_64)"
            .into(),
    });

    b.ui_step("figure 3: hot split");
    let mut hot = BTreeMap::new();
    for arch in [Arch::Aarch64, Arch::X86_64] {
        let bin = b.compile(arch, "hotsplit", true, &[])?;
        let away = checked_slope(
            b,
            &bin,
            &args(&["2000", "away"]),
            &args(&["4000", "away"]),
            "0",
        )?;
        let boundary = checked_slope(
            b,
            &bin,
            &args(&["2000", "boundary"]),
            &args(&["4000", "boundary"]),
            "1",
        )?;
        let plain = b.compile(arch, "hotsplit", false, &[])?;
        let nosplit = checked_slope(
            b,
            &plain,
            &args(&["2000", "away"]),
            &args(&["4000", "away"]),
            "0",
        )?;
        hot.insert(arch, (nosplit, away, boundary));
    }
    let get = |arch, i: usize| {
        hot.get(&arch).map(|t| match i {
            0 => t.0,
            1 => t.1,
            _ => t.2,
        })
    };
    for (i, what) in [
        "hot loop, no split build",
        "hot loop, split build, away from the boundary",
        "hot loop, split build, at a segment boundary (every call crosses)",
    ]
    .iter()
    .enumerate()
    {
        rows.push(Row {
            figure: 3,
            item: what.to_string(),
            aarch64: get(Arch::Aarch64, i),
            x86_64: get(Arch::X86_64, i),
            unit: "instructions/iteration".into(),
            method: "slope of bench/cases/hotsplit.c 2000 vs 4000 iterations".into(),
        });
    }
    Ok(())
}

/// A configuration of figure 4: name in the table, the workload's mode
/// argument, whether it is a split-stack build, extra compiler/linker
/// flags, and environment variables for the run.
type MemoryMode = (
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

/// Figure 4's configurations.  `split-reserve64k` is how a user lowers
/// a context's address space (docs/abi.md 5.9): gold's adjustment for
/// calls into code without checks lowered to 64 KiB, and the runtime's
/// reserve with it.
const MEMORY_MODES: [MemoryMode; 4] = [
    ("split", "split", true, &[], &[]),
    (
        "split-reserve64k",
        "split",
        true,
        &["-Wl,--split-stack-adjust-size=0x10000"],
        &[("SPLIT_STACK_RESERVE", "65536")],
    ),
    ("fixed64k", "fixed64k", false, &[], &[]),
    ("fixed4m", "fixed4m", false, &[], &[]),
];

fn memory(b: &Bench, rows: &mut Vec<Row>, counts: &[usize]) -> Result<()> {
    for &count in counts {
        for (name, mode, split, extra, env) in MEMORY_MODES {
            b.ui_step(&format!("figure 4: {count} coroutines, {name}"));
            let mut vals = BTreeMap::new();
            let mut failures = Vec::new();
            for arch in [Arch::Aarch64, Arch::X86_64] {
                let tag = if extra.is_empty() {
                    String::new()
                } else {
                    format!("-{name}")
                };
                let bin = b.compile_tagged(arch, "costacks", split, extra, &tag)?;
                // A run that fails (e.g. out of memory or mappings at the
                // larger counts) is reported in the table, not hidden, and
                // does not stop the other figures.
                let measured = (|| -> Result<[f64; 5]> {
                    let (o, _, _) =
                        b.run_env(&bin, &args(&[&count.to_string(), mode]), false, env)?;
                    let f = |k: &str| field(&o, k, &bin.path);
                    let start_rss = f("start_rss_kib")?;
                    let start_vm = f("start_vm_kib")?;
                    let start_anon = f("start_anon_kib")?;
                    Ok([
                        (f("created_rss_kib")? - start_rss) / count as f64,
                        (f("recursed_rss_kib")? - start_rss) / count as f64,
                        (f("recursed_vm_kib")? - start_vm) / count as f64,
                        (f("created_anon_kib")? - start_anon) / count as f64,
                        (f("recursed_anon_kib")? - start_anon) / count as f64,
                    ])
                })();
                match measured {
                    Ok(v) => {
                        vals.insert(arch, v);
                    }
                    Err(e) => {
                        let first = format!("{e:#}").lines().next().unwrap_or("").to_string();
                        b.ui_step(&format!("{} {name} {count}: failed: {first}", arch.name()));
                        failures.push(format!("{} failed: {first}", arch.name()));
                    }
                }
            }
            let note = if failures.is_empty() {
                String::new()
            } else {
                format!(" ({})", failures.join("; "))
            };
            let process = "bench/cases/costacks.c: VmRSS/VmSize of /proc/self/status minus \
                           the value at start, divided by the count (AArch64: of the \
                           qemu-user process, which includes qemu's own bookkeeping of \
                           guest pages, growing with the guest's address space; x86_64 \
                           native is the clean figure)";
            let guest = "bench/cases/costacks.c: resident pages of the private anonymous \
                         mappings (mincore over /proc/self/maps) minus the value at start, \
                         divided by the count: the program's own memory (AArch64: the \
                         guest's, without qemu's bookkeeping)";
            for (i, (what, method)) in [
                ("resident memory per coroutine, started", process),
                (
                    "resident memory per coroutine, after recursing through 56 KiB",
                    process,
                ),
                ("virtual memory per coroutine, after recursing", process),
                ("anonymous memory resident per coroutine, started", guest),
                (
                    "anonymous memory resident per coroutine, after recursing through 56 KiB",
                    guest,
                ),
            ]
            .iter()
            .enumerate()
            {
                rows.push(Row {
                    figure: 4,
                    item: format!("{count} coroutines, {name}: {what}"),
                    aarch64: vals.get(&Arch::Aarch64).map(|v| v[i]),
                    x86_64: vals.get(&Arch::X86_64).map(|v| v[i]),
                    unit: "KiB".into(),
                    method: method.to_string() + &note,
                });
            }
        }
    }
    Ok(())
}

fn toolchain_times(ui: &Ui, cache: &Cache, rows: &mut Vec<Row>) -> Result<()> {
    if let Ok(text) = std::fs::read_to_string(crate::toolchain::build::from_scratch_file(cache)) {
        let v: serde_json::Value = serde_json::from_str(&text)?;
        let total: f64 = v["timings"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t[1].as_f64()).sum())
            .unwrap_or(0.0);
        rows.push(Row {
            figure: 5,
            item: "build-toolchain from scratch (empty cache, sources downloaded)".into(),
            aarch64: Some(total / 60.0),
            x86_64: None,
            unit: "minutes".into(),
            method: format!(
                "recorded by the last from-scratch build ({}), steps {}",
                v["date"].as_str().unwrap_or("?"),
                v["timings"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .map(|t| format!(
                            "{} {:.1} min",
                            t[0].as_str().unwrap_or("?"),
                            t[1].as_f64().unwrap_or(0.0) / 60.0
                        ))
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            ),
        });
    } else {
        ui.line("bench: no from-scratch build recorded in this cache (figure 5 row omitted)");
    }
    let exe = std::env::current_exe()?;
    for (what, argv) in [
        ("build-toolchain, nothing changed", vec!["build-toolchain"]),
        (
            "conformance suite (toolchain up to date)",
            vec!["conformance"],
        ),
    ] {
        ui.line(format!("bench: figure 5: {what}"));
        let t = Instant::now();
        let (ok, _, err) = Cmd::new(&exe).args(argv.iter().copied()).output()?;
        if !ok {
            bail!(
                "`cargo xtask {}` failed:\n{}",
                argv.join(" "),
                err.trim_end()
            );
        }
        rows.push(Row {
            figure: 5,
            item: what.into(),
            aarch64: Some(t.elapsed().as_secs_f64()),
            x86_64: None,
            unit: "seconds".into(),
            method: format!("wall time of `cargo xtask {}`", argv.join(" ")),
        });
    }
    // Incremental: what a developer's edit of the back end costs in the
    // build tree (the xtask's own incremental path runs the same make).
    let gcc_build = cache.build("gcc");
    let file = cache.src("gcc").join("gcc/config/aarch64/aarch64.cc");
    if gcc_build.join("Makefile").is_file() && file.is_file() {
        ui.line("bench: figure 5: incremental GCC rebuild after touching aarch64.cc");
        let f = std::fs::File::options().append(true).open(&file)?;
        f.set_modified(std::time::SystemTime::now())?;
        let t = Instant::now();
        Cmd::new("make")
            .arg(format!("-j{}", crate::base::shell::default_jobs()))
            .args(["MAKEINFO=true", "all-gcc"])
            .env("CCACHE_DIR", cache.ccache())
            .env("LC_ALL", "C")
            .dir(&gcc_build)
            .run_logged(ui, "bench: make all-gcc", &cache.log("bench-incremental"))?;
        rows.push(Row {
            figure: 5,
            item: "incremental: make all-gcc after touching aarch64.cc (mtime only: ccache hit, \
                   cc1 relinked)"
                .into(),
            aarch64: Some(t.elapsed().as_secs_f64()),
            x86_64: None,
            unit: "seconds".into(),
            method: format!(
                "`make -j{} all-gcc` in the cached GCC build tree (ccache)",
                crate::base::shell::default_jobs()
            ),
        });
    }
    Ok(())
}

/// Where the figures were measured: `uname -srm`, CPU model and cores,
/// qemu, valgrind and the host GCC versions.
pub fn machine_line() -> String {
    let uname = crate::base::shell::uname_srm();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let qemu = Cmd::new("qemu-aarch64")
        .arg("--version")
        .read()
        .ok()
        .and_then(|v| v.lines().next().map(str::to_string))
        .unwrap_or_default();
    let vg = Cmd::new("valgrind")
        .arg("--version")
        .read()
        .unwrap_or_default();
    let host_gcc = Cmd::new("gcc")
        .arg("--version")
        .read()
        .ok()
        .and_then(|v| v.lines().next().map(str::to_string))
        .unwrap_or_default();
    format!("{uname}; {cpu} ({cores} cores); {qemu}; {vg}; x86_64 reference: {host_gcc}")
}

fn fmt_val(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e12 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
    }
}

impl Table {
    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let mut t =
            conformance::markdown::Table::new(&["#", "what", "AArch64", "x86_64", "unit", "how"]);
        for r in &self.rows {
            t.row(&[
                r.figure.to_string(),
                r.item.clone(),
                fmt_val(r.aarch64),
                fmt_val(r.x86_64),
                r.unit.clone(),
                r.method.clone(),
            ]);
        }
        format!("Measured on: {}\n\n{}", self.machine, t.render())
    }

    /// The table for the terminal.
    pub fn render(&self) -> String {
        let mut s = format!("machine: {}\n", self.machine);
        for r in &self.rows {
            s.push_str(&format!(
                "{} {:<72} {:>12} {:>12}  {}\n",
                r.figure,
                r.item,
                fmt_val(r.aarch64),
                fmt_val(r.x86_64),
                r.unit
            ));
        }
        s
    }
}

/// Builds the `insn-count` plugin with cargo; returns the library's path.
fn build_plugin(ui: &Ui, repo: &Path) -> Result<PathBuf> {
    ui.line("bench: building the insn-count qemu plugin");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Cmd::new(cargo)
        .args(["build", "--release", "-q", "-p", "insn-count"])
        .dir(repo)
        .read()
        .context("cannot build bench/insn-count")?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let lib = target.join("release/libinsn_count.so");
    if !lib.is_file() {
        bail!("{} missing after cargo build", lib.display());
    }
    Ok(lib)
}

/// Runs the benchmarks and returns the table.  Errors: no published
/// toolchain (run `cargo xtask build-toolchain`), `valgrind` or the host
/// `gcc` missing, a workload failing or not measuring what it claims.
pub fn run(ui: &Ui, cache: &Cache, repo: &Path, opts: &BenchOptions) -> Result<Table> {
    let tc = ToolchainInfo::published(cache)
        .context("no toolchain: run `cargo xtask build-toolchain` first")?;
    for (tool, pkg) in [("valgrind", "valgrind"), ("gcc", "gcc")] {
        if crate::base::hostdeps::find(tool).is_none() {
            bail!("`{tool}` not found: apt-get install {pkg}");
        }
    }
    let plugin = build_plugin(ui, repo)?;
    let dir = cache.root().join("bench");
    std::fs::create_dir_all(&dir)?;
    let b = Bench {
        ui,
        tc: &tc,
        dir,
        plugin,
        repo: repo.to_path_buf(),
    };
    let mut rows = Vec::new();
    b.ui_step("figure 1: static fast-path counts");
    rows.extend(static_counts(&b)?);
    dynamic_calls(&b, &mut rows)?;
    crossings(&b, &mut rows)?;
    memory(&b, &mut rows, &opts.coroutines)?;
    if !opts.skip_toolchain_times {
        toolchain_times(ui, cache, &mut rows)?;
    }
    let table = Table {
        machine: machine_line(),
        rows,
    };
    let json = opts
        .json
        .clone()
        .unwrap_or_else(|| cache.logs().join("bench.json"));
    let md = opts
        .markdown
        .clone()
        .unwrap_or_else(|| cache.logs().join("bench.md"));
    write_atomic(&json, serde_json::to_string_pretty(&table)?.as_bytes())?;
    write_atomic(&md, table.markdown().as_bytes())?;
    print!("{}", table.render());
    ui.line(format!(
        "bench: wrote {} and {}",
        md.display(),
        json.display()
    ));
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_traces_count_calls_only() {
        let qemu = "1234 rt_sigprocmask(SIG_BLOCK,0x1,0x2) = 0\n\
                    1234 mmap(NULL,4096,PROT_READ,MAP_PRIVATE,-1,0) = 0x5500000000\n\
                    --- SIGALRM {si_signo=SIGALRM} ---\n\
                    1234 exit_group(0)\n";
        assert_eq!(count_syscall_lines(qemu), 3);
        let strace = "rt_sigprocmask(SIG_BLOCK, ~[], [], 8) = 0\n\
                      write(1, \"x\\n\", 2) = 2\n\
                      +++ exited with 0 +++\n\
                      result=12\n";
        assert_eq!(count_syscall_lines(strace), 2);
    }

    #[test]
    fn callgrind_summary_is_read() {
        let text = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 144650\n";
        assert_eq!(callgrind_total(text).unwrap(), 144650);
        assert!(callgrind_total("events: Ir\n").is_err());
    }

    #[test]
    fn workload_output_is_parsed() {
        let o = parse_output("result=3\nunits=7\ncrossed=1\nnoise\n");
        assert_eq!(o["units"], "7");
        assert_eq!(field(&o, "units", Path::new("x")).unwrap(), 7.0);
        assert!(field(&o, "missing", Path::new("x")).is_err());
    }

    #[test]
    fn x86_check_is_counted_to_the_branch() {
        // cmp %fs:0x70,%rsp; jae +6; ...
        let code = [
            0x64, 0x48, 0x3b, 0x24, 0x25, 0x70, 0x00, 0x00, 0x00, 0x73, 0x06, 0x90,
        ];
        assert_eq!(x86_fast_path(&code, true), Some(2));
        assert_eq!(x86_fast_path(&code, false), None);
    }
}
