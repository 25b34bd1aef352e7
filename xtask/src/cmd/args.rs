//! Command-line options shared by several commands.

use std::path::PathBuf;

use clap::Args;

use crate::toolchain::build::BuildOptions;
use crate::toolchain::sources::SourceChoice;

#[derive(Args, Clone, Default)]
pub struct BuildArgs {
    /// Compile the toolchain's own programs at -O2 -g (default -O1 -g0,
    /// about twice as fast to build; the generated code is the same).
    #[arg(long)]
    pub release: bool,
    /// Build the C front end only: no C++ front end, no libstdc++ (about
    /// 7 minutes less from scratch; C++ checks of the conformance suite
    /// then cannot run and are reported as such).
    #[arg(long)]
    pub c_only: bool,
    /// Also build the Go front end (gccgo) and libgo with libffi and
    /// libbacktrace (docs/gccgo.md).  Once a cached toolchain has Go,
    /// later builds keep it unless --without-go is given.
    #[arg(long, conflicts_with_all = ["without_go", "c_only"])]
    pub with_go: bool,
    /// Drop the Go front end from a cached toolchain that has it (also
    /// implied by --c-only).
    #[arg(long)]
    pub without_go: bool,
    /// Parallel jobs for make (default: number of CPUs).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub jobs: usize,
    /// Upstream binutils tarball to use instead of Debian's binutils-source.
    #[arg(long, env = "SPLIT_STACK_BINUTILS_TARBALL", value_name = "PATH")]
    pub binutils_tarball: Option<PathBuf>,
    /// Upstream GCC tarball to use instead of Debian's gcc-16-source.
    #[arg(long, env = "SPLIT_STACK_GCC_TARBALL", value_name = "PATH")]
    pub gcc_tarball: Option<PathBuf>,
    /// Upstream glibc tarball to use instead of Debian's glibc-source.
    #[arg(long, env = "SPLIT_STACK_GLIBC_TARBALL", value_name = "PATH")]
    pub glibc_tarball: Option<PathBuf>,
    /// Read the Debian package lists again even if matching packages were
    /// downloaded before.
    #[arg(long)]
    pub refresh: bool,
}

impl BuildArgs {
    pub fn options(&self) -> BuildOptions {
        let choice = |t: &Option<PathBuf>| SourceChoice {
            tarball: t.clone(),
            refresh: false,
        };
        BuildOptions {
            release: self.release,
            cxx: !self.c_only,
            // --c-only drops Go too: the Go front end needs the C++ one
            // here (build-toolchain builds them together).
            go: match (self.with_go, self.without_go || self.c_only) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            jobs: self.jobs,
            binutils: choice(&self.binutils_tarball),
            gcc: choice(&self.gcc_tarball),
            glibc: choice(&self.glibc_tarball),
            refresh: self.refresh,
        }
    }
}
