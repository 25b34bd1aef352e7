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

    /// Fails if the qemu-user binary cannot be run.
    pub fn require_qemu(&self) -> Result<()> {
        let ok = Command::new(&self.tc.qemu)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
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

    /// Runs `exe` under `qemu-aarch64 -L sysroot` with extra environment
    /// variables for the guest, killed after [`RUN_TIMEOUT_SECS`] seconds
    /// (a hung case is reported as a failure, not waited for).
    pub fn run(&self, exe: &Path, sysroot: &Path, env: &[(&str, &str)]) -> Result<Run> {
        let mut cmd = Command::new("timeout");
        cmd.args(["--kill-after=5", &RUN_TIMEOUT_SECS.to_string()])
            .arg(&self.tc.qemu);
        cmd.arg("-L").arg(sysroot);
        for (k, v) in env {
            cmd.arg("-E").arg(format!("{k}={v}"));
        }
        let o = cmd
            .arg(exe)
            .env_remove("QEMU_LD_PREFIX")
            .output()
            .with_context(|| format!("cannot run {}", self.tc.qemu.display()))?;
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
