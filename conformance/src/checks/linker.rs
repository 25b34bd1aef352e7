//! `linker/`: the linker's rewrite of prologues that call code without
//! `-fsplit-stack` (docs/abi.md, section 6), judged on gold's output
//! against the prologues before linking, and the calls that must not be
//! rewritten (libgcc's stack-free helpers).

use super::{judge_started as judge_output, Check};
use crate::probe::Probe;
use crate::Outcome;

/// The checks of this family.
pub fn checks() -> Vec<Check> {
    vec![
        Check::new(LINKER_ID, LINKER_TITLE, true, linker_non_split),
        Check::new(HELPERS_ID, HELPERS_TITLE, true, linker_stack_free_helpers),
    ]
}

const LINKER_ID: &str = "linker/non-split-calls";
const LINKER_TITLE: &str =
    "gold rewrites prologues that call non-split code (adjusted frame, __morestack_non_split) and the program runs";
const LINKER_CALLER_SRC: &str = include_str!("../../cases/linker_caller.c");
const LINKER_CALLEE_SRC: &str = include_str!("../../cases/linker_callee.c");

/// Reads a linked executable: its bytes and the address of each of its
/// symbols, by name.  Errors: the file cannot be read or is not ELF.
fn read_linked(
    exe: &std::path::Path,
) -> Result<(Vec<u8>, std::collections::HashMap<String, u64>), String> {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(exe).map_err(|e| format!("read: {e}"))?;
    let file = object::File::parse(&*data).map_err(|_| "linked file is not ELF".to_string())?;
    let symbols = file
        .symbols()
        .filter_map(|s| Some((s.name().ok()?.to_string(), s.address())))
        .collect();
    Ok((data, symbols))
}

/// Decodes the instruction at byte offset `at` of `code` (a linked
/// function's bytes).  Errors: `at` outside `code`, or an undecodable word.
fn decode_at(code: &[u8], at: u64) -> Result<yaxpeax_arm::armv8::a64::Instruction, String> {
    use yaxpeax_arch::{Decoder, U8Reader};
    let w = code
        .get(at as usize..at as usize + 4)
        .ok_or_else(|| format!("+{at}: outside the function"))?;
    yaxpeax_arm::armv8::a64::InstDecoder::default()
        .decode(&mut U8Reader::new(w))
        .map_err(|e| format!("+{at}: {e:?}"))
}

/// Checks a function's prologue after gold's rewrite for a call into
/// non-split code (docs/abi.md, section 6, "Rewriting"): in form S the fast
/// path now always takes the cold block (`b.lo` turned into a `b` to the
/// cold block, everything before it unchanged) and the cold block's `sub
/// x10, sp` asks for exactly ceil((frame + `adjust`) / 4096) pages; in forms
/// L and H the fast path keeps its `b.lo` to the same cold block, its guard
/// load, landing pad and argument pointer, and asks for exactly
/// ceil(`adjust` / 4096) more pages (L) or `adjust` more bytes (H).  In every form
/// the cold block branches to `__morestack_non_split` at `non_split` (an
/// address in the executable).  `before` and `before_code` are the function
/// before linking, `code` the linked function at address `func_addr`.
/// Returns what changed, or why the rewrite is wrong.
pub fn judge_rewritten(
    before: &crate::prologue::FastPath,
    before_code: &[u8],
    code: &[u8],
    func_addr: u64,
    non_split: u64,
    adjust: u64,
) -> Result<String, String> {
    use crate::prologue::{parse_fast_path, FrameForm};
    use yaxpeax_arm::armv8::a64::{Opcode, Operand};
    let decode = |at: u64| decode_at(code, at);
    let branch = decode(before.branch_at)?;
    let cold_raised = || -> Result<(u64, u64), String> {
        let was = cold_sub_bytes(before_code, before.cold_at)?;
        let now = cold_sub_bytes(code, before.cold_at)?;
        // docs/abi.md 6: P = ceil((frame + adjust) / 4096) pages.
        let want = (was + adjust).div_ceil(4096) * 4096;
        if now != want {
            return Err(format!(
                "the cold block asks for {now} bytes after linking, {was} before: \
                 not raised by {adjust} (docs/abi.md 6: ceil(({was} + {adjust}) / 4096) \
                 pages = {want} bytes)"
            ));
        }
        Ok((was, now))
    };
    let how = match (before.form, branch.opcode) {
        (FrameForm::Small, _) if before.far && crate::prologue::is_nop(&branch) => {
            // docs/abi.md 6: in the far form, b.hs becomes nop and the b
            // to the cold block stays.
            let end = before.branch_at as usize;
            if before_code.get(..end) != code.get(..end)
                || before_code.get(end + 4..end + 8) != code.get(end + 4..end + 8)
            {
                return Err(
                    "the far form's fast path was changed by the linker beyond its b.hs".into(),
                );
            }
            let (was, now) = cold_raised()?;
            format!("far form: b.hs turned into nop, cold block raised from {was} to {now} bytes")
        }
        (FrameForm::Small, _) if before.far => {
            let at = before.branch_at;
            return Err(format!(
                "+{at}: `{branch}` after linking: the far form's b.hs must become nop (docs/abi.md 6)"
            ));
        }
        (FrameForm::Small, Opcode::B) => {
            let end = before.branch_at as usize;
            if before_code.get(..end) != code.get(..end) {
                return Err("the fast path before the branch was changed by the linker".into());
            }
            let Operand::PCOffset(off) = branch.operands[0] else {
                return Err(format!(
                    "+{}: `{branch}` without a target",
                    before.branch_at
                ));
            };
            let to = before.branch_at as i64 + off;
            if to != before.cold_at as i64 {
                return Err(format!(
                    "+{}: `{branch}` after linking does not go to the cold block (+{})",
                    before.branch_at, before.cold_at
                ));
            }
            let (was, now) = cold_raised()?;
            format!("b.lo turned into b, cold block raised from {was} to {now} bytes")
        }
        (FrameForm::Small, _) => {
            return Err(format!(
                "+{}: `{branch}` after linking: form S must always take the cold block",
                before.branch_at
            ))
        }
        (_, Opcode::Bcc(_)) => {
            let after = parse_fast_path(code)?;
            if (
                after.cold_at,
                after.guard_offset,
                after.bti,
                after.arg_pointer,
                after.far,
            ) != (
                before.cold_at,
                before.guard_offset,
                before.bti,
                before.arg_pointer,
                before.far,
            ) {
                return Err(format!(
                    "the fast path after linking is not the one before with a larger frame: {after:?}, before {before:?}"
                ));
            }
            let bytes = |f: FrameForm| match f {
                FrameForm::Sub { pages } => u64::from(pages) * 4096,
                FrameForm::MovzMovk { bytes } => bytes,
                FrameForm::Small => 0,
            };
            // docs/abi.md 6: form L K += ceil(adjust / 4096), form H + adjust.
            let want = match before.form {
                FrameForm::Sub { .. } => bytes(before.form) + adjust.div_ceil(4096) * 4096,
                _ => bytes(before.form) + adjust,
            };
            if bytes(after.form) != want || after.form.name() != before.form.name() {
                return Err(format!(
                    "the fast path asks for {} bytes after linking (form {}), {} before: not \
                     raised by {adjust} (docs/abi.md 6: {want} bytes, form {})",
                    bytes(after.form),
                    after.form.name(),
                    bytes(before.form),
                    before.form.name()
                ));
            }
            format!(
                "frame raised from {} to {} bytes",
                bytes(before.form),
                bytes(after.form)
            )
        }
        _ => {
            return Err(format!(
                "+{}: `{branch}` after linking: forms L and H must keep b.lo and raise the frame",
                before.branch_at
            ))
        }
    };
    let target = cold_block_target(before, code, func_addr)?;
    if target != non_split {
        return Err(format!(
            "the cold block branches to {target:#x}, not __morestack_non_split ({non_split:#x})"
        ));
    }
    Ok(how)
}

/// The bytes that the form S cold block's first instruction, `sub x10, sp,
/// #N` or `sub x10, sp, #N, lsl #12` at byte offset `at` of `code`, asks for
/// (docs/abi.md, sections 5.3 and 6).  Errors: another instruction there.
fn cold_sub_bytes(code: &[u8], at: u64) -> Result<u64, String> {
    use yaxpeax_arm::armv8::a64::{Opcode, Operand};
    let i = decode_at(code, at)?;
    let text = i.to_string();
    let bytes = match i.operands[2] {
        Operand::Immediate(v) => Some(u64::from(v)),
        Operand::ImmShift(v, 12) => Some(u64::from(v) << 12),
        _ => None,
    };
    match bytes {
        Some(b) if i.opcode == Opcode::SUB && text.starts_with("sub x10, sp, #") => Ok(b),
        _ => Err(format!(
            "+{at}: `{text}`, expected the cold block's `sub x10, sp, #N`"
        )),
    }
}

/// The target address of the `b` that ends the cold block of the
/// function at `func_addr` whose linked code is `code` and whose fast path
/// before linking was `before`: the branch follows `sub x10` (form S
/// only) and `adrp`/`add` (or `adr` with `-mcmodel=tiny`), docs/abi.md
/// 5.3.  Errors: the words there are not a `b`, or lie outside `code`.
fn cold_block_target(
    before: &crate::prologue::FastPath,
    code: &[u8],
    func_addr: u64,
) -> Result<u64, String> {
    use yaxpeax_arm::armv8::a64::{Opcode, Operand};
    let decode = |at: u64| decode_at(code, at);
    let n = if before.form == crate::prologue::FrameForm::Small {
        3
    } else {
        2
    };
    // adrp/add, or one adr with -mcmodel=tiny (then the b comes one
    // instruction earlier, possibly as the function's last word).
    let mut at = before.cold_at + 4 * n;
    let b = match decode(at) {
        Ok(b) if b.opcode == Opcode::B => b,
        _ => {
            at -= 4;
            decode(at)?
        }
    };
    let Operand::PCOffset(off) = b.operands[0] else {
        return Err(format!("+{at}: `{b}`, expected the cold block's b"));
    };
    Ok((func_addr as i64 + at as i64 + off) as u64)
}

/// Judges a function that calls only split-stack code (here: libgcc's
/// stack-free helpers) after linking: its fast path up to and including
/// the `b.lo` must be the bytes it had before linking (`before_code`,
/// `before`), and the branch that ends the cold block must reach
/// `__morestack` at `morestack`, not `__morestack_non_split`.  `code` is
/// the linked function at address `func_addr`.  Source of the rule:
/// docs/abi.md, section 6 ("Which references count").
pub fn judge_unrewritten(
    before: &crate::prologue::FastPath,
    before_code: &[u8],
    code: &[u8],
    func_addr: u64,
    morestack: u64,
) -> Result<String, String> {
    // Up to and including the b.lo, or the far form's b.hs and b.
    let end = before.branch_at as usize + if before.far { 8 } else { 4 };
    match (before_code.get(..end), code.get(..end)) {
        (Some(a), Some(b)) if a == b => {}
        (Some(_), Some(_)) => {
            return Err(
                "the fast path was rewritten by the linker, as for a call into \
                        non-split code"
                    .into(),
            )
        }
        _ => return Err("function shorter than its fast path".into()),
    }
    let target = cold_block_target(before, code, func_addr)?;
    if target != morestack {
        return Err(format!(
            "the cold block branches to {target:#x}, not __morestack ({morestack:#x})"
        ));
    }
    Ok("fast path unchanged, cold block branches to __morestack".into())
}

const HELPERS_ID: &str = "linker/stack-free-helpers";
const HELPERS_TITLE: &str =
    "calls to libgcc's stack-free helpers (outline atomics) leave the caller's check as it is";
const ATOMICS_SRC: &str = include_str!("../../cases/atomics.c");

/// `bump` in `conformance/cases/atomics.c` calls libgcc's
/// `__aarch64_ldadd8_acq_rel` (`-moutline-atomics`); linked with gold it
/// must keep its check unchanged, and the program must run.
fn linker_stack_free_helpers(p: &Probe) -> Outcome {
    let fail = Outcome::Fail;
    let flags = ["-O2", "-fsplit-stack", "-moutline-atomics"];
    let obj = match p.compile("atomics.o", ATOMICS_SRC, &[&flags[..], &["-c"]].concat()) {
        Ok(o) => o,
        Err(e) => return fail(format!("compile: {e:#}")),
    };
    let before = match std::fs::read(&obj)
        .map_err(anyhow::Error::from)
        .and_then(|d| crate::elf::functions(&d, "__morestack"))
    {
        Ok(f) => f,
        Err(e) => return fail(format!("inspect: {e:#}")),
    };
    let Some(bump) = before.iter().find(|f| f.name == "bump") else {
        return fail("no bump in the object".into());
    };
    let fp = match crate::prologue::parse_fast_path(&bump.code) {
        Ok(fp) => fp,
        Err(e) => return fail(format!("bump before linking: {e}")),
    };
    let exe = match p.link("atomics_gold", &[obj], &["-fsplit-stack", "-fuse-ld=gold"]) {
        Ok(e) => e,
        Err(e) => return fail(format!("link with gold: {e:#}")),
    };
    let (data, symbols) = match read_linked(&exe) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let addr = |n: &str| symbols.get(n).copied();
    let (Some(func), Some(morestack)) = (addr("bump"), addr("__morestack")) else {
        return fail("bump or __morestack missing from the executable".into());
    };
    if addr("__aarch64_ldadd8_acq_rel").is_none() {
        // A compiler whose default architecture has LSE inlines the
        // atomic: then there is no call to judge.
        return Outcome::Skip(
            "bump does not call __aarch64_ldadd8_acq_rel (the atomic was inlined): nothing \
             to check"
                .into(),
        );
    }
    let after = match crate::elf::functions(&data, "__morestack") {
        Ok(f) => f,
        Err(e) => return fail(format!("inspect: {e:#}")),
    };
    let Some(linked) = after.iter().find(|f| f.name == "bump") else {
        return fail("bump missing from the executable".into());
    };
    let how = match judge_unrewritten(&fp, &bump.code, &linked.code, func, morestack) {
        Ok(h) => h,
        Err(e) => return fail(format!("bump after linking: {e}")),
    };
    let run = p.run(&exe, &p.tc.sysroot, &[]);
    judge_output(
        run,
        "atomics ok\n",
        format!("bump: {how}; runs"),
        &format!("{how}; run"),
    )
}

/// Judges the function `name` of the executable `exe` with
/// [`judge_unrewritten`] against its prologue before linking (`before`):
/// it calls only split-stack code, so the linker must leave its check
/// alone.  Returns one line, or the error.
pub(super) fn unrewritten_in_executable(
    exe: &std::path::Path,
    name: &str,
    before: &(crate::prologue::FastPath, Vec<u8>),
) -> Result<String, String> {
    let (data, symbols) = read_linked(exe)?;
    let morestack = symbols
        .get("__morestack")
        .copied()
        .ok_or("__morestack missing from the executable")?;
    let funcs =
        crate::elf::functions(&data, "__morestack").map_err(|e| format!("inspect: {e:#}"))?;
    let (Some(func), Some(f)) = (
        symbols.get(name).copied(),
        funcs.iter().find(|f| f.name == name),
    ) else {
        return Err(format!("{name} missing from the executable"));
    };
    judge_unrewritten(&before.0, &before.1, &f.code, func, morestack)
        .map(|h| format!("{name}: {h}"))
        .map_err(|e| format!("{name} (calls only split-stack code) after linking: {e}"))
}

/// Judges every function in `names` of the executable `exe` with
/// [`judge_rewritten`], against its prologue before linking (`before`,
/// same order) and the adjust size `adjust` (bytes).  Returns one line per
/// function, or the first error.
pub(super) fn rewrites_in_executable(
    exe: &std::path::Path,
    names: &[&str],
    before: &[(crate::prologue::FastPath, Vec<u8>)],
    adjust: u64,
) -> Result<Vec<String>, String> {
    let (data, symbols) = read_linked(exe)?;
    let non_split = symbols
        .get("__morestack_non_split")
        .copied()
        .ok_or("__morestack_non_split missing from the executable")?;
    let funcs =
        crate::elf::functions(&data, "__morestack").map_err(|e| format!("inspect: {e:#}"))?;
    let mut hows = Vec::new();
    for (n, (fp, code)) in names.iter().zip(before) {
        let (Some(func), Some(f)) = (
            symbols.get(*n).copied(),
            funcs.iter().find(|f| f.name == *n),
        ) else {
            return Err(format!("{n} missing from the executable"));
        };
        let h = judge_rewritten(fp, code, &f.code, func, non_split, adjust)
            .map_err(|e| format!("{n} after linking: {e}"))?;
        hows.push(format!("{n} ({}): {h}", fp.form.name()));
    }
    Ok(hows)
}

fn linker_non_split(p: &Probe) -> Outcome {
    let fail = Outcome::Fail;
    let caller = p.compile(
        "linker_caller.o",
        LINKER_CALLER_SRC,
        &["-O2", "-fsplit-stack", "-c"],
    );
    let callee = p.compile("linker_callee.o", LINKER_CALLEE_SRC, &["-O2", "-c"]);
    let (caller, callee) = match (caller, callee) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(format!("compile: {e:#}")),
    };
    // The callers, one per prologue form, and their prologues before linking.
    let names = [
        "split_caller",
        "split_caller_l",
        "split_caller_h",
        "address_of_non_split",
        // In .text.startup at -O2, and calls printf.
        "main",
    ];
    let before_funcs = match std::fs::read(&caller)
        .map_err(anyhow::Error::from)
        .and_then(|d| crate::elf::functions(&d, "__morestack"))
    {
        Ok(f) => f,
        Err(e) => return fail(format!("inspect: {e:#}")),
    };
    let split_only = match before_funcs.iter().find(|f| f.name == "split_only") {
        Some(f) => match crate::prologue::parse_fast_path(&f.code) {
            Ok(fp) => (fp, f.code.clone()),
            Err(e) => return fail(format!("split_only before linking: {e}")),
        },
        None => return fail("no split_only in the object".into()),
    };
    let mut before = Vec::new();
    for n in names {
        let Some(f) = before_funcs.iter().find(|f| f.name == n) else {
            return fail(format!("no {n} in the object"));
        };
        match crate::prologue::parse_fast_path(&f.code) {
            Ok(fp) => before.push((fp, f.code.clone())),
            Err(e) => return fail(format!("{n} before linking: {e}")),
        }
    }
    let exe = match p.link(
        "linker_gold",
        &[caller.clone(), callee.clone()],
        &["-fsplit-stack", "-fuse-ld=gold"],
    ) {
        Ok(e) => e,
        Err(e) => {
            let line = super::first_error_line(&format!("{e:#}"), "link failed");
            return fail(format!("link with gold: {line}"));
        }
    };
    let mut hows = match rewrites_in_executable(&exe, &names, &before, 0x100000).and_then(|h| {
        Ok((
            h,
            unrewritten_in_executable(&exe, "split_only", &split_only)?,
        ))
    }) {
        Ok((mut h, u)) => {
            h.push(u);
            h
        }
        Err(e) => return fail(e),
    };
    // A custom --split-stack-adjust-size is honoured by every form.
    let custom = 0x300000u64;
    let adjust_flag = format!("-Wl,--split-stack-adjust-size={custom:#x}");
    match p
        .link(
            "linker_gold_adjust",
            &[caller.clone(), callee.clone()],
            &["-fsplit-stack", "-fuse-ld=gold", &adjust_flag],
        )
        .map_err(|e| format!("{e:#}"))
        .and_then(|exe| {
            rewrites_in_executable(&exe, &names, &before, custom)?;
            unrewritten_in_executable(&exe, "split_only", &split_only)
        }) {
        Ok(_) => hows.push(format!(
            "--split-stack-adjust-size={custom:#x} honoured by every form"
        )),
        Err(e) => return fail(format!("custom adjust size: {e}")),
    }
    // The rewrite does not depend on the link order, the stub grouping or
    // the output section: gold turns the last code section of every stub
    // group into a relaxed section (docs/abi.md, section 6, "When"); with
    // -z keep-text-section-prefix, main's .text.startup is alone in its
    // output section.
    let variants: [(&str, bool, &[&str]); 5] = [
        (
            "-z keep-text-section-prefix",
            false,
            &["-Wl,-z,keep-text-section-prefix"],
        ),
        ("callee first", true, &[]),
        ("--stub-group-size=4", false, &["-Wl,--stub-group-size=4"]),
        (
            "callee first, --stub-group-size=4",
            true,
            &["-Wl,--stub-group-size=4"],
        ),
        ("-static", false, &["-static"]),
    ];
    for (i, (what, swap, flags)) in variants.iter().enumerate() {
        let objs = if *swap {
            [callee.clone(), caller.clone()]
        } else {
            [caller.clone(), callee.clone()]
        };
        let all_flags = [&["-fsplit-stack", "-fuse-ld=gold"][..], flags].concat();
        if let Err(e) = p
            .link(&format!("linker_gold_order{i}"), &objs, &all_flags)
            .map_err(|e| format!("{e:#}"))
            .and_then(|exe| {
                rewrites_in_executable(&exe, &names, &before, 0x100000)?;
                unrewritten_in_executable(&exe, "split_only", &split_only)
            })
        {
            return fail(format!("{what}: {e}"));
        }
    }
    hows.push(
        "the same (split_only unchanged included) with the callee first, with \
         --stub-group-size=4, with -z keep-text-section-prefix and -static"
            .into(),
    );
    let how = hows.join("; ");
    let run = p.run(&exe, &p.tc.sysroot, &[]);
    judge_output(
        run,
        "linker ok\n",
        format!("{how}; runs"),
        &format!("{how}; run"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A form S prologue: mrs; ldur; cmp sp, x9; b.lo +4; then the cold
    /// block: sub x10, sp, #272; adrp x12; add x12; and `cold_branch`.
    fn s_form(cold_branch: u32) -> [u32; 8] {
        [
            0xd53bd049,
            0xf85f8129,
            0xeb2963ff,
            0x54000023,
            0xd10443ea,
            0x9000000c,
            0x9100018c,
            cold_branch,
        ]
    }

    #[test]
    fn a_prologue_left_unchanged_by_the_linker_fails() {
        // b +0x100 (not __morestack_non_split)
        let words = s_form(0x14000040);
        let code: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let before = crate::prologue::parse_fast_path(&code).unwrap();
        let e = judge_rewritten(&before, &code, &code, 0x1000, 0x9000, 0x100000).unwrap_err();
        assert!(e.contains("always take the cold block"), "{e}");
        let bytes = |w: [u32; 8]| -> Vec<u8> { w.iter().flat_map(|w| w.to_le_bytes()).collect() };
        // The branch retargeted, b.lo kept: form S must always branch.
        let mut w2 = words;
        w2[7] = 0x14000000 | ((0x9000 - 0x101c) / 4); // b __morestack_non_split
        let e = judge_rewritten(&before, &code, &bytes(w2), 0x1000, 0x9000, 0x100000).unwrap_err();
        assert!(e.contains("always take the cold block"), "{e}");
        // b.lo turned into b, but the cold block still asks for 272 bytes:
        // the adjust size is not honoured.
        w2[3] = 0x14000001; // b +4
        let e = judge_rewritten(&before, &code, &bytes(w2), 0x1000, 0x9000, 0x100000).unwrap_err();
        assert!(e.contains("not raised"), "{e}");
        // sub x10, sp, #0x101, lsl #12: 272 + 0x100000 bytes, rounded up.
        w2[4] = 0xd14407ea;
        assert!(judge_rewritten(&before, &code, &bytes(w2), 0x1000, 0x9000, 0x100000).is_ok());
        // ... but not for a larger adjust size.
        assert!(judge_rewritten(&before, &code, &bytes(w2), 0x1000, 0x9000, 0x300000).is_err());
    }

    #[test]
    fn the_far_form_s_turns_b_hs_into_nop() {
        // mrs; ldur; cmp sp, x9; b.hs +8; b +8 (cold block at +24); ret;
        // cold: sub x10, sp, #272; adrp x12; add x12; b (unresolved).
        let before_words: [u32; 10] = [
            0xd53bd049, 0xf85f8129, 0xeb2963ff, 0x54000042, 0x14000002, 0xd65f03c0, 0xd10443ea,
            0x9000000c, 0x9100018c, 0x14000000,
        ];
        let bytes = |w: &[u32]| -> Vec<u8> { w.iter().flat_map(|w| w.to_le_bytes()).collect() };
        let code = bytes(&before_words);
        let before = crate::prologue::parse_fast_path(&code).unwrap();
        assert!(before.far);
        let mut after = before_words;
        after[3] = 0xd503201f; // nop
        after[6] = 0xd14407ea; // sub x10, sp, #0x101, lsl #12
        after[9] = 0x14000000 | ((0x9000 - 0x1024) / 4); // b __morestack_non_split
        let ok = judge_rewritten(&before, &code, &bytes(&after), 0x1000, 0x9000, 0x100000);
        assert!(ok.as_ref().is_ok_and(|h| h.contains("far form")), "{ok:?}");
        // The cold block not raised.
        let mut w = after;
        w[6] = before_words[6];
        let e = judge_rewritten(&before, &code, &bytes(&w), 0x1000, 0x9000, 0x100000).unwrap_err();
        assert!(e.contains("not raised"), "{e}");
        // b.hs kept, or turned into a b or another hint (bti c): the fast
        // path may skip the cold block, or is not what docs/abi.md says.
        // (bti c and bti are hints too, bti with immediate 0 like nop;
        // movz x0, #0 writes an immediate 0).
        for br in [0x54000042, 0x14000002, 0xd503245f, 0xd503241f, 0xd2800000] {
            let mut w = after;
            w[3] = br;
            let e =
                judge_rewritten(&before, &code, &bytes(&w), 0x1000, 0x9000, 0x100000).unwrap_err();
            assert!(e.contains("must become nop"), "{e}");
        }
        // The b to the cold block retargeted.
        let mut w = after;
        w[4] = 0x14000001;
        let e = judge_rewritten(&before, &code, &bytes(&w), 0x1000, 0x9000, 0x100000).unwrap_err();
        assert!(e.contains("beyond its b.hs"), "{e}");
        // Left alone, the far form is unrewritten: fast path and b intact.
        let mut w = before_words;
        w[9] = 0x14000000 | ((0x8000 - 0x1024) / 4); // b __morestack
        assert!(judge_unrewritten(&before, &code, &bytes(&w), 0x1000, 0x8000).is_ok());
        w[4] = 0x14000001;
        assert!(judge_unrewritten(&before, &code, &bytes(&w), 0x1000, 0x8000).is_err());
    }

    #[test]
    fn a_caller_of_stack_free_helpers_must_stay_unrewritten() {
        // b with its relocation unresolved (0 in the object)
        let words = s_form(0x14000000);
        let obj: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let before = crate::prologue::parse_fast_path(&obj).unwrap();
        let link = |w: [u32; 8]| -> Vec<u8> { w.iter().flat_map(|w| w.to_le_bytes()).collect() };
        // Linked at 0x1000, the cold block branching to __morestack at 0x8000.
        let mut good = words;
        good[7] = 0x14000000 | ((0x8000 - 0x101c) / 4);
        assert!(judge_unrewritten(&before, &obj, &link(good), 0x1000, 0x8000).is_ok());
        // b.lo turned into b: rewritten as for a non-split callee.
        let mut rewritten = good;
        rewritten[3] = 0x14000001;
        let e = judge_unrewritten(&before, &obj, &link(rewritten), 0x1000, 0x8000).unwrap_err();
        assert!(e.contains("rewritten"), "{e}");
        // A raised frame is a rewrite too.
        let mut raised = good;
        raised[2] = 0xd14403ea; // sub x10, sp, #256, lsl #12
        assert!(judge_unrewritten(&before, &obj, &link(raised), 0x1000, 0x8000).is_err());
        // The cold block sent to another target (__morestack_non_split).
        let mut other = good;
        other[7] = 0x14000000 | ((0x9000 - 0x101c) / 4);
        let e = judge_unrewritten(&before, &obj, &link(other), 0x1000, 0x8000).unwrap_err();
        assert!(e.contains("not __morestack"), "{e}");
        // A linked function shorter than the fast path.
        assert!(judge_unrewritten(&before, &obj, &link(good)[..8], 0x1000, 0x8000).is_err());
    }

    fn bytes(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// `b` at `from` to `to` (addresses).
    fn b(from: u64, to: u64) -> u32 {
        0x14000000 | ((((to as i64 - from as i64) / 4) as u32) & 0x03ff_ffff)
    }

    #[test]
    fn form_s_must_branch_to_its_cold_block_with_the_rest_unchanged() {
        let words = s_form(0x14000000);
        let before = crate::prologue::parse_fast_path(&bytes(&words)).unwrap();
        let mut good = words;
        good[3] = 0x14000001; // b +4: the cold block
        good[4] = 0xd14407ea; // sub x10, sp, #0x101, lsl #12
        good[7] = b(0x101c, 0x9000);
        let ok = |w: &[u32]| {
            judge_rewritten(&before, &bytes(&words), &bytes(w), 0x1000, 0x9000, 0x100000)
        };
        assert!(ok(&good).is_ok(), "{:?}", ok(&good));
        // The check turned into a nop: the cold block is never taken.
        let mut nop = good;
        nop[3] = 0xd503201f;
        assert!(ok(&nop).is_err());
        // b elsewhere.
        let mut elsewhere = good;
        elsewhere[3] = 0x14000002;
        let e = ok(&elsewhere).unwrap_err();
        assert!(e.contains("does not go to the cold block"), "{e}");
        // The guard load changed.
        let mut load = good;
        load[1] = 0xf85f0129;
        let e = ok(&load).unwrap_err();
        assert!(e.contains("before the branch was changed"), "{e}");
        // Raised by exactly the adjust size is enough.
        let exact = 0x101000 - 272;
        let with_adjust = |adjust| {
            judge_rewritten(
                &before,
                &bytes(&words),
                &bytes(&good),
                0x1000,
                0x9000,
                adjust,
            )
        };
        assert!(with_adjust(exact).is_ok());
        assert!(with_adjust(exact + 1).is_err());
        // The cold block's sub is no longer a sub x10, sp.
        let mut sub = good;
        sub[4] = 0xd14407eb; // sub x11
        assert!(ok(&sub).is_err());
    }

    /// A form L function: mrs; ldur; sub x10, sp, #`pages`, lsl #12; cmp
    /// x10, x9; b.lo +8; ret; adrp x12; add x12; b `cold_branch`.
    fn l_form(pages: u32, cold_branch: u32) -> Vec<u8> {
        bytes(&[
            0xd53bd049,
            0xf85f8129,
            0xd14003ea | (pages << 10),
            0xeb09015f,
            0x54000043,
            0xd65f03c0,
            0x9000000c,
            0x9100018c,
            cold_branch,
        ])
    }

    #[test]
    fn forms_l_and_h_keep_b_lo_and_raise_the_frame() {
        let obj = l_form(2, 0x14000000);
        let before = crate::prologue::parse_fast_path(&obj).unwrap();
        let at = |w: u32| l_form(258, w);
        let to_non_split = b(0x1020, 0x9000);
        let judge =
            |code: &[u8], adjust| judge_rewritten(&before, &obj, code, 0x1000, 0x9000, adjust);
        let h = judge(&at(to_non_split), 0x100000).unwrap();
        assert_eq!(h, "frame raised from 8192 to 1056768 bytes");
        // Raised by more than the adjust size asked for.
        assert!(judge(&at(to_non_split), 0xff000).is_err());
        // An adjust size that is not a whole page is rounded up (K +=
        // ceil(adjust / 4096)).
        assert!(judge(&at(to_non_split), 0xff800).is_ok());
        // Raised, but not by the adjust size asked for.
        let e = judge(&at(to_non_split), 0x200000).unwrap_err();
        assert!(e.contains("not raised"), "{e}");
        assert!(judge(&l_form(257, to_non_split), 0x100000).is_err());
        // Unchanged.
        assert!(judge(&l_form(2, to_non_split), 0x100000).is_err());
        // The cold block still goes to __morestack (0x8000).
        let e = judge(&at(b(0x1020, 0x8000)), 0x100000).unwrap_err();
        assert!(e.contains("not __morestack_non_split"), "{e}");
        // b.lo turned into b, as for form S.
        let mut code = at(to_non_split);
        code[16..20].copy_from_slice(&0x14000002u32.to_le_bytes());
        let e = judge(&code, 0x100000).unwrap_err();
        assert!(e.contains("must keep b.lo"), "{e}");
        // b.lo to another place than the cold block.
        let mut code = at(to_non_split);
        code[16..20].copy_from_slice(&0x54000063u32.to_le_bytes()); // b.lo +12
        assert!(judge(&code, 0x100000).is_err());
        // The guard load changed.
        let mut code = at(to_non_split);
        code[4..8].copy_from_slice(&0xf85f0129u32.to_le_bytes());
        assert!(judge(&code, 0x100000).is_err());

        // Form H: movz x10, #0x10; movk x10, #hi, lsl #16; sub x10, sp, x10;
        // cmp x10, x9; b.lo +8; ret; adrp; add; b.
        let h_form = |hi: u32, cold: u32| {
            bytes(&[
                0xd53bd049,
                0xf85f8129,
                0xd280020a,
                0xf2a0000a | (hi << 5),
                0xcb2a63ea,
                0xeb09015f,
                0x54000043,
                0xd65f03c0,
                0x9000000c,
                0x9100018c,
                cold,
            ])
        };
        let obj = h_form(0x100, 0x14000000);
        let before = crate::prologue::parse_fast_path(&obj).unwrap();
        let to_non_split = b(0x1028, 0x9000);
        let judge = |code: &[u8]| judge_rewritten(&before, &obj, code, 0x1000, 0x9000, 0x100000);
        assert_eq!(
            judge(&h_form(0x110, to_non_split)).unwrap(),
            "frame raised from 16777232 to 17825808 bytes"
        );
        assert!(judge(&h_form(0x10f, to_non_split)).is_err());
        assert!(judge(&h_form(0x110, b(0x1028, 0x8000))).is_err());
    }

    #[test]
    fn the_tiny_cold_block_ends_one_instruction_earlier() {
        // Form L with -mcmodel=tiny: ...; b.lo +8; ret; adr x12; b.
        let obj = bytes(&[
            0xd53bd049, 0xf85f8129, 0xd1400bea, 0xeb09015f, 0x54000043, 0xd65f03c0, 0x1000000c,
            0x14000000,
        ]);
        let before = crate::prologue::parse_fast_path(&obj).unwrap();
        let mut linked = obj.clone();
        linked[28..32].copy_from_slice(&b(0x101c, 0x8000).to_le_bytes());
        assert_eq!(cold_block_target(&before, &linked, 0x1000), Ok(0x8000));
        assert!(judge_unrewritten(&before, &obj, &linked, 0x1000, 0x8000).is_ok());
        assert!(judge_unrewritten(&before, &obj, &linked, 0x1000, 0x9000).is_err());
        // ... or followed by more code.
        let mut longer = linked.clone();
        longer.extend(0xd503201fu32.to_le_bytes());
        assert_eq!(cold_block_target(&before, &longer, 0x1000), Ok(0x8000));
    }
}
