//! The smoke test run before a toolchain is published: hello world
//! (dynamic, static, and linked by gold) and a pthread program, built by the
//! new cross GCC and run under `qemu-aarch64 -L <patched sysroot>`; plus a
//! `-fsplit-stack` compile probe whose outcome is reported, not hidden.

use std::path::Path;

use anyhow::{bail, Result};

use crate::base::cache::Cache;
use crate::base::shell::{Cmd, Ui};
use crate::toolchain::info::ToolchainInfo;

const HELLO: &str = include_str!("smoke/hello.c");
const THREADS: &str = include_str!("smoke/threads.c");
const PROBE: &str = include_str!("smoke/probe.c");

/// Compiles `src` with `flags` and runs it under qemu, checking that it
/// exits 0 and prints `expect`.
fn run_case(
    info: &ToolchainInfo,
    dir: &Path,
    name: &str,
    src: &str,
    flags: &[&str],
    expect: &str,
) -> Result<()> {
    let c = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&c, src)?;
    Cmd::new(info.tool("gcc"))
        .args(flags)
        .arg(&c)
        .arg("-o")
        .arg(&exe)
        .read()
        .map_err(|e| e.context(format!("smoke test `{name}`: compile/link failed")))?;
    let (ok, out, err) = Cmd::new("qemu-aarch64")
        .arg("-L")
        .arg(&info.sysroot)
        .arg(&exe)
        .output()?;
    if !ok || !out.contains(expect) {
        bail!(
            "smoke test `{name}` ({}) did not run correctly under qemu-aarch64 -L {}:\n\
             stdout: {out}\nstderr: {err}",
            flags.join(" "),
            info.sysroot.display()
        );
    }
    Ok(())
}

/// Runs the smoke test; returns the `-fsplit-stack` probe's verdict.
pub fn run(ui: &Ui, cache: &Cache, info: &ToolchainInfo) -> Result<String> {
    let dir = tempfile::tempdir_in(cache.root())?;
    let d = dir.path();
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("hello", HELLO, &["-O2"], "hello from aarch64"),
        (
            "hello-static",
            HELLO,
            &["-O2", "-static"],
            "hello from aarch64",
        ),
        (
            "hello-gold",
            HELLO,
            &["-O2", "-fuse-ld=gold"],
            "hello from aarch64",
        ),
        ("threads", THREADS, &["-O2", "-pthread"], "threads ok"),
        (
            "threads-static",
            THREADS,
            &["-O2", "-static", "-pthread"],
            "threads ok",
        ),
    ];
    for (name, src, flags, expect) in cases {
        run_case(info, d, name, src, flags, expect)?;
        ui.line(format!(
            "smoke: {name} ({}) runs under qemu",
            flags.join(" ")
        ));
    }
    let probe = d.join("probe.c");
    std::fs::write(&probe, PROBE)?;
    let (ok, _, err) = Cmd::new(info.tool("gcc"))
        .args(["-O2", "-fsplit-stack", "-c"])
        .arg(&probe)
        .arg("-o")
        .arg(d.join("probe.o"))
        .output()?;
    let verdict = if ok {
        "-fsplit-stack: accepted".to_string()
    } else {
        let first = err
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or(err.trim())
            .to_string();
        format!(
            "-fsplit-stack: NOT supported by this compiler ({})",
            first.trim()
        )
    };
    ui.line(format!("smoke: {verdict}"));
    Ok(verdict)
}
