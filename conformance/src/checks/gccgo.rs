//! `gccgo/`: Go programs built by the toolchain's Go driver
//! (`aarch64-linux-gnu-gccgo` beside the C driver) run their goroutines on
//! split stacks (docs/gccgo.md, docs/abi.md 5.6 and 5.9).  The family is
//! in the suite only when the toolchain has a Go driver
//! ([`crate::probe::go_driver`]); the report says when it is not.
//!
//! Each case is a Go program from `conformance/cases/` that verifies what
//! it computes and prints one line when all was right.  The Go driver
//! turns `-fsplit-stack` on by itself (GCC's go-lang.cc and gospec.cc ask
//! the target), so the cases are built without it; a toolchain whose
//! libgo gives goroutines fixed stacks fails `gccgo/small-goroutines`.

use super::Check;
use crate::probe::Probe;
use crate::Outcome;

/// A case of the family: `file` (source `src`) built with `flags`,
/// expected to exit 0 printing exactly `expect`.  A Go case (`.go`) is
/// built by the Go driver; a C case (`.c`) by the C driver, linked with
/// the toolchain's libgo (`-lgo`), to call libgo's C-level functions
/// directly.  A case with `measures` prints what it measured on stderr,
/// and its PASS reason carries that line.
struct GoCase {
    id: &'static str,
    title: &'static str,
    file: &'static str,
    src: &'static str,
    flags: &'static [&'static str],
    expect: &'static str,
    measures: bool,
}

const SMALL_SRC: &str = include_str!("../../cases/go_small_goroutines.go");
const GC_SRC: &str = include_str!("../../cases/go_gc_stack.go");
const GOROUTINES_SRC: &str = include_str!("../../cases/go_goroutines.go");
const CROSSING_SRC: &str = include_str!("../../cases/go_crossing.go");
const SWITCH_SRC: &str = include_str!("../../cases/go_switch_registers.go");
const CONTEXT_SRC: &str = include_str!("../../cases/go_context_registers.c");

const GO_CASES: &[GoCase] = &[
    GoCase {
        id: "gccgo/small-goroutines",
        title: "2000 parked goroutines take < 2 MiB of address space each (split stacks, not libgo's fixed 4 MiB; this figure decides) and < 16 KiB resident, then recurse through 256 KiB",
        file: "go_small_goroutines.go",
        src: SMALL_SRC,
        flags: &["-O2"],
        expect: "go small goroutines ok\n",
        measures: true,
    },
    GoCase {
        id: "gccgo/goroutine-crossings",
        title: "64 goroutines recurse through 2 MiB and must cross into new segments (a > 64 KiB jump between frames), then 64 more on reused G structures (__splitstack_resetcontext)",
        file: "go_crossing.go",
        src: CROSSING_SRC,
        flags: &["-O2"],
        expect: "go crossing ok\n",
        measures: false,
    },
    GoCase {
        id: "gccgo/goroutine-crossings-O0",
        title: "the same at -O0",
        file: "go_crossing.go",
        src: CROSSING_SRC,
        flags: &["-O0"],
        expect: "go crossing ok\n",
        measures: false,
    },
    GoCase {
        id: "gccgo/gc-segmented-stacks",
        title: "heap objects referenced only from 300-level goroutine stacks spread over many segments survive 20 collections (libgo scans every segment: __splitstack_find)",
        file: "go_gc_stack.go",
        src: GC_SRC,
        flags: &["-O2"],
        expect: "go gc stack ok\n",
        measures: false,
    },
    GoCase {
        id: "gccgo/gc-segmented-stacks-O0",
        title: "the same at -O0",
        file: "go_gc_stack.go",
        src: GC_SRC,
        flags: &["-O0"],
        expect: "go gc stack ok\n",
        measures: false,
    },
    GoCase {
        id: "gccgo/goroutines-signals",
        title: "1000 goroutines recurse through 256 KiB and park; SIGUSR1 (os/signal) and SIGPROF (runtime/pprof) arrive while 8 goroutines cross segments",
        file: "go_goroutines.go",
        src: GOROUTINES_SRC,
        flags: &["-O2"],
        expect: "go goroutines ok\n",
        measures: false,
    },
    GoCase {
        id: "gccgo/switch-registers",
        title: "64 goroutines keep ten integers and eight floats live (x19-x28, d8-d15 at -O2) across 400 channel switches each and get what the same function computes without switching; glibc's backtrace in a new goroutine ends within 32 frames",
        file: "go_switch_registers.go",
        src: SWITCH_SRC,
        flags: &["-O2"],
        expect: "go switch registers ok\n",
        measures: false,
    },
    GoCase {
        id: "gccgo/context-registers",
        title: "libgo's goroutine switch (__go_getcontext, __go_setcontext), called from C: x19-x28, d8-d15 and SP come back as they were saved, after being zeroed",
        file: "go_context_registers.c",
        src: CONTEXT_SRC,
        flags: &["-O2", "-lgo", "-lm"],
        expect: "go context registers ok\n",
        measures: false,
    },
];

/// The checks of this family, in report order.
pub fn checks() -> Vec<Check> {
    GO_CASES
        .iter()
        .map(|case| Check::new(case.id, case.title, true, move |p: &Probe| go_case(p, case)))
        .collect()
}

fn go_case(p: &Probe, case: &GoCase) -> Outcome {
    let name = case.id.replace(['/', '-'], "_");
    let built = if case.file.ends_with(".c") {
        p.compile(&name, case.src, case.flags)
    } else {
        p.compile_go(&name, case.src, case.flags)
    };
    let exe = match built {
        Ok(e) => e,
        Err(e) => return Outcome::Fail(format!("compile {}: {e:#}", case.file)),
    };
    let run = p.run(&exe, &p.tc.sysroot, &[]);
    let mut pass = format!("{}: {}", case.file, case.expect.trim());
    if let Ok(r) = &run {
        if case.measures && !r.stderr.trim().is_empty() {
            pass = format!("{pass} ({})", r.stderr.trim());
        }
    }
    super::judge_started(run, case.expect, pass, &format!("run {}", case.file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_a_go_program_that_prints_its_line() {
        for c in GO_CASES {
            assert!(
                c.file.ends_with(".go") || c.file.ends_with(".c"),
                "{}",
                c.id
            );
            assert_eq!(
                c.file.ends_with(".c"),
                c.flags.contains(&"-lgo"),
                "{}",
                c.id
            );
            assert!(c.id.starts_with("gccgo/"), "{}", c.id);
            assert!(
                c.src.contains(c.expect.trim()),
                "{}: prints {:?}",
                c.id,
                c.expect
            );
            assert!(c.expect.ends_with('\n'));
        }
    }
}
