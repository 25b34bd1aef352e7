//! End-to-end tests of `cargo xtask` commands as a user runs them: bad
//! inputs, exit codes, and a planted fault caught on the built toolchain.
//! The crates' own tests stay unit tests; these run the `xtask` binary.

use std::path::PathBuf;
use std::process::Command;

fn xtask(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn sysroot_without_toolchain_is_a_usage_error() {
    let (code, _, err) = xtask(&["conformance", "--sysroot", "/nonexistent"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--toolchain"), "{err}");
}

#[test]
fn a_missing_toolchain_cannot_run_the_suite() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().display().to_string();
    let (code, out, err) = xtask(&["conformance", "--toolchain", &p, "--sysroot", &p]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("could not run") && err.contains("no aarch64-linux-gnu-gcc"),
        "{err}"
    );
    assert!(!out.contains("CONFORMANT"), "{out}");
}

#[test]
fn a_compiler_for_another_target_is_refused() {
    let gcc = PathBuf::from("/usr/bin/gcc");
    assert!(gcc.exists(), "the host gcc is a build requirement");
    let (code, out, err) = xtask(&[
        "conformance",
        "--toolchain",
        "/usr/bin/gcc",
        "--sysroot",
        "/usr/aarch64-linux-gnu",
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("not aarch64-linux-gnu"), "{err}");
}

#[test]
fn a_compiler_that_cannot_build_plain_c_could_not_run_the_suite() {
    // An aarch64 driver that fails on every compilation: the suite could
    // not run (exit 2); it must not blame -fsplit-stack (exit 1).
    use std::os::unix::fs::PermissionsExt;
    let sysroot = PathBuf::from("/usr/aarch64-linux-gnu");
    if !sysroot.join("lib/ld-linux-aarch64.so.1").exists() {
        panic!("Debian's libc6-arm64-cross is a build requirement (cargo xtask host-deps)");
    }
    let d = tempfile::tempdir().unwrap();
    let gcc = d.path().join("aarch64-linux-gnu-gcc");
    std::fs::write(
        &gcc,
        "#!/bin/sh\ncase \"$1\" in -dumpmachine) echo aarch64-linux-gnu;; \
         -print-sysroot) echo /;; *) echo 'cc1: error: no space left' >&2; exit 1;; esac\n",
    )
    .unwrap();
    std::fs::set_permissions(&gcc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out, err) = xtask(&[
        "conformance",
        "--toolchain",
        &gcc.display().to_string(),
        "--sysroot",
        &sysroot.display().to_string(),
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("cannot build a plain C program") && err.contains("no space left"),
        "{err}"
    );
    assert!(!out.contains("CONFORMANT"), "{out}");
}

#[test]
fn build_options_with_toolchain_are_refused() {
    let (code, _, err) = xtask(&[
        "conformance",
        "--toolchain",
        "/t",
        "--sysroot",
        "/s",
        "--release",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nothing is built"), "{err}");
}

#[test]
fn an_unknown_fault_is_named() {
    // Parsed before anything is built or run.
    let (code, _, err) = xtask(&["conformance", "--fault", "x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--self-test"), "{err}");
}

/// The toolchain description `cargo xtask test` exports, or the default
/// cache's.
fn built() -> Option<serde_json::Value> {
    let json = std::env::var_os("SPLIT_STACK_TOOLCHAIN_JSON")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(PathBuf::from(home).join(".cache/split-stack-aarch64/toolchain/.ready"))
        })?;
    serde_json::from_str(&std::fs::read_to_string(json).ok()?).ok()
}

#[test]
fn a_planted_fault_is_caught_and_the_stock_compiler_is_not_conformant() {
    let b = built().expect(
        "no built toolchain: run `cargo xtask test` or `cargo xtask build-toolchain` first",
    );
    let s = |v: &serde_json::Value| v.as_str().expect("path").to_string();
    let prefix = s(&b["prefix"]);
    let sysroot = s(&b["sysroot"]);
    let o = &b["old_sysroots"][0];
    // Named ({"path": ...}), or positional in older files.
    let old = s(o.get("path").unwrap_or(&o[2]));
    let (code, out, err) = xtask(&[
        "conformance",
        "--toolchain",
        &prefix,
        "--sysroot",
        &sysroot,
        "--old-sysroot",
        &old,
        "--self-test",
        "--fault",
        "l-form-k-minus-1",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("caught  l-form-k-minus-1"), "{out}");
    assert!(out.contains("1 of 1 faults caught"), "{out}");
    // Debian's cross compiler has no -fsplit-stack: NOT CONFORMANT, exit 1.
    let (code, out, err) = xtask(&[
        "conformance",
        "--toolchain",
        "/usr/bin/aarch64-linux-gnu-gcc",
        "--sysroot",
        "/usr/aarch64-linux-gnu",
    ]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("NOT CONFORMANT: `-fsplit-stack` not supported"),
        "{out}"
    );
}
