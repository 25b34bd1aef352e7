//! `tls/thread-db`: the glibc under test's libthread_db finds other
//! threads' `__thread` variables, across the 32-byte pre-TCB block.
//!
//! The pre-TCB block (`tcbprehead_t`, docs/abi.md section 1) makes glibc's
//! AArch64 `TLS_PRE_TCB_SIZE` `sizeof (struct pthread) + 32` bytes
//! (`sysdeps/aarch64/nptl/tls.h`).  A debugger does not see that size
//! directly: libthread_db reads most of the thread layout from libc's
//! `_thread_db_*` descriptors (`nptl_db/db_info.c`, `nptl_db/structs.def`),
//! including `_thread_db_const_thread_area` = `TLS_PRE_TCB_SIZE` for
//! mapping an LWP to its thread descriptor (`DB_THREAD_SELF` is
//! `CONST_THREAD_AREA (64, TLS_PRE_TCB_SIZE)`), and the DTV pointer's offset
//! `_thread_db_pthread_dtvp`.  Only one place uses libthread_db's own
//! compiled-in `TLS_PRE_TCB_SIZE`: `td_thr_tlsbase`
//! (`nptl_db/td_thr_tlsbase.c`) for a module in static TLS that the
//! thread's DTV does not list yet, `tp + tlsoff + TLS_PRE_TCB_SIZE` with
//! `tp` the `struct pthread`.  `conformance/cases/thread_db.c` covers that
//! path (a module with initial-exec TLS dlopened after the threads
//! started) as well as the DTV path (the executable's variables).

use std::path::{Path, PathBuf};

use super::Check;
use crate::probe::{Probe, Run};
use crate::Outcome;

/// Identifier of the check.
pub const ID: &str = "tls/thread-db";

/// What the check verifies, in one line.
pub const TITLE: &str =
    "libthread_db finds other threads' __thread variables (td_thr_tlsbase, td_thr_tls_get_addr) across the pre-TCB block";

/// Size of the pre-TCB block `tcbprehead_t`, in bytes: what a libthread_db
/// built without it is expected to be off by on its static-TLS path
/// (docs/abi.md section 1; glibc `sysdeps/aarch64/nptl/tls.h`).
pub const PRE_TCB_BLOCK_SIZE: i64 = 32;

/// The self-debugging program and, built from the same file with
/// `-DTHREAD_DB_MODULE`, the module it dlopens.
const SRC: &str = include_str!("../../cases/thread_db.c");

/// The program's whole standard output when every address is right.
const EXPECT: &str = "thread_db ok\n";

/// Environment variable naming the libthread_db the program dlopens
/// (a path as the guest sees it).
const LIB_ENV: &str = "THREAD_DB_LIB";

/// Where a glibc sysroot (or an AArch64 root filesystem) keeps
/// `libthread_db.so.1`, relative to it, in search order.
const LIB_PLACES: &[&str] = &[
    "lib/libthread_db.so.1",
    "lib64/libthread_db.so.1",
    "lib/aarch64-linux-gnu/libthread_db.so.1",
    "usr/lib/libthread_db.so.1",
    "usr/lib/aarch64-linux-gnu/libthread_db.so.1",
];

/// The checks of this family.
pub fn checks() -> Vec<Check> {
    vec![Check::new(ID, TITLE, false, check)]
}

/// Builds `conformance/cases/thread_db.c` (not split-stack) and its module
/// `thread_db_mod.so`, and runs the program with the libthread_db of the
/// glibc under test.  PASS only if it prints exactly "thread_db ok": every
/// thread's address of every variable, from `td_thr_tlsbase` and from
/// `td_thr_tls_get_addr`, equals the address the thread saw itself, and
/// `td_ta_map_lwp2thr`, `td_thr_get_info` and `td_ta_thr_iter` find every
/// thread, and the workers' DTVs were older than the dlopened module (so
/// `td_thr_tlsbase`'s static-TLS path was taken).  The program is also run with each old glibc's libthread_db
/// against the same libc; the offsets it reports (in bytes, expected
/// -[`PRE_TCB_BLOCK_SIZE`] on the static-TLS path for the same glibc
/// release built without the block) go into the detail text only and never
/// change the verdict.
fn check(p: &Probe) -> Outcome {
    super::either(run_check(p))
}

fn run_check(p: &Probe) -> Result<Outcome, Outcome> {
    p.compile(
        "thread_db_mod.so",
        SRC,
        &["-O2", "-DTHREAD_DB_MODULE", "-shared", "-fPIC"],
    )
    .map_err(|e| Outcome::Fail(format!("compile thread_db.c (module): {e:#}")))?;
    let exe = p
        .compile("thread_db", SRC, &["-O2", "-pthread", "-rdynamic", "-ldl"])
        .map_err(|e| Outcome::Fail(format!("compile thread_db.c: {e:#}")))?;
    let lib = find_lib(&p.tc.sysroot).ok_or_else(|| {
        Outcome::Fail(format!(
            "the glibc under test ({}) has no libthread_db.so.1",
            p.tc.sysroot.display()
        ))
    })?;
    let r = run_with(p, &exe, &lib).map_err(|e| Outcome::Fail(format!("run: {e:#}")))?;
    let mut detail = judge_thread_db(&lib, &r)?;
    for old in &p.tc.old_sysroots {
        detail.push('\n');
        detail.push_str(&stock_comparison(p, &exe, old));
    }
    Ok(Outcome::Pass(detail))
}

/// Judges the run of `thread_db.c` with the libthread_db at `lib` (for
/// the text): Ok with the detail text only if it exited 0 printing
/// exactly [`EXPECT`]; otherwise the FAIL, with the program's findings.
pub fn judge_thread_db(lib: &Path, r: &Run) -> Result<String, Outcome> {
    if !(r.ok() && r.stdout == EXPECT) {
        return Err(Outcome::Fail(format!(
            "libthread_db under test ({}): exit {:?}\n{}{}",
            lib.display(),
            r.code,
            r.stdout,
            info_lines(&r.stderr).join("\n")
        )));
    }
    let mut detail = format!(
        "libthread_db under test ({}): every thread's __thread addresses right (main thread and 2 workers; executable via the DTV, dlopened static-TLS module via td_thr_tlsbase's TLS_PRE_TCB_SIZE path)",
        lib.display()
    );
    for l in info_lines(&r.stderr) {
        detail.push_str(&format!("\n  {l}"));
    }
    Ok(detail)
}

/// The first `libthread_db.so.1` of [`LIB_PLACES`] under `root` (a
/// symlink counts even if it resolves only inside a chroot).
fn find_lib(root: &Path) -> Option<PathBuf> {
    LIB_PLACES
        .iter()
        .map(|rel| root.join(rel))
        .find(|p| std::fs::symlink_metadata(p).is_ok())
}

/// Runs `exe` against the glibc under test with the libthread_db at host
/// path `lib`, named to the guest as it sees it.
fn run_with(p: &Probe, exe: &Path, lib: &Path) -> anyhow::Result<Run> {
    let guest = match &p.tc.chroot {
        Some(root) => crate::chroot_path(root, lib)?,
        None => lib.to_path_buf(),
    };
    let guest = guest.display().to_string();
    p.run(exe, &p.tc.sysroot, &[(LIB_ENV, guest.as_str())])
}

/// One line of the detail text: what the old glibc sysroot `old`'s
/// libthread_db reports when it inspects the glibc under test.
fn stock_comparison(p: &Probe, exe: &Path, old: &Path) -> String {
    let Some(lib) = find_lib(old) else {
        return format!("stock {}: no libthread_db.so.1", old.display());
    };
    let r = match run_with(p, exe, &lib) {
        Ok(r) => r,
        Err(e) => return format!("stock {}: run: {e:#}", lib.display()),
    };
    if r.stdout.contains("TD_VERSION") {
        return format!(
            "stock {}: a different glibc release (td_ta_new: TD_VERSION), not comparable",
            lib.display()
        );
    }
    if r.ok() && r.stdout == EXPECT {
        return format!("stock {}: every address right (0 bytes off)", lib.display());
    }
    let offs = offsets(&r.stdout);
    if offs.is_empty() {
        let first = r.stdout.lines().next().unwrap_or("no output").to_string();
        return format!("stock {}: exit {:?}: {first}", lib.display(), r.code);
    }
    format!(
        "stock {}: {} wrong answer(s): {} (expected -{PRE_TCB_BLOCK_SIZE} bytes, the pre-TCB block, on the static-TLS path only)",
        lib.display(),
        offs.len(),
        summarize(&offs)
    )
}

/// `(variable, bytes)` of every "off by N bytes" line of the program's
/// output: libthread_db's address minus the address the thread saw.
fn offsets(stdout: &str) -> Vec<(String, i64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (head, tail) = l.rsplit_once(": off by ")?;
            let n = tail.strip_suffix(" bytes")?.parse::<i64>().ok()?;
            let var = head.split(" of thread ").next()?.rsplit(": ").next()?;
            Some((var.to_string(), n))
        })
        .collect()
}

/// "VAR N bytes (K times)" for each distinct pair of `offs`, in order of
/// first appearance.
fn summarize(offs: &[(String, i64)]) -> String {
    let mut seen: Vec<(&(String, i64), usize)> = Vec::new();
    for o in offs {
        match seen.iter_mut().find(|(x, _)| *x == o) {
            Some((_, k)) => *k += 1,
            None => seen.push((o, 1)),
        }
    }
    seen.iter()
        .map(|((var, n), k)| format!("{var} {n:+} bytes ({k}x)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The program's "info: " lines of `stderr`, without the prefix.
fn info_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("info: "))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_read_from_the_mismatch_lines() {
        let out = "td_thr_tlsbase (modid 2) + 0: mod_ie of thread 1: libthread_db says 0x10, the thread saw 0x30: off by -32 bytes\n\
                   td_thr_tls_get_addr (thread_db_mod.so link_map): mod_ie of thread 2: libthread_db says 0x10, the thread saw 0x30: off by -32 bytes\n\
                   td_thr_get_info ti_tid: pthread_self of thread 0: libthread_db says 0x48, the thread saw 0x40: off by +8 bytes\n\
                   3 check(s) failed\n";
        let offs = offsets(out);
        assert_eq!(
            offs,
            vec![
                ("mod_ie".to_string(), -32),
                ("mod_ie".to_string(), -32),
                ("pthread_self".to_string(), 8)
            ]
        );
        assert_eq!(
            summarize(&offs),
            "mod_ie -32 bytes (2x), pthread_self +8 bytes (1x)"
        );
        assert!(offsets("thread_db ok\n").is_empty());
    }

    #[test]
    fn only_a_clean_run_passes() {
        use crate::checks::tests::run;
        let lib = Path::new("/s/lib/libthread_db.so.1");
        let ok = judge_thread_db(lib, &run(Some(0), EXPECT, "info: dtv path\n")).unwrap();
        assert!(
            ok.contains("/s/lib/libthread_db.so.1") && ok.ends_with("\n  dtv path"),
            "{ok}"
        );
        let bad = "mod_ie of thread 1: off by -32 bytes\n1 check(s) failed\n";
        assert!(judge_thread_db(lib, &run(Some(1), bad, "")).is_err());
        assert!(judge_thread_db(lib, &run(Some(0), bad, "")).is_err());
        assert!(judge_thread_db(lib, &run(None, EXPECT, "")).is_err());
    }

    #[test]
    fn info_lines_drop_the_prefix() {
        assert_eq!(
            info_lines("info: a\nother\ninfo: b\n"),
            vec!["a".to_string(), "b".to_string()]
        );
    }
}
