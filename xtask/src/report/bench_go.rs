//! `cargo xtask bench --go`: goroutines on split stacks, measured against
//! fixed stacks and against Go's own runtime (docs/gccgo.md).
//!
//! One Go program, `bench/go/goroutines.go`, is built by four toolchains
//! and run under the same `qemu-aarch64`:
//!
//! | variant | compiler | goroutine stacks |
//! |---|---|---|
//! | `gccgo-split` | this project's gccgo | split (libgo with `USING_SPLIT_STACK`) |
//! | `gccgo-fixed` | the same gccgo, `-fno-split-stack -fuse-ld=gold`, libgo built without split stacks ([`crate::toolchain::libgo_fixed`]) | fixed 4 MiB |
//! | `gccgo-debian` | Debian sid's `gccgo-aarch64-linux-gnu` | fixed 4 MiB (no split stacks on arm64 upstream) |
//! | `go` | Debian sid's `golang-go`, `GOARCH=arm64` | contiguous, 2 KiB at start, copied to grow |
//!
//! `gccgo-split` and `gccgo-fixed` differ only in split stacks.  The two
//! Debian toolchains (the anchors) run in a sid amd64 root filesystem made
//! with `mmdebstrap` in the cache (they need a newer host glibc than the
//! host's): making it needs root.
//!
//! Every run is watched: the qemu process's resident memory is read from
//! `/proc/PID/status` every 100 ms and the run is killed when it exceeds
//! the limit (`--go-limit-gib`, default 16 GiB, chosen for a machine of
//! 24 GiB) or
//! [`RUN_TIMEOUT_S`]; a killed run is a figure ("largest N reached"), not
//! an error.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::base::cache::{write_atomic, Cache};
use crate::base::shell::{Cmd, Ui};
use crate::toolchain::info::ToolchainInfo;

/// Longest one workload run may take (seconds).
const RUN_TIMEOUT_S: u64 = 1800;

/// Packages of the anchors' root filesystem (Debian sid, amd64).
const ANCHOR_PACKAGES: &str = "gccgo-aarch64-linux-gnu,golang-go";

/// Options of `cargo xtask bench --go`.
#[derive(Debug, Clone)]
pub struct GoBenchOptions {
    /// Goroutine counts of the parking workload, ascending.
    pub counts: Vec<usize>,
    /// Depths (KiB of recursion before parking).
    pub depths: Vec<usize>,
    /// Kill a run whose qemu process holds more than this (GiB; the
    /// default of the command line is 16, for a machine of 24).
    pub limit_gib: f64,
    /// Also measure the Debian anchors (needs root the first time).
    pub anchors: bool,
    /// Write the table as JSON here (default `<cache>/logs/bench-go.json`).
    pub json: Option<PathBuf>,
    /// Write the table as Markdown here (default `<cache>/logs/bench-go.md`).
    pub markdown: Option<PathBuf>,
}

/// One row: a figure for every variant (`None`: not measured, or the run
/// did not complete; the notes say why).
#[derive(Debug, Clone, Serialize)]
pub struct GoRow {
    pub item: String,
    pub values: Vec<Option<f64>>,
    pub unit: String,
}

/// The result of `bench --go`.
#[derive(Debug, Clone, Serialize)]
pub struct GoTable {
    /// Where it was measured.
    pub machine: String,
    /// Column names, with the toolchain versions.
    pub variants: Vec<String>,
    pub rows: Vec<GoRow>,
    /// What did not complete, and why.
    pub notes: Vec<String>,
}

/// What a variant's goroutine stacks must look like, checked on every
/// parking run (address space of the private writable mappings per
/// goroutine): a run that does not show it did not measure what its
/// column claims (e.g. gccgo-fixed that loaded the split-stack libgo).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stacks {
    /// Below 2 MiB per goroutine (a first segment and the reserve).
    Split,
    /// At least 4 MiB per goroutine (libgo's StackMin).
    Fixed,
    /// Go's runtime: no claim.
    Go,
}

impl Stacks {
    /// Whether `kib` of address space per parked goroutine fits.
    fn fits(self, kib: f64) -> bool {
        match self {
            Stacks::Split => kib < 2048.0,
            Stacks::Fixed => kib >= 4096.0,
            Stacks::Go => true,
        }
    }
}

/// How a built workload is run: `qemu-aarch64 -L root [-E env] exe`.
struct Variant {
    name: &'static str,
    stacks: Stacks,
    version: String,
    exe: PathBuf,
    root: PathBuf,
    env: Vec<(String, String)>,
}

/// The qemu CPU model for a second hot-split figure: `max` with
/// pointer authentication computed by qemu's fast implementation-defined
/// algorithm instead of QARMA5 (qemu 7.2's `pauth-impdef` property).
/// Under the default `max`, a segment crossing in `__morestack`, which
/// signs and authenticates its caller's return address (PACIASP,
/// AUTIASP), took about 1.3 us here against 0.12 us with this model and
/// 0.08 us on a CPU without pointer authentication (cortex-a57).
const FAST_PAC_CPU: &str = "max,pauth-impdef=on";

/// What a watched run gave.
struct Watched {
    ok: bool,
    stdout: String,
    stderr: String,
    peak_rss_kib: u64,
    killed: Option<String>,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Runs `v`'s program with `args`, killing it above `limit_kib` of
/// resident memory or after [`RUN_TIMEOUT_S`].
fn run_watched(v: &Variant, args: &[String], limit_kib: u64, cpu: Option<&str>) -> Result<Watched> {
    let out = tempfile::tempfile()?;
    let err = tempfile::tempfile()?;
    let mut cmd = std::process::Command::new("qemu-aarch64");
    cmd.arg("-L").arg(&v.root);
    if let Some(c) = cpu {
        cmd.arg("-cpu").arg(c);
    }
    for (k, val) in &v.env {
        cmd.arg("-E").arg(format!("{k}={val}"));
    }
    cmd.arg(&v.exe)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?);
    let mut child = cmd
        .spawn()
        .context("cannot start qemu-aarch64 (apt-get install qemu-user)")?;
    let start = Instant::now();
    let mut peak = 0;
    let mut killed = None;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if let Some(r) = rss_kib(child.id()) {
            peak = peak.max(r);
            if r > limit_kib && killed.is_none() {
                killed = Some(format!(
                    "killed at the memory limit ({:.1} GiB resident)",
                    r as f64 / (1 << 20) as f64
                ));
                let _ = child.kill();
            }
        }
        if start.elapsed() > Duration::from_secs(RUN_TIMEOUT_S) && killed.is_none() {
            killed = Some(format!("killed after {RUN_TIMEOUT_S} s"));
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |mut f: std::fs::File| -> Result<String> {
        use std::io::Seek as _;
        f.seek(std::io::SeekFrom::Start(0))?;
        let mut s = String::new();
        f.read_to_string(&mut s)?;
        Ok(s)
    };
    Ok(Watched {
        ok: status.success() && killed.is_none(),
        stdout: read(out)?,
        stderr: read(err)?,
        peak_rss_kib: peak,
        killed,
    })
}

fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k.trim().to_string(), v.trim().parse().ok()?)))
        .collect()
}

/// The sid amd64 root filesystem with Debian's gccgo and Go, made once
/// with `mmdebstrap` (needs root).  Returns its path.  Errors: not root,
/// `mmdebstrap` missing or failing.
fn anchors_root(ui: &Ui, cache: &Cache) -> Result<PathBuf> {
    let root = cache.root().join("go-anchors/sid-amd64");
    if root.join("usr/bin/aarch64-linux-gnu-gccgo").exists()
        && root.join("usr/lib/go/bin/go").exists()
    {
        return Ok(root);
    }
    if !crate::base::hostdeps::is_root() {
        bail!(
            "the Go anchors (Debian's gccgo and Go) run in a sid root filesystem that only root \
             can make and enter: run `cargo xtask bench --go` as root, or pass --go-no-anchors"
        );
    }
    if crate::base::hostdeps::find("mmdebstrap").is_none() {
        bail!("`mmdebstrap` not found: apt-get install mmdebstrap (or pass --go-no-anchors)");
    }
    let tmp = root.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(root.parent().context("no parent")?)?;
    Cmd::new("mmdebstrap")
        .args(["--variant=apt", "--arch=amd64"])
        // The mirror's Release files may be past their Valid-Until date;
        // signatures are still checked.
        .arg("--aptopt=Acquire::Check-Valid-Until \"false\"")
        .arg(format!("--include={ANCHOR_PACKAGES}"))
        .arg("sid")
        .arg(&tmp)
        .arg(crate::env::rootfs::MIRROR)
        .run_logged(
            ui,
            "bench --go: sid root filesystem with Debian's gccgo and Go",
            &cache.log("bench-go-anchors"),
        )?;
    std::fs::rename(&tmp, &root)?;
    Ok(root)
}

/// The version of an anchor: its package's version (`dpkg-query` inside the
/// anchors' root filesystem) and the first line `command` prints there
/// (the metapackages' versions are not the compilers').
fn anchor_version(root: &Path, package: &str, command: &[&str]) -> String {
    let pkg = Cmd::new("chroot")
        .arg(root)
        .args(["dpkg-query", "-W", "-f", "${Version}", package])
        .read()
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "version unknown".into());
    let said = Cmd::new("chroot")
        .arg(root)
        .args(["env", "GOROOT=/usr/lib/go"])
        .args(command)
        .read()
        .map(|v| v.lines().next().unwrap_or_default().trim().to_string())
        .unwrap_or_default();
    format!("{package} {pkg}: {said}")
}

/// Builds the four variants of the workload into `dir`.
fn build_variants(
    ui: &Ui,
    cache: &Cache,
    tc: &ToolchainInfo,
    repo: &Path,
    dir: &Path,
    anchors: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<Vec<Variant>> {
    let src = repo.join("bench/go/goroutines.go");
    let gccgo = tc.tool("gccgo");
    let version = Cmd::new(&gccgo)
        .arg("--version")
        .read()
        .map(|v| v.lines().next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let mut v = Vec::new();
    let split = dir.join("goroutines-split");
    Cmd::new(&gccgo)
        .arg("-O2")
        .arg(&src)
        .arg("-o")
        .arg(&split)
        .read()
        .context("cannot build bench/go/goroutines.go with the toolchain's gccgo")?;
    v.push(Variant {
        name: "gccgo-split",
        stacks: Stacks::Split,
        version: format!("{version}, split stacks"),
        exe: split,
        root: tc.sysroot.clone(),
        env: Vec::new(),
    });
    let libs = crate::toolchain::libgo_fixed::fixed_libgo(ui, cache, tc)?;
    let fixed = dir.join("goroutines-fixed");
    Cmd::new(&gccgo)
        .arg("-O2")
        .args(crate::toolchain::libgo_fixed::program_flags(&libs))
        .arg(&src)
        .arg("-o")
        .arg(&fixed)
        .read()
        .context("cannot build bench/go/goroutines.go against the fixed-stack libgo")?;
    v.push(Variant {
        name: "gccgo-fixed",
        stacks: Stacks::Fixed,
        version: format!("{version}, -fno-split-stack -fuse-ld=gold, libgo without split stacks"),
        exe: fixed,
        root: tc.sysroot.clone(),
        env: vec![("LD_LIBRARY_PATH".into(), libs.display().to_string())],
    });
    match anchors {
        None => notes.push("Debian's gccgo and Go not measured (--go-no-anchors)".into()),
        Some(root) => {
            let work = root.join("tmp/split-stack-bench");
            std::fs::create_dir_all(&work)?;
            std::fs::copy(&src, work.join("goroutines.go"))?;
            Cmd::new("chroot")
                .arg(root)
                .args([
                    "aarch64-linux-gnu-gccgo",
                    "-O2",
                    "/tmp/split-stack-bench/goroutines.go",
                    "-o",
                    "/tmp/split-stack-bench/goroutines-debian",
                ])
                .read()
                .context("cannot build the workload with Debian's gccgo")?;
            v.push(Variant {
                name: "gccgo-debian",
                stacks: Stacks::Fixed,
                version: anchor_version(
                    root,
                    "gccgo-aarch64-linux-gnu",
                    &["aarch64-linux-gnu-gccgo", "--version"],
                ),
                exe: work.join("goroutines-debian"),
                root: root.join("usr/aarch64-linux-gnu"),
                env: Vec::new(),
            });
            Cmd::new("chroot")
                .arg(root)
                .args([
                    "env",
                    "GOROOT=/usr/lib/go",
                    "GOARCH=arm64",
                    "CGO_ENABLED=0",
                    "GOCACHE=/tmp/split-stack-bench/gocache",
                    "HOME=/tmp",
                    "GOTOOLCHAIN=local",
                    "/usr/lib/go/bin/go",
                    "build",
                    "-o",
                    "/tmp/split-stack-bench/goroutines-go",
                    "/tmp/split-stack-bench/goroutines.go",
                ])
                .read()
                .context("cannot build the workload with Debian's Go")?;
            v.push(Variant {
                name: "go",
                stacks: Stacks::Go,
                version: anchor_version(root, "golang-go", &["/usr/lib/go/bin/go", "version"]),
                exe: work.join("goroutines-go"),
                root: root.join("usr/aarch64-linux-gnu"),
                env: Vec::new(),
            });
        }
    }
    Ok(v)
}

/// System calls per ping-pong round trip: `qemu-aarch64 -strace` at 1000
/// and 2000 rounds, the difference of the counts over 1000.
fn syscalls_per_round(v: &Variant) -> Result<f64> {
    let count = |rounds: &str| -> Result<f64> {
        let mut cmd = Cmd::new("qemu-aarch64").arg("-L").arg(&v.root);
        for (k, val) in &v.env {
            cmd = cmd.arg("-E").arg(format!("{k}={val}"));
        }
        let (ok, _, stderr) = cmd
            .arg("-strace")
            .arg(&v.exe)
            .args(["pingpong", rounds])
            .with_timeout(RUN_TIMEOUT_S)
            .output()?;
        if !ok {
            bail!("pingpong {rounds} under -strace failed");
        }
        Ok(super::bench::count_syscall_lines(&stderr) as f64)
    };
    Ok((count("2000")? - count("1000")?) / 1000.0)
}

fn kib_per(o: &BTreeMap<String, f64>, key: &str, n: usize) -> Option<f64> {
    Some((o.get(&format!("parked_{key}"))? - o.get(&format!("start_{key}"))?) / n as f64)
}

/// Runs the Go workloads and returns the table.  Errors: no published
/// toolchain with Go (`cargo xtask build-toolchain --with-go`), a variant
/// that cannot be built, the anchors' root filesystem cannot be made.
pub fn run(ui: &Ui, cache: &Cache, repo: &Path, opts: &GoBenchOptions) -> Result<GoTable> {
    if opts.counts.is_empty() || opts.counts.contains(&0) {
        bail!("--go-counts: give goroutine counts of at least 1");
    }
    if opts.limit_gib.is_nan() || opts.limit_gib <= 0.0 {
        bail!("--go-limit-gib: give a positive number of GiB");
    }
    let tc = ToolchainInfo::published(cache)
        .context("no toolchain: run `cargo xtask build-toolchain --with-go` first")?;
    if !tc.go {
        bail!("the toolchain has no Go front end: run `cargo xtask build-toolchain --with-go`");
    }
    let dir = cache.root().join("bench/go");
    std::fs::create_dir_all(&dir)?;
    let mut notes = Vec::new();
    let anchors = if opts.anchors {
        Some(anchors_root(ui, cache)?)
    } else {
        None
    };
    let variants = build_variants(ui, cache, &tc, repo, &dir, anchors.as_deref(), &mut notes)?;
    let limit_kib = (opts.limit_gib * (1u64 << 20) as f64) as u64;
    let mut rows: Vec<GoRow> = Vec::new();
    let mut row = |item: String, unit: &str, values: Vec<Option<f64>>| {
        rows.push(GoRow {
            item,
            values,
            unit: unit.into(),
        })
    };
    let step = |m: &str| ui.line(format!("bench --go: {m}"));
    for &depth in &opts.depths {
        // Per variant: the largest count that completed, and whether a
        // count failed (larger ones are then not tried).
        let mut largest: Vec<Option<usize>> = vec![None; variants.len()];
        let mut stopped = vec![false; variants.len()];
        let mut per: BTreeMap<usize, Vec<[Option<f64>; 5]>> = BTreeMap::new();
        for &n in &opts.counts {
            let mut vals = Vec::new();
            for (i, v) in variants.iter().enumerate() {
                if stopped[i] {
                    vals.push([None; 5]);
                    continue;
                }
                step(&format!("{n} goroutines, depth {depth} KiB, {}", v.name));
                let args = ["park".to_string(), n.to_string(), depth.to_string()];
                let w = run_watched(v, &args, limit_kib, None)?;
                let o = parse(&w.stdout);
                let done = o.get("done").is_some_and(|d| *d as usize == n);
                if !(w.ok && done) {
                    let why = w.killed.clone().unwrap_or_else(|| {
                        let first = w.stderr.lines().find(|l| !l.trim().is_empty());
                        format!("failed: {}", first.unwrap_or("no output"))
                    });
                    notes.push(format!(
                        "{}: {n} goroutines after {depth} KiB did not complete: {why} (peak {:.1} GiB)",
                        v.name,
                        w.peak_rss_kib as f64 / (1 << 20) as f64
                    ));
                    step(notes.last().map(String::as_str).unwrap_or(""));
                    stopped[i] = true;
                    vals.push([None; 5]);
                    continue;
                }
                let va = kib_per(&o, "maps_kib", n).unwrap_or(f64::NAN);
                if !v.stacks.fits(va) {
                    notes.push(format!(
                        "{}: {n} goroutines after {depth} KiB: {va:.0} KiB of address space per \
                         goroutine, not the stacks this column claims: not reported",
                        v.name
                    ));
                    stopped[i] = true;
                    vals.push([None; 5]);
                    continue;
                }
                largest[i] = Some(n);
                vals.push([
                    kib_per(&o, "anon_kib", n),
                    kib_per(&o, "maps_kib", n),
                    kib_per(&o, "rss_kib", n),
                    o.get("create_ns").map(|c| c / n as f64),
                    Some(w.peak_rss_kib as f64 / 1024.0),
                ]);
            }
            per.insert(n, vals);
        }
        for (n, vals) in &per {
            for (k, (what, unit)) in [
                ("guest anonymous memory resident per goroutine", "KiB"),
                ("guest address space per goroutine", "KiB"),
                ("qemu process resident memory per goroutine", "KiB"),
                ("creation and parking time per goroutine", "ns"),
                ("qemu process peak resident memory", "MiB"),
            ]
            .iter()
            .enumerate()
            {
                row(
                    format!("{n} goroutines parked after {depth} KiB: {what}"),
                    unit,
                    vals.iter().map(|v| v[k]).collect(),
                );
            }
        }
        row(
            format!(
                "largest count reached (of {:?}), after {depth} KiB",
                opts.counts
            ),
            "goroutines",
            largest.iter().map(|l| l.map(|n| n as f64)).collect(),
        );
    }
    // Hot split and ping-pong.
    let mut hot = Vec::new();
    let mut hot_fast_pac = Vec::new();
    let mut memset = Vec::new();
    let mut ping = Vec::new();
    let mut ping_sys = Vec::new();
    for v in &variants {
        step(&format!("hot split loops and ping-pong, {}", v.name));
        let fig_cpu = |args: &[&str],
                       cpu: Option<&str>,
                       notes: &mut Vec<String>|
         -> Result<BTreeMap<String, f64>> {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let w = run_watched(v, &args, limit_kib, cpu)?;
            if !w.ok {
                notes.push(format!(
                    "{}: {} failed: {}",
                    v.name,
                    args.join(" "),
                    w.stderr.trim()
                ));
            }
            Ok(parse(&w.stdout))
        };
        let fig = |args: &[&str], notes: &mut Vec<String>| fig_cpu(args, None, notes);
        let h = fig(&["hotsplit", "12000", "1000"], &mut notes)?;
        hot.push((
            h.get("hot_worst_ns").copied(),
            h.get("hot_median_ns").copied(),
        ));
        let h = fig_cpu(
            &["hotsplit", "12000", "1000"],
            Some(FAST_PAC_CPU),
            &mut notes,
        )?;
        hot_fast_pac.push(h.get("hot_worst_ns").copied());
        let m = fig(&["hotsplit", "200", "20000", "memset"], &mut notes)?;
        memset.push(m.get("hot_median_ns").copied());
        let p = fig(&["pingpong", "200000"], &mut notes)?;
        ping.push(p.get("pingpong_ns").copied());
        ping_sys.push(match syscalls_per_round(v) {
            Ok(x) => Some(x),
            Err(e) => {
                notes.push(format!(
                    "{}: ping-pong system calls not counted: {e:#}",
                    v.name
                ));
                None
            }
        });
    }
    row(
        "a call in a loop, slowest of 12000 depths of 16-32-byte frames (192-384 KiB; gccgo-split's first segment is 128 KiB, so some depths put the loop at a segment boundary): of the 10 slowest, the largest least of 3 more timings"
            .into(),
        "ns/call",
        hot.iter().map(|h| h.0).collect(),
    );
    row(
        format!(
            "the same, slowest depth, with qemu -cpu {FAST_PAC_CPU} (qemu's default CPU computes \
             pointer authentication with QARMA5 in software, and __morestack signs and \
             authenticates its caller's return address on every crossing)"
        ),
        "ns/call",
        hot_fast_pac,
    );
    row(
        "a call in a loop, median of the 12000 depths".into(),
        "ns/call",
        hot.iter().map(|h| h.1).collect(),
    );
    row(
        "a call to a function that zeroes a 512-byte array (gccgo: memset, code without split-stack checks), median of 200 depths".into(),
        "ns/call",
        memset,
    );
    row(
        "channel ping-pong between two goroutines".into(),
        "ns/round trip",
        ping,
    );
    row(
        "channel ping-pong: system calls per round trip (qemu -strace, 2000 - 1000 rounds)".into(),
        "calls",
        ping_sys,
    );
    let table = GoTable {
        machine: super::bench::machine_line(),
        variants: variants
            .iter()
            .map(|v| format!("{} ({})", v.name, v.version))
            .collect(),
        rows,
        notes,
    };
    let json = opts
        .json
        .clone()
        .unwrap_or_else(|| cache.logs().join("bench-go.json"));
    let md = opts
        .markdown
        .clone()
        .unwrap_or_else(|| cache.logs().join("bench-go.md"));
    write_atomic(&json, serde_json::to_string_pretty(&table)?.as_bytes())?;
    write_atomic(&md, table.markdown().as_bytes())?;
    print!("{}", table.markdown());
    ui.line(format!(
        "bench --go: wrote {} and {}",
        md.display(),
        json.display()
    ));
    Ok(table)
}

impl GoTable {
    /// The table as Markdown: the variants, one row per figure, the notes.
    pub fn markdown(&self) -> String {
        let mut head = vec!["what"];
        let names: Vec<String> = self
            .variants
            .iter()
            .map(|v| v.split(" (").next().unwrap_or(v).to_string())
            .collect();
        head.extend(names.iter().map(String::as_str));
        head.push("unit");
        let mut t = conformance::markdown::Table::new(&head);
        // A count that no variant reached has no row.
        for r in self
            .rows
            .iter()
            .filter(|r| r.values.iter().any(Option::is_some))
        {
            let mut cells = vec![r.item.clone()];
            cells.extend(r.values.iter().map(|v| match v {
                None => "-".into(),
                Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
                Some(x) => format!("{x:.2}"),
            }));
            cells.push(r.unit.clone());
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            t.row(&refs);
        }
        let mut s = format!("Measured on: {}\n\n", self.machine);
        for v in &self.variants {
            s.push_str(&format!("- {v}\n"));
        }
        s.push('\n');
        s.push_str(&t.render());
        if !self.notes.is_empty() {
            s.push_str("\nNot completed:\n\n");
            for n in &self.notes {
                s.push_str(&format!("- {n}\n"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    /// The text of `func anon()` in a Go program.
    fn anon(src: &str) -> &str {
        let start = src.find("func anon()").expect("func anon");
        let end = src[start..].find("\n}\n").expect("end of anon") + start;
        &src[start..end]
    }

    #[test]
    fn the_workload_measures_memory_like_the_conformance_check() {
        // Single-file programs each carry the mincore walk; the bench's
        // figures and gccgo/small-goroutines must count the same pages.
        let bench = include_str!("../../../bench/go/goroutines.go");
        let case = include_str!("../../../conformance/cases/go_small_goroutines.go");
        assert_eq!(anon(bench), anon(case));
    }
}
