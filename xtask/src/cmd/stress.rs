//! `cargo xtask stress-runtime`: the crossing-stress runtime
//! (conformance/src/stress.rs, docs/stress.md) for the user's programs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::base::cache::Cache;
use crate::toolchain::info::ToolchainInfo;

/// Writes `dir/libgcc.a` from `gcc`'s (default: the published
/// toolchain's) and prints how to use it.  Errors: no toolchain, or the
/// rewrite fails (see `conformance::stress::write_stress_libgcc`).
pub fn run(cache: &Cache, dir: &Path, gcc: Option<PathBuf>) -> Result<()> {
    let gcc = match gcc {
        Some(g) => g,
        None => ToolchainInfo::published(cache)
            .context("no built toolchain: run `cargo xtask build-toolchain`, or give --gcc")?
            .tool("gcc"),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let lib = conformance::stress::write_stress_libgcc(&gcc, dir)?;
    println!(
        "{}\nuse: {} -fsplit-stack -B{}/ prog.c (docs/stress.md)",
        lib.display(),
        gcc.display(),
        dir.display()
    );
    Ok(())
}
