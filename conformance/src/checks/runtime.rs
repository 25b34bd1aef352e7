//! `runtime/`: split-stack programs run correctly across `__morestack`
//! (docs/abi.md, sections 5.3-5.8 and 7): each case is a C program from
//! `conformance/cases/` that verifies every value it computes and prints
//! one line when all were right; a case passes only if it exits 0 with
//! exactly that line.

use super::Check;
use crate::probe::{Probe, Run};
use crate::Outcome;

/// The checks of this family: [`RUNTIME_CASES`], then `runtime/dlclose`.
pub fn checks() -> Vec<Check> {
    let mut v: Vec<Check> = RUNTIME_CASES
        .iter()
        .map(|case| {
            Check::new(case.id, case.title, true, move |p: &Probe| {
                runtime_case(p, case)
            })
        })
        .collect();
    v.push(Check::new(DLCLOSE_ID, DLCLOSE_TITLE, true, runtime_dlclose));
    v
}

/// A runtime case: a C program from `conformance/cases/`, built with
/// `-fsplit-stack` and the given flags, run under qemu-user on the glibc
/// under test.  It passes only if it exits 0 with exactly `expect` on
/// stdout (each program verifies every value it computes).
pub struct RuntimeCase {
    /// Check identifier in the report.
    pub id: &'static str,
    /// One-line description.
    pub title: &'static str,
    /// The program's file name in `conformance/cases/`.
    pub file: &'static str,
    /// Its source text.
    pub src: &'static str,
    /// Compiler flags besides `-fsplit-stack`.
    pub flags: &'static [&'static str],
    /// The exact expected standard output.
    pub expect: &'static str,
    /// Settings of qemu-user itself, as its environment variables
    /// (`QEMU_CPU=max` for BTI; `QEMU_SINGLESTEP=1`, one instruction per
    /// translation block, so that a signal can arrive between any two
    /// instructions); none: qemu's defaults.
    pub qemu: &'static [(&'static str, &'static str)],
    /// Environment variables of the program itself (qemu's `-E`), for
    /// the runtime's settings (`SPLIT_STACK_GUARD`, `SPLIT_STACK_RESERVE`,
    /// docs/abi.md 5.9); none: the program gets qemu's environment.
    pub env: &'static [(&'static str, &'static str)],
}

pub const RECURSION_SRC: &str = include_str!("../../cases/recursion.c");
const ARGS_SRC: &str = include_str!("../../cases/args.c");
const ALLOCA_SRC: &str = include_str!("../../cases/alloca.c");
const SIGNALS_SRC: &str = include_str!("../../cases/signals.c");
const COROUTINES_SRC: &str = include_str!("../../cases/coroutines.c");
const UNWIND_SRC: &str = include_str!("../../cases/unwind.c");
const IPA_RA_SRC: &str = include_str!("../../cases/ipa_ra.c");
const LONGJMP_SRC: &str = include_str!("../../cases/longjmp.c");
const BTI_SRC: &str = include_str!("../../cases/bti.c");
const FIND_SRC: &str = include_str!("../../cases/splitstack_find.c");
const GUARD_VALUES_SRC: &str = include_str!("../../cases/guard_values.c");
const EH_SRC: &str = include_str!("../../cases/eh.cc");
const UNWIND_PAD_SRC: &str = include_str!("../../cases/unwind_pad.c");
const NESTED_SRC: &str = include_str!("../../cases/nested.c");
const APPLY_SRC: &str = include_str!("../../cases/builtin_apply.c");
const SIGNAL_STRESS_SRC: &str = include_str!("../../cases/signal_stress.c");
const CONTEXT_MEMORY_SRC: &str = include_str!("../../cases/context_memory.c");
const PARK_MAPPINGS_SRC: &str = include_str!("../../cases/park_mappings.c");

/// `-DGUARD_OFFSET=` with [`crate::abi::GUARD_OFFSET_FROM_TP`] (bytes
/// from TP; a unit test keeps the two equal), for the cases that read the
/// guard themselves.
const GUARD_OFFSET_FLAG: &str = "-DGUARD_OFFSET=-8";

/// The runtime cases, in report order.
pub const RUNTIME_CASES: &[RuntimeCase] = &[
    RuntimeCase {
        id: "runtime/deep-recursion",
        title: "deep recursion on small stacks, initial thread and 128 KiB threads (PTHREAD_STACK_MIN)",
        file: "recursion.c",
        src: RECURSION_SRC,
        flags: &["-O2", "-pthread"],
        expect: "recursion ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/deep-recursion-O0",
        title: "deep recursion on small stacks at -O0",
        file: "recursion.c",
        src: RECURSION_SRC,
        flags: &["-O0", "-pthread"],
        expect: "recursion ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/static-pthread",
        title: "deep recursion in threads of a -static -pthread program",
        file: "recursion.c",
        src: RECURSION_SRC,
        flags: &["-O2", "-static", "-pthread"],
        expect: "recursion ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/arguments",
        title: "stack, FP, HFA and variadic arguments and struct returns across __morestack",
        file: "args.c",
        src: ARGS_SRC,
        flags: &["-O2"],
        expect: "args ok 1\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/arguments-O3",
        title: "arguments across __morestack at -O3",
        file: "args.c",
        src: ARGS_SRC,
        flags: &["-O3"],
        expect: "args ok 1\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/arguments-O0",
        title: "arguments across __morestack at -O0",
        file: "args.c",
        src: ARGS_SRC,
        flags: &["-O0"],
        expect: "args ok 1\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/signals",
        title: "a 1 ms timer signal interrupts deep recursion across segments",
        file: "signals.c",
        src: SIGNALS_SRC,
        flags: &["-O2"],
        expect: "signals ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/coroutines",
        title: "64 coroutines on __splitstack_makecontext stacks, suspended mid-recursion",
        file: "coroutines.c",
        src: COROUTINES_SRC,
        flags: &["-O2"],
        expect: "coroutines ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/unwind",
        title: "backtraces and forced unwinding (pthread_exit) through __morestack frames",
        file: "unwind.c",
        src: UNWIND_SRC,
        flags: &["-O2", "-fexceptions", "-pthread"],
        expect: "unwind ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/unwind-static",
        title: "the same in a -static program (gold: unwind tables via PT_GNU_EH_FRAME)",
        file: "unwind.c",
        src: UNWIND_SRC,
        flags: &["-O2", "-fexceptions", "-static", "-pthread"],
        expect: "unwind ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/unwind-pad",
        title: "code that runs from __morestack's landing pad on (a forced unwind's stop function, a signal handler) may take the segment being left: the pad is off it",
        file: "unwind_pad.c",
        src: UNWIND_PAD_SRC,
        flags: &["-O2", "-fexceptions"],
        expect: "unwind pad ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/unwind-pad-static",
        title: "the same in a -static program",
        file: "unwind_pad.c",
        src: UNWIND_PAD_SRC,
        flags: &["-O2", "-fexceptions", "-static"],
        expect: "unwind pad ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/signal-crossings",
        title: "a timer signal every 50 us whose handler recurses across segments, while the initial thread and a thread cross at every call of a hot loop; signals may arrive at any instruction (qemu single-step): results, guards, and at least one arrival during a crossing",
        file: "signal_stress.c",
        src: SIGNAL_STRESS_SRC,
        flags: &["-O2", "-pthread"],
        expect: "signal stress ok\n",
        qemu: &[("QEMU_SINGLESTEP", "1")],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/context-memory",
        title: "a __splitstack_makecontext context that calls the C library stays on one segment with one page resident; after deep recursion returns, parking gives back all but the header pages (mincore), twice",
        file: "context_memory.c",
        src: CONTEXT_MEMORY_SRC,
        flags: &["-O2"],
        expect: "context memory ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/context-memory-O0",
        title: "context memory at -O0",
        file: "context_memory.c",
        src: CONTEXT_MEMORY_SRC,
        flags: &["-O0"],
        expect: "context memory ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/context-memory-bad-reserve",
        title: "context memory with SPLIT_STACK_RESERVE=-1, which the runtime must ignore (it wrapped to 0, no reserve, before)",
        file: "context_memory.c",
        src: CONTEXT_MEMORY_SRC,
        flags: &["-O2"],
        expect: "context memory ok\n",
        qemu: &[],
        env: &[("SPLIT_STACK_RESERVE", "-1")],
    },
    RuntimeCase {
        id: "runtime/park-mappings",
        title: "with SPLIT_STACK_GUARD set, 1000 parks after deep recursion leave the number of mappings unchanged (guard pages are unmapped with their segments)",
        file: "park_mappings.c",
        src: PARK_MAPPINGS_SRC,
        // -O0: every level keeps its own frame, so the recursion needs
        // segments beyond the next one, which each park unmaps.
        flags: &["-O0"],
        expect: "park mappings ok\n",
        qemu: &[],
        env: &[("SPLIT_STACK_GUARD", "1")],
    },
    RuntimeCase {
        id: "runtime/nested-trampolines",
        title: "trampolines of nested functions built in frames on new segments (an executable stack makes segments executable), initial thread and a thread",
        file: "nested.c",
        src: NESTED_SRC,
        flags: &["-O2", "-pthread"],
        expect: "nested ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/builtin-apply",
        title: "__builtin_apply_args on a new segment finds the caller's stack arguments in the previous one (the forwarding function has no stack parameters)",
        file: "builtin_apply.c",
        src: APPLY_SRC,
        flags: &["-O2"],
        expect: "apply ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/builtin-apply-O0",
        title: "the same at -O0",
        file: "builtin_apply.c",
        src: APPLY_SRC,
        flags: &["-O0"],
        expect: "apply ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/ipa-ra",
        title: "callers keep nothing but x0-x7/q0-q7 across calls that return through __morestack (-O2 -fipa-ra)",
        file: "ipa_ra.c",
        src: IPA_RA_SRC,
        flags: &["-O2", "-fipa-ra"],
        expect: "ipa-ra ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/ipa-ra-O3",
        title: "the same at -O3",
        file: "ipa_ra.c",
        src: IPA_RA_SRC,
        flags: &["-O3"],
        expect: "ipa-ra ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/longjmp-fortify",
        title: "longjmp out of deep recursion across segments with _FORTIFY_SOURCE=2 (__longjmp_chk)",
        file: "longjmp.c",
        src: LONGJMP_SRC,
        flags: &["-O2", "-D_FORTIFY_SOURCE=2", "-pthread"],
        expect: "longjmp ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/hardened",
        title: "the same under distribution hardening flags (PIE, relro/now, stack protector, stack clash, branch protection)",
        file: "longjmp.c",
        src: LONGJMP_SRC,
        flags: &[
            "-O2",
            "-D_FORTIFY_SOURCE=3",
            "-fstack-protector-strong",
            "-fstack-clash-protection",
            "-mbranch-protection=standard",
            "-fPIE",
            "-pie",
            "-Wl,-z,relro,-z,now",
            "-pthread",
        ],
        expect: "longjmp ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/alloca",
        title: "VLAs up to 64 KiB at every level of a recursion",
        file: "alloca.c",
        src: ALLOCA_SRC,
        flags: &["-O2"],
        expect: "alloca ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/alloca-large",
        title: "VLAs up to 4 MiB, more than a segment holds, at every level of a recursion",
        file: "alloca.c",
        src: ALLOCA_SRC,
        flags: &["-O2", "-DMAX_VLA=(4*1024*1024)", "-DDEPTH=100"],
        expect: "alloca ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/splitstack-find",
        title: "__splitstack_find reports every thread's whole stack (initial, glibc-allocated, program-supplied), before and after segment switches",
        file: "splitstack_find.c",
        src: FIND_SRC,
        flags: &["-O2", "-pthread"],
        expect: "find ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/guard-values",
        title: "the initial thread's guard is exactly S - 16 KiB; returning from segments restores the guard exactly (initial thread, 128 KiB thread)",
        file: "guard_values.c",
        src: GUARD_VALUES_SRC,
        flags: &["-O2", "-pthread", GUARD_OFFSET_FLAG],
        expect: "guard values ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/guard-values-static",
        title: "the same in a -static program",
        file: "guard_values.c",
        src: GUARD_VALUES_SRC,
        flags: &["-O2", "-static", "-pthread", GUARD_OFFSET_FLAG],
        expect: "guard values ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/cxx-exceptions",
        title: "C++ throw/catch across segments: caught on the original stack, rethrown from segments, caught on a segment, thrown by libstdc++; destructors counted, guard restored; initial thread and four 128 KiB threads",
        file: "eh.cc",
        src: EH_SRC,
        flags: &["-O2", "-pthread", GUARD_OFFSET_FLAG],
        expect: "cxx exceptions ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/cxx-exceptions-O0",
        title: "the same at -O0",
        file: "eh.cc",
        src: EH_SRC,
        flags: &["-O0", "-pthread", GUARD_OFFSET_FLAG],
        expect: "cxx exceptions ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/cxx-exceptions-static",
        title: "the same in a -static program (gold: unwind tables via PT_GNU_EH_FRAME)",
        file: "eh.cc",
        src: EH_SRC,
        flags: &["-O2", "-static", "-pthread", GUARD_OFFSET_FLAG],
        expect: "cxx exceptions ok\n",
        qemu: &[],
        env: &[],
    },
    RuntimeCase {
        id: "runtime/bti",
        title: "BTI enforced on the whole text: blr into continuations, indirect calls, forced unwinding through __morestack",
        file: "bti.c",
        src: BTI_SRC,
        flags: &[
            "-O2",
            "-mbranch-protection=standard",
            "-fexceptions",
            "-pthread",
            "-fPIE",
            "-pie",
            "-Wl,-z,now",
        ],
        expect: "bti ok\n",
        qemu: &[("QEMU_CPU", "max")],
        env: &[],
    },
];

/// Judges a run of a runtime case: PASS only if it exited 0 printing
/// exactly the case's `expect`.
pub fn judge_run(case: &RuntimeCase, r: &Run) -> Outcome {
    super::judge_output(
        r,
        case.expect,
        format!("{}: {}", case.file, r.stdout.trim()),
        &format!("run {}", case.file),
    )
}

/// Judges a case that could not be built: a C++ case on a toolchain
/// without a C++ driver is a SKIP that says so (never a pass: the
/// verdict counts it), anything else a FAIL with the diagnostics.
pub fn judge_build_error(case: &RuntimeCase, e: &anyhow::Error) -> Outcome {
    if e.downcast_ref::<crate::probe::NoCxxDriver>().is_some() {
        Outcome::Skip(format!(
            "{e}: {} is a C++ program (this project's toolchain built with --c-only has none)",
            case.file
        ))
    } else {
        Outcome::Fail(format!("compile {}: {e:#}", case.file))
    }
}

fn runtime_case(p: &Probe, case: &RuntimeCase) -> Outcome {
    let mut flags = vec!["-fsplit-stack"];
    flags.extend_from_slice(case.flags);
    let name = case.id.replace(['/', '-'], "_");
    let built = if case.file.ends_with(".cc") {
        p.compile_cxx(&name, case.src, &flags)
    } else {
        p.compile(&name, case.src, &flags)
    };
    let exe = match built {
        Ok(e) => e,
        Err(e) => return judge_build_error(case, &e),
    };
    match p.run_with_qemu(&exe, &p.tc.sysroot, case.env, case.qemu) {
        Ok(r) => judge_run(case, &r),
        Err(e) => Outcome::Fail(format!("run: {e:#}")),
    }
}

const DLCLOSE_ID: &str = "runtime/dlclose";
const DLCLOSE_TITLE: &str =
    "a split-stack DSO stays loaded after dlclose (-z nodelete); a thread whose segments its runtime allocated exits cleanly";
const DLCLOSE_SRC: &str = include_str!("../../cases/dlclose.c");
const DLCLOSE_LIB_SRC: &str = include_str!("../../cases/dlclose_lib.c");

/// `conformance/cases/dlclose_lib.c` built as a split-stack shared
/// library `dlclose_lib.so` beside `cases/dlclose.c` (not split-stack),
/// which runs the library on a 128 KiB thread, calls `dlclose`, requires
/// the library to stay loaded (docs/abi.md, 5.8: split-stack shared
/// libraries are linked `-z nodelete`) and lets the thread exit.  Passes
/// only if the program prints exactly "dlclose ok".
fn runtime_dlclose(p: &Probe) -> Outcome {
    let lib = p.compile(
        "dlclose_lib.so",
        DLCLOSE_LIB_SRC,
        &["-O2", "-fsplit-stack", "-fPIC", "-shared"],
    );
    let exe = p.compile("dlclose", DLCLOSE_SRC, &["-O2", "-pthread"]);
    let exe = match (lib, exe) {
        (Ok(_), Ok(e)) => e,
        (Err(e), _) | (_, Err(e)) => return Outcome::Fail(format!("compile: {e:#}")),
    };
    let run = p.run(&exe, &p.tc.sysroot, &[]);
    super::judge_started(run, "dlclose ok\n", "dlclose ok".into(), "run dlclose.c")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::tests::run;

    const SEGV: &str = "qemu: uncaught target signal 11";

    #[test]
    fn a_crashed_case_fails() {
        let case = &RUNTIME_CASES[0];
        let o = judge_run(case, &run(None, "", SEGV));
        assert!(
            matches!(o, Outcome::Fail(ref m) if m.contains("signal 11")),
            "{o:?}"
        );
    }

    #[test]
    fn a_case_with_wrong_output_fails() {
        let case = &RUNTIME_CASES[3];
        let o = judge_run(
            case,
            &run(Some(0), "args FAILED: depth 3000 errors 1\n", ""),
        );
        assert!(
            matches!(o, Outcome::Fail(ref m) if m.contains("FAILED")),
            "{o:?}"
        );
        let o = judge_run(case, &run(Some(1), case.expect, ""));
        assert!(matches!(o, Outcome::Fail(_)), "{o:?}");
    }

    #[test]
    fn the_guard_offset_flag_is_the_specification_s() {
        assert_eq!(
            GUARD_OFFSET_FLAG,
            format!("-DGUARD_OFFSET={}", crate::abi::GUARD_OFFSET_FROM_TP)
        );
    }

    #[test]
    fn a_missing_cxx_driver_is_a_skip_and_a_compile_error_a_fail() {
        let cxx = RUNTIME_CASES
            .iter()
            .find(|c| c.file.ends_with(".cc"))
            .unwrap();
        let e = anyhow::Error::new(crate::probe::NoCxxDriver);
        assert!(
            matches!(judge_build_error(cxx, &e), Outcome::Skip(ref m) if m.contains("C++ driver")),
            "{:?}",
            judge_build_error(cxx, &e)
        );
        let e = anyhow::anyhow!("g++ failed: error: x");
        assert!(
            matches!(judge_build_error(cxx, &e), Outcome::Fail(ref m) if m.contains("error: x"))
        );
    }

    #[test]
    fn a_good_case_passes() {
        for case in RUNTIME_CASES {
            let o = judge_run(case, &run(Some(0), case.expect, ""));
            assert!(matches!(o, Outcome::Pass(_)), "{o:?}");
        }
    }

    #[test]
    fn every_case_source_states_what_it_checks() {
        for c in RUNTIME_CASES {
            assert!(c.src.starts_with("/* Checks: "), "{}", c.file);
        }
        for dir in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/cases")).unwrap() {
            let path = dir.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with("/* Checks: ")
                    || text.starts_with("/* Checks (with ")
                    || text.starts_with("/* Checks (gccgo): "),
                "{} does not start with what it checks",
                path.display()
            );
        }
    }
}
