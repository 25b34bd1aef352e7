//! `prologue/layout`: the prologue forms of docs/abi.md, sections
//! 5.2-5.5, decoded with `yaxpeax-arm` ([`crate::prologue`]) from
//! `conformance/cases/prologue.c` compiled under several option sets, and
//! judged per function against the frame class it was written for.

use super::Check;
use crate::abi;
use crate::probe::Probe;
use crate::Outcome;

/// `conformance/cases/prologue.c`: one function per frame class.
pub const PROLOGUE_SRC: &str = include_str!("../../cases/prologue.c");

/// The checks of this family.
pub fn checks() -> Vec<Check> {
    vec![
        Check::new(
            "prologue/layout",
            "prologues match the forms of docs/abi.md, per frame class",
            true,
            layout,
        ),
        Check::new(FAR_ID, FAR_TITLE, true, far_form),
    ]
}

const FAR_ID: &str = "prologue/far-form";
const FAR_TITLE: &str =
    "functions larger than 1 MiB (forms S and L) branch with b.hs over b .Lcold; gold rewrites those that call non-split code (S: b.hs -> nop, L: K raised) and no other; they run across segments";
/// `conformance/cases/far.c`: `far_function`, about 1.5 MiB of code.
const FAR_SRC: &str = include_str!("../../cases/far.c");
/// Option sets for `far.c` (at -O0 GCC keeps the cold block right after
/// the check, where b.lo reaches it: no far form to test).
const FAR_OPTIONS: &[&[&str]] = &[
    &["-O2"],
    &["-O2", "-mbranch-protection=standard"],
    &["-O2", "-mbranch-protection=bti"],
];

/// The functions of `far.c`: name, prologue form, minimum frame
/// (bytes), and whether they call code without `-fsplit-stack` (so that
/// gold rewrites them) or only split-stack code (left alone).
const FAR_FUNCTIONS: &[(&str, &str, u64, bool)] = &[
    ("far_function", "S", 64, true),
    ("far_l", "L", 8192, true),
    ("far_split_only", "S", 64, false),
];

/// Judges a function of `far.c` as compiled: a conforming prologue of
/// `form` asking for at least `min_bytes` (`judge_function`) that is the
/// far form.
pub fn judge_far(
    f: &crate::elf::ObjectFunction,
    form: &'static str,
    min_bytes: u64,
    bti: bool,
) -> Result<crate::prologue::FastPath, String> {
    let expect = Expect::Form {
        form,
        min_bytes,
        arg_pointer: false,
    };
    match judge_function(f, expect, true, bti) {
        Ok(Some(fp)) if fp.far => Ok(fp),
        Ok(Some(fp)) => Err(format!(
            "{}: not the far form (b.lo at +{}, cold block at +{})",
            f.name, fp.branch_at, fp.cold_at
        )),
        Ok(None) => Err(format!("{}: no check", f.name)),
        Err(e) => Err(e),
    }
}

/// `prologue/far-form`: `far.c` at each of [`FAR_OPTIONS`]: the far form
/// of each of [`FAR_FUNCTIONS`] before linking, gold's rewrite of those
/// that call non-split code (docs/abi.md 6: form S's b.hs becomes nop,
/// form L's K is raised) and the unchanged check of the one that does
/// not, and a run that prints "far ok".
fn far_form(p: &Probe) -> Outcome {
    let mut hows = Vec::new();
    for (k, opts) in FAR_OPTIONS.iter().enumerate() {
        let what = opts.join(" ");
        let flags = [&["-fsplit-stack", "-c"][..], opts].concat();
        let obj = match p.compile(&format!("far_{k}.o"), FAR_SRC, &flags) {
            Ok(o) => o,
            Err(e) => return Outcome::Fail(format!("compile far.c: {e:#}")),
        };
        let funcs = match std::fs::read(&obj)
            .map_err(anyhow::Error::from)
            .and_then(|d| crate::elf::functions(&d, "__morestack"))
        {
            Ok(f) => f,
            Err(e) => return Outcome::Fail(format!("[{what}] inspect: {e:#}")),
        };
        let bti = opts.iter().any(|o| o.starts_with("-mbranch-protection"));
        let mut rewritten = (Vec::new(), Vec::new());
        let mut kept = Vec::new();
        for (name, form, min, calls_non_split) in FAR_FUNCTIONS {
            let Some(f) = funcs.iter().find(|f| f.name == *name) else {
                return Outcome::Fail(format!("[{what}] no {name} in the object"));
            };
            let fp = match judge_far(f, form, *min, bti) {
                Ok(fp) => fp,
                Err(e) => return Outcome::Fail(format!("[{what}] {e}")),
            };
            if *calls_non_split {
                rewritten.0.push(*name);
                rewritten.1.push((fp, f.code.clone()));
            } else {
                kept.push((*name, (fp, f.code.clone())));
            }
        }
        let exe = match p.link(
            &format!("far_{k}"),
            &[obj],
            &["-fsplit-stack", "-fuse-ld=gold"],
        ) {
            Ok(e) => e,
            Err(e) => {
                let line = super::first_error_line(&format!("{e:#}"), "link failed");
                return Outcome::Fail(format!("[{what}] link with gold: {line}"));
            }
        };
        let judged =
            super::linker::rewrites_in_executable(&exe, &rewritten.0, &rewritten.1, 0x100000)
                .and_then(|mut h| {
                    for (name, before) in &kept {
                        h.push(super::linker::unrewritten_in_executable(
                            &exe, name, before,
                        )?);
                    }
                    Ok(h)
                });
        match judged {
            Ok(h) => hows.push(format!("[{what}] {}", h.join("; "))),
            Err(e) => return Outcome::Fail(format!("[{what}] {e}")),
        }
        let run = p.run(&exe, &p.tc.sysroot, &[]);
        let o = super::judge_started(
            run,
            "far ok\n",
            String::new(),
            &format!("[{what}] run far.c"),
        );
        if let Outcome::Fail(_) | Outcome::Skip(_) = o {
            return o;
        }
    }
    Outcome::Pass(format!("{}; runs", hows.join("; ")))
}

/// What a corpus function's prologue must look like.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// No split-stack check (no_split_stack, or no stack and no calls);
    /// at -O0 the function may get a small-form check for its spills.
    NoCheck,
    /// The given form, asking for at least `min_bytes`, with or without
    /// the argument pointer.
    Form {
        form: &'static str,
        min_bytes: u64,
        arg_pointer: bool,
    },
}

/// Expected prologue per function of `conformance/cases/prologue.c`.
pub const PROLOGUE_CORPUS: &[(&str, Expect)] = &[
    ("frame_none", Expect::NoCheck),
    (
        "frame_16",
        Expect::Form {
            form: "S",
            min_bytes: 16,
            arg_pointer: false,
        },
    ),
    (
        "tail_call",
        Expect::Form {
            form: "S",
            min_bytes: 0,
            arg_pointer: false,
        },
    ),
    (
        "frame_256",
        Expect::Form {
            form: "S",
            min_bytes: 256,
            arg_pointer: false,
        },
    ),
    (
        "frame_4k",
        Expect::Form {
            form: "L",
            min_bytes: 4096,
            arg_pointer: false,
        },
    ),
    (
        "frame_64k",
        Expect::Form {
            form: "L",
            min_bytes: 65536,
            arg_pointer: false,
        },
    ),
    (
        "frame_1m",
        Expect::Form {
            form: "L",
            min_bytes: 1 << 20,
            arg_pointer: false,
        },
    ),
    (
        "frame_16m",
        Expect::Form {
            form: "H",
            min_bytes: 16 << 20,
            arg_pointer: false,
        },
    ),
    (
        "frame_64m",
        Expect::Form {
            form: "H",
            min_bytes: 64 << 20,
            arg_pointer: false,
        },
    ),
    (
        "leaf_512",
        Expect::Form {
            form: "S",
            min_bytes: 512,
            arg_pointer: false,
        },
    ),
    (
        "stack_args",
        Expect::Form {
            form: "S",
            min_bytes: 64,
            arg_pointer: true,
        },
    ),
    (
        "varargs",
        Expect::Form {
            form: "S",
            min_bytes: 64,
            arg_pointer: true,
        },
    ),
    (
        "dynamic_alloca",
        Expect::Form {
            form: "S",
            min_bytes: 16,
            arg_pointer: false,
        },
    ),
    ("not_split", Expect::NoCheck),
];

/// Option sets the corpus is compiled with.
const PROLOGUE_OPTIONS: &[&[&str]] = &[
    &["-O2"],
    &["-O3"],
    &["-O0"],
    &["-Os"],
    &["-O2", "-fPIC"],
    &["-O2", "-mbranch-protection=standard"],
    &["-O2", "-fstack-clash-protection"],
    &["-O1", "-mcmodel=tiny"],
];

/// Checks one function of `prologue.c` against its expectation
/// (docs/abi.md 5.2-5.4): the fast path's instructions, the guard offset,
/// exactly one branch to `__morestack`, the cold block (registers, the
/// continuation, the branch), what it asks for against the frame its
/// prologue really allocates ([`crate::prologue::judge_request`]), `bti c`
/// when BTI is on, the form of its frame class and the argument pointer.
/// `optimized`: false at -O0, where a function written without a frame
/// may get a check for its spills.  Returns the decoded fast path (None
/// if it correctly has no check).
pub fn judge_function(
    f: &crate::elf::ObjectFunction,
    expect: Expect,
    optimized: bool,
    bti: bool,
) -> Result<Option<crate::prologue::FastPath>, String> {
    use crate::prologue::{
        check_cold_block, continuation, frame_bytes, judge_request, parse_fast_path,
        requested_bytes,
    };
    let has_check = f
        .code
        .chunks(4)
        .take(3)
        .any(|w| w == 0xd53bd049u32.to_le_bytes())
        || !f.morestack_relocs.is_empty();
    match expect {
        Expect::NoCheck if !has_check => return Ok(None),
        Expect::NoCheck if optimized => {
            return Err(format!(
                "{}: has a split-stack check, expected none",
                f.name
            ))
        }
        _ => {}
    }
    let fp = parse_fast_path(&f.code).map_err(|e| format!("{}: {e}", f.name))?;
    if fp.guard_offset != abi::GUARD_OFFSET_FROM_TP {
        return Err(format!(
            "{}: loads the guard from TP{:+}, expected TP{}",
            f.name,
            fp.guard_offset,
            abi::GUARD_OFFSET_FROM_TP
        ));
    }
    if f.morestack_relocs.len() != 1 {
        return Err(format!(
            "{}: {} branches to __morestack, expected exactly one (in the cold block)",
            f.name,
            f.morestack_relocs.len()
        ));
    }
    let cont = continuation(&f.code, &fp, &f.relocs).map_err(|e| format!("{}: {e}", f.name))?;
    let small = check_cold_block(&f.code, fp.cold_at, fp.form, &f.relocs, cont)
        .map_err(|e| format!("{}: cold block: {e}", f.name))?;
    let requested = requested_bytes(fp.form, small);
    let frame = frame_bytes(&f.code, cont).map_err(|e| format!("{}: {e}", f.name))?;
    judge_request(fp.form, small, frame).map_err(|e| format!("{}: {e}", f.name))?;
    if bti && !fp.bti {
        return Err(format!(
            "{}: no `bti c` at the entry with BTI enabled",
            f.name
        ));
    }
    // docs/abi.md 5.2: with BTI, __morestack enters .Lcont by BLR (or
    // BR x16): it must be a call landing pad (bti c, or paciasp).
    if bti && !crate::prologue::call_landing_pad_at(&f.code, cont) {
        return Err(format!(
            "{}: no `bti c` (or `paciasp`) at the continuation (+{cont}) with BTI enabled: __morestack enters it by blr",
            f.name
        ));
    }
    if let Expect::Form {
        form,
        min_bytes,
        arg_pointer,
    } = expect
    {
        if fp.form.name() != form {
            return Err(format!(
                "{}: form {} (requests {requested} bytes), expected form {form}",
                f.name,
                fp.form.name()
            ));
        }
        if requested < min_bytes {
            return Err(format!(
                "{}: requests {requested} bytes, but its frame is at least {min_bytes}",
                f.name
            ));
        }
        if arg_pointer && !fp.arg_pointer {
            return Err(format!(
                "{}: has stack arguments but sets no argument pointer (mov x14, sp)",
                f.name
            ));
        }
    }
    Ok(Some(fp))
}

/// The prologue layout check.
fn layout(p: &Probe) -> Outcome {
    let mut errors = Vec::new();
    let mut max_count: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut checked = 0usize;
    for (k, opts) in PROLOGUE_OPTIONS.iter().enumerate() {
        let mut flags = vec!["-fsplit-stack", "-c"];
        flags.extend_from_slice(opts);
        let obj = match p.compile(&format!("prologue_{k}.o"), PROLOGUE_SRC, &flags) {
            Ok(o) => o,
            Err(e) => return Outcome::Fail(format!("compile prologue.c: {e:#}")),
        };
        let funcs = match std::fs::read(&obj)
            .map_err(anyhow::Error::from)
            .and_then(|d| crate::elf::functions(&d, "__morestack"))
        {
            Ok(f) => f,
            Err(e) => return Outcome::Fail(format!("inspect: {e:#}")),
        };
        let optimized = !opts.contains(&"-O0");
        let bti = opts.iter().any(|o| o.starts_with("-mbranch-protection"));
        for (name, expect) in PROLOGUE_CORPUS {
            let Some(f) = funcs.iter().find(|f| f.name == *name) else {
                errors.push(format!(
                    "[{}] {name}: not found in the object",
                    opts.join(" ")
                ));
                continue;
            };
            checked += 1;
            match judge_function(f, *expect, optimized, bti) {
                Ok(Some(fp)) => {
                    let base = fp.instructions - usize::from(fp.arg_pointer);
                    let e = max_count.entry(fp.form.name()).or_default();
                    *e = (*e).max(base);
                }
                Ok(None) => {}
                Err(e) => errors.push(format!("[{}] {e}", opts.join(" "))),
            }
        }
    }
    let outcome = if errors.is_empty() {
        let counts: Vec<String> = max_count.iter().map(|(f, n)| format!("{f} {n}")).collect();
        Outcome::Pass(format!(
            "{checked} functions under {} option sets; fast-path instructions (excluding bti, and the mov x14 of functions with stack arguments): {}",
            PROLOGUE_OPTIONS.len(),
            counts.join(", ")
        ))
    } else {
        Outcome::Fail(errors.join("\n"))
    };
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{FunctionReloc, ObjectFunction};
    use crate::prologue::{reloc, FastPath};

    const MRS: u32 = 0xd53bd049; // mrs x9, tpidr_el0
    const LDUR: u32 = 0xf85f8129; // ldur x9, [x9, #-8]
    const CMP_SP: u32 = 0xeb2963ff; // cmp sp, x9
    const BTI_C: u32 = 0xd503245f;
    const MOV_X14: u32 = 0x910003ee; // mov x14, sp

    /// A form S function: [prefix]; mrs; ldur; cmp sp, x9; b.lo .Lcold;
    /// .Lcont: [bti c when the prefix has one]; stp x29, x30, [sp,
    /// #-32]!; mov x29, sp; bl g; ldp; ret; .Lcold: sub x10, sp, #cold;
    /// adrp x12, .Lcont; add x12, ...; b __morestack.
    fn s_function(prefix: &[u32], ldur: u32, cold: u32) -> ObjectFunction {
        s_function_cont(prefix, ldur, cold, prefix.contains(&BTI_C))
    }

    /// [`s_function`] with or without `bti c` at `.Lcont`.
    fn s_function_cont(prefix: &[u32], ldur: u32, cold: u32, cont_bti: bool) -> ObjectFunction {
        let p = prefix.len() as u64 * 4;
        let extra = if cont_bti { 4 } else { 0 };
        let mut w: Vec<u32> = prefix.to_vec();
        w.extend([MRS, ldur, CMP_SP, 0x540000c3 + ((extra as u32 / 4) << 5)]); // b.lo .Lcold
        if cont_bti {
            w.push(BTI_C);
        }
        w.extend([0xa9be7bfd, 0x910003fd, 0x94000000, 0xa8c27bfd, 0xd65f03c0]);
        w.extend([
            0xd10003ea | (cold << 10),
            0x9000000c,
            0x9100018c,
            0x14000000,
        ]);
        let cont = p + 16;
        let rel = |at: u64, r_type, symbol: &str, local_target| FunctionReloc {
            at: p + extra + at,
            r_type,
            symbol: symbol.into(),
            local_target,
        };
        ObjectFunction {
            name: "f".into(),
            code: w.iter().flat_map(|x| x.to_le_bytes()).collect(),
            morestack_relocs: vec![p + extra + 48],
            relocs: vec![
                rel(24, 283, "g", None),
                rel(40, reloc::ADR_PREL_PG_HI21, "", Some(cont as i64)),
                rel(44, reloc::ADD_ABS_LO12_NC, "", Some(cont as i64)),
                rel(48, reloc::JUMP26, "__morestack", None),
            ],
        }
    }

    /// The far form of [`s_function`]: mrs; ldur; cmp sp, x9; b.hs +8;
    /// b .Lcold; .Lcont: the same body with an 80-byte frame; .Lcold: sub
    /// x10, sp, #80; adrp; add; b __morestack.
    fn far_function() -> ObjectFunction {
        let w: [u32; 14] = [
            MRS, LDUR, CMP_SP, 0x54000042, 0x14000006, 0xa9bb7bfd, 0x910003fd, 0x94000000,
            0xa8c57bfd, 0xd65f03c0, 0xd10143ea, 0x9000000c, 0x9100018c, 0x14000000,
        ];
        let rel = |at: u64, r_type, symbol: &str, local_target| FunctionReloc {
            at,
            r_type,
            symbol: symbol.into(),
            local_target,
        };
        ObjectFunction {
            name: "far_function".into(),
            code: w.iter().flat_map(|x| x.to_le_bytes()).collect(),
            morestack_relocs: vec![52],
            relocs: vec![
                rel(28, 283, "g", None),
                rel(44, reloc::ADR_PREL_PG_HI21, "", Some(20)),
                rel(48, reloc::ADD_ABS_LO12_NC, "", Some(20)),
                rel(52, reloc::JUMP26, "__morestack", None),
            ],
        }
    }

    #[test]
    fn the_far_form_is_judged_and_listed() {
        let f = far_function();
        let fp = judge_far(&f, "S", 64, false).unwrap();
        assert!(fp.far);
        assert_eq!((fp.branch_at, fp.cold_at), (12, 40));
        let text = crate::prologue::listing(&f, &fp).unwrap();
        assert!(
            text.contains("b.hs .Lcont\n    b .Lcold\n.Lcold:\n    sub x10, sp, #0x50\n"),
            "{text}"
        );
        // A near form is not what far.c must produce; BTI without bti c.
        let mut near = s_function(&[], LDUR, 32);
        near.name = "far_function".into();
        let e = judge_far(&near, "S", 64, false).unwrap_err();
        assert!(e.contains("requests 32 bytes"), "{e}");
        // A near form with a frame large enough.
        let mut w: Vec<u32> = near
            .code
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        w[4] = 0xa9bb7bfd; // stp x29, x30, [sp, #-80]!
        w[7] = 0xa8c57bfd; // ldp x29, x30, [sp], #80
        w[9] = 0xd10143ea; // sub x10, sp, #80
        near.code = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        let e = judge_far(&near, "S", 64, false).unwrap_err();
        assert!(e.contains("not the far form (b.lo at +12"), "{e}");
        assert!(judge_far(&f, "S", 64, true).unwrap_err().contains("bti c"));
    }

    fn form_s(min_bytes: u64, arg_pointer: bool) -> Expect {
        Expect::Form {
            form: "S",
            min_bytes,
            arg_pointer,
        }
    }

    #[test]
    fn a_correct_small_prologue_passes() {
        let f = s_function(&[], LDUR, 32);
        let fp = judge_function(&f, form_s(16, false), true, false)
            .unwrap()
            .unwrap();
        assert_eq!(fp.guard_offset, -8);
        let f = s_function(&[BTI_C, MOV_X14], LDUR, 32);
        assert!(judge_function(&f, form_s(16, true), true, true).is_ok());
    }

    #[test]
    fn every_rule_of_judge_function_is_enforced() {
        let good = s_function(&[], LDUR, 32);
        let err = |f: &ObjectFunction, e: Expect, opt: bool, bti: bool| {
            judge_function(f, e, opt, bti).unwrap_err()
        };
        // A check where none is expected (optimized code).
        let e = err(&good, Expect::NoCheck, true, false);
        assert!(e.contains("expected none"), "{e}");
        // ... but -O0 may add one, which must then be right.
        assert!(judge_function(&good, Expect::NoCheck, false, false)
            .unwrap()
            .is_some());
        let bad_o0 = s_function(&[], 0xf85f0129, 32);
        assert!(judge_function(&bad_o0, Expect::NoCheck, false, false).is_err());
        // A function without a check where none is expected.
        let plain = ObjectFunction {
            name: "leaf".into(),
            code: 0xd65f03c0u32.to_le_bytes().to_vec(),
            morestack_relocs: vec![],
            relocs: vec![],
        };
        assert!(judge_function(&plain, Expect::NoCheck, true, false)
            .unwrap()
            .is_none());
        assert!(judge_function(&plain, form_s(0, false), true, false).is_err());
        // The guard at another offset: ldur x9, [x9, #-16].
        let e = err(
            &s_function(&[], 0xf85f0129, 32),
            form_s(16, false),
            true,
            false,
        );
        assert!(e.contains("TP-16"), "{e}");
        // Two branches to __morestack.
        let mut two = good.clone();
        two.morestack_relocs.push(24);
        let e = err(&two, form_s(16, false), true, false);
        assert!(e.contains("2 branches"), "{e}");
        // The cold block asks for less than the frame.
        let e = err(&s_function(&[], LDUR, 16), form_s(16, false), true, false);
        assert!(e.contains("frame its prologue allocates is 32"), "{e}");
        // ... or more.
        assert!(
            judge_function(&s_function(&[], LDUR, 48), form_s(16, false), true, false).is_err()
        );
        // BTI on but no bti c.
        let e = err(&good, form_s(16, false), true, true);
        assert!(e.contains("bti c"), "{e}");
        // bti c at the entry, none at the continuation.
        let f = s_function_cont(&[BTI_C], LDUR, 32, false);
        let e = err(&f, form_s(16, false), true, true);
        assert!(e.contains("at the continuation (+20)"), "{e}");
        // Without BTI nobody asks for it.
        assert!(judge_function(&f, form_s(16, false), true, false).is_ok());
        // paciasp (and pacibsp) at the continuation are landing pads
        // themselves (docs/abi.md 5.2); bti j is not one for BLR.
        for (pad, ok) in [
            (0xd503_233fu32, true),
            (0xd503_237f, true),
            (0xd503_249f, false),
        ] {
            let mut f = s_function_cont(&[BTI_C], LDUR, 32, true);
            f.code[20..24].copy_from_slice(&pad.to_le_bytes());
            assert_eq!(
                judge_function(&f, form_s(16, false), true, true).is_ok(),
                ok,
                "{pad:#x}"
            );
        }
        // Another form than the frame class's.
        let e = err(
            &good,
            Expect::Form {
                form: "L",
                min_bytes: 4096,
                arg_pointer: false,
            },
            true,
            false,
        );
        assert!(e.contains("expected form L"), "{e}");
        // A check without a branch to __morestack is still a check.
        let mut no_reloc = good.clone();
        no_reloc.morestack_relocs.clear();
        let e = err(&no_reloc, Expect::NoCheck, true, false);
        assert!(e.contains("expected none"), "{e}");
        // Exactly the frame the source declares is enough.
        assert!(judge_function(&good, form_s(32, false), true, false).is_ok());
        // Less than the frame the source declares.
        let e = err(&good, form_s(64, false), true, false);
        assert!(e.contains("at least 64"), "{e}");
        // Stack arguments without the argument pointer.
        let e = err(&good, form_s(16, true), true, false);
        assert!(e.contains("argument pointer"), "{e}");
        // A cold block whose x12 is not the continuation.
        let mut cont = good.clone();
        cont.relocs[1].local_target = Some(20);
        let e = err(&cont, form_s(16, false), true, false);
        assert!(e.contains("cold block"), "{e}");
    }

    #[test]
    fn the_listing_names_targets_only_when_they_are_right() {
        let f = s_function(&[], LDUR, 32);
        let fp = crate::prologue::parse_fast_path(&f.code).unwrap();
        let list = |f: &ObjectFunction| crate::prologue::listing(f, &fp).unwrap();
        assert_eq!(
            list(&f),
            "    mrs x9, tpidr_el0\n    ldur x9, [x9, #-0x8]\n    cmp sp, x9\n    b.lo .Lcold\n\
             .Lcold:\n    sub x10, sp, #0x20\n    adrp x12, .Lcont\n    add x12, x12, :lo12:.Lcont\n\
             \x20   b __morestack\n"
        );
        // x12 set to another place than the continuation.
        let mut g = f.clone();
        g.relocs[1].local_target = Some(20);
        g.relocs[2].local_target = Some(36);
        let t = list(&g);
        assert!(
            t.contains("adrp x12, +20\n") && t.contains("add x12, x12, :lo12:.Lcold\n"),
            "{t}"
        );
        // Another register, another branch target.
        let mut g = f.clone();
        g.code[40..44].copy_from_slice(&0x9000000du32.to_le_bytes());
        g.relocs[3].symbol = "__morestack_non_split".into();
        let t = list(&g);
        assert!(t.contains("adrp x13, .Lcont\n"), "{t}");
        assert!(t.ends_with("    b __morestack_non_split\n"), "{t}");
        // An add without a relocation is shown as decoded.
        let mut g = f.clone();
        g.relocs.remove(2);
        let t = list(&g);
        assert!(t.contains("    add x12, x12, #0x0\n"), "{t}");
        // A cold block without its b: at most six instructions are shown.
        let mut g = f.clone();
        g.code[48..52].copy_from_slice(&0xd503201fu32.to_le_bytes());
        g.code.extend(
            [0xd503201fu32, 0xd503201f, 0xd503201f]
                .iter()
                .flat_map(|w| w.to_le_bytes()),
        );
        let t = list(&g);
        assert_eq!(t.lines().skip_while(|l| *l != ".Lcold:").count(), 7, "{t}");
        // A signed branch shows as such.
        let mut g = f.clone();
        g.code[12..16].copy_from_slice(&0x540000cbu32.to_le_bytes()); // b.lt
        let fp_lt = FastPath { ..fp.clone() };
        let t = crate::prologue::listing(&g, &fp_lt).unwrap();
        assert!(t.contains("    b.lt .Lcold\n"), "{t}");
    }
}
