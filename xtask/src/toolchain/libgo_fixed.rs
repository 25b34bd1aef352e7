//! libgo without split stacks, the reference of `cargo xtask go-check` and
//! `cargo xtask bench --go` (docs/gccgo.md): the same compiler and the
//! same libgo sources, configured the way libgo's configure does when the
//! linker cannot link split-stack code with code without it.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::base::cache::{Cache, KeyHasher};
use crate::base::shell::{Cmd, Ui};
use crate::toolchain::info::ToolchainInfo;

/// The flags that build a Go program against the fixed-stack libgo in
/// `libs` (the directory [`fixed_libgo`] returns): no split-stack code,
/// linked by gold like split-stack programs (the Go driver adds
/// `-fsplit-stack`, and so gold, only to links without
/// `-fno-split-stack`), so that the two differ only in split stacks.
/// At run time the program needs `LD_LIBRARY_PATH=libs`.
pub fn program_flags(libs: &std::path::Path) -> Vec<String> {
    vec![
        "-fno-split-stack".into(),
        "-fuse-ld=gold".into(),
        format!("-L{}", libs.display()),
    ]
}

/// libgo built without split stacks beside the toolchain's own, in its
/// GCC build tree (`aarch64-linux-gnu/libgo-fixed`): libgo's configure
/// run with the arguments recorded in the split-stack libgo's
/// `config.status`, and `libgo_cv_c_linker_split_non_split=no`, which is
/// what libgo does when the linker cannot link split code with non-split
/// code: no `USING_SPLIT_STACK` in C, `-fno-split-stack` for Go
/// (libgo/configure.ac).  Returns the directory holding `libgo.so`.
/// Errors: the toolchain has no libgo build tree, or the build fails
/// (log: `<cache>/logs/libgo-fixed.log`).
pub fn fixed_libgo(ui: &Ui, cache: &Cache, tc: &ToolchainInfo) -> Result<PathBuf> {
    let target = cache.build("gcc").join("aarch64-linux-gnu");
    let split = target.join("libgo");
    let dir = target.join("libgo-fixed");
    let libs = dir.join(".libs");
    let key = KeyHasher::new("libgo-fixed-v1")
        .str("toolchain", &tc.key)
        .finish();
    let step = "libgo-fixed";
    if cache.is_done(step, &key) && libs.join("libgo.so").exists() {
        return Ok(libs);
    }
    // It is built inside the GCC build tree: not while a build runs there.
    let _lock = cache.lock()?;
    if cache.is_done(step, &key) && libs.join("libgo.so").exists() {
        return Ok(libs);
    }
    cache.clear(step)?;
    let recorded = Cmd::new(split.join("config.status"))
        .arg("--config")
        .dir(&split)
        .read()
        .with_context(|| {
            format!(
                "no configured libgo in {} (build with --with-go)",
                split.display()
            )
        })?;
    let mut words = shlex::split(recorded.trim())
        .with_context(|| format!("cannot parse {}/config.status --config", split.display()))?;
    words.retain(|w| !w.starts_with("--cache-file"));
    words.push("--cache-file=/dev/null".into());
    words.push("libgo_cv_c_linker_split_non_split=no".into());
    let src = cache.src("gcc").join("libgo/configure");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let log = cache.log("libgo-fixed");
    let _ = std::fs::remove_file(&log);
    let path = {
        let mut v = vec![tc.prefix.join("bin"), cache.build("gcc").join("gcc")];
        if let Some(p) = std::env::var_os("PATH") {
            v.extend(std::env::split_paths(&p));
        }
        std::env::join_paths(v)?
    };
    // The compilers and tools come from the top-level Makefile's
    // environment, which config.status does not record: take them from
    // the split-stack libgo's Makefile.
    let makefile = std::fs::read_to_string(split.join("Makefile"))?;
    let mut configure = Cmd::new("sh").arg(&src).args(words);
    for var in [
        "CC",
        "GOC",
        "CFLAGS",
        "CCAS",
        "CCASFLAGS",
        "AR",
        "RANLIB",
        "NM",
        "OBJCOPY",
        "LD",
    ] {
        let value = makefile
            .lines()
            .find_map(|l| l.strip_prefix(var)?.trim_start().strip_prefix('='))
            .with_context(|| format!("{}/Makefile sets no {var}", split.display()))?;
        configure = configure.env(var, value.trim());
    }
    configure
        .env("GOCFLAGS", "-g -O2")
        .env("PATH", &path)
        .dir(&dir)
        .run_logged(
            ui,
            "libgo-fixed: configure libgo without split stacks",
            &log,
        )?;
    let config = std::fs::read_to_string(dir.join("config.h"))?;
    if config
        .lines()
        .any(|l| l.trim() == "#define USING_SPLIT_STACK 1")
    {
        bail!(
            "{}: libgo-fixed was configured with split stacks",
            dir.display()
        );
    }
    Cmd::new("make")
        .arg(format!("-j{}", crate::base::shell::default_jobs()))
        .env("PATH", &path)
        .dir(&dir)
        .run_logged(ui, "libgo-fixed: build libgo without split stacks", &log)?;
    if !libs.join("libgo.so").exists() {
        bail!(
            "no libgo.so in {} after make (log: {})",
            libs.display(),
            log.display()
        );
    }
    cache.mark_done(step, &key, serde_json::Value::Null)?;
    Ok(libs)
}
