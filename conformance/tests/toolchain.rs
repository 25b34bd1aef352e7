//! Integration tests against the toolchain built by `cargo xtask
//! build-toolchain`, found through `SPLIT_STACK_TOOLCHAIN_JSON` (set by
//! `cargo xtask test`) or the default cache's `toolchain/.ready`.  Without a
//! built toolchain these tests fail with a message saying how to build it:
//! they are never silently skipped.

use std::path::{Path, PathBuf};

use conformance::{Outcome, Toolchain};

struct Built {
    prefix: PathBuf,
    sysroot: PathBuf,
    old: Vec<PathBuf>,
    probe: String,
    /// Whether the toolchain was built with the Go front end.
    go: bool,
}

fn built() -> Built {
    let json = std::env::var_os("SPLIT_STACK_TOOLCHAIN_JSON")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("SPLIT_STACK_CACHE")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("XDG_CACHE_HOME")
                        .map(|x| PathBuf::from(x).join("split-stack-aarch64"))
                })
                .or_else(|| {
                    std::env::var_os("HOME")
                        .map(|h| PathBuf::from(h).join(".cache/split-stack-aarch64"))
                })?;
            Some(cache.join("toolchain/.ready"))
        })
        .expect("no cache location");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|_| {
        panic!(
            "no built toolchain ({} missing): run `cargo xtask test` or `cargo xtask build-toolchain` first",
            json.display()
        )
    });
    let v: serde_json::Value = serde_json::from_str(&text).expect("toolchain JSON");
    let path = |v: &serde_json::Value| PathBuf::from(v.as_str().expect("path string"));
    Built {
        prefix: path(&v["prefix"]),
        sysroot: path(&v["sysroot"]),
        old: v["old_sysroots"]
            .as_array()
            .expect("old_sysroots")
            .iter()
            // Named ({"path": ...}), or positional in older files.
            .map(|o| path(o.get("path").unwrap_or(&o[2])))
            .collect(),
        probe: v["split_stack_probe"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        go: v["go"].as_bool().unwrap_or(false),
    }
}

#[test]
fn built_toolchain_compiles_and_runs_a_program_under_qemu() {
    let b = built();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("t.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void){long s=0;for(int i=1;i<=100;i++)s+=i;printf(\"sum=%ld\\n\",s);return s==5050?0:1;}\n",
    )
    .unwrap();
    let exe = dir.path().join("t");
    let gcc = b.prefix.join("bin/aarch64-linux-gnu-gcc");
    let st = std::process::Command::new(&gcc)
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "{} failed", gcc.display());
    let data = std::fs::read(&exe).unwrap();
    assert_eq!(&data[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([data[18], data[19]]),
        183,
        "not EM_AARCH64"
    );
    let out = std::process::Command::new("qemu-aarch64")
        .arg("-L")
        .arg(&b.sysroot)
        .arg(&exe)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sum=5050\n");
}

#[test]
fn conformance_report_agrees_with_the_built_toolchain() {
    let b = built();
    let tc = Toolchain::from_prefix(&b.prefix, &b.sysroot, &b.old).unwrap();
    let report = conformance::run(&tc).unwrap();
    let get = |id: &str| {
        report
            .results
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no check {id}"))
            .outcome
            .clone()
    };
    for id in [
        "tls/variant-1",
        "tls/variant-1-static",
        "refusal/plain-program-runs",
    ] {
        assert!(matches!(get(id), Outcome::Pass(_)), "{id}: {:?}", get(id));
    }
    // A toolchain built with Go is judged on its Go checks too.
    let go_checks = report
        .results
        .iter()
        .filter(|r| r.id.starts_with("gccgo/"))
        .count();
    assert_eq!(go_checks > 0, b.go, "gccgo/ checks run: {go_checks}");
    let accepted = matches!(get("split-stack/accepted"), Outcome::Pass(_));
    assert_eq!(
        accepted,
        b.probe.contains("accepted"),
        "probe said: {}",
        b.probe
    );
    // The toolchain this project builds implements the whole ABI: with
    // -fsplit-stack accepted, every check must pass.
    if accepted {
        let bad: Vec<String> = report
            .results
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Pass(_)))
            .map(|r| format!("{}: {:?}", r.id, r.outcome))
            .collect();
        assert!(bad.is_empty(), "checks not passing:\n{}", bad.join("\n"));
        assert!(report.conformant());
    }
    // A SKIP is never a pass.
    if report
        .results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Skip(_)))
    {
        assert!(!report.conformant());
    }
}

#[test]
fn stock_debian_cross_gcc_gets_a_clean_verdict() {
    let gcc = Path::new("/usr/bin/aarch64-linux-gnu-gcc");
    let sysroot = Path::new("/usr/aarch64-linux-gnu");
    assert!(
        gcc.exists() && sysroot.join("lib/ld-linux-aarch64.so.1").exists(),
        "Debian's gcc-aarch64-linux-gnu is a host requirement of the build; install it"
    );
    let tc = Toolchain::from_prefix(gcc, sysroot, &[]).unwrap();
    let report = conformance::run(&tc).unwrap();
    eprintln!("{}", report.render());
    assert!(!report.conformant());
    assert!(
        report.verdict.contains("`-fsplit-stack` not supported"),
        "{}",
        report.render()
    );
    assert!(matches!(
        report.results[0].outcome,
        Outcome::Fail(ref why) if why.contains("split-stack")
    ));
}

/// Normalised disassembly of the built toolchain's prologues, one insta
/// snapshot per (function, options) pair, for review: a change in the
/// code GCC emits shows up as a snapshot diff.  Re-bless with
/// `INSTA_UPDATE=always cargo test -p conformance --test toolchain`.
#[test]
fn prologue_snapshots_of_the_built_toolchain() {
    let b = built();
    let tc = Toolchain::from_prefix(&b.prefix, &b.sysroot, &b.old).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = conformance::Probe::new(&tc, dir.path());
    let src = include_str!("../cases/prologue.c");
    for (tag, flags) in [
        ("O2", &["-O2"][..]),
        ("O2-bti", &["-O2", "-mbranch-protection=standard"][..]),
        ("O1-tiny", &["-O1", "-mcmodel=tiny"][..]),
    ] {
        let mut f = vec!["-fsplit-stack", "-c"];
        f.extend_from_slice(flags);
        let obj = p.compile(&format!("snap_{tag}.o"), src, &f).unwrap();
        let funcs =
            conformance::elf::functions(&std::fs::read(obj).unwrap(), "__morestack").unwrap();
        for name in [
            "frame_16",
            "tail_call",
            "frame_4k",
            "frame_16m",
            "stack_args",
            "varargs",
        ] {
            let func = funcs.iter().find(|x| x.name == name).unwrap();
            let fp = conformance::prologue::parse_fast_path(&func.code).unwrap();
            let text = conformance::prologue::listing(func, &fp).unwrap();
            insta::assert_snapshot!(format!("{name}-{tag}"), text);
        }
    }
}
