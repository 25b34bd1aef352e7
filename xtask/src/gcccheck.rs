//! `cargo xtask gcc-check`: GCC's own DejaGnu testsuite for the split-stack
//! series, run from the incremental GCC build tree with a qemu-user board
//! (Debian's `dejagnu` provides `runtest`).  By default it runs
//! `gcc.dg/split-*.c` and `gcc.target/aarch64/split-stack-*.c`; other
//! `.exp=files` selections can be given.  On demand, not part of CI.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cache::Cache;
use crate::shell::{Cmd, Ui};

/// The DejaGnu board: programs run under `qemu-aarch64 -L <sysroot>`, with
/// GCC's status wrapper reporting the exit code.
fn board(sysroot: &Path) -> String {
    format!(
        "load_generic_config \"sim\"\n\
         set_board_info sim \"qemu-aarch64\"\n\
         set_board_info sim,options \"-L {}\"\n\
         set_board_info is_simulator 1\n\
         set_board_info compiler \"[find_gcc]\"\n\
         set_board_info gdb,noinferiorio 1\n\
         set_board_info needs_status_wrapper 1\n",
        sysroot.display()
    )
}

/// Test files of `dir` whose names start with `prefix` and end in `.c`,
/// sorted.  (A glob such as `aarch64.exp=split-stack-*.c` did not select
/// anything through GCC's `make check` here: the whole `.exp` ran.  A
/// quoted list of names does; the quotes are escaped once for the
/// recursive make that GCC's check target runs.)
fn select(dir: &Path, prefix: &str) -> Result<Vec<String>> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".c"))
        .collect();
    v.sort();
    Ok(v)
}

/// Summary of a `gcc.sum`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Number of PASS lines.
    pub pass: usize,
    /// FAIL, XPASS and UNRESOLVED lines, verbatim.
    pub bad: Vec<String>,
}

/// Reads DejaGnu's summary text.
pub fn summarize(sum: &str) -> Summary {
    let mut s = Summary::default();
    for l in sum.lines() {
        if l.starts_with("PASS: ") {
            s.pass += 1;
        } else if l.starts_with("FAIL: ")
            || l.starts_with("XPASS: ")
            || l.starts_with("UNRESOLVED: ")
        {
            s.bad.push(l.to_string());
        }
    }
    s
}

/// Runs the selection; returns the summary.  Errors: no GCC build tree,
/// `runtest` missing, make failed before producing a summary.
pub fn run(ui: &Ui, cache: &Cache, selections: &[String]) -> Result<Summary> {
    let build = cache.build("gcc").join("gcc");
    if !build.join("Makefile").is_file() {
        bail!(
            "no GCC build tree in {}: run `cargo xtask build-toolchain` first",
            build.display()
        );
    }
    if Cmd::new("runtest").arg("--version").read().is_err() {
        bail!("`runtest` not found: install Debian's dejagnu (apt-get install dejagnu)");
    }
    let src = cache.src("gcc").join("gcc/testsuite");
    let selections = if selections.is_empty() {
        vec![
            format!(
                "dg.exp=\\\"{}\\\"",
                select(&src.join("gcc.dg"), "split-")?.join(" ")
            ),
            format!(
                "aarch64.exp=\\\"{}\\\"",
                select(&src.join("gcc.target/aarch64"), "split-stack-")?.join(" ")
            ),
        ]
    } else {
        selections.to_vec()
    };
    let dir = cache.root().join("dejagnu");
    std::fs::create_dir_all(dir.join("boards"))?;
    std::fs::write(
        dir.join("boards/aarch64-qemu.exp"),
        board(&cache.patched_sysroot()),
    )?;
    let site = dir.join("site.exp");
    std::fs::write(
        &site,
        format!("lappend boards_dir {}\n", dir.join("boards").display()),
    )?;
    let sum_path = build.join("testsuite/gcc/gcc.sum");
    let _ = std::fs::remove_file(&sum_path);
    let mut sum_text = String::new();
    for sel in &selections {
        let log = cache.log("gcc-check");
        let r = Cmd::new("make")
            .arg("check-gcc")
            .arg(format!("RUNTESTFLAGS=--target_board=aarch64-qemu {sel}"))
            .env("DEJAGNU", &site)
            .env("LC_ALL", "C")
            .dir(&build)
            .run_logged(
                ui,
                &format!("gcc-check: {}", sel.split('=').next().unwrap_or(sel)),
                &log,
            );
        let text = std::fs::read_to_string(&sum_path)
            .with_context(|| format!("no {} ({r:?}); see {}", sum_path.display(), log.display()))?;
        sum_text.push_str(&text);
    }
    let s = summarize(&sum_text);
    ui.line(format!(
        "gcc-check: {} passed, {} failed or unresolved",
        s.pass,
        s.bad.len()
    ));
    for b in &s.bad {
        ui.line(format!("gcc-check: {b}"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_passes_and_keeps_failures() {
        let s = summarize(
            "PASS: a.c (test for excess errors)\nFAIL: b.c execution test\nUNRESOLVED: c.c\nXFAIL: d.c\nPASS: e.c\n",
        );
        assert_eq!(s.pass, 2);
        assert_eq!(s.bad.len(), 2);
        assert!(s.bad[0].contains("b.c"));
    }
}
