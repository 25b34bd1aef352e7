//! Compiling and running small test programs with the toolchain under test.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::Toolchain;

/// Seconds a test program may run under qemu-user before it is killed.
pub const RUN_TIMEOUT_SECS: u64 = 300;

/// Seconds the compiler driver may take for one compilation or link.
pub const COMPILE_TIMEOUT_SECS: u64 = 600;

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks the running suite to stop (from a Ctrl-C handler): the program or
/// compiler running now is killed, no further check starts, and
/// [`crate::run`] returns an [`Interrupted`] error after removing its
/// scratch directory.  Returns whether a stop had already been asked for.
pub fn request_stop() -> bool {
    STOP.swap(true, std::sync::atomic::Ordering::SeqCst)
}

/// Whether [`request_stop`] was called.
pub fn stop_requested() -> bool {
    STOP.load(std::sync::atomic::Ordering::SeqCst)
}

/// The error of a run that [`request_stop`] interrupted.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// How a child process ended under [`run_bounded`].
struct Bounded {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

/// Runs `e` with its output captured, killing it after `secs` seconds
/// (measured here, not by a `timeout` process) or as soon as
/// [`request_stop`] is called (then the error is [`Interrupted`]).
fn run_bounded(e: duct::Expression, secs: u64, what: &str) -> Result<Bounded> {
    let handle = e
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .with_context(|| format!("cannot run {what}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut timed_out = false;
    loop {
        if handle
            .try_wait()
            .with_context(|| format!("waiting for {what}"))?
            .is_some()
        {
            break;
        }
        if stop_requested() {
            let _ = handle.kill();
            return Err(Interrupted.into());
        }
        if std::time::Instant::now() >= deadline {
            timed_out = true;
            let _ = handle.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = handle
        .wait()
        .with_context(|| format!("waiting for {what}"))?;
    Ok(Bounded {
        code: if timed_out { None } else { o.status.code() },
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        timed_out,
    })
}

/// Result of running a program under qemu.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The toolchain has no C++ driver: [`cxx_driver`] found none beside
/// the C driver.
#[derive(Debug)]
pub struct NoCxxDriver;

impl std::fmt::Display for NoCxxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the toolchain has no C++ driver (g++) beside its C driver")
    }
}

impl std::error::Error for NoCxxDriver {}

/// The C++ driver that belongs to the C driver `gcc`, if one exists
/// beside it: the same file name with its last `gcc` replaced by `g++`
/// (`aarch64-linux-gnu-gcc` -> `aarch64-linux-gnu-g++`, `gcc-16` ->
/// `g++-16`), or else without the version after it
/// (`aarch64-linux-gnu-gcc-16.2.0` -> `aarch64-linux-gnu-g++`).  `None`
/// otherwise.
pub fn cxx_driver(gcc: &Path) -> Option<PathBuf> {
    sibling_driver(gcc, "g++")
}

/// The Go driver that belongs to the C driver `gcc`, found like
/// [`cxx_driver`] with `gccgo` (`aarch64-linux-gnu-gcc` ->
/// `aarch64-linux-gnu-gccgo`).  `None` otherwise (the toolchain was built
/// without the Go front end).
pub fn go_driver(gcc: &Path) -> Option<PathBuf> {
    sibling_driver(gcc, "gccgo")
}

/// The driver `driver` beside the C driver `gcc`: `gcc`'s file name with
/// its last `gcc` replaced by `driver`, with or without what follows it.
fn sibling_driver(gcc: &Path, driver: &str) -> Option<PathBuf> {
    let name = gcc.file_name()?.to_str()?;
    let at = name.rfind("gcc")?;
    [
        format!("{}{driver}{}", &name[..at], &name[at + 3..]),
        format!("{}{driver}", &name[..at]),
    ]
    .into_iter()
    .map(|n| gcc.with_file_name(n))
    .find(|p| p.exists())
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

    /// Fails if the driver cannot build and link a plain C program
    /// (`conformance/cases/plain.c`, no `-fsplit-stack`): then nothing it
    /// does with `-fsplit-stack` can be judged, and the suite could not
    /// run (exit 2) rather than finding the toolchain NOT CONFORMANT.
    pub fn require_compiler(&self) -> Result<()> {
        self.compile("preflight", crate::checks::refusal::PLAIN_SRC, &["-O2"])
            .map(|_| ())
            .map_err(|e| {
                let diag = format!("{e:#}");
                anyhow::anyhow!(
                    "{} cannot build a plain C program without -fsplit-stack, so nothing can be \
                     judged: {}",
                    self.tc.gcc.display(),
                    crate::checks::first_error_line(&diag, diag.lines().next().unwrap_or(""))
                )
            })
    }

    /// Compiles `src` (C) with `flags` into `name` (an executable, or an
    /// object when `flags` contains `-c`).  Returns the output path, or the
    /// compiler's diagnostics as the error.
    pub fn compile(&self, name: &str, src: &str, flags: &[&str]) -> Result<PathBuf> {
        let c = self.dir.join(format!("{name}.c"));
        std::fs::write(&c, src)?;
        self.drive(name, flags, &[c])
    }

    /// Compiles `src` (C++) with the C++ driver beside the C driver (see
    /// [`cxx_driver`]) and `flags` into `name`.  Returns the output path,
    /// or the compiler's diagnostics as the error; [`NoCxxDriver`] when
    /// the toolchain has no C++ driver.
    pub fn compile_cxx(&self, name: &str, src: &str, flags: &[&str]) -> Result<PathBuf> {
        let driver = cxx_driver(&self.tc.gcc).ok_or(NoCxxDriver)?;
        let c = self.dir.join(format!("{name}.cc"));
        std::fs::write(&c, src)?;
        self.drive_with(&driver, name, flags, &[c])
    }

    /// Compiles `src` (Go) with the Go driver beside the C driver (see
    /// [`go_driver`]) and `flags` into `name`.  Returns the output path,
    /// or the compiler's diagnostics as the error.  Errors also when the
    /// toolchain has no Go driver (the `gccgo/` checks are only in the
    /// registry of a toolchain that has one).
    pub fn compile_go(&self, name: &str, src: &str, flags: &[&str]) -> Result<PathBuf> {
        let driver = go_driver(&self.tc.gcc)
            .with_context(|| format!("no gccgo beside {}", self.tc.gcc.display()))?;
        let c = self.dir.join(format!("{name}.go"));
        std::fs::write(&c, src)?;
        self.drive_with(&driver, name, flags, &[c])
    }

    /// Links `objects` with `flags` into the executable `name`.  Returns
    /// its path, or the driver's diagnostics as the error.
    pub fn link(&self, name: &str, objects: &[PathBuf], flags: &[&str]) -> Result<PathBuf> {
        self.drive(name, flags, objects)
    }

    /// Runs the driver on `inputs` with `flags`, output `name` in the
    /// scratch directory, killed after [`COMPILE_TIMEOUT_SECS`].
    fn drive(&self, name: &str, flags: &[&str], inputs: &[PathBuf]) -> Result<PathBuf> {
        self.drive_with(&self.tc.gcc, name, flags, inputs)
    }

    /// [`Probe::drive`] with another driver (the C++ one).
    fn drive_with(
        &self,
        driver: &Path,
        name: &str,
        flags: &[&str],
        inputs: &[PathBuf],
    ) -> Result<PathBuf> {
        let out = self.dir.join(name);
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        match &self.tc.compile_with {
            crate::CompileWith::Sysroot(s) => {
                args.push(format!("--sysroot={}", s.display()).into())
            }
            crate::CompileWith::Own => {}
            crate::CompileWith::Elsewhere(own) => {
                if flags.contains(&"-static") {
                    bail!(
                        "a static program would link {}'s libc.a, not the glibc under test ({}, \
                         which has no usr/include to compile against): give a sysroot with \
                         usr/include and usr/lib, or the driver's own",
                        own.display(),
                        self.tc.sysroot.display()
                    );
                }
            }
        }
        args.extend(flags.iter().map(Into::into));
        args.extend(inputs.iter().map(Into::into));
        args.push("-o".into());
        args.push(out.clone().into());
        let o = run_bounded(
            duct::cmd(driver.as_os_str().to_owned(), args),
            COMPILE_TIMEOUT_SECS,
            &driver.display().to_string(),
        )?;
        if o.timed_out {
            bail!(
                "{} {} did not finish in {COMPILE_TIMEOUT_SECS} s",
                driver.display(),
                flags.join(" ")
            );
        }
        if o.code != Some(0) {
            bail!(
                "{} {} failed:\n{}",
                driver.display(),
                flags.join(" "),
                o.stderr.trim_end()
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
        self.run_with_qemu(exe, sysroot, env, &[])
    }

    /// [`Probe::run`] with qemu-user's own environment variables `qemu`
    /// (e.g. `QEMU_CPU=max` for BTI, PAC and SVE, `QEMU_SINGLESTEP=1`);
    /// qemu's `QEMU_CPU` and `QEMU_SINGLESTEP` from the caller's
    /// environment are dropped, so that only `qemu` sets them.
    pub fn run_with_qemu(
        &self,
        exe: &Path,
        sysroot: &Path,
        env: &[(&str, &str)],
        qemu: &[(&str, &str)],
    ) -> Result<Run> {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        let mut guest_env: Vec<(&str, &str)> = Vec::new();
        let (program, runner): (PathBuf, String) = match &self.tc.chroot {
            None => {
                args.push("-L".into());
                args.push(sysroot.into());
                for (k, v) in env {
                    args.push("-E".into());
                    args.push(format!("{k}={v}").into());
                }
                args.push(exe.into());
                (self.tc.qemu.clone(), self.tc.qemu.display().to_string())
            }
            Some(root) => {
                let inside = |p: &Path| crate::chroot_path(root, p);
                let exe_in = inside(exe)?;
                args.push(root.into());
                let dynamic = crate::elf::interpreter(exe)?.is_some();
                if sysroot != root && dynamic {
                    let prefix = inside(sysroot)?;
                    args.push(prefix.join("lib/ld-linux-aarch64.so.1").into());
                    args.push("--library-path".into());
                    args.push(
                        ["lib64", "lib", "usr/lib64", "usr/lib"]
                            .map(|d| prefix.join(d).display().to_string())
                            .join(":")
                            .into(),
                    );
                }
                args.push(exe_in.into());
                guest_env.extend_from_slice(env);
                ("chroot".into(), format!("chroot {}", root.display()))
            }
        };
        // As an OsString: duct runs a relative `Path` from the current
        // directory instead of searching PATH.
        let mut e = duct::cmd(program.into_os_string(), args)
            .env_remove("QEMU_LD_PREFIX")
            .env_remove("QEMU_CPU")
            .env_remove("QEMU_SINGLESTEP");
        for (k, v) in qemu {
            e = e.env(k, v);
        }
        for (k, v) in guest_env {
            e = e.env(k, v);
        }
        let o = run_bounded(e, RUN_TIMEOUT_SECS, &runner)?;
        let mut stderr = o.stderr;
        if o.timed_out {
            stderr.push_str(&format!("\n(timed out after {RUN_TIMEOUT_SECS} s, killed)"));
        }
        Ok(Run {
            code: o.code,
            stdout: o.stdout,
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_go_driver_is_the_c_driver_s_sibling() {
        for (c, go) in [
            ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-gccgo"),
            ("gcc-16", "gccgo-16"),
        ] {
            let d = tempfile::tempdir().unwrap();
            let gcc = d.path().join(c);
            std::fs::write(&gcc, "").unwrap();
            assert_eq!(go_driver(&gcc), None, "{c}: no gccgo yet");
            std::fs::write(d.path().join(go), "").unwrap();
            assert_eq!(go_driver(&gcc), Some(d.path().join(go)), "{c}");
        }
        let e = tempfile::tempdir().unwrap();
        let gcc = e.path().join("aarch64-linux-gnu-gcc-16.2.0");
        std::fs::write(&gcc, "").unwrap();
        std::fs::write(e.path().join("aarch64-linux-gnu-gccgo"), "").unwrap();
        assert_eq!(
            go_driver(&gcc),
            Some(e.path().join("aarch64-linux-gnu-gccgo"))
        );
    }

    #[test]
    fn the_cxx_driver_is_the_c_driver_s_sibling() {
        for (c, cxx) in [
            ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++"),
            ("gcc-16", "g++-16"),
            ("aarch64-linux-gnu-gcc-16", "aarch64-linux-gnu-g++-16"),
        ] {
            let d = tempfile::tempdir().unwrap();
            let gcc = d.path().join(c);
            std::fs::write(&gcc, "").unwrap();
            assert_eq!(cxx_driver(&gcc), None, "{c}: no g++ yet");
            std::fs::write(d.path().join(cxx), "").unwrap();
            assert_eq!(cxx_driver(&gcc), Some(d.path().join(cxx)), "{c}");
        }
        assert_eq!(cxx_driver(Path::new("/nonexistent/clang")), None);
        // A versioned C driver whose C++ driver has no version.
        let e = tempfile::tempdir().unwrap();
        let gcc = e.path().join("aarch64-linux-gnu-gcc-16.2.0");
        std::fs::write(&gcc, "").unwrap();
        std::fs::write(e.path().join("aarch64-linux-gnu-g++"), "").unwrap();
        assert_eq!(
            cxx_driver(&gcc),
            Some(e.path().join("aarch64-linux-gnu-g++"))
        );
    }

    #[test]
    fn programs_are_found_through_path() {
        // qemu-aarch64 is given as a bare name: it must be searched in PATH.
        let tc = Toolchain {
            sysroot: "/".into(),
            qemu: "true".into(),
            ..Toolchain::for_tests("sh")
        };
        let d = tempfile::tempdir().unwrap();
        let p = Probe::new(&tc, d.path());
        let r = p.run(Path::new("/x"), Path::new("/"), &[]).unwrap();
        assert_eq!(r.code, Some(0), "{r:?}");
    }

    #[test]
    fn a_hung_child_is_killed_at_the_deadline() {
        let t = std::time::Instant::now();
        let o = run_bounded(duct::cmd!("sleep", "30"), 1, "sleep").unwrap();
        assert!(o.timed_out);
        assert_eq!(o.code, None);
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        let o = run_bounded(
            duct::cmd!("sh", "-c", "echo out; echo err >&2; exit 3"),
            10,
            "sh",
        )
        .unwrap();
        assert!(!o.timed_out);
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (Some(3), "out\n", "err\n")
        );
        assert!(run_bounded(duct::cmd!("/nonexistent/x"), 1, "x").is_err());
    }
}
