//! Compiling and running small test programs with the toolchain under test.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::Toolchain;

/// Seconds a test program may run under qemu-user before it is killed.
pub const RUN_TIMEOUT_SECS: u64 = 300;

/// Result of running a program under qemu.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit code 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Compiles and runs programs in a scratch directory.
pub struct Probe<'a> {
    pub tc: &'a Toolchain,
    dir: &'a Path,
}

impl<'a> Probe<'a> {
    pub fn new(tc: &'a Toolchain, dir: &'a Path) -> Probe<'a> {
        Probe { tc, dir }
    }

    /// Fails if aarch64 programs cannot be run: the qemu-user binary
    /// (`-L` mode) does not start, or (chroot mode) the root filesystem's
    /// own `/bin/true` does not run, which means no working `binfmt_misc`
    /// registration for AArch64.
    pub fn require_qemu(&self) -> Result<()> {
        let succeeds = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
        if let Some(root) = &self.tc.chroot {
            if !succeeds(Command::new("chroot").arg(root).arg("/bin/true")) {
                bail!(
                    "cannot run /bin/true inside {} (needs root, and an AArch64 binfmt_misc \
                     registration with the F flag: `cargo xtask conformance --rootfs` makes one)",
                    root.display()
                );
            }
        } else if !succeeds(Command::new(&self.tc.qemu).arg("--version")) {
            bail!(
                "cannot run {} (install Debian's qemu-user: apt-get install qemu-user)",
                self.tc.qemu.display()
            );
        }
        Ok(())
    }

    /// Compiles `src` (C) with `flags` into `name` (an executable, or an
    /// object when `flags` contains `-c`).  Returns the output path, or the
    /// compiler's diagnostics as the error.
    pub fn compile(&self, name: &str, src: &str, flags: &[&str]) -> Result<PathBuf> {
        let c = self.dir.join(format!("{name}.c"));
        std::fs::write(&c, src)?;
        self.drive(name, flags, &[c])
    }

    /// Links `objects` with `flags` into the executable `name`.  Returns
    /// its path, or the driver's diagnostics as the error.
    pub fn link(&self, name: &str, objects: &[PathBuf], flags: &[&str]) -> Result<PathBuf> {
        self.drive(name, flags, objects)
    }

    /// Runs the driver on `inputs` with `flags`, output `name` in the
    /// scratch directory.
    fn drive(&self, name: &str, flags: &[&str], inputs: &[PathBuf]) -> Result<PathBuf> {
        let out = self.dir.join(name);
        let o = Command::new(&self.tc.gcc)
            .args(flags)
            .args(inputs)
            .arg("-o")
            .arg(&out)
            .output()
            .with_context(|| format!("cannot run {}", self.tc.gcc.display()))?;
        if !o.status.success() {
            bail!(
                "{} {} failed:\n{}",
                self.tc.gcc.display(),
                flags.join(" "),
                String::from_utf8_lossy(&o.stderr).trim_end()
            );
        }
        Ok(out)
    }

    /// Runs `exe` against the glibc of `sysroot` with extra environment
    /// variables for the guest, killed after [`RUN_TIMEOUT_SECS`] seconds
    /// (a hung case is reported as a failure, not waited for).
    ///
    /// `-L` mode: `qemu-aarch64 -L sysroot exe`.  Chroot mode (see
    /// [`crate::Toolchain::chroot`]): `chroot ROOT exe` when `sysroot` is
    /// the root filesystem itself or `exe` is statically linked (no
    /// `PT_INTERP`), otherwise `chroot ROOT P/lib/ld-linux-aarch64.so.1
    /// --library-path P/lib64:P/lib:P/usr/lib64:P/usr/lib exe` with `P` the sysroot's path
    /// inside ROOT.  Errors: `exe` or `sysroot` outside the root
    /// filesystem in chroot mode, or the runner cannot be started.
    pub fn run(&self, exe: &Path, sysroot: &Path, env: &[(&str, &str)]) -> Result<Run> {
        let mut cmd = Command::new("timeout");
        cmd.args(["--kill-after=5", &RUN_TIMEOUT_SECS.to_string()]);
        let runner = match &self.tc.chroot {
            None => {
                cmd.arg(&self.tc.qemu).arg("-L").arg(sysroot);
                for (k, v) in env {
                    cmd.arg("-E").arg(format!("{k}={v}"));
                }
                cmd.arg(exe);
                self.tc.qemu.display().to_string()
            }
            Some(root) => {
                let inside = |p: &Path| crate::chroot_path(root, p);
                let exe_in = inside(exe)?;
                cmd.arg("chroot").arg(root);
                let dynamic = crate::elf::interpreter(exe)?.is_some();
                if sysroot != root && dynamic {
                    let prefix = inside(sysroot)?;
                    cmd.arg(prefix.join("lib/ld-linux-aarch64.so.1"))
                        .arg("--library-path")
                        .arg(
                            ["lib64", "lib", "usr/lib64", "usr/lib"]
                                .map(|d| prefix.join(d).display().to_string())
                                .join(":"),
                        );
                }
                cmd.arg(exe_in);
                for (k, v) in env {
                    cmd.env(k, v);
                }
                format!("chroot {}", root.display())
            }
        };
        let o = cmd
            .env_remove("QEMU_LD_PREFIX")
            .output()
            .with_context(|| format!("cannot run {runner}"))?;
        let mut stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        if o.status.code() == Some(124) {
            stderr.push_str(&format!("\n(timed out after {RUN_TIMEOUT_SECS} s)"));
        }
        Ok(Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr,
        })
    }
}
