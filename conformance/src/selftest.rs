//! The planted-fault self-test: proof that the suite catches what it
//! claims to check.
//!
//! Each [`Fault`] is planted into a conformant toolchain's output, one at a
//! time, and the checks that own the rule it breaks must FAIL.  Faults are
//! planted without touching the toolchain itself, through a wrapper driver
//! (a shell script standing in for `aarch64-linux-gnu-gcc`) that calls the
//! real driver with `-B DIR`, where `DIR/as` is a wrapper assembler that
//! rewrites the compiler's assembly with a Perl substitution before calling
//! the real assembler; through driver options; through a copy of the
//! sysroot whose `libc.so.6` exports another value; through the choice of
//! sysroots; or through a copy of `libgcc.a` (found first through `-B`)
//! whose `morestack.o` is patched.  Before any fault is planted, the owning
//! checks are run on the unmodified toolchain and must PASS (the control):
//! a check that fails anyway proves nothing.
//!
//! Source of every rule: docs/abi.md (section named per fault).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::checks::{self, Check};
use crate::{Outcome, Toolchain};

/// How a fault is planted.
#[derive(Debug, Clone, Copy)]
pub enum Plant {
    /// The wrapper assembler applies this Perl substitution program
    /// (`perl -pe`) to every assembly file the compiler writes.
    Asm(&'static str),
    /// The same on the whole assembly file at once (`perl -0777 -pe`),
    /// for rewrites that span lines.
    AsmFile(&'static str),
    /// The wrapper driver appends these options to every invocation.
    DriverAppend(&'static [&'static str]),
    /// The wrapper driver drops every option that starts with this text.
    DriverDrop(&'static str),
    /// The glibc under test is the first old (stock) sysroot: no guard
    /// slot, no `__tcb_private_ss`.
    StockGlibcUnderTest,
    /// The glibc under test exports `__tcb_private_ss` with this value
    /// (bytes) instead of the specified offset.
    SymbolValue(i64),
    /// The only "old" glibc is the glibc under test, which does not
    /// refuse split-stack programs.
    PatchedGlibcAsOld,
    /// libgcc's `__morestack_set_guard` and `__morestack_get_guard` access
    /// the word at this offset from TP (bytes) instead of the specified
    /// one.
    LibgccGuardOffset(i64),
    /// libgcc's `morestack.o` with every `bti j` landing pad turned into
    /// a `nop`.
    LibgccNoBtiJ,
    /// The sysroot's Go runtime library (`libgo.so`, which Go programs
    /// load from the sysroot) with the first instruction word equal to
    /// `word` in `function`'s code replaced by `to`, in a copy of the
    /// sysroot that programs then run on.  Only for toolchains with a Go
    /// driver.
    LibgoWord {
        function: &'static str,
        word: u32,
        to: u32,
    },
    /// libgcc's `morestack.o` with the `nth` (from 0; [`EVERY`]: all)
    /// instruction word equal to `word` in `function`'s code replaced by
    /// `to`.
    LibgccWord {
        function: &'static str,
        word: u32,
        nth: usize,
        to: u32,
    },
}

/// `stur x9, [x10, #-8]`: how `__morestack` stores a guard computed after
/// a C call (docs/abi.md, 5.8): on the switch to a segment it allocated,
/// in the landing pad (after `__generic_findstack`), on the switch to a
/// lone segment.
const STUR_GUARD: u32 = 0xf81f_8149;
/// `stur x9, [x11, #-8]`: how `__morestack` stores a guard on the switch
/// to a reused segment, when it restores the guard found on entry on the
/// return, and in the landing pad of a lone segment.
const STUR_GUARD_X11: u32 = 0xf81f_8169;
/// `stur x13, [x11, #-8]`: `__morestack` storing GUARD_BUSY before it
/// changes the segment list without blocking signals (docs/abi.md, 5.8).
const STUR_BUSY: u32 = 0xf81f_816d;
/// `nop`.
const NOP: u32 = 0xd503_201f;
/// [`Plant::LibgccWord`]'s `nth` for every occurrence.
const EVERY: usize = usize::MAX;
/// `mov sp, x29`: `__morestack` going back to its frame on the old
/// segment, on the return path and then in the landing pad (docs/abi.md,
/// 5.8 and 7).
const MOV_SP_X29: u32 = 0x9100_03bf;
/// `add x10, x10, #4, lsl #12`: `__stack_split_initialize` adding BACKOFF
/// (16 KiB) to S - INITIAL_STACK (docs/abi.md, 5.8).
const ADD_BACKOFF: u32 = 0x9140_114a;
/// `add x10, x10, #7, lsl #12`: the guard 12 KiB higher, S - 4 KiB.
const ADD_BACKOFF_PLUS_12K: u32 = 0x9140_1d4a;
/// `b.ls` back to the continuation in `__morestack_non_split`: SP and
/// x10 lie within the current segment's bounds, so the function runs in
/// the segment's reserve (docs/abi.md, 5.9).
const B_LS_CONTINUE: u32 = 0x54ff_fd29;
/// `str x9, [x16, #48]`: `__morestack` marking a reused segment as used
/// (its `extra` field) for the trimming at the next park (docs/abi.md,
/// 5.9).
const STR_SEGMENT_MARK: u32 = 0xf900_1a09;

/// `ldp d8, d9, [x0, #104]`: libgo's AArch64 `__go_setcontext` loading
/// d8 and d9 of the goroutine it switches to (docs/abi.md 5.10).
const LDP_D8_D9: u32 = 0x6d46_a408;
/// `ldp x21, x22, [x0, #16]`: the same for x21 and x22.
const LDP_X21_X22: u32 = 0xa941_5815;

/// One planted fault.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// Short name, e.g. `guard-offset`.
    pub name: &'static str,
    /// The rule it breaks, with its docs/abi.md section.
    pub rule: &'static str,
    /// The checks that own the rule: each must FAIL with the fault.
    pub owners: &'static [&'static str],
    /// How it is planted.
    pub plant: Plant,
}

const LAYOUT: &str = "prologue/layout";

/// Every fault, at least one per section of docs/abi.md.
pub const FAULTS: &[Fault] = &[
    Fault {
        name: "guard-offset",
        rule: "the prologue loads the guard from TP-8 (1, 5.1, 5.2)",
        owners: &[LAYOUT, "tcb/guard-offset"],
        plant: Plant::Asm(r"s/ldur\tx9, \[x9, #-8\]/ldur\tx9, [x9, #-16]/"),
    },
    Fault {
        name: "guard-width",
        rule: "the guard is a 64-bit word (1, 5.2)",
        owners: &[LAYOUT],
        plant: Plant::Asm(r"s/ldur\tx9, \[x9, #-8\]/ldur\tw9, [x9, #-8]/"),
    },
    Fault {
        name: "signed-branch",
        rule: "the fast path branches with b.lo, an unsigned compare (5.2)",
        owners: &[LAYOUT],
        plant: Plant::Asm(r"s/^\tb\.lo\t/\tb.lt\t/"),
    },
    Fault {
        name: "compare-register",
        rule: "form S compares SP with the guard it loaded: cmp sp, x9 (5.2)",
        owners: &[LAYOUT],
        plant: Plant::Asm(r"s/^\tcmp\tsp, x9$/\tcmp\tsp, x10/"),
    },
    Fault {
        name: "l-form-k-minus-1",
        rule: "form L asks for K = ceil(frame / 4096) pages (5.2)",
        owners: &[LAYOUT],
        plant: Plant::Asm(r"s/^(\tsub\tx10, sp, #)(\d+)(, lsl #12)$/$1.($2-1).$3/e"),
    },
    Fault {
        name: "h-form-short",
        rule: "form H asks for exactly the frame (5.2)",
        owners: &[LAYOUT],
        plant: Plant::Asm(r"s/^(\tmovk\tx10, #)(\d+)/$1.($2-1)/e"),
    },
    Fault {
        name: "cold-frame-short",
        rule: "form S's cold block passes the frame in x10 (5.3)",
        owners: &[LAYOUT],
        plant: Plant::Asm(r"s/^(\tsub\tx10, sp, #)(\d+)$/$1.($2 >= 16 ? $2 - 16 : 16)/e"),
    },
    Fault {
        name: "cold-register",
        rule: "the continuation is passed in x12 (5.3)",
        owners: &[LAYOUT],
        plant: Plant::Asm(
            r"s/^\tadrp\tx12, /\tadrp\tx13, /; s/^\tadd\tx12, x12, /\tadd\tx13, x13, /; s/^\tadr\tx12, /\tadr\tx13, /",
        ),
    },
    Fault {
        name: "cold-continuation",
        rule: "x12 holds the continuation .Lcont (5.3)",
        owners: &[LAYOUT],
        plant: Plant::Asm(
            r"s/^(\tadrp\tx12, )(\.L\w+)$/$1$2+4/; s/^(\tadd\tx12, x12, :lo12:)(\.L\w+)$/$1$2+4/; s/^(\tadr\tx12, )(\.L\w+)$/$1$2+4/",
        ),
    },
    Fault {
        name: "cold-branch-target",
        rule: "the cold block branches to __morestack (5.3)",
        owners: &[LAYOUT],
        plant: Plant::Asm(r"s/^\tb\t__morestack$/\tb\t__morestack_non_split/"),
    },
    Fault {
        name: "far-form-inverted",
        rule: "the far form branches with b.hs over b .Lcold, planted: b.lo (5.2)",
        owners: &["prologue/far-form"],
        plant: Plant::Asm(r"s/^\tb\.hs\t1f$/\tb.lo\t1f/"),
    },
    Fault {
        name: "no-argument-pointer",
        rule: "functions with stack arguments set x14 before the check (5.4)",
        owners: &[LAYOUT, "runtime/arguments"],
        plant: Plant::Asm(r"s/^\tmov\tx14, sp$//"),
    },
    Fault {
        name: "no-bti-before-check",
        rule: "with BTI, bti c comes first, before the check (5.2)",
        owners: &[LAYOUT],
        plant: Plant::Asm(r"s/^\t(bti\tc|hint\t34)\b.*$//"),
    },
    Fault {
        name: "no-bti-at-far-continuation",
        rule: "with BTI, .Lcont of the far form is a landing pad, bti c where no paciasp follows (5.2)",
        owners: &["prologue/far-form"],
        plant: Plant::AsmFile(
            r"s/(\tb\.hs\t1f\n\tb\t\.L\w+\n1:\n(?:\.L\w+:\n)*)\t(?:bti\tc|hint\t34)[^\n]*\n/$1/g",
        ),
    },
    Fault {
        name: "no-bti-at-continuation",
        rule: "with BTI, the continuation .Lcont is a landing pad (bti c, or the paciasp that starts the normal prologue): __morestack enters it with blr x12 (5.2, 5.3); planted: bti c removed where no paciasp follows",
        owners: &["runtime/bti", LAYOUT],
        plant: Plant::AsmFile(r"s/(\tb\.lo\t\.L\w+\n\.L\w+:\n)\t(?:bti\tc|hint\t34)[^\n]*\n/$1/g"),
    },
    Fault {
        name: "alloca-check-skipped",
        rule: "a dynamic allocation that does not fit in the segment goes through __morestack_allocate_stack_space (5.5)",
        owners: &["runtime/alloca-large"],
        // The space check's `bcs` (room in this segment) made
        // unconditional.
        plant: Plant::AsmFile(r"s/(\tcmp\tx\d+, x\d+\n(?:\t\.cfi[^\n]*\n)*)\tbcs\t/$1\tb\t/g"),
    },
    Fault {
        name: "no-split-stack-note",
        rule: "split-stack objects carry .note.GNU-split-stack (5.7)",
        owners: &["notes/split-stack"],
        plant: Plant::Asm(r"s/^\t\.section\t\.note\.GNU-split-stack\b.*$//"),
    },
    Fault {
        name: "no-no-split-stack-note",
        rule: "objects with no_split_stack functions carry .note.GNU-no-split-stack (5.7)",
        owners: &["notes/split-stack"],
        plant: Plant::Asm(r"s/^\t\.section\t\.note\.GNU-no-split-stack\b.*$//"),
    },
    Fault {
        name: "no-cfi",
        rule: "split-stack code keeps its unwind information (7)",
        owners: &["runtime/unwind"],
        plant: Plant::Asm(r"s/^\t\.cfi_\w+.*$//"),
    },
    Fault {
        name: "no-cfi-large-frames",
        rule: "unwind information in functions of every prologue form, planted: none in forms L and H (7)",
        owners: &["runtime/unwind", "runtime/unwind-static"],
        plant: Plant::AsmFile(
            r"s{(\t\.cfi_startproc\n.*?\t\.cfi_endproc\n)}{my $b = $1; $b =~ s/^\t\.cfi_\w+.*\n//mg if $b =~ /^\t(?:sub\tx10, sp, #\d+, lsl #12|movk\tx10, )/m; $b}gse",
        ),
    },
    Fault {
        name: "tls-shifted",
        rule: "TLS variant I: the executable's TLS starts at TP+16, unmoved by the guard (2)",
        owners: &["tls/variant-1", "tls/variant-1-static"],
        // The local-exec offsets of a toolchain that made room for a
        // 16-byte slot above TP (the 2016 proposal's TP+16).
        plant: Plant::Asm(r"s/(:tprel_(?:hi12|lo12_nc|lo12|g0_nc|g0|g1):)([\w.]+)/$1$2+16/g"),
    },
    Fault {
        name: "ld-bfd",
        rule: "calls into non-split code are rewritten by the linker (6)",
        owners: &["linker/non-split-calls", "prologue/far-form"],
        plant: Plant::DriverAppend(&["-fuse-ld=bfd"]),
    },
    Fault {
        name: "adjust-size-ignored",
        rule: "the linker honours --split-stack-adjust-size (6)",
        owners: &["linker/non-split-calls"],
        plant: Plant::DriverDrop("-Wl,--split-stack-adjust-size"),
    },
    Fault {
        name: "stock-glibc",
        rule: "glibc has the slot, exports __tcb_private_ss and sets the guard of new threads (1, 3, 4)",
        owners: &[
            "tcb/glibc-symbol",
            "tcb/runtime-slot",
            "refusal/symbol-needs-abi-node",
        ],
        plant: Plant::StockGlibcUnderTest,
    },
    Fault {
        name: "symbol-value",
        rule: "__tcb_private_ss holds the guard offset, -8 (3)",
        owners: &["tcb/glibc-symbol", "tcb/guard-offset"],
        plant: Plant::SymbolValue(-16),
    },
    Fault {
        name: "old-glibc-accepts",
        rule: "glibc without the slot refuses split-stack programs, lazily and with LD_BIND_NOW (3)",
        owners: &["refusal/symbol-needs-abi-node", "refusal/split-program"],
        plant: Plant::PatchedGlibcAsOld,
    },
    Fault {
        name: "libgcc-landing-pad-bti",
        rule: "with BTI, __morestack's exception landing pad starts with bti j (5.8, 7)",
        owners: &["runtime/bti"],
        plant: Plant::LibgccNoBtiJ,
    },
    Fault {
        name: "libgcc-initial-guard",
        rule: "__stack_split_initialize sets the initial thread's guard to S - 16 KiB, planted: S - 4 KiB (5.8)",
        owners: &["runtime/guard-values", "runtime/guard-values-static"],
        plant: Plant::LibgccWord {
            function: "__stack_split_initialize",
            word: ADD_BACKOFF,
            nth: 0,
            to: ADD_BACKOFF_PLUS_12K,
        },
    },
    Fault {
        name: "libgcc-return-guard",
        rule: "__morestack restores the guard it found on entry when the function returns, planted: the store skipped (5.8)",
        owners: &["runtime/guard-values", "runtime/guard-values-static"],
        plant: Plant::LibgccWord {
            function: "__morestack",
            word: STUR_GUARD_X11,
            nth: 1,
            to: NOP,
        },
    },
    Fault {
        name: "libgcc-no-busy-guard",
        rule: "__morestack holds the guard at GUARD_BUSY while it changes the segment list, SP or the guard with signals unblocked, so that a handler arriving then finds it odd, planted: every GUARD_BUSY store skipped (5.8)",
        owners: &["runtime/signal-crossings"],
        plant: Plant::LibgccWord {
            function: "__morestack",
            word: STUR_BUSY,
            nth: EVERY,
            to: NOP,
        },
    },
    Fault {
        name: "libgcc-no-context-reserve",
        rule: "__morestack_non_split continues on the current segment when its real bounds have room down to x10 plus BACKOFF, planted: it always goes to __morestack (5.9)",
        owners: &["runtime/context-memory", "runtime/context-memory-O0"],
        plant: Plant::LibgccWord {
            function: "__morestack_non_split",
            word: B_LS_CONTINUE,
            nth: 0,
            to: NOP,
        },
    },
    Fault {
        name: "libgcc-no-segment-mark",
        rule: "__morestack marks a segment it reuses as used, so that the next park gives back its pages, planted: the mark skipped (5.9)",
        owners: &["runtime/context-memory", "runtime/context-memory-O0"],
        plant: Plant::LibgccWord {
            function: "__morestack",
            word: STR_SEGMENT_MARK,
            nth: 0,
            to: NOP,
        },
    },
    Fault {
        name: "libgcc-unwind-guard",
        rule: "__morestack's landing pad restores the guard of the segment an exception returns to, planted: the store skipped (7)",
        owners: &[
            "runtime/cxx-exceptions",
            "runtime/cxx-exceptions-O0",
            "runtime/cxx-exceptions-static",
        ],
        plant: Plant::LibgccWord {
            function: "__morestack",
            word: STUR_GUARD,
            nth: 1,
            to: NOP,
        },
    },
    Fault {
        name: "libgcc-pad-stays-on-segment",
        rule: "__morestack's landing pad moves back to the old segment before anything else runs, planted: it stays on the segment being left (7)",
        owners: &["runtime/unwind-pad", "runtime/unwind-pad-static"],
        plant: Plant::LibgccWord {
            function: "__morestack",
            word: MOV_SP_X29,
            nth: 1,
            to: NOP,
        },
    },
    Fault {
        name: "libgcc-guard-offset",
        rule: "libgcc's runtime reads and writes the guard at TP-8 (5.8)",
        owners: &["tcb/guard-offset"],
        plant: Plant::LibgccGuardOffset(-16),
    },
    Fault {
        name: "go-switch-fp-registers",
        rule: "a goroutine switch restores d8-d15 (5.10); planted: libgo's __go_setcontext leaves d8 and d9 as they were",
        owners: &["gccgo/context-registers"],
        plant: Plant::LibgoWord {
            function: "__go_setcontext",
            word: LDP_D8_D9,
            to: NOP,
        },
    },
    Fault {
        name: "go-switch-registers",
        rule: "a goroutine switch restores x19-x29 (5.10); planted: libgo's __go_setcontext leaves x21 and x22 as they were",
        owners: &["gccgo/context-registers"],
        plant: Plant::LibgoWord {
            function: "__go_setcontext",
            word: LDP_X21_X22,
            to: NOP,
        },
    },
];

/// Whether `f` can be planted only in a toolchain with a Go driver.
pub fn needs_go(f: &Fault) -> bool {
    matches!(f.plant, Plant::LibgoWord { .. })
}

/// What happened to one fault.
#[derive(Debug, Clone)]
pub struct FaultResult {
    /// The fault.
    pub fault: Fault,
    /// Each owning check and its outcome with the fault planted.
    pub outcomes: Vec<(String, Outcome)>,
    /// Why the fault could not be planted (then it counts as not caught).
    pub error: Option<String>,
}

impl FaultResult {
    /// Caught: planted, and every owner FAILed.
    pub fn caught(&self) -> bool {
        judge_caught(self.error.as_deref(), &self.outcomes)
    }
}

/// A fault is caught only if it was planted (`error` is `None`), it has
/// owners, and every owner's outcome is a FAIL for the rule, not because
/// the faulty toolchain could not build the check's program
/// ([`broke_the_build`]: the fault broke the build, which proves nothing
/// about the check).  A SKIP is not a catch.
pub fn judge_caught(error: Option<&str>, outcomes: &[(String, Outcome)]) -> bool {
    error.is_none()
        && !outcomes.is_empty()
        && outcomes
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Fail(m) if !broke_the_build(m)))
}

/// Whether a FAIL reason's first finding is the driver failing to build
/// a program (a reason starting with "compile", or a first line ending in
/// `Probe`'s "<driver> <flags> failed:", before the diagnostics).  A check
/// with several legs lists one finding per line; a later leg that could
/// not build its program does not hide a first line that names the rule.
pub fn broke_the_build(reason: &str) -> bool {
    let first = reason.lines().next().unwrap_or_default();
    first.starts_with("compile") || first.trim_end().ends_with(" failed:")
}

/// The control: outcomes of every owning check on the unmodified
/// toolchain; each must PASS.
#[derive(Debug, Clone)]
pub struct SelfTest {
    /// Owner checks on the unmodified toolchain.
    pub control: Vec<(String, Outcome)>,
    /// Every check on the toolchain seen through the planting harness
    /// with nothing planted (the wrapper driver and an assembler wrapper
    /// whose rewrite changes nothing): each must PASS, which shows that
    /// the harness itself changes no verdict.
    pub neutral: Vec<(String, Outcome)>,
    /// One entry per fault, in [`FAULTS`] order.
    pub faults: Vec<FaultResult>,
    /// Faults that were not planted because the toolchain has no Go
    /// driver ([`needs_go`]); named in the report, not counted as caught.
    pub not_applicable: Vec<&'static str>,
}

impl SelfTest {
    /// Passed: every control check passed and every fault was caught.
    pub fn passed(&self) -> bool {
        self.control
            .iter()
            .chain(&self.neutral)
            .all(|(_, o)| matches!(o, Outcome::Pass(_)))
            && !self.neutral.is_empty()
            && !self.faults.is_empty()
            && self.faults.iter().all(FaultResult::caught)
    }

    /// The report: the control, then one line per fault (caught or
    /// MISSED, by which checks), then the counts.
    pub fn render(&self) -> String {
        let mut s = String::from(
            "Planted-fault self-test of the conformance suite\n\ncontrol (unmodified toolchain):\n",
        );
        for (id, o) in &self.control {
            s.push_str(&format!("  {:<5} {id}\n", label(o)));
        }
        let neutral_ok = self
            .neutral
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Pass(_)))
            .count();
        s.push_str(&format!(
            "\nharness with nothing planted: {neutral_ok} of {} checks pass\n",
            self.neutral.len()
        ));
        for (id, o) in self
            .neutral
            .iter()
            .filter(|(_, o)| !matches!(o, Outcome::Pass(_)))
        {
            s.push_str(&format!("  {:<5} {id}\n", label(o)));
        }
        s.push_str("\nfaults:\n");
        for r in &self.faults {
            let by: Vec<String> = r
                .outcomes
                .iter()
                .map(|(id, o)| format!("{id} {}", label(o)))
                .collect();
            s.push_str(&format!(
                "  {:<7} {:<22} {}\n          rule: {}\n",
                if r.caught() { "caught" } else { "MISSED" },
                r.fault.name,
                match &r.error {
                    Some(e) => format!("not planted: {e}"),
                    None => by.join(", "),
                },
                r.fault.rule
            ));
            for (id, o) in &r.outcomes {
                let why = match o {
                    Outcome::Pass(m) | Outcome::Fail(m) | Outcome::Skip(m) => m,
                };
                if r.caught() {
                    let first: String = why
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(160)
                        .collect();
                    s.push_str(&format!("          {id}: {first}\n"));
                } else {
                    // All of it: why the fault was not caught.
                    for (k, l) in why.lines().enumerate() {
                        let head = if k == 0 {
                            format!("{id}: ")
                        } else {
                            "  ".into()
                        };
                        s.push_str(&format!("          {head}{l}\n"));
                    }
                }
            }
        }
        if !self.not_applicable.is_empty() {
            s.push_str(&format!(
                "  not planted (the toolchain has no Go driver): {}\n",
                self.not_applicable.join(", ")
            ));
        }
        let caught = self.faults.iter().filter(|r| r.caught()).count();
        s.push_str(&format!(
            "\n{caught} of {} faults caught by their owning checks; control {}\nverdict: {}\n",
            self.faults.len(),
            if self
                .control
                .iter()
                .all(|(_, o)| matches!(o, Outcome::Pass(_)))
            {
                "passed"
            } else if self
                .control
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Fail(_)))
            {
                "FAILED (an owning check fails on the unmodified toolchain)"
            } else {
                "FAILED (an owning check was skipped on the unmodified toolchain: it cannot \
                 show that it catches anything)"
            },
            if self.passed() { "PASSED" } else { "FAILED" }
        ));
        s
    }
}

fn label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Pass(_) => "PASS",
        Outcome::Fail(_) => "FAIL",
        Outcome::Skip(_) => "SKIP",
    }
}

/// The registry's checks named `ids`, in registry order.
fn select(tc: &Toolchain, ids: &[&str]) -> Vec<Check> {
    checks::registry_for(&tc.gcc)
        .into_iter()
        .filter(|c| ids.contains(&c.id.as_str()))
        .collect()
}

/// Runs `ids` against `tc`; returns each check's outcome.
fn run_owners(
    tc: &Toolchain,
    ids: &[&str],
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<(String, Outcome)>> {
    let sel = select(tc, ids);
    if sel.len() != ids.len() {
        bail!("unknown check among {ids:?}");
    }
    let report = crate::run_checks(tc, &sel, &mut |p| {
        if let checks::Progress::Done { result, seconds } = p {
            progress(&format!(
                "{} {} ({seconds:.1}s)",
                label(&result.outcome),
                result.id
            ))
        }
    })?;
    Ok(report
        .results
        .into_iter()
        .map(|r| (r.id, r.outcome))
        .collect())
}

/// Runs the self-test on the conformant toolchain `tc` (which must have
/// at least one old sysroot).  `only`: fault names to plant (all when
/// empty).  `progress` gets one line per step.
///
/// Errors: problems of the self-test itself (no scratch directory, the
/// real assembler or libgcc not found, a fault name that does not exist).
pub fn run(tc: &Toolchain, only: &[String], progress: &mut dyn FnMut(&str)) -> Result<SelfTest> {
    for n in only {
        if !FAULTS.iter().any(|f| f.name == n) {
            bail!(
                "no fault named {n}; the faults are: {}",
                FAULTS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let faults: Vec<&Fault> = FAULTS
        .iter()
        .filter(|f| only.is_empty() || only.iter().any(|n| n == f.name))
        .collect();
    if tc.old_sysroots.is_empty() {
        bail!("the self-test needs an old glibc sysroot (--old-sysroot)");
    }
    let has_go = crate::probe::go_driver(&tc.gcc).is_some();
    let not_applicable: Vec<&'static str> = faults
        .iter()
        .filter(|f| needs_go(f) && !has_go)
        .map(|f| f.name)
        .collect();
    let faults: Vec<&Fault> = faults
        .into_iter()
        .filter(|f| has_go || !needs_go(f))
        .collect();
    if !not_applicable.is_empty() {
        progress(&format!(
            "not planted (the toolchain has no Go driver): {}",
            not_applicable.join(", ")
        ));
    }
    let mut owners: Vec<&str> = faults
        .iter()
        .flat_map(|f| f.owners.iter().copied())
        .collect();
    owners.sort();
    owners.dedup();
    progress(&format!(
        "control: {} owning check(s) on the unmodified toolchain",
        owners.len()
    ));
    let control = run_owners(tc, &owners, progress)?;
    let scratch = tempfile::Builder::new()
        .prefix("split-stack-selftest")
        .tempdir()
        .context("cannot create a scratch directory")?;
    progress("the planting harness with nothing planted: every check");
    let null = Fault {
        name: "nothing",
        rule: "none",
        owners: &[],
        plant: Plant::Asm("s/^//"),
    };
    let ntc = plant(tc, &null, &scratch.path().join("nothing"))?;
    let all: Vec<String> = checks::registry().into_iter().map(|c| c.id).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let neutral = run_owners(&ntc, &all, progress)?;
    let mut results = Vec::new();
    for (k, f) in faults.iter().enumerate() {
        progress(&format!(
            "fault {}/{}: {} ({})",
            k + 1,
            faults.len(),
            f.name,
            f.rule
        ));
        let dir = scratch.path().join(f.name);
        let planted = plant(tc, f, &dir);
        let (outcomes, error) = match planted {
            Ok(ftc) => (run_owners(&ftc, f.owners, progress)?, None),
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        };
        results.push(FaultResult {
            fault: **f,
            outcomes,
            error,
        });
        if crate::stop_requested() {
            return Err(crate::Interrupted.into());
        }
    }
    Ok(SelfTest {
        control,
        neutral,
        faults: results,
        not_applicable,
    })
}

/// Writes an executable shell script.
pub(crate) fn write_script(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Quotes `s` for a POSIX shell.
pub(crate) fn sh_quote(s: &str) -> String {
    // Always one single-quoted word (a Perl program must stay one word;
    // `shlex` may quote only parts of a string).
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The real program `name` the driver uses (`-print-prog-name`).
/// The binutils program `name` (`ar`, `objcopy`) that goes with the driver
/// `gcc`: where the driver says it is, else `aarch64-linux-gnu-NAME` beside
/// the driver, else `NAME` on `PATH`.
pub(crate) fn binutil(gcc: &Path, name: &str) -> PathBuf {
    prog_name(gcc, name).unwrap_or_else(|_| {
        let sibling = gcc.with_file_name(format!("aarch64-linux-gnu-{name}"));
        if sibling.exists() {
            sibling
        } else {
            PathBuf::from(name)
        }
    })
}

fn prog_name(gcc: &Path, name: &str) -> Result<PathBuf> {
    let out = duct::cmd!(gcc.as_os_str(), format!("-print-prog-name={name}"))
        .read()
        .with_context(|| format!("cannot run {}", gcc.display()))?;
    let p = PathBuf::from(out.trim());
    if !p.is_absolute() {
        bail!(
            "{} does not know where its {name} is ({out})",
            gcc.display()
        );
    }
    Ok(p)
}

/// A wrapper driver in `dir` that runs the real driver with `-B dir/`,
/// appending `append` and dropping options starting with `drop`.
pub(crate) fn wrapper_driver(
    tc: &Toolchain,
    dir: &Path,
    append: &[&str],
    drop: Option<&str>,
) -> Result<PathBuf> {
    let script = |real: &Path| {
        let mut text =
            String::from("#!/bin/sh\n# Planted-fault wrapper (conformance self-test).\n");
        if let Some(d) = drop {
            text.push_str(&format!(
                "for a do shift; case \"$a\" in {}*) ;; *) set -- \"$@\" \"$a\";; esac; done\n",
                sh_quote(d)
            ));
        }
        text.push_str(&format!(
            "exec {} -B{}/ \"$@\"{}\n",
            sh_quote(&real.display().to_string()),
            sh_quote(&dir.display().to_string()),
            append
                .iter()
                .map(|a| format!(" {}", sh_quote(a)))
                .collect::<String>()
        ));
        text
    };
    let driver = dir.join("aarch64-linux-gnu-gcc");
    write_script(&driver, &script(&tc.gcc))?;
    // The C++ driver beside it (found by `probe::cxx_driver`), planted
    // the same way.
    if let Some(cxx) = crate::probe::cxx_driver(&tc.gcc) {
        write_script(&dir.join("aarch64-linux-gnu-g++"), &script(&cxx))?;
    }
    Ok(driver)
}

/// The file offsets (bytes) of the instruction words equal to `word` in
/// the code of `function` (its symbol's `st_size` bytes) in the ELF file
/// `data`, in address order.  Errors: no such function or no size
/// ([`crate::elf::function_file_range`]).
fn word_offsets(data: &[u8], function: &str, word: u32) -> Result<Vec<usize>> {
    let range = crate::elf::function_file_range(data, function)?;
    Ok(range
        .step_by(4)
        .filter(|&k| data.get(k..k + 4) == Some(&word.to_le_bytes()[..]))
        .collect())
}

/// Plants `f` under `dir`; returns the faulty toolchain.
fn plant(tc: &Toolchain, f: &Fault, dir: &Path) -> Result<Toolchain> {
    std::fs::create_dir_all(dir)?;
    let mut ftc = tc.clone();
    match f.plant {
        Plant::Asm(program) | Plant::AsmFile(program) => {
            let perl = match f.plant {
                Plant::AsmFile(_) => "perl -0777 -pe",
                _ => "perl -pe",
            };
            let real_as = prog_name(&tc.gcc, "as")?;
            write_script(
                &dir.join("as"),
                &format!(
                    "#!/bin/sh\n# Planted-fault assembler: rewrites .s inputs, then runs the real one.\n\
                     n=0\n\
                     for a do\n  shift\n  case \"$a\" in\n    *.s)\n      n=$((n+1)); t={}/input$$.$n.s\n      {} {} \"$a\" > \"$t\" || exit 1\n      set -- \"$@\" \"$t\";;\n    *) set -- \"$@\" \"$a\";;\n  esac\ndone\nexec {} \"$@\"\n",
                    sh_quote(&dir.display().to_string()),
                    perl,
                    sh_quote(program),
                    sh_quote(&real_as.display().to_string())
                ),
            )?;
            ftc.gcc = wrapper_driver(tc, dir, &[], None)?;
        }
        Plant::DriverAppend(opts) => ftc.gcc = wrapper_driver(tc, dir, opts, None)?,
        Plant::DriverDrop(prefix) => ftc.gcc = wrapper_driver(tc, dir, &[], Some(prefix))?,
        Plant::StockGlibcUnderTest => ftc.sysroot = tc.old_sysroots[0].clone(),
        Plant::PatchedGlibcAsOld => ftc.old_sysroots = vec![tc.sysroot.clone()],
        Plant::SymbolValue(v) => ftc.sysroot = sysroot_with_symbol_value(&tc.sysroot, dir, v)?,
        Plant::LibgoWord { function, word, to } => {
            ftc.sysroot = sysroot_with_libgo_word(&tc.sysroot, dir, function, word, to)?
        }
        Plant::LibgccGuardOffset(off) => {
            libgcc_patched(&tc.gcc, dir, |data| {
                for name in ["__morestack_get_guard", "__morestack_set_guard"] {
                    let (at, word) = crate::elf::tp_access_word(data, name)?;
                    let imm9 = (off as u32) & 0x1ff;
                    let new = (word & !(0x1ff << 12)) | (imm9 << 12);
                    data[at..at + 4].copy_from_slice(&new.to_le_bytes());
                }
                Ok(())
            })?;
            ftc.gcc = wrapper_driver(tc, dir, &[], None)?;
        }
        Plant::LibgccWord {
            function,
            word,
            nth,
            to,
        } => {
            libgcc_patched(&tc.gcc, dir, |data| {
                let at = word_offsets(data, function, word)?;
                let chosen: Vec<usize> = if nth == EVERY {
                    at.clone()
                } else {
                    at.get(nth).into_iter().copied().collect()
                };
                if chosen.is_empty() {
                    bail!(
                        "{function} has {} instruction(s) {word:#010x}, not {}",
                        at.len(),
                        if nth == EVERY { 1 } else { nth + 1 }
                    );
                }
                for k in chosen {
                    data[k..k + 4].copy_from_slice(&to.to_le_bytes());
                }
                Ok(())
            })?;
            ftc.gcc = wrapper_driver(tc, dir, &[], None)?;
        }
        Plant::LibgccNoBtiJ => {
            libgcc_patched(&tc.gcc, dir, |data| {
                let (bti_j, nop) = (0xd503_249fu32.to_le_bytes(), 0xd503_201fu32.to_le_bytes());
                let mut n = 0;
                for k in (0..data.len().saturating_sub(3)).step_by(4) {
                    if data[k..k + 4] == bti_j {
                        data[k..k + 4].copy_from_slice(&nop);
                        n += 1;
                    }
                }
                if n == 0 {
                    bail!("morestack.o has no bti j");
                }
                Ok(())
            })?;
            ftc.gcc = wrapper_driver(tc, dir, &[], None)?;
        }
    }
    ftc.compile_with = match f.plant {
        // Programs are built against the real sysroot (a symbolic-link
        // copy confuses the linker's sysroot prefixing of libc.so's
        // script) and run on the copy.
        Plant::SymbolValue(_) | Plant::LibgoWord { .. } => tc.compile_with.clone(),
        _ => crate::compile_with(&tc.gcc, &ftc.sysroot),
    };
    Ok(ftc)
}

/// A copy of `sysroot` under `dir/sysroot` (symbolic links to every entry,
/// real copies of the directories on the way to `libc.so.6`) whose
/// `libc.so.6` holds `value` in `__tcb_private_ss`.
fn sysroot_with_symbol_value(sysroot: &Path, dir: &Path, value: i64) -> Result<PathBuf> {
    let libc = checks::find_libc(sysroot).context("no libc.so.6 in the sysroot")?;
    let libc = std::fs::canonicalize(&libc)?;
    let mut data = std::fs::read(&libc)?;
    let off = crate::elf::dynamic_symbol_file_offset(&data, "__tcb_private_ss")?;
    data[off..off + 8].copy_from_slice(&value.to_le_bytes());
    sysroot_with_file(sysroot, dir, &libc, &[], &data)
}

/// Where the sysroot keeps the Go runtime library: the directories that
/// the dynamic linker searches (docs/gccgo.md: the build copies
/// `libgo.so*` into the sysroot's `lib64`).
const LIBGO_DIRS: &[&str] = &[
    "lib64",
    "lib",
    "lib/aarch64-linux-gnu",
    "usr/lib64",
    "usr/lib",
];

/// A copy of `sysroot` whose `libgo.so` (every name of it in its
/// directory: the file and the links to it) has the first `word` in
/// `function`'s code replaced by `to`.  Errors: no `libgo.so.N` in
/// [`LIBGO_DIRS`], no such function (a libgo without it), or no such word
/// in it.
fn sysroot_with_libgo_word(
    sysroot: &Path,
    dir: &Path,
    function: &str,
    word: u32,
    to: u32,
) -> Result<PathBuf> {
    let libgo = LIBGO_DIRS
        .iter()
        .filter_map(|d| std::fs::read_dir(sysroot.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libgo.so."))
        })
        .with_context(|| format!("no libgo.so.N in {} ({LIBGO_DIRS:?})", sysroot.display()))?;
    let real = std::fs::canonicalize(&libgo)?;
    let mut data = std::fs::read(&real)?;
    let at = *word_offsets(&data, function, word)
        .with_context(|| format!("in {}", real.display()))?
        .first()
        .with_context(|| format!("{function} in {} has no word {word:#010x}", real.display()))?;
    data[at..at + 4].copy_from_slice(&to.to_le_bytes());
    // Every name of the library in its directory gets the patched copy, so
    // that the soname link the programs ask for does not lead back to the
    // original.
    let parent = libgo.parent().context("libgo.so has no directory")?;
    let names: Vec<std::ffi::OsString> = std::fs::read_dir(parent)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_str().is_some_and(|n| n.starts_with("libgo.so")))
        .collect();
    sysroot_with_file(sysroot, dir, &parent.join(&names[0]), &names, &data)
}

/// A copy of `sysroot` under `dir/sysroot`: symbolic links to every entry
/// but real copies of the directories on the way to `file`, where `file`
/// and the entries `also` of its directory hold `data`.
fn sysroot_with_file(
    sysroot: &Path,
    dir: &Path,
    file: &Path,
    also: &[std::ffi::OsString],
    data: &[u8],
) -> Result<PathBuf> {
    let sysroot = std::fs::canonicalize(sysroot)?;
    let dir_of = std::fs::canonicalize(file.parent().context("a file without a directory")?)?;
    let file = dir_of.join(file.file_name().context("a file without a name")?);
    let rel = file
        .strip_prefix(&sysroot)
        .with_context(|| format!("{} lies outside the sysroot", file.display()))?
        .to_path_buf();
    let root = dir.join("sysroot");
    // Mirror each directory on the way to libc.so.6; link everything else.
    let mut from = sysroot.clone();
    let mut to = root.clone();
    std::fs::create_dir_all(&to)?;
    let comps: Vec<_> = rel.components().collect();
    let last = comps.len() - 1;
    for (i, c) in comps.iter().enumerate() {
        for e in std::fs::read_dir(&from)? {
            let e = e?;
            let n = e.file_name();
            if n == c.as_os_str() || (i == last && also.contains(&n)) {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), to.join(&n))?;
        }
        if i == last {
            for n in also {
                std::fs::write(to.join(n), data)?;
            }
        }
        from = from.join(c);
        to = to.join(c);
        if i < last {
            std::fs::create_dir_all(&to)?;
        }
    }
    std::fs::write(&to, data)?;
    Ok(root)
}

/// Writes `dir/libgcc.a`: the toolchain's `libgcc.a` whose `morestack.o`
/// was changed by `patch` (given the object's bytes), for a wrapper
/// driver whose `-B dir/` finds it first.
pub(crate) fn libgcc_patched(
    gcc: &Path,
    dir: &Path,
    patch: impl Fn(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let libgcc = duct::cmd!(gcc.as_os_str(), "-print-libgcc-file-name").read()?;
    let ar = binutil(gcc, "ar");
    let work = dir.join("ar");
    std::fs::create_dir_all(&work)?;
    let copy = dir.join("libgcc.a");
    std::fs::copy(libgcc.trim(), &copy)?;
    duct::cmd!(ar.as_os_str(), "x", &copy, "morestack.o")
        .dir(&work)
        .run()?;
    let obj = work.join("morestack.o");
    let mut data = std::fs::read(&obj)?;
    patch(&mut data)?;
    std::fs::write(&obj, data)?;
    duct::cmd!(ar.as_os_str(), "r", &copy, "morestack.o")
        .dir(&work)
        .run()?;
    std::fs::remove_dir_all(&work)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_is_caught_only_when_every_owner_fails() {
        let f = |s: &str| (s.to_string(), Outcome::Fail("x".into()));
        let p = |s: &str| (s.to_string(), Outcome::Pass("x".into()));
        let k = |s: &str| (s.to_string(), Outcome::Skip("x".into()));
        assert!(judge_caught(None, &[f("a"), f("b")]));
        assert!(!judge_caught(None, &[f("a"), p("b")]));
        assert!(!judge_caught(None, &[f("a"), k("b")]));
        assert!(!judge_caught(None, &[]));
        assert!(!judge_caught(Some("not planted"), &[f("a")]));
        let broke = (
            "a".to_string(),
            Outcome::Fail("compile prologue.c: error".into()),
        );
        assert!(!judge_caught(None, &[broke, f("b")]));
    }

    #[test]
    fn a_broken_build_is_told_from_a_finding() {
        assert!(broke_the_build("compile prologue.c: gcc failed"));
        assert!(broke_the_build(
            "aarch64-linux-gnu-gcc -O2 -fsplit-stack failed:\nerror: x"
        ));
        assert!(broke_the_build("gcc -O2 failed:  \nmore"));
        assert!(!broke_the_build(
            "f: guard at TP-16, expected TP-8\ncompile x: failed:"
        ));
        assert!(!broke_the_build("the build failed here: no"));
        assert!(!broke_the_build(""));
    }

    #[test]
    fn faults_cover_every_abi_section_and_name_real_checks() {
        assert!(FAULTS.len() >= 20);
        let ids: Vec<String> = checks::registry()
            .into_iter()
            .chain(checks::gccgo::checks())
            .map(|c| c.id)
            .collect();
        let mut names: Vec<&str> = FAULTS.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FAULTS.len(), "duplicate fault names");
        for f in FAULTS {
            assert!(!f.owners.is_empty(), "{}", f.name);
            for o in f.owners {
                assert!(ids.iter().any(|i| i == o), "{}: no check {o}", f.name);
            }
        }
        for section in [
            "(1", "(2)", "(3)", "4)", "5.1", "5.2", "5.3", "5.4", "5.5", "5.7", "5.8", "5.10",
            "(6)", "(7)",
        ] {
            assert!(
                FAULTS.iter().any(|f| f.rule.contains(section)),
                "no fault for docs/abi.md section {section}"
            );
        }
    }

    #[test]
    fn go_faults_are_the_libgo_ones_and_owned_by_go_checks() {
        for f in FAULTS {
            assert_eq!(
                needs_go(f),
                f.owners.iter().all(|o| o.starts_with("gccgo/")),
                "{}",
                f.name
            );
        }
        assert!(FAULTS.iter().filter(|f| needs_go(f)).count() >= 2);
    }

    #[test]
    fn a_sysroot_copy_patches_every_name_of_the_file() {
        let t = tempfile::tempdir().unwrap();
        let sysroot = t.path().join("root");
        let lib = sysroot.join("lib64");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("libgo.so.24.0.0"), b"old").unwrap();
        std::os::unix::fs::symlink("libgo.so.24.0.0", lib.join("libgo.so.24")).unwrap();
        std::fs::write(lib.join("libc.so.6"), b"libc").unwrap();
        std::fs::write(sysroot.join("other"), b"x").unwrap();
        let names = vec![
            std::ffi::OsString::from("libgo.so.24"),
            std::ffi::OsString::from("libgo.so.24.0.0"),
        ];
        let copy = sysroot_with_file(
            &sysroot,
            &t.path().join("fault"),
            &lib.join("libgo.so.24.0.0"),
            &names,
            b"new",
        )
        .unwrap();
        for n in ["lib64/libgo.so.24", "lib64/libgo.so.24.0.0"] {
            assert_eq!(std::fs::read(copy.join(n)).unwrap(), b"new", "{n}");
        }
        assert_eq!(
            std::fs::read(copy.join("lib64/libc.so.6")).unwrap(),
            b"libc"
        );
        assert_eq!(std::fs::read(copy.join("other")).unwrap(), b"x");
        assert_eq!(std::fs::read(lib.join("libgo.so.24")).unwrap(), b"old");
        let e = sysroot_with_libgo_word(&t.path().join("empty"), t.path(), "f", 0, 0).unwrap_err();
        assert!(format!("{e:#}").contains("no libgo.so.N"), "{e:#}");
    }

    #[test]
    fn the_asm_rewrites_change_what_they_target() {
        let run_perl = |flags: &[&str], prog: &str, input: &str| -> String {
            let mut args: Vec<&str> = flags.to_vec();
            args.push(prog);
            duct::cmd("perl", args).stdin_bytes(input).read().unwrap()
        };
        let perl = |prog: &str, input: &str| run_perl(&["-pe"], prog, input);
        let asm = |f: &str| match FAULTS.iter().find(|x| x.name == f).unwrap().plant {
            Plant::Asm(p) => p,
            _ => panic!(),
        };
        let whole = |f: &str, input: &str| -> String {
            let Plant::AsmFile(p) = FAULTS.iter().find(|x| x.name == f).unwrap().plant else {
                panic!()
            };
            run_perl(&["-0777", "-pe"], p, input)
        };
        assert_eq!(
            whole(
                "alloca-check-skipped",
                "\tcmp\tx1, x3\n\t.cfi_offset 21, -32\n\tbcs\t.L2\n\tbcs\t.L9\n"
            ),
            "\tcmp\tx1, x3\n\t.cfi_offset 21, -32\n\tb\t.L2\n\tbcs\t.L9"
        );
        assert_eq!(
            whole(
                "no-bti-at-continuation",
                "\thint\t34 // bti c\n\tmrs\tx9, tpidr_el0\n\tb.lo\t.L6\n.L7:\n\thint\t34 // bti c\n\tsub\tsp, sp, #2048\n"
            ),
            "\thint\t34 // bti c\n\tmrs\tx9, tpidr_el0\n\tb.lo\t.L6\n.L7:\n\tsub\tsp, sp, #2048"
        );
        let check = "\tmrs\tx9, tpidr_el0\n\tldur\tx9, [x9, #-8]\n\tcmp\tsp, x9\n\tb.lo\t.L5\n";
        assert!(perl(asm("guard-offset"), check).contains("[x9, #-16]"));
        assert!(perl(asm("guard-width"), check).contains("ldur\tw9"));
        assert!(perl(asm("signed-branch"), check).contains("\tb.lt\t.L5"));
        assert!(perl(asm("compare-register"), check).contains("cmp\tsp, x10"));
        assert_eq!(
            perl(asm("l-form-k-minus-1"), "\tsub\tx10, sp, #17, lsl #12"),
            "\tsub\tx10, sp, #16, lsl #12"
        );
        assert_eq!(
            perl(asm("h-form-short"), "\tmovk\tx10, #256, lsl #16"),
            "\tmovk\tx10, #255, lsl #16"
        );
        assert_eq!(
            perl(asm("cold-frame-short"), "\tsub\tx10, sp, #272"),
            "\tsub\tx10, sp, #256"
        );
        assert_eq!(
            perl(asm("cold-frame-short"), "\tsub\tx10, sp, #17, lsl #12"),
            "\tsub\tx10, sp, #17, lsl #12"
        );
        let cold = "\tadrp\tx12, .L4\n\tadd\tx12, x12, :lo12:.L4\n\tb\t__morestack\n";
        assert_eq!(
            perl(asm("cold-register"), cold),
            "\tadrp\tx13, .L4\n\tadd\tx13, x13, :lo12:.L4\n\tb\t__morestack"
        );
        assert_eq!(
            perl(asm("cold-continuation"), cold),
            "\tadrp\tx12, .L4+4\n\tadd\tx12, x12, :lo12:.L4+4\n\tb\t__morestack"
        );
        assert!(perl(asm("cold-branch-target"), cold).ends_with("b\t__morestack_non_split"));
        assert_eq!(perl(asm("no-argument-pointer"), "\tmov\tx14, sp\n"), "");
        assert_eq!(
            perl(asm("far-form-inverted"), "\tb.hs\t1f\n\tb\t.L4\n"),
            "\tb.lo\t1f\n\tb\t.L4"
        );
        assert_eq!(
            perl(asm("no-bti-before-check"), "\thint\t34 // bti c\n"),
            ""
        );
        assert_eq!(
            perl(
                asm("no-split-stack-note"),
                "\t.section\t.note.GNU-split-stack,\"\",@progbits\n"
            ),
            ""
        );
        assert_eq!(
            perl(
                asm("no-no-split-stack-note"),
                "\t.section\t.note.GNU-no-split-stack,\"\",@progbits\n"
            ),
            ""
        );
        assert_eq!(perl(asm("no-cfi"), "\t.cfi_startproc\n"), "");
        assert_eq!(
            whole(
                "no-bti-at-far-continuation",
                "\tb.hs\t1f\n\tb\t.L5\n1:\n.L6:\n\thint\t34 // bti c\n\tsub\tsp, sp, #2048\n"
            ),
            "\tb.hs\t1f\n\tb\t.L5\n1:\n.L6:\n\tsub\tsp, sp, #2048"
        );
        let two = "\t.cfi_startproc\n\tsub\tx10, sp, #3, lsl #12\n\t.cfi_def_cfa_offset 8192\n\t.cfi_endproc\n\
                   \t.cfi_startproc\n\tcmp\tsp, x9\n\t.cfi_endproc\n\
                   \t.cfi_startproc\n\tmovk\tx10, #272, lsl #16\n\t.cfi_endproc\n";
        assert_eq!(
            whole("no-cfi-large-frames", two),
            "\tsub\tx10, sp, #3, lsl #12\n\t.cfi_startproc\n\tcmp\tsp, x9\n\t.cfi_endproc\n\tmovk\tx10, #272, lsl #16"
        );
        assert_eq!(
            perl(
                asm("tls-shifted"),
                "\tadd\tx0, x0, #:tprel_hi12:tls_first, lsl #12\n\tadd\tx0, x0, #:tprel_lo12_nc:tls_first\n"
            ),
            "\tadd\tx0, x0, #:tprel_hi12:tls_first+16, lsl #12\n\tadd\tx0, x0, #:tprel_lo12_nc:tls_first+16"
        );
    }

    #[test]
    fn every_planted_program_stays_one_shell_word() {
        for f in FAULTS {
            if let Plant::Asm(p) | Plant::AsmFile(p) = f.plant {
                let out = duct::cmd("sh", ["-c", &format!("printf %s {}", sh_quote(p))])
                    .read()
                    .unwrap();
                assert_eq!(out, p, "{}", f.name);
            }
        }
    }

    #[test]
    fn the_wrapper_driver_passes_b_and_filters_options() {
        let d = tempfile::tempdir().unwrap();
        let tc = crate::Toolchain::for_tests("/bin/echo");
        let w = wrapper_driver(&tc, d.path(), &["-fuse-ld=bfd"], Some("-Wl,--split")).unwrap();
        let out = duct::cmd!(&w, "-O2", "-Wl,--split-stack-adjust-size=0x10", "a b.c")
            .read()
            .unwrap();
        assert_eq!(
            out,
            format!("-B{}/ -O2 a b.c -fuse-ld=bfd", d.path().display())
        );
    }
}
