//! `cargo xtask build-toolchain`: binutils (gas, ld.bfd, gold) -> patched
//! glibc into the patched sysroot -> patched GCC with libgcc, plus the stock
//! "old glibc" sysroots, then a smoke test, then publication.
//!
//! Bootstrap: glibc is compiled by Debian's prebuilt `aarch64-linux-gnu-gcc`
//! (host package `gcc-aarch64-linux-gnu`), so the patched GCC is built once,
//! directly as the final compiler against the finished sysroot.  A glibc
//! built by GCC 12 is an ordinary glibc; the ABI facts under test (the guard
//! slot, the symbol version) come from glibc's sources, not its compiler.
//!
//! Every step is keyed by its inputs (see [`Keys`]) and stamped in the
//! cache when done; a rerun skips done steps and resumes at the first step
//! whose key changed or that never finished.  Build trees are reused
//! (incremental `make`); installs go to a staging directory and are synced
//! with `rsync --checksum` so unchanged files keep their timestamps.  The
//! toolchain is published by writing `toolchain/.ready` last, after the smoke
//! test; the file is removed before anything in the toolchain changes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::base::cache::{write_atomic, Cache, KeyHasher};
use crate::base::hostdeps;
use crate::base::manifest::{Component, Manifest};
use crate::base::shell::{fmt_duration, Cmd, Ui};
use crate::toolchain::apt::{extract_deb, Apt};
use crate::toolchain::info::{OldSysroot, ToolchainInfo};
use crate::toolchain::patches;
use crate::toolchain::sources::{self, Source, SourceChoice};

/// Bump when a change to this file changes what the steps produce.
const RECIPE: &str = "recipe-v1";

/// Free space a from-scratch build needs in the cache (bytes).
const SPACE_NEEDED: u64 = 16 << 30;

/// User options of `build-toolchain`.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Build the toolchain's own programs at `-O2 -g` instead of `-O1 -g0`.
    pub release: bool,
    /// Also build the C++ front end and libstdc++.
    pub cxx: bool,
    /// Build the Go front end and libgo: `Some(true)` asked for
    /// (`--with-go`), `Some(false)` refused (`--without-go`), `None` as the
    /// cache has it (see [`BuildOptions::go`]).
    pub go: Option<bool>,
    /// Parallel make jobs (0: number of CPUs).
    pub jobs: usize,
    /// Source choice per component (user tarball, refresh).
    pub binutils: SourceChoice,
    pub gcc: SourceChoice,
    pub glibc: SourceChoice,
    /// Look at the Debian package lists again.
    pub refresh: bool,
}

impl BuildOptions {
    fn choice(&self, c: Component) -> SourceChoice {
        let mut ch = match c {
            Component::Binutils => self.binutils.clone(),
            Component::Gcc => self.gcc.clone(),
            Component::Glibc => self.glibc.clone(),
        };
        ch.refresh |= self.refresh;
        ch
    }

    /// Flags for compiling the toolchain's own host programs.  They do not
    /// change the code the toolchain generates.
    pub fn host_cflags(&self) -> &'static str {
        if self.release {
            "-O2 -g"
        } else {
            "-O1 -g0"
        }
    }

    /// Whether the Go front end is built: as asked, else as the cached
    /// toolchain (published, or the GCC build tree being built) has it, so
    /// that a command that does not mention Go neither drops it from the
    /// cache (a rebuild of everything) nor adds it.
    pub fn go(&self, cache: &Cache) -> bool {
        self.go.unwrap_or_else(|| cache_has_go(cache))
    }

    /// GCC's `--enable-languages` value: `c`, `c,c++` or `c,c++,go`.
    pub fn languages(&self, cache: &Cache) -> &'static str {
        match (self.cxx, self.go(cache)) {
            (_, true) => "c,c++,go",
            (true, false) => "c,c++",
            (false, false) => "c",
        }
    }

    fn jobs(&self) -> usize {
        if self.jobs > 0 {
            self.jobs
        } else {
            crate::base::shell::default_jobs()
        }
    }
}

/// Whether the cached toolchain has the Go front end: the published one
/// says so, or the GCC build tree was configured with it (a build that was
/// interrupted before publication).
fn cache_has_go(cache: &Cache) -> bool {
    if ToolchainInfo::published(cache).is_some_and(|i| i.go) {
        return true;
    }
    std::fs::read_to_string(cache.build("gcc").join("config.status"))
        .is_ok_and(|s| s.contains("--enable-languages=c,c++,go"))
}

/// A hash of every input of the toolchain that lives in the repository or
/// the options: `toolchain.toml`, each patch series, the profile, the
/// languages, any user tarball (path, size, modification time) and the
/// version of the host's cross compiler that builds glibc.  The
/// sources in the cache follow from these (`patches::sync` puts each work
/// tree at its series), so a published toolchain with this key is up to
/// date.  Errors: the manifest or a series cannot be read.
pub fn quick_key(cache: &Cache, repo: &Path, opts: &BuildOptions) -> Result<String> {
    let mut k = KeyHasher::new(RECIPE);
    // The compiler that builds glibc (a host package) is an input too.
    k.str("bootstrap-cc", &bootstrap_cc_version(cache)?);
    let manifest = manifest_path(repo);
    k.part(
        "manifest",
        &std::fs::read(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?,
    );
    for c in Component::ALL {
        k.str(c.name(), &patches::series_key(&patches::series(repo, c)?)?);
        if let Some(t) = &opts.choice(c).tarball {
            let m = std::fs::metadata(t).with_context(|| format!("{}", t.display()))?;
            let mtime = m
                .modified()?
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            k.str(
                "tarball",
                &format!("{} {} {:?}", t.display(), m.len(), mtime),
            );
        }
    }
    k.str("profile", opts.host_cflags())
        .str("cxx", opts.languages(cache));
    Ok(k.finish())
}

/// The published toolchain if it is up to date by [`quick_key`] and every
/// work tree's HEAD is still the commit its series was applied as (a
/// developer's unexported commit sends the command through
/// [`build_toolchain`], which says what to do): no lock is taken and no
/// work tree is walked, so a command that only needs a built toolchain
/// starts at once.  Uncommitted edits in a work tree are not looked for
/// here.  `None` when it must be built (or checked) by `build_toolchain`.
pub fn find_current(cache: &Cache, repo: &Path, opts: &BuildOptions) -> Option<ToolchainInfo> {
    if opts.refresh {
        return None;
    }
    let info = ToolchainInfo::published(cache)?;
    let key = quick_key(cache, repo, opts).ok()?;
    if info.quick_key.is_empty() || info.quick_key != key || !info.prefix.join("bin").is_dir() {
        return None;
    }
    for c in Component::ALL {
        let recorded = patches::applied(cache, c)?.commit;
        let head = crate::base::git::rev_parse(&cache.src(c.name()), "HEAD").ok()?;
        if recorded != head {
            return None;
        }
    }
    Some(info)
}

/// The input keys of every step.
#[derive(Debug, Clone, Serialize)]
pub struct Keys {
    pub binutils: String,
    pub linux_headers: String,
    pub glibc: String,
    pub gcc: String,
    pub old_sysroots: Vec<(String, String)>,
    pub toolchain: String,
}

struct Ctx<'a> {
    ui: &'a Ui,
    cache: &'a Cache,
    opts: &'a BuildOptions,
    timings: Vec<(String, f64)>,
}

impl Ctx<'_> {
    fn host_env(&self, cmd: Cmd) -> Cmd {
        host_env(self.cache, self.opts.host_cflags(), cmd)
    }

    fn time<T>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let r = f(self)?;
        self.timings
            .push((name.to_string(), t.elapsed().as_secs_f64()));
        Ok(r)
    }
}

/// The environment of a host-compiled component (binutils, GCC): ccache'd
/// host compilers with `cflags`, the toolchain's `bin` first in `PATH`.
pub(crate) fn host_env(cache: &Cache, cflags: &str, cmd: Cmd) -> Cmd {
    cmd.env("CC", "ccache gcc")
        .env("CXX", "ccache g++")
        .env("CFLAGS", cflags)
        .env("CXXFLAGS", cflags)
        .env("CCACHE_DIR", cache.ccache())
        .env("PATH", path_with(&cache.toolchain().join("bin")))
        .env_remove("CONFIG_SITE")
        .env("LC_ALL", "C")
}

/// GCC's configure command for the source tree `tree`, installing into
/// `prefix`, with the languages `langs` (`c` or `c,c++`) and the host
/// compiler flags `cflags`.  The same command configures the patched
/// compiler of the toolchain and the unpatched baseline of `gcc-check
/// --compare`, so that the two differ only in the series.
pub(crate) fn gcc_configure(
    cache: &Cache,
    tree: &Path,
    prefix: &Path,
    langs: &str,
    cflags: &str,
) -> Cmd {
    let sysroot = cache.patched_sysroot();
    host_env(cache, cflags, Cmd::new(tree.join("configure")))
        .arg("--target=aarch64-linux-gnu")
        .arg(format!("--prefix={}", prefix.display()))
        .arg(format!("--with-sysroot={}", sysroot.display()))
        .arg(format!(
            "--with-build-time-tools={}",
            cache.toolchain().join("aarch64-linux-gnu/bin").display()
        ))
        .arg(format!("--enable-languages={langs}"))
        .args([
            "--with-pkgversion=split-stack-aarch64",
            "--enable-shared",
            "--enable-threads=posix",
            // The patched glibc 2.44 provides the split-stack guard slot
            // and its GLIBC_ABI_SPLIT_STACK symbol, which GCC's -fsplit-stack
            // support requires (glibc >= 2.44 is its floor); see docs/abi.md.
            "--with-glibc-version=2.44",
            "--enable-__cxa_atexit",
            "--enable-checking=release",
            "--disable-multilib",
            "--disable-bootstrap",
            "--disable-nls",
            "--disable-werror",
            "--disable-lto",
            "--disable-libsanitizer",
            "--disable-libitm",
            "--disable-libgomp",
            "--disable-libquadmath",
            "--disable-libvtv",
            "--disable-libssp",
            "--without-isl",
        ])
}

/// `PATH` with `dir` in front.
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut v = vec![dir.to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        v.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(v).unwrap_or_default()
}

/// The bootstrap compiler that builds glibc: the host's (Debian's)
/// `aarch64-linux-gnu-gcc`, as an absolute path found in `PATH` outside
/// the toolchain being built.  glibc's configure records it in
/// `config.make`, so `make` uses the same compiler even though the
/// toolchain's `bin` (which holds the project's GCC once it is built)
/// comes first in `PATH` there.  Errors: no such compiler (install
/// Debian's `gcc-aarch64-linux-gnu`; `cargo xtask host-deps` does).
fn bootstrap_cc(cache: &Cache) -> Result<PathBuf> {
    let own = cache.toolchain().join("bin");
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .filter(|d| *d != own)
        .map(|d| d.join("aarch64-linux-gnu-gcc"))
        .find(|p| p.is_file())
        .with_context(|| {
            "no aarch64-linux-gnu-gcc in PATH to build glibc with: install Debian's \
             gcc-aarch64-linux-gnu (`cargo xtask host-deps`)"
        })
}

/// The version line of the bootstrap compiler (part of glibc's key).
fn bootstrap_cc_version(cache: &Cache) -> Result<String> {
    Cmd::new(bootstrap_cc(cache)?)
        .arg("--version")
        .read()
        .map(|v| v.lines().next().unwrap_or_default().to_string())
}

/// Runs the whole pipeline (see module docs) and returns the published
/// toolchain.
pub fn build_toolchain(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    manifest: &Manifest,
    opts: &BuildOptions,
) -> Result<ToolchainInfo> {
    let _lock = cache.lock()?;
    hostdeps::ensure(ui, hostdeps::REQUIREMENTS, &cache.log("host-packages"))?;
    // Before any input is read (but after the host's cross compiler is
    // installed): the quick key must describe inputs that were built, not
    // ones edited while the build ran.
    let quick = quick_key(cache, repo, opts)?;
    let mut apt = Apt::new(cache.apt(), manifest);

    // Sources and patch series, by component.
    let mut prepared = std::collections::BTreeMap::new();
    for c in Component::ALL {
        let s = sources::prepare(ui, cache, manifest, &mut apt, c, &opts.choice(c))?;
        let key = patches::sync(ui, cache, repo, c, &s.tree, s.docs_stubbed)?;
        prepared.insert(c, (s, key));
    }
    let source = |c: Component| -> Result<&(sources::Source, String)> {
        prepared
            .get(&c)
            .with_context(|| format!("{c}: no prepared source"))
    };
    let (binutils_src, binutils_series) = source(Component::Binutils)?;
    let (glibc_src, glibc_series) = source(Component::Glibc)?;
    let (gcc_src, gcc_series) = source(Component::Gcc)?;
    let lh = &manifest.linux_headers;
    let (lh_deb, lh_path) = apt.fetch(
        ui,
        &lh.package,
        &lh.suite,
        Some(&lh.debian_upstream),
        opts.refresh,
        &cache.log("sysroot-source"),
    )?;
    let mut old_debs = Vec::new();
    for o in &manifest.old_sysroots {
        let mut debs = Vec::new();
        for p in &o.packages {
            // Only the glibc packages must carry the pinned glibc version;
            // the others (libgcc-s1) come in whatever version the suite has.
            let want = p.starts_with("libc6").then_some(o.glibc.as_str());
            let (p, suite) = crate::toolchain::apt::package_and_suite(p, &o.suite);
            debs.push(apt.fetch(
                ui,
                p,
                suite,
                want,
                opts.refresh,
                &cache.log("sysroot-source"),
            )?);
        }
        old_debs.push((o, debs));
    }

    let profile = opts.host_cflags();
    let binutils_key = KeyHasher::new(RECIPE)
        .str("step", "binutils")
        .str("src", &binutils_src.key)
        .str("series", binutils_series)
        .str("profile", profile)
        .finish();
    let linux_headers_key = KeyHasher::new(RECIPE)
        .str("step", "linux-headers")
        .str("deb", &lh_deb.sha256)
        .finish();
    let glibc_key = KeyHasher::new(RECIPE)
        .str("step", "glibc")
        .str("src", &glibc_src.key)
        .str("series", glibc_series)
        .str("cc", &bootstrap_cc_version(cache)?)
        .str("headers", &linux_headers_key)
        .finish();
    let gcc_key = KeyHasher::new(RECIPE)
        .str("step", "gcc")
        .str("src", &gcc_src.key)
        .str("series", gcc_series)
        .str("profile", profile)
        .str("cxx", opts.languages(cache))
        .str("binutils", &binutils_key)
        .str("glibc", &glibc_key)
        .finish();
    let old_keys: Vec<(String, String)> = old_debs
        .iter()
        .map(|(o, debs)| {
            let mut k = KeyHasher::new(RECIPE);
            k.str("step", "old-sysroot").str("name", &o.name);
            for (d, _) in debs {
                k.str("deb", &d.sha256);
            }
            k.str("headers", &lh_deb.sha256);
            (o.name.clone(), k.finish())
        })
        .collect();
    let mut tk = KeyHasher::new(RECIPE);
    tk.str("binutils", &binutils_key)
        .str("glibc", &glibc_key)
        .str("gcc", &gcc_key);
    for (n, k) in &old_keys {
        tk.str(n, k);
    }
    let keys = Keys {
        binutils: binutils_key,
        linux_headers: linux_headers_key,
        glibc: glibc_key,
        gcc: gcc_key,
        old_sysroots: old_keys,
        toolchain: tk.finish(),
    };

    if let Some(mut info) = ToolchainInfo::published(cache) {
        if info.key == keys.toolchain && info.prefix.join("bin").is_dir() {
            ui.line(format!(
                "toolchain is up to date: {} (key {})",
                info.prefix.display(),
                &info.key[..12]
            ));
            if info.quick_key != quick {
                // Published before quick keys, or with other options that
                // lead to the same toolchain: record this quick key.
                info.quick_key = quick;
                write_atomic(
                    &cache.ready_file(),
                    serde_json::to_string_pretty(&info)?.as_bytes(),
                )?;
            }
            return Ok(info);
        }
    }
    // From here on the toolchain directory changes: unpublish it first.
    match std::fs::remove_file(cache.ready_file()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    check_space(cache)?;

    // A build that finds no build tree of any component is from scratch;
    // its step times are kept for `cargo xtask bench` (figure 5).
    let from_scratch = ["binutils", "glibc", "gcc"]
        .iter()
        .all(|c| !cache.build(c).exists());
    let mut ctx = Ctx {
        ui,
        cache,
        opts,
        timings: Vec::new(),
    };
    ctx.time("binutils", |c| {
        build_binutils(c, binutils_src, &keys.binutils)
    })?;
    ctx.time("linux-headers", |c| {
        install_linux_headers(c, &lh_path, &keys.linux_headers)
    })?;
    ctx.time("glibc", |c| build_glibc(c, glibc_src, &keys.glibc))?;
    ctx.time("gcc", |c| build_gcc(c, gcc_src, &keys))?;
    let mut old = Vec::new();
    for ((o, debs), (_, key)) in old_debs.iter().zip(&keys.old_sysroots) {
        let paths: Vec<PathBuf> = debs.iter().map(|(_, p)| p.clone()).collect();
        let dir = ctx.time(&format!("sysroot {}", o.name), |c| {
            old_sysroot(c, &o.name, &paths, &lh_path, key)
        })?;
        old.push(OldSysroot {
            name: o.name.clone(),
            glibc_version: o.glibc.clone(),
            path: dir,
        });
    }
    let mut info = ToolchainInfo {
        key: keys.toolchain.clone(),
        prefix: cache.toolchain(),
        sysroot: cache.patched_sysroot(),
        old_sysroots: old,
        cxx: opts.cxx || opts.go(cache),
        go: opts.go(cache),
        split_stack_probe: String::new(),
        timings: Vec::new(),
        quick_key: quick,
    };
    info.split_stack_probe = ctx.time("smoke test", |c| {
        crate::toolchain::smoke::run(c.ui, c.cache, &info)
    })?;
    info.timings = ctx.timings.clone();
    write_atomic(
        &cache.ready_file(),
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )?;
    if from_scratch {
        let date = crate::base::shell::utc_now();
        let record = serde_json::json!({ "date": date, "timings": info.timings });
        write_atomic(
            &from_scratch_file(cache),
            serde_json::to_string_pretty(&record)?.as_bytes(),
        )?;
    }
    ui.line(format!("toolchain published: {}", info.prefix.display()));
    for (n, t) in &info.timings {
        ui.line(format!(
            "  {n:<28} {}",
            fmt_duration(Duration::from_secs_f64(*t))
        ));
    }
    Ok(info)
}

/// Where the step times of the last from-scratch build are kept
/// (`{"date": ..., "timings": [[step, seconds], ...]}`).
pub fn from_scratch_file(cache: &Cache) -> PathBuf {
    cache.logs().join("from-scratch-build.json")
}

fn check_space(cache: &Cache) -> Result<()> {
    let avail = fs4::available_space(cache.root()).unwrap_or(u64::MAX);
    if avail < SPACE_NEEDED {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        bail!(
            "only {:.1} GiB free in {}; a toolchain build needs about {:.0} GiB. Free some space \
             or point {} at a larger disk",
            gib(avail),
            cache.root().display(),
            gib(SPACE_NEEDED),
            crate::base::cache::CACHE_ENV
        );
    }
    Ok(())
}

/// A configure + make + install step of an autotools component.
struct Autotools<'a> {
    name: &'a str,
    configure: Cmd,
    /// Key of the configuration; a change wipes the build tree.
    configure_key: String,
    make_args: Vec<String>,
    install_args: Vec<String>,
    /// Subdirectory of the staging tree that is synced into `dest`.
    stage_subdir: PathBuf,
    dest: PathBuf,
    key: String,
}

impl Autotools<'_> {
    fn run(self, ctx: &mut Ctx, before_make: impl FnOnce(&Path, bool) -> Result<()>) -> Result<()> {
        let (ui, cache) = (ctx.ui, ctx.cache);
        let build_step = format!("{}-build", self.name);
        if cache.is_done(&build_step, &self.key) && self.dest.exists() {
            ui.line(format!("{}: up to date", self.name));
            return Ok(());
        }
        cache.clear(&build_step)?;
        let build = cache.build(self.name);
        let log = cache.log(self.name);
        // Whatever step a killed xtask left running here (configure, make
        // or install) is stopped before anything in the tree is touched.
        if kill_stragglers(&build)? {
            ui.line(format!(
                "{}: stopped the processes left running in {} by an interrupted build",
                self.name,
                build.display()
            ));
        }
        let conf_step = format!("{}-configure", self.name);
        let fresh =
            !(cache.is_done(&conf_step, &self.configure_key) && build.join("Makefile").is_file());
        if fresh {
            cache.clear(&conf_step)?;
            if build.exists() {
                std::fs::remove_dir_all(&build)?;
            }
            std::fs::create_dir_all(&build)?;
            let _ = std::fs::remove_file(&log);
            self.configure
                .dir(&build)
                .group_file(build.join(GROUP_FILE))
                .run_logged(ui, &format!("{}: configure", self.name), &log)?;
            cache.mark_done(&conf_step, &self.configure_key, serde_json::Value::Null)?;
        }
        before_make(&build, fresh)?;
        let marker = build.join(".xtask-make-running");
        if marker.exists() {
            let n = remove_torn_outputs(&build)?;
            ui.line(format!(
                "{}: the previous build was interrupted; removed {n} possibly truncated output file(s)",
                self.name
            ));
        }
        std::fs::write(&marker, "")?;
        let make = ctx
            .host_env(Cmd::new("make"))
            .arg(format!("-j{}", ctx.opts.jobs()))
            .args(&self.make_args)
            .group_file(build.join(GROUP_FILE))
            .dir(&build);
        let r = make.run_logged(ui, &format!("{}: make", self.name), &log);
        if let Err(e) = &r {
            // A make that failed by itself removed the outputs of the
            // failed commands: the marker goes.  One that was stopped
            // (Ctrl-C) keeps it, so that the next build removes what may
            // have been torn.
            if e.downcast_ref::<crate::base::shell::Interrupted>()
                .is_none()
            {
                let _ = std::fs::remove_file(&marker);
            }
        }
        r?;
        std::fs::remove_file(&marker)?;
        let stage = cache.stage(self.name);
        if stage.exists() {
            std::fs::remove_dir_all(&stage)?;
        }
        ctx.host_env(Cmd::new("make"))
            .args(&self.install_args)
            .arg(format!("DESTDIR={}", stage.display()))
            .group_file(build.join(GROUP_FILE))
            .dir(&build)
            .run_logged(ui, &format!("{}: install", self.name), &log)?;
        sync_tree(
            ui,
            &stage.join(&self.stage_subdir),
            &self.dest,
            &log,
            self.name,
        )?;
        cache.mark_done(&build_step, &self.key, serde_json::Value::Null)?;
        Ok(())
    }
}

/// Copies `from/` into `to/` rewriting only files whose content changed
/// (`rsync --checksum` without `--times`), so unchanged installed files
/// keep their timestamps and do not trigger rebuilds of their dependents.
fn sync_tree(ui: &Ui, from: &Path, to: &Path, log: &Path, name: &str) -> Result<()> {
    std::fs::create_dir_all(to)?;
    Cmd::new("rsync")
        .args(["-rlpc", "--no-times"])
        .arg(format!("{}/", from.display()))
        .arg(format!("{}/", to.display()))
        .run_logged(
            ui,
            &format!("{name}: sync install into {}", to.display()),
            log,
        )
}

/// The file in a build tree that holds the process group of the step
/// running there (see `base::shell::Cmd::group_file`).
pub const GROUP_FILE: &str = ".xtask-group";

/// Stops what a killed xtask left running in the build tree `dir` (make
/// and everything it started, in their process group; see
/// `base::shell::kill_recorded_group`).  Returns whether anything was.
pub fn kill_stragglers(dir: &Path) -> Result<bool> {
    crate::base::shell::kill_recorded_group(&dir.join(GROUP_FILE))
}

/// After an interrupted `make` (the process was killed, so make could not
/// delete half-written targets), removes object files, archives and
/// executables written in the last 20 seconds before the interruption,
/// plus empty files, so the next `make` rebuilds them.  Returns the count.
pub fn remove_torn_outputs(build: &Path) -> Result<usize> {
    let mut files = Vec::new();
    collect_files(build, &mut files)?;
    let newest = files
        .iter()
        .map(|(_, t, _)| *t)
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let window = newest - Duration::from_secs(20);
    let mut n = 0;
    for (p, t, len) in files {
        if t < window {
            continue;
        }
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with(".xtask") {
            continue;
        }
        let mut magic = [0u8; 8];
        let head = std::fs::File::open(&p)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut magic))
            .unwrap_or(0);
        let binary = head >= 4 && (&magic[..4] == b"\x7fELF" || magic.starts_with(b"!<arch>"));
        if binary || len == 0 {
            std::fs::remove_file(&p)?;
            n += 1;
        }
    }
    Ok(n)
}

fn collect_files(dir: &Path, out: &mut Vec<(PathBuf, SystemTime, u64)>) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let ft = e.file_type()?;
        if ft.is_dir() {
            collect_files(&e.path(), out)?;
        } else if ft.is_file() {
            let m = e.metadata()?;
            out.push((e.path(), m.modified()?, m.len()));
        }
    }
    Ok(())
}

/// binutils' configure command for the source tree `tree` (gas, ld.bfd and
/// gold for `aarch64-linux-gnu`), with `prefix` and the host compiler
/// flags `cflags`.  The same command configures the toolchain's binutils
/// and the unpatched baseline of `gold-compare`, so that the two differ
/// only in the series.
pub(crate) fn binutils_configure(cache: &Cache, tree: &Path, prefix: &Path, cflags: &str) -> Cmd {
    host_env(cache, cflags, Cmd::new(tree.join("configure")))
        .arg("--target=aarch64-linux-gnu")
        .arg(format!("--prefix={}", prefix.display()))
        .arg(format!(
            "--with-sysroot={}",
            cache.patched_sysroot().display()
        ))
        .args([
            "--enable-gold",
            "--enable-ld=default",
            "--enable-plugins",
            "--disable-nls",
            "--disable-werror",
            "--disable-gdb",
            "--disable-gdbserver",
            "--disable-sim",
            "--disable-gprofng",
            "--disable-readline",
            "--disable-libdecnumber",
            "--disable-multilib",
            "--enable-deterministic-archives",
        ])
}

fn build_binutils(ctx: &mut Ctx, src: &Source, key: &str) -> Result<()> {
    let prefix = ctx.cache.toolchain();
    let configure = binutils_configure(ctx.cache, &src.tree, &prefix, ctx.opts.host_cflags());
    let configure_key = KeyHasher::new(RECIPE)
        .str("binutils-configure", &src.key)
        .str("profile", ctx.opts.host_cflags())
        .finish();
    Autotools {
        name: "binutils",
        configure,
        configure_key,
        make_args: vec!["MAKEINFO=true".into(), "all".into()],
        install_args: vec!["MAKEINFO=true".into(), "install".into()],
        stage_subdir: strip_root(&prefix),
        dest: prefix,
        key: key.to_string(),
    }
    .run(ctx, |_, _| Ok(()))
}

/// `/a/b` as the relative path `a/b` (a DESTDIR staging subdirectory).
fn strip_root(p: &Path) -> PathBuf {
    p.strip_prefix("/").unwrap_or(p).to_path_buf()
}

fn install_linux_headers(ctx: &mut Ctx, deb: &Path, key: &str) -> Result<()> {
    let step = "linux-headers";
    let sysroot = ctx.cache.patched_sysroot();
    if ctx.cache.is_done(step, key) && sysroot.join("usr/include/linux/version.h").exists() {
        return Ok(());
    }
    ctx.cache.clear(step)?;
    let tmp = tempfile::tempdir_in(ctx.cache.root())?;
    extract_deb(deb, tmp.path())?;
    let inc = tmp.path().join("usr/aarch64-linux-gnu/include");
    if !inc.join("linux/version.h").exists() {
        bail!("{} does not contain Linux UAPI headers", deb.display());
    }
    sync_tree(
        ctx.ui,
        &inc,
        &sysroot.join("usr/include"),
        &ctx.cache.log("linux-headers"),
        "linux-headers",
    )?;
    ctx.cache.mark_done(step, key, serde_json::Value::Null)
}

/// glibc's configure command for the source tree `tree` (used for the
/// patched build and for the unpatched comparison build alike).
pub fn glibc_configure(cache: &Cache, tree: &Path) -> Result<Cmd> {
    let sysroot = cache.patched_sysroot();
    let build_triplet = Cmd::new("gcc").arg("-dumpmachine").read()?;
    // The bootstrap compiler by absolute path, and a key that changes
    // with it: glibc was once partly rebuilt by the project's own GCC,
    // which had come first in make's PATH.
    let cc = bootstrap_cc(cache)?;
    Ok(Cmd::new(tree.join("configure"))
        .env("CC", format!("ccache {}", cc.display()))
        // No cross C++ compiler: name one that does not exist, so that
        // configure does not silently pick the host's x86 g++.
        .env("CXX", "aarch64-linux-gnu-g++-absent")
        .env("CFLAGS", "-O2 -g")
        .env("CCACHE_DIR", cache.ccache())
        .env("LC_ALL", "C")
        .env_remove("CONFIG_SITE")
        .arg("--host=aarch64-linux-gnu")
        .arg(format!("--build={build_triplet}"))
        .arg("--prefix=/usr")
        .arg(format!(
            "--with-headers={}",
            sysroot.join("usr/include").display()
        ))
        .args(["--disable-werror", "--without-selinux", "--disable-profile"]))
}

fn build_glibc(ctx: &mut Ctx, src: &Source, key: &str) -> Result<()> {
    let sysroot = ctx.cache.patched_sysroot();
    let configure = glibc_configure(ctx.cache, &src.tree)?;
    let configure_key = KeyHasher::new(RECIPE)
        .str("glibc-configure", &src.key)
        .str("cc", &bootstrap_cc_version(ctx.cache)?)
        .str("cc-path", &bootstrap_cc(ctx.cache)?.display().to_string())
        .finish();
    Autotools {
        name: "glibc",
        configure,
        configure_key,
        make_args: vec![],
        // Debian's tarball has no GFDL manual; do not try to build it.
        install_args: vec!["MAKEINFO=:".into(), "install".into()],
        stage_subdir: PathBuf::new(),
        dest: sysroot.clone(),
        key: key.to_string(),
    }
    .run(ctx, |_, _| Ok(()))?;
    // GCC's --disable-multilib search path is $SYSROOT/usr/lib/../lib64:
    // usr/lib must exist even though glibc installs into usr/lib64.
    std::fs::create_dir_all(sysroot.join("usr/lib"))?;
    Ok(())
}

fn build_gcc(ctx: &mut Ctx, src: &Source, keys: &Keys) -> Result<()> {
    let prefix = ctx.cache.toolchain();
    let sysroot = ctx.cache.patched_sysroot();
    let langs = ctx.opts.languages(ctx.cache);
    let configure = gcc_configure(ctx.cache, &src.tree, &prefix, langs, ctx.opts.host_cflags());
    let configure_key = KeyHasher::new(RECIPE)
        .str("gcc-configure", &src.key)
        // The whole command line: a changed configure option reconfigures.
        .str("command", &configure.display())
        .str("profile", ctx.opts.host_cflags())
        .str("langs", langs)
        .str("binutils", &keys.binutils)
        .finish();
    let glibc_changed = ctx
        .cache
        .stamp("gcc-last-glibc")
        .is_some_and(|s| s.key != keys.glibc);
    let target = "aarch64-linux-gnu";
    Autotools {
        name: "gcc",
        configure,
        configure_key,
        make_args: vec!["MAKEINFO=true".into(), "all".into()],
        install_args: vec!["MAKEINFO=true".into(), "install".into()],
        stage_subdir: strip_root(&prefix),
        dest: prefix.clone(),
        key: keys.gcc.clone(),
    }
    .run(ctx, |build, fresh| {
        if fresh {
            return Ok(());
        }
        // Incremental rebuild: target libraries are not rebuilt by make when
        // the compiler or the sysroot changes.  libgcc always follows the
        // compiler (its split-stack runtime is compiled with the new code
        // generator); all target libraries follow a changed glibc.
        let dir = if glibc_changed {
            build.join(target)
        } else {
            build.join(target).join("libgcc")
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        // libgo.so links the split-stack runtime of libgcc.a into itself:
        // removing the library makes make link it again (its objects stay).
        let libgo = build.join(target).join("libgo");
        for f in ["libgo.la", ".libs/libgo.so", ".libs/libgo.a"] {
            let _ = std::fs::remove_file(libgo.join(f));
        }
        Ok(())
    })?;
    if ctx.opts.go(ctx.cache) {
        let config = ctx.cache.build("gcc").join(target).join("libgo/config.h");
        let line = libgo_split_stack(&config)?;
        ctx.ui.line(format!("gcc: libgo {line}"));
    }
    ctx.cache
        .mark_done("gcc-last-glibc", &keys.glibc, serde_json::Value::Null)?;
    // Shared runtime libraries must also be where the loader looks when a
    // program runs under `qemu-aarch64 -L <sysroot>`.
    let lib64 = prefix.join(target).join("lib64");
    for e in std::fs::read_dir(&lib64).with_context(|| format!("{} missing", lib64.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.contains(".so")
            && (name.starts_with("libgcc_s")
                || name.starts_with("libstdc++")
                || name.starts_with("libatomic")
                || name.starts_with("libgo."))
        {
            let dest = sysroot.join("lib64").join(&name);
            let data = std::fs::read(e.path())?;
            if std::fs::read(&dest).ok().as_deref() != Some(&data[..]) {
                let _ = std::fs::remove_file(&dest);
                if e.file_type()?.is_symlink() {
                    std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &dest)?;
                } else {
                    std::fs::write(&dest, &data)?;
                }
            }
        }
    }
    Ok(())
}

/// What libgo's `config.h` (at `config`) says of split stacks, as a line
/// for the build output: both `USING_SPLIT_STACK` (libgo's configure found
/// that `-fsplit-stack` compiles and links) and
/// `LINKER_SUPPORTS_SPLIT_STACK` (the linker that `gccgo` uses knows
/// `--split-stack-adjust-size`, i.e. is gold) must be defined, or libgo
/// gives every goroutine a fixed 4 MiB stack (libgo/runtime/proc.c,
/// `StackMin`).  Errors: the file cannot be read, or either is missing
/// (the message names which and where to look).
pub fn libgo_split_stack(config: &Path) -> Result<String> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read libgo's {}", config.display()))?;
    let defined = |m: &str| text.lines().any(|l| l.trim() == format!("#define {m} 1"));
    let missing: Vec<&str> = ["USING_SPLIT_STACK", "LINKER_SUPPORTS_SPLIT_STACK"]
        .into_iter()
        .filter(|m| !defined(m))
        .collect();
    if !missing.is_empty() {
        bail!(
            "libgo was configured without split stacks: {} not defined in {} (see \
             libgo's config.log beside it: the `-fsplit-stack` probes); gccgo would give \
             every goroutine a fixed 4 MiB stack. Build without Go: `cargo xtask \
             build-toolchain --without-go`",
            missing.join(" and "),
            config.display()
        );
    }
    Ok(
        "config.h: USING_SPLIT_STACK and LINKER_SUPPORTS_SPLIT_STACK defined \
        (goroutines start on split stacks)"
            .to_string(),
    )
}

fn old_sysroot(
    ctx: &mut Ctx,
    name: &str,
    debs: &[PathBuf],
    headers: &Path,
    key: &str,
) -> Result<PathBuf> {
    let dir = ctx.cache.old_sysroot(name);
    let step = format!("sysroot-{name}");
    if ctx.cache.is_done(&step, key) && dir.join("lib/ld-linux-aarch64.so.1").exists() {
        return Ok(dir);
    }
    ctx.cache.clear(&step)?;
    ctx.ui.line(format!(
        "sysroot {name}: unpacking {} packages",
        debs.len() + 1
    ));
    let tmp = tempfile::tempdir_in(ctx.cache.root())?;
    for d in debs.iter().chain(std::iter::once(&headers.to_path_buf())) {
        extract_deb(d, tmp.path())?;
    }
    let mut root = tmp.path().join("usr/aarch64-linux-gnu");
    if !root.join("lib/ld-linux-aarch64.so.1").exists() {
        // Native arm64 packages (`libc6:arm64`): gather their multiarch
        // libraries and the dynamic loader into the cross layout.
        root =
            native_to_cross_layout(tmp.path()).with_context(|| format!("the {name} packages"))?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(dir.parent().context("no parent")?)?;
    std::fs::rename(&root, &dir)?;
    ctx.cache.mark_done(&step, key, serde_json::Value::Null)?;
    Ok(dir)
}

/// Rearranges the files of Debian's native arm64 glibc packages, unpacked
/// under `tmp`, into the layout of its cross packages, `lib/` and
/// `include/` under a new directory `tmp/cross`, which it returns: `lib/`
/// gets the files of `{,usr/}lib/aarch64-linux-gnu/` and the dynamic
/// loader from `{,usr/}lib/`, `include/` those of `usr/include/` and
/// `usr/include/aarch64-linux-gnu/`.  Errors: no
/// `ld-linux-aarch64.so.1` among them.
fn native_to_cross_layout(tmp: &Path) -> Result<PathBuf> {
    let out = tmp.join("cross");
    let lib = out.join("lib");
    let include = out.join("include");
    std::fs::create_dir_all(&lib)?;
    std::fs::create_dir_all(&include)?;
    let move_children = |from: &Path, to: &Path| -> Result<()> {
        let Ok(entries) = std::fs::read_dir(from) else {
            return Ok(());
        };
        for e in entries {
            let e = e?;
            let target = to.join(e.file_name());
            if !target.exists() {
                std::fs::rename(e.path(), target)?;
            }
        }
        Ok(())
    };
    for d in ["lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu"] {
        move_children(&tmp.join(d), &lib)?;
    }
    for d in ["lib", "usr/lib"] {
        let ld = tmp.join(d).join("ld-linux-aarch64.so.1");
        if ld.symlink_metadata().is_ok() && !lib.join("ld-linux-aarch64.so.1").exists() {
            std::fs::rename(&ld, lib.join("ld-linux-aarch64.so.1"))?;
        }
    }
    move_children(&tmp.join("usr/include/aarch64-linux-gnu"), &include)?;
    move_children(&tmp.join("usr/include"), &include)?;
    // The loader must be a file here, not a symlink into the old tree.
    let ld = lib.join("ld-linux-aarch64.so.1");
    if !ld.is_file() {
        bail!("no ld-linux-aarch64.so.1 in lib/ or usr/lib/");
    }
    Ok(out)
}

/// The path of `toolchain.toml` in the repository.
/// The pinned sources (`toolchain.toml` of the repository `repo`).
/// Errors: missing or invalid.
pub fn load_manifest(repo: &Path) -> Result<Manifest> {
    Manifest::load(&manifest_path(repo))
}

pub fn manifest_path(repo: &Path) -> PathBuf {
    repo.join("toolchain.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_outputs_after_a_kill_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let w = |rel: &str, data: &[u8], t: Option<SystemTime>| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, data).unwrap();
            if let Some(t) = t {
                std::fs::File::options()
                    .write(true)
                    .open(&p)
                    .unwrap()
                    .set_modified(t)
                    .unwrap();
            }
        };
        w("gcc/old.o", b"\x7fELF....", Some(old));
        w("gcc/new.o", b"\x7fELF", None);
        w("gcc/libx.a", b"!<arch>\n", None);
        w("gcc/empty.h", b"", None);
        w("gcc/Makefile", b"all:\n", None);
        w("gcc/tm.h", b"#define X\n", None);
        let n = remove_torn_outputs(d.path()).unwrap();
        assert_eq!(n, 3);
        assert!(d.path().join("gcc/old.o").exists());
        assert!(!d.path().join("gcc/new.o").exists());
        assert!(!d.path().join("gcc/libx.a").exists());
        assert!(!d.path().join("gcc/empty.h").exists());
        assert!(d.path().join("gcc/Makefile").exists());
        assert!(d.path().join("gcc/tm.h").exists());
    }

    #[test]
    fn the_quick_key_follows_the_repository_and_the_options() {
        let repo = tempfile::tempdir().unwrap();
        let cache = Cache::at(tempfile::tempdir().unwrap().path());
        std::fs::write(repo.path().join("toolchain.toml"), "pinned = 1\n").unwrap();
        let gcc = repo.path().join("patches/gcc");
        std::fs::create_dir_all(&gcc).unwrap();
        std::fs::write(gcc.join("0001-a.patch"), "one").unwrap();
        let opts = BuildOptions {
            cxx: true,
            ..Default::default()
        };
        let key = |o: &BuildOptions| quick_key(&cache, repo.path(), o).unwrap();
        let k0 = key(&opts);
        assert_eq!(k0, key(&opts), "stable");
        std::fs::write(gcc.join("0001-a.patch"), "two").unwrap();
        let k1 = key(&opts);
        assert_ne!(k1, k0, "a changed patch");
        let c_only = BuildOptions {
            cxx: false,
            ..Default::default()
        };
        assert_ne!(key(&c_only), k1, "other languages");
        let release = BuildOptions {
            release: true,
            ..opts.clone()
        };
        assert_ne!(key(&release), k1, "another profile");
        std::fs::write(repo.path().join("toolchain.toml"), "pinned = 2\n").unwrap();
        assert_ne!(key(&opts), k1, "another pin");
        // Nothing published: not current; --refresh never takes the fast path.
        assert!(find_current(&cache, repo.path(), &opts).is_none());
    }

    #[test]
    fn stragglers_in_a_build_tree_are_killed() {
        use std::os::unix::process::CommandExt;
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join(GROUP_FILE);
        std::fs::write(&file, "").unwrap();
        // What a killed xtask leaves: make and a job of its, in their own
        // process group, orphaned, holding the group file's lock (flock(1)
        // stands in for the process layer), the group recorded in it.
        let first = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "(flock {} sh -c 'sleep 600 & exec sleep 600') >/dev/null 2>&1 & echo $$",
                file.display()
            ))
            .process_group(0)
            .output()
            .unwrap();
        let pgid = String::from_utf8(first.stdout).unwrap().trim().to_string();
        let locked = || {
            let f = std::fs::File::open(&file).unwrap();
            rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared).is_err()
        };
        assert!((0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            locked()
        }));
        std::fs::write(&file, format!("{pgid}\n")).unwrap();
        let mut bystander = std::process::Command::new("sleep")
            .arg("600")
            .current_dir(d.path())
            .spawn()
            .unwrap();
        assert!(kill_stragglers(d.path()).unwrap());
        assert!(!file.exists(), "removed once its lock was free");
        assert!(bystander.try_wait().unwrap().is_none(), "not in the group");
        // A group file that nobody holds names a pid that may belong to
        // anyone by now: nothing is killed.
        std::fs::write(&file, format!("{}\n", bystander.id())).unwrap();
        assert!(!kill_stragglers(d.path()).unwrap());
        assert!(bystander.try_wait().unwrap().is_none());
        assert!(!file.exists());
        bystander.kill().unwrap();
        bystander.wait().unwrap();
        assert!(!kill_stragglers(d.path()).unwrap());
    }

    #[test]
    fn install_sync_rewrites_only_changed_files() {
        let d = tempfile::tempdir().unwrap();
        let (from, to) = (d.path().join("stage"), d.path().join("prefix"));
        for dir in [&from, &to] {
            std::fs::create_dir_all(dir.join("lib")).unwrap();
        }
        let old = SystemTime::now() - Duration::from_secs(3600);
        for (name, staged, installed) in [
            ("lib/same.so", "same", "same"),
            ("lib/changed.so", "new", "old"),
        ] {
            std::fs::write(from.join(name), staged).unwrap();
            std::fs::write(to.join(name), installed).unwrap();
            std::fs::File::options()
                .write(true)
                .open(to.join(name))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        std::fs::write(from.join("lib/added.so"), "added").unwrap();
        sync_tree(&Ui::new(), &from, &to, &d.path().join("log"), "test").unwrap();
        let mtime = |n: &str| std::fs::metadata(to.join(n)).unwrap().modified().unwrap();
        assert_eq!(mtime("lib/same.so"), old, "identical file was rewritten");
        assert_ne!(mtime("lib/changed.so"), old);
        assert_eq!(
            std::fs::read_to_string(to.join("lib/changed.so")).unwrap(),
            "new"
        );
        assert_eq!(
            std::fs::read_to_string(to.join("lib/added.so")).unwrap(),
            "added"
        );
    }

    #[test]
    fn libgo_config_must_define_both_split_stack_macros() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.h");
        std::fs::write(
            &p,
            "#define USING_SPLIT_STACK 1\n/* #undef LINKER_SUPPORTS_SPLIT_STACK */\n",
        )
        .unwrap();
        let e = format!("{:#}", libgo_split_stack(&p).unwrap_err());
        assert!(e.contains("LINKER_SUPPORTS_SPLIT_STACK not defined"), "{e}");
        std::fs::write(
            &p,
            "#define LINKER_SUPPORTS_SPLIT_STACK 1\n#define USING_SPLIT_STACK 1\n",
        )
        .unwrap();
        assert!(libgo_split_stack(&p).is_ok());
        assert!(libgo_split_stack(&d.path().join("absent.h")).is_err());
    }

    #[test]
    fn go_is_kept_once_the_cache_has_it_unless_refused() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::at(d.path());
        let mut o = BuildOptions {
            cxx: true,
            ..Default::default()
        };
        assert_eq!(o.languages(&cache), "c,c++", "an empty cache has no Go");
        o.go = Some(true);
        assert_eq!(o.languages(&cache), "c,c++,go");
        // A GCC build tree configured with Go (an interrupted --with-go
        // build): a command that does not mention Go keeps it.
        let b = cache.build("gcc");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(
            b.join("config.status"),
            "ac_cs_config=\"'--enable-languages=c,c++,go' '--disable-nls'\"\n",
        )
        .unwrap();
        o.go = None;
        assert_eq!(o.languages(&cache), "c,c++,go");
        o.go = Some(false);
        assert_eq!(o.languages(&cache), "c,c++");
        let c_only = BuildOptions::default();
        assert_eq!(
            BuildOptions {
                go: Some(false),
                ..c_only
            }
            .languages(&cache),
            "c"
        );
    }

    #[test]
    fn host_flags_follow_the_profile() {
        let mut o = BuildOptions::default();
        assert_eq!(o.host_cflags(), "-O1 -g0");
        o.release = true;
        assert_eq!(o.host_cflags(), "-O2 -g");
    }
}
