//! `cargo xtask rootfs`, `cargo xtask install-glibc` and
//! `cargo xtask conformance --rootfs`: a Debian arm64 root filesystem run
//! through a `binfmt_misc` registration of qemu-user-static, so the ABI is
//! checked in a real AArch64 distribution userland and not only with
//! `qemu-aarch64 -L sysroot`.
//!
//! Layout inside the root filesystem (the same as `docker/runtime.Dockerfile`):
//! the distribution's own glibc where Debian puts it (the "old glibc"), and
//! the patched glibc under [`GLIBC_PREFIX`] with the launcher
//! `bin/split-stack-run` (`docker/split-stack-run`).
//!
//! Everything this module changes on the host (a `binfmt_misc` mount, a
//! registration named [`BINFMT_NAME`], `proc` and `/dev` mounts inside the
//! root filesystem) is undone when its guard is dropped, on errors, and on
//! Ctrl-C/SIGTERM (a handler runs the same clean-up and exits 130); mounts a
//! killed earlier run left behind are removed before new ones are made.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

use crate::base::cache::{Cache, KeyHasher};
use crate::base::hostdeps::{self, req, Requirement};
use crate::base::shell::{Cmd, Ui};

/// Debian suite of the default root filesystem: bookworm, glibc 2.36 (the
/// host's own release; `--suite` takes any other, e.g. `sid`).
pub const DEFAULT_SUITE: &str = "bookworm";

/// mmdebstrap variant: `essential` (Essential: yes packages only: libc6,
/// coreutils, dash, ...), all the checks need.
pub const VARIANT: &str = "essential";

/// The Debian mirror the root filesystem is made from (the registry this
/// machine reaches; also used by the private apt configuration).
pub const MIRROR: &str = "http://deb.debian.org/debian";

/// Where the patched glibc lives inside the root filesystem and the runtime
/// image, relative to `/` (docs/abi.md "Testing in a distribution").
pub const GLIBC_PREFIX: &str = "opt/split-stack-aarch64";

/// Name of the `binfmt_misc` registration this module makes.
pub const BINFMT_NAME: &str = "split-stack-aarch64";

const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// qemu-user-static's AArch64 emulator (statically linked, so the kernel can
/// start it for programs inside a chroot; registered with the F flag).
pub const QEMU_STATIC: &str = "/usr/bin/qemu-aarch64-static";

/// Host tools `rootfs` and `conformance --rootfs` need.
pub const REQUIREMENTS: &[Requirement] = &[
    req("mmdebstrap", "mmdebstrap"),
    req(QEMU_STATIC, "qemu-user-static"),
    // mmdebstrap checks with arch-test that foreign binaries run.
    req("arch-test", "arch-test"),
    req("chroot", "coreutils"),
    req("mount", "mount"),
    req("dpkg-query", "dpkg"),
    req("rsync", "rsync"),
];

/// The `binfmt_misc` registration line for AArch64 ELF executables and
/// shared objects (ELF64, little-endian, `e_type` 2 or 3, `e_machine` 183)
/// run by `interpreter`; flag F opens the interpreter at registration time,
/// so it need not exist inside the chroot.
pub fn binfmt_rule(name: &str, interpreter: &str) -> String {
    let magic = r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00";
    let mask = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff";
    format!(":{name}:M::{magic}:{mask}:{interpreter}:F")
}

/// One clean-up action, run in reverse order of creation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Undo {
    Unmount(PathBuf),
    Unregister(PathBuf),
}

impl Undo {
    fn run(&self) {
        match self {
            // umount(2) itself, not a child process: this also runs after
            // Ctrl-C, when the process layer starts no more children.
            Undo::Unmount(p) => {
                use rustix::mount::{unmount, UnmountFlags};
                if unmount(p, UnmountFlags::empty()).is_err() {
                    let _ = unmount(p, UnmountFlags::DETACH);
                }
            }
            Undo::Unregister(entry) => {
                let _ = std::fs::write(entry, "-1");
            }
        }
    }
}

/// Clean-up actions still to run (shared with the signal handler).
static PENDING: Mutex<Vec<Undo>> = Mutex::new(Vec::new());

fn push_undo(u: Undo) {
    if let Ok(mut p) = PENDING.lock() {
        p.push(u);
    }
}

/// Runs and forgets every pending clean-up action, newest first.
fn undo_all() {
    let todo: Vec<Undo> = match PENDING.lock() {
        Ok(mut p) => std::mem::take(&mut *p),
        Err(_) => return,
    };
    for u in todo.iter().rev() {
        u.run();
    }
}

/// Host state made for running AArch64 programs in a root filesystem; every
/// change is undone on drop (and by the Ctrl-C/SIGTERM handler).
pub struct HostSetup {
    _private: (),
}

impl Drop for HostSetup {
    fn drop(&mut self) {
        undo_all();
    }
}

/// Makes a second Ctrl-C (which exits at once, see
/// `base::shell::install_interrupt_handler`) undo the mounts and the
/// binfmt_misc registration first; after the first one the command
/// unwinds and [`HostSetup`]'s `Drop` undoes them.
fn install_signal_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| crate::base::shell::on_forced_exit(undo_all));
}

fn mount(args: &[&str], target: &Path) -> Result<()> {
    Cmd::new("mount")
        .args(args.iter().copied())
        .arg(target)
        .read()
        .with_context(|| format!("cannot mount {}", target.display()))?;
    push_undo(Undo::Unmount(target.to_path_buf()));
    Ok(())
}

/// Mount points at or below `root`, deepest first, from `/proc/self/mounts`
/// text (octal escapes such as `\040` decoded).
pub fn mounts_below(mounts: &str, root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(unescape_mount_path)
        .map(PathBuf::from)
        .filter(|p| p.starts_with(root))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

fn unescape_mount_path(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes mounts below `root` that an earlier, killed run left behind.
fn remove_stale_mounts(ui: &Ui, root: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for m in mounts_below(&mounts, root) {
        ui.line(format!(
            "rootfs: removing a mount left by an earlier run: {}",
            m.display()
        ));
        Undo::Unmount(m).run();
    }
}

/// Makes AArch64 programs runnable: mounts `binfmt_misc` if it is not
/// mounted and registers [`QEMU_STATIC`] as [`BINFMT_NAME`] (a stale
/// registration of that name is replaced).  Needs root.
///
/// Errors: not root, qemu-user-static missing, `binfmt_misc` cannot be
/// mounted or written (a container without the privilege).
pub fn binfmt(ui: &Ui) -> Result<HostSetup> {
    install_signal_handler();
    let guard = HostSetup { _private: () };
    if !hostdeps::is_root() {
        bail!("the AArch64 root filesystem needs root (binfmt_misc, chroot, mount): run as root");
    }
    if !Path::new(QEMU_STATIC).exists() {
        bail!("{QEMU_STATIC} missing: apt-get install qemu-user-static");
    }
    let dir = Path::new(BINFMT_DIR);
    if !dir.join("register").exists() {
        ui.line("rootfs: mounting binfmt_misc");
        mount(&["-t", "binfmt_misc", "binfmt_misc"], dir)
            .context("binfmt_misc is not available (in a container, run it with --privileged)")?;
    }
    let entry = dir.join(BINFMT_NAME);
    if entry.exists() {
        std::fs::write(&entry, "-1")
            .with_context(|| format!("cannot remove the stale {}", entry.display()))?;
    }
    std::fs::write(dir.join("register"), binfmt_rule(BINFMT_NAME, QEMU_STATIC))
        .with_context(|| format!("cannot register {BINFMT_NAME} in {BINFMT_DIR}"))?;
    push_undo(Undo::Unregister(entry));
    ui.line(format!(
        "rootfs: registered {QEMU_STATIC} for AArch64 ELF as binfmt_misc entry {BINFMT_NAME}"
    ));
    Ok(guard)
}

/// Mounts `proc` and binds `/dev` inside `root` (qemu-user and glibc read
/// `/proc/self/*`; programs open `/dev/null`), after removing stale mounts.
/// The mounts are undone with the returned guard's siblings (the guard of
/// [`binfmt`], which must outlive this call's use).
pub fn mount_chroot(ui: &Ui, root: &Path) -> Result<()> {
    remove_stale_mounts(ui, root);
    mount(&["-t", "proc", "proc"], &root.join("proc"))?;
    mount(&["--bind", "/dev"], &root.join("dev"))?;
    Ok(())
}

/// A built root filesystem.
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// Host path of its `/`.
    pub root: PathBuf,
    /// Debian suite.
    pub suite: String,
    /// Version of its `libc6` package (the distribution's glibc).
    pub libc6: String,
}

fn step_name(suite: &str) -> String {
    format!("rootfs-{suite}-arm64")
}

/// Version of package `pkg` installed in `root` (from its dpkg database).
fn installed_version(root: &Path, pkg: &str) -> Result<String> {
    Ok(Cmd::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f=${Version}", pkg])
        .read()?
        .trim()
        .to_string())
}

/// Makes sure the root filesystem of `suite` exists in
/// `<cache>/rootfs/<suite>-arm64` (built with mmdebstrap when missing or
/// when `rebuild`), and returns it.  `binfmt` must be in place (mmdebstrap
/// runs the packages' maintainer scripts inside it).
///
/// Errors: host tools missing and not root, mmdebstrap fails (the log is
/// named); an interrupted build leaves only a `.tmp` directory, never a
/// root filesystem that looks complete.
pub fn ensure(ui: &Ui, cache: &Cache, suite: &str, rebuild: bool) -> Result<Rootfs> {
    let step = step_name(suite);
    let root = cache.root().join("rootfs").join(format!("{suite}-arm64"));
    let key = KeyHasher::new("rootfs-v1")
        .str("suite", suite)
        .str("variant", VARIANT)
        .str("mirror", MIRROR)
        .finish();
    if !rebuild && cache.is_done(&step, &key) && root.join("var/lib/dpkg/status").exists() {
        let libc6 = installed_version(&root, "libc6")?;
        return Ok(Rootfs {
            root,
            suite: suite.into(),
            libc6,
        });
    }
    cache.clear(&step)?;
    let tmp = root.with_extension("tmp");
    for d in [&tmp, &root] {
        if d.exists() {
            remove_stale_mounts(ui, d);
            std::fs::remove_dir_all(d).with_context(|| format!("cannot remove {}", d.display()))?;
        }
    }
    std::fs::create_dir_all(root.parent().context("rootfs path has no parent")?)?;
    let log = cache.log(&step);
    let _ = std::fs::remove_file(&log);
    Cmd::new("mmdebstrap")
        .args(["--mode=root", "--arch=arm64"])
        // The mirror this machine reaches may serve a sid Release file
        // past its Valid-Until date; signatures are still checked.
        .arg("--aptopt=Acquire::Check-Valid-Until \"false\"")
        .arg(format!("--variant={VARIANT}"))
        .arg(suite)
        .arg(&tmp)
        .arg(MIRROR)
        .env("LC_ALL", "C")
        .run_logged(ui, &format!("rootfs: mmdebstrap {suite} arm64"), &log)?;
    std::fs::rename(&tmp, &root)?;
    let libc6 = installed_version(&root, "libc6")?;
    cache.mark_done(&step, &key, serde_json::json!({ "libc6": libc6 }))?;
    ui.line(format!(
        "rootfs: {} (Debian {suite} arm64, libc6 {libc6})",
        root.display()
    ));
    Ok(Rootfs {
        root,
        suite: suite.into(),
        libc6,
    })
}

/// The launcher script shipped in the repository (`docker/split-stack-run`).
pub fn launcher(repo: &Path) -> PathBuf {
    repo.join("docker/split-stack-run")
}

/// Installs the patched glibc's run-time files from `sysroot` (its `lib`,
/// `lib64` and the shared objects and gconv modules of `usr/lib64` /
/// `usr/lib`) under `dest`, plus the launcher as `dest/bin/split-stack-run`;
/// `dest` then is a prefix for `docs/abi.md`'s "glibc under its own prefix"
/// (`cargo xtask install-glibc DEST`, the runtime image and the root
/// filesystem all use this).  Files of an earlier install that are gone
/// from the sysroot are removed.
///
/// Errors: the sysroot has no loader (`lib/ld-linux-aarch64.so.1`), copy
/// failures.
pub fn install_glibc(ui: &Ui, repo: &Path, sysroot: &Path, dest: &Path) -> Result<()> {
    if !sysroot.join("lib/ld-linux-aarch64.so.1").exists() {
        bail!(
            "{} has no lib/ld-linux-aarch64.so.1: run `cargo xtask build-toolchain` first",
            sysroot.display()
        );
    }
    std::fs::create_dir_all(dest)?;
    for d in ["lib", "lib64", "usr/lib", "usr/lib64"] {
        let from = sysroot.join(d);
        if !from.is_dir() {
            continue;
        }
        let to = dest.join(d);
        std::fs::create_dir_all(&to)?;
        let mut rsync = Cmd::new("rsync").args(["-a", "--delete"]);
        if d.starts_with("usr/") {
            // Run-time files only: shared objects, loader links, gconv.
            rsync = rsync.args([
                "--include=*/",
                "--include=*.so*",
                "--include=gconv-modules*",
                "--exclude=*",
                "--prune-empty-dirs",
            ]);
        }
        rsync
            .arg(format!("{}/", from.display()))
            .arg(format!("{}/", to.display()))
            .read()
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    let bin = dest.join("bin");
    std::fs::create_dir_all(&bin)?;
    let script = bin.join("split-stack-run");
    std::fs::copy(launcher(repo), &script).context("cannot install the launcher")?;
    ui.line(format!(
        "install-glibc: patched glibc from {} installed in {}",
        sysroot.display(),
        dest.display()
    ));
    Ok(())
}

/// Source of the launcher check: references the guard symbol, so the
/// distribution's old glibc must refuse it and the patched one run it.
const LAUNCHER_SRC: &str = r#"#include <stdio.h>
extern const long __tcb_private_ss;
int main (void) { printf ("slot at TP%+ld\n", __tcb_private_ss); return 0; }
"#;

/// Identifier of the launcher check in the report.
pub const LAUNCHER_ID: &str = "rootfs/launcher";
/// What the launcher check verifies.
pub const LAUNCHER_TITLE: &str =
    "split-stack-run runs with the patched glibc, the distribution's glibc refuses";

/// What the launcher check saw.
#[derive(Debug, Clone)]
pub struct LauncherCheck {
    /// True if the patched glibc ran the program through
    /// `bin/split-stack-run` and the distribution's glibc refused it.
    pub ok: bool,
    /// One line per run.
    pub detail: String,
}

/// Runs a program that uses `__tcb_private_ss` inside `root` through the
/// installed launcher (must print the slot offset of docs/abi.md, -8) and
/// directly (the distribution's glibc must refuse it: version node
/// GLIBC_ABI_SPLIT_STACK not found).
fn launcher_check(gcc: &Path, root: &Path) -> Result<LauncherCheck> {
    let dir = tempfile::Builder::new()
        .prefix("split-stack-launcher")
        .tempdir_in(root.join("tmp"))?;
    let src = dir.path().join("launcher.c");
    std::fs::write(&src, LAUNCHER_SRC)?;
    let exe = dir.path().join("launcher");
    Cmd::new(gcc)
        .arg("-O2")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .read()?;
    let inside = conformance::chroot_path(root, &exe)?;
    let launcher = Path::new("/")
        .join(GLIBC_PREFIX)
        .join("bin/split-stack-run");
    let (ok_new, out_new, err_new) = Cmd::new("chroot")
        .arg(root)
        .arg(&launcher)
        .arg(&inside)
        .output()?;
    let (ok_old, _, err_old) = Cmd::new("chroot").arg(root).arg(&inside).output()?;
    let want = format!("slot at TP{:+}", conformance::abi::GUARD_OFFSET_FROM_TP);
    let new_good = ok_new && out_new.trim() == want;
    let old_refused =
        !ok_old && err_old.contains(&format!("`{}' not found", conformance::abi::VERSION_NODE));
    Ok(LauncherCheck {
        ok: new_good && old_refused,
        detail: format!(
            "{} {}: {} (want {want:?}){}\n{}: {}",
            launcher.display(),
            inside.display(),
            if ok_new { out_new.trim() } else { "failed" },
            if ok_new {
                String::new()
            } else {
                format!(": {}", err_new.trim())
            },
            inside.display(),
            if old_refused {
                format!("refused: {}", err_old.trim())
            } else {
                format!("NOT refused (exit ok: {ok_old}): {}", err_old.trim())
            }
        ),
    })
}

/// `cargo xtask conformance --rootfs`: registers binfmt_misc, builds or
/// reuses the root filesystem of `suite`, installs the patched glibc from
/// `sysroot` under [`GLIBC_PREFIX`] in it, mounts `proc` and `/dev`, runs
/// the launcher check and the whole conformance suite inside it (runtime
/// and refusal checks run in the chroot; the distribution's glibc is the
/// old glibc), and undoes the host changes.
///
/// Errors: as [`binfmt`], [`ensure`], [`install_glibc`]; check failures
/// are results, not errors.
pub fn conformance(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    gcc_prefix: &Path,
    sysroot: &Path,
    suite: &str,
) -> Result<(conformance::Report, LauncherCheck, Rootfs)> {
    hostdeps::ensure(ui, REQUIREMENTS, &cache.log("host-packages"))?;
    let _host = binfmt(ui)?;
    let rootfs = ensure(ui, cache, suite, false)?;
    install_glibc(ui, repo, sysroot, &rootfs.root.join(GLIBC_PREFIX))?;
    mount_chroot(ui, &rootfs.root)?;
    let tc = conformance::Toolchain::in_rootfs(gcc_prefix, &rootfs.root, Path::new(GLIBC_PREFIX))?;
    let launcher = launcher_check(&tc.gcc, &rootfs.root)?;
    let report = conformance::run_with_progress(&tc, &mut ui.conformance_progress());
    let mut report = report?;
    // The launcher check belongs to the report: --json and --markdown
    // carry it, and the verdict counts it.
    report.results.insert(
        0,
        conformance::CheckResult {
            id: LAUNCHER_ID.into(),
            title: LAUNCHER_TITLE.into(),
            outcome: if launcher.ok {
                conformance::Outcome::Pass(launcher.detail.clone())
            } else {
                conformance::Outcome::Fail(launcher.detail.clone())
            },
        },
    );
    report.verdict = conformance::judge_verdict(&report);
    Ok((report, launcher, rootfs))
}

#[cfg(test)]
mod tests {
    #[test]
    fn unmounting_needs_no_child_process() {
        // The undo list also runs after Ctrl-C, when the process layer
        // starts no more children: unmounting must not need one.
        if !crate::base::hostdeps::is_root() {
            eprintln!("SKIPPED (not counted as passed): mounting needs root");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("m");
        std::fs::create_dir_all(&target).unwrap();
        rustix::mount::mount(
            "tmpfs",
            &target,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            None,
        )
        .unwrap();
        let mounted = || {
            mounts_below(
                &std::fs::read_to_string("/proc/self/mounts").unwrap_or_default(),
                d.path(),
            )
            .iter()
            .any(|m| m.as_path() == target.as_path())
        };
        assert!(mounted());
        Undo::Unmount(target.clone()).run();
        assert!(!mounted(), "still mounted");
    }

    use super::*;

    #[test]
    fn binfmt_rule_matches_aarch64_elf_with_the_fix_binary_flag() {
        let r = binfmt_rule("n", "/usr/bin/qemu-aarch64-static");
        let fields: Vec<&str> = r.split(':').collect();
        assert_eq!(fields.len(), 8, "{r}");
        assert_eq!(fields[1], "n");
        assert_eq!(fields[2], "M");
        // e_machine 0xb7 (EM_AARCH64) at offset 18, e_type masked to 2/3.
        assert!(fields[4].ends_with(r"\x02\x00\xb7\x00"));
        assert!(fields[5].ends_with(r"\xfe\xff\xff\xff"));
        // Magic and mask cover the same 20 bytes (each \xNN is one byte).
        let bytes = |f: &str| f.len() - 3 * f.matches(r"\x").count();
        assert_eq!(bytes(fields[4]), 20);
        assert_eq!(bytes(fields[5]), 20);
        assert_eq!(fields[7], "F");
    }

    #[test]
    fn mounts_below_a_root_deepest_first_with_escapes() {
        let mounts = "proc /proc proc rw 0 0\n\
                      proc /r/my\\040root/proc proc rw 0 0\n\
                      udev /r/my\\040root/dev devtmpfs rw 0 0\n\
                      devpts /r/my\\040root/dev/pts devpts rw 0 0\n\
                      tmpfs /r/other tmpfs rw 0 0\n";
        let m = mounts_below(mounts, Path::new("/r/my root"));
        assert_eq!(m.len(), 3);
        assert_eq!(m[0], Path::new("/r/my root/dev/pts"));
        assert!(m.contains(&PathBuf::from("/r/my root/proc")));
    }

    #[test]
    fn install_glibc_refuses_a_sysroot_without_loader() {
        let d = tempfile::tempdir().unwrap();
        let e = install_glibc(&Ui::new(), d.path(), d.path(), &d.path().join("out"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("build-toolchain"), "{e}");
    }
}
