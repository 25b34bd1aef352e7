//! Structural check of split-stack prologues (docs/abi.md, section 5.2 and
//! 5.3): the machine code of a function is decoded with `yaxpeax-arm` into
//! instructions and operands, and matched against the forms of the ABI.

use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Instruction, Opcode, Operand, SizeCode};

/// `tpidr_el0` as `yaxpeax-arm` encodes a system register operand
/// (o0:op1:CRn:CRm:op2 = 1:011:1101:0000:010).
pub const TPIDR_EL0: u16 = 0x5e82;

/// Condition code of `b.lo` (`b.cc`): unsigned lower.
pub const COND_LO: u8 = 3;

/// Frames up to this many bytes compare SP itself (docs/abi.md, 5.1).
pub const SMALL_FRAME_LIMIT: u64 = 4096;

/// The fast-path form of a prologue (docs/abi.md, 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameForm {
    /// `cmp sp, x9`: frames of at most 4096 bytes.
    Small,
    /// `sub x10, sp, #pages, lsl #12; cmp x10, x9`.
    Sub {
        /// The frame size requested, in 4 KiB pages.
        pages: u32,
    },
    /// `movz x10; movk x10, lsl #16; sub x10, sp, x10; cmp x10, x9`.
    MovzMovk {
        /// The frame size requested, in bytes.
        bytes: u64,
    },
}

impl FrameForm {
    /// Short name used in reports: S, L or H.
    pub fn name(&self) -> &'static str {
        match self {
            FrameForm::Small => "S",
            FrameForm::Sub { .. } => "L",
            FrameForm::MovzMovk { .. } => "H",
        }
    }
}

/// A decoded fast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastPath {
    /// The form of the compare.
    pub form: FrameForm,
    /// Whether `mov x14, sp` (the argument pointer) precedes the check.
    pub arg_pointer: bool,
    /// Whether a `bti c` landing pad precedes the check.
    pub bti: bool,
    /// Instructions executed on the fast path, not counting `bti` hints.
    pub instructions: usize,
    /// Offset of the guard from TP, as loaded by the `ldur` (bytes; any
    /// value is reported: judging it against docs/abi.md is the caller's
    /// job).
    pub guard_offset: i64,
    /// Byte offset (from the function start) of the `b.lo`.
    pub branch_at: u64,
    /// Byte offset (from the function start) of the cold block.
    pub cold_at: u64,
}

fn decode(code: &[u8], at: usize) -> Result<Instruction, String> {
    let word = code
        .get(at..at + 4)
        .ok_or_else(|| format!("function ends at +{at} inside the split-stack check"))?;
    let mut r = U8Reader::new(word);
    InstDecoder::default()
        .decode(&mut r)
        .map_err(|e| format!("+{at}: cannot decode {word:02x?}: {e:?}"))
}

fn is_x(op: &Operand, n: u16) -> bool {
    matches!(op, Operand::Register(SizeCode::X, r) | Operand::RegisterOrSP(SizeCode::X, r) if *r == n)
}

fn is_sp(op: &Operand) -> bool {
    matches!(op, Operand::RegisterOrSP(SizeCode::X, 31))
}

fn is_plain_reg(op: &Operand, n: u16) -> bool {
    matches!(op, Operand::RegShift(_, 0, SizeCode::X, r) if *r == n)
        || matches!(op, Operand::Register(SizeCode::X, r) if *r == n)
}

fn is_bti_c(i: &Instruction) -> bool {
    i.opcode == Opcode::HINT
        && matches!(i.operands[0], Operand::ControlReg(4))
        && matches!(i.operands[1], Operand::Immediate(2))
}

/// Registers the fast path may write (docs/abi.md, 5.3): x9-x17.
fn scratch(n: u16) -> bool {
    (9..=17).contains(&n)
}

/// Explains why an unexpected instruction is not allowed in the fast path.
fn unexpected(at: usize, i: &Instruction, expected: &str) -> String {
    if let Operand::Register(_, n) | Operand::RegisterOrSP(_, n) = i.operands[0] {
        let writes = !matches!(
            i.opcode,
            Opcode::STR | Opcode::STUR | Opcode::STP | Opcode::Bcc(_) | Opcode::CBZ | Opcode::CBNZ
        );
        if writes && n != 31 && !scratch(n) {
            return format!(
                "+{at}: `{i}` writes x{n}, which must reach the body unchanged (only x9-x17 may be written before the branch)"
            );
        }
    }
    format!("+{at}: `{i}`, expected {expected}")
}

/// Decodes and checks the fast path at the start of `code` (a function's
/// bytes).  Errors name the offending instruction and the rule.
pub fn parse_fast_path(code: &[u8]) -> Result<FastPath, String> {
    let mut at = 0usize;
    let mut i = decode(code, at)?;
    let bti = is_bti_c(&i);
    if bti {
        at += 4;
        i = decode(code, at)?;
    }
    let mut count = 0usize;
    let arg_pointer = i.opcode == Opcode::ADD
        && is_x(&i.operands[0], 14)
        && is_sp(&i.operands[1])
        && matches!(i.operands[2], Operand::Immediate(0));
    if arg_pointer {
        count += 1;
        at += 4;
        i = decode(code, at)?;
    }
    if !(i.opcode == Opcode::MRS
        && is_x(&i.operands[0], 9)
        && matches!(i.operands[1], Operand::SystemReg(TPIDR_EL0)))
    {
        return Err(unexpected(at, &i, "`mrs x9, tpidr_el0` (read TP)"));
    }
    count += 1;
    at += 4;
    let i = decode(code, at)?;
    let guard_offset = match (i.opcode, &i.operands[0], &i.operands[1]) {
        (Opcode::LDUR | Opcode::LDR, d, Operand::RegPreIndex(9, off, false)) if is_x(d, 9) => {
            *off as i64
        }
        _ => return Err(unexpected(at, &i, "`ldur x9, [x9, #off]` (load the guard)")),
    };
    count += 1;
    at += 4;
    let i = decode(code, at)?;
    let is_cmp_with_x9 = |i: &Instruction, lhs_sp: bool| {
        i.opcode == Opcode::SUBS
            && matches!(i.operands[0], Operand::Register(SizeCode::X, 31))
            && if lhs_sp {
                is_sp(&i.operands[1])
            } else {
                is_x(&i.operands[1], 10)
            }
            && is_plain_reg(&i.operands[2], 9)
    };
    let form = if is_cmp_with_x9(&i, true) {
        count += 1;
        at += 4;
        FrameForm::Small
    } else if i.opcode == Opcode::SUB && is_x(&i.operands[0], 10) && is_sp(&i.operands[1]) {
        let Operand::ImmShift(pages, 12) = i.operands[2] else {
            return Err(unexpected(at, &i, "`sub x10, sp, #N, lsl #12`"));
        };
        count += 1;
        at += 4;
        let c = decode(code, at)?;
        if !is_cmp_with_x9(&c, false) {
            return Err(unexpected(at, &c, "`cmp x10, x9`"));
        }
        count += 1;
        at += 4;
        FrameForm::Sub {
            pages: pages as u32,
        }
    } else if i.opcode == Opcode::MOVZ && is_x(&i.operands[0], 10) {
        let Operand::ImmShift(lo, 0) = i.operands[1] else {
            return Err(unexpected(at, &i, "`movz x10, #lo16`"));
        };
        let k = decode(code, at + 4)?;
        let (Opcode::MOVK, Operand::ImmShift(hi, 16)) = (k.opcode, k.operands[1]) else {
            return Err(unexpected(at + 4, &k, "`movk x10, #hi16, lsl #16`"));
        };
        if !is_x(&k.operands[0], 10) {
            return Err(unexpected(at + 4, &k, "`movk x10, #hi16, lsl #16`"));
        }
        let s = decode(code, at + 8)?;
        if !(s.opcode == Opcode::SUB
            && is_x(&s.operands[0], 10)
            && is_sp(&s.operands[1])
            && is_plain_reg(&s.operands[2], 10))
        {
            return Err(unexpected(at + 8, &s, "`sub x10, sp, x10`"));
        }
        let c = decode(code, at + 12)?;
        if !is_cmp_with_x9(&c, false) {
            return Err(unexpected(at + 12, &c, "`cmp x10, x9`"));
        }
        count += 4;
        at += 16;
        FrameForm::MovzMovk {
            bytes: (lo as u64) | ((hi as u64) << 16),
        }
    } else {
        return Err(unexpected(
            at,
            &i,
            "`cmp sp, x9`, `sub x10, sp, #N, lsl #12` or `movz x10, ...`",
        ));
    };
    let b = decode(code, at)?;
    let Opcode::Bcc(cond) = b.opcode else {
        return Err(unexpected(at, &b, "`b.lo .Lcold`"));
    };
    if cond != COND_LO {
        let signed = matches!(cond, 10..=13);
        return Err(format!(
            "+{at}: `{b}` branches on condition {cond}{}, expected b.lo (unsigned lower)",
            if signed { " (a signed compare)" } else { "" }
        ));
    }
    let Operand::PCOffset(off) = b.operands[0] else {
        return Err(unexpected(at, &b, "`b.lo .Lcold`"));
    };
    count += 1;
    let cold = at as i64 + off;
    if cold <= at as i64 {
        return Err(format!(
            "+{at}: `{b}` goes backwards; the cold block must be out of line after the check"
        ));
    }
    Ok(FastPath {
        form,
        arg_pointer,
        bti,
        instructions: count,
        guard_offset,
        branch_at: at as u64,
        cold_at: cold as u64,
    })
}

/// The offset from TP (bytes, signed) of the first thread-pointer-relative
/// access in `code` (a function's bytes): `mrs xT, tpidr_el0` among its
/// first four instructions, followed by a load or store (`ldur`, `ldr`,
/// `stur`, `str`) whose base register is xT, without writeback.  Used for
/// the guard accesses of GCC's prologues and of libgcc's
/// `__morestack_get_guard`/`__morestack_set_guard`; any offset is
/// reported.  Errors: no `mrs` of `tpidr_el0` there, or another
/// instruction after it.
pub fn tp_access_offset(code: &[u8]) -> Result<i64, String> {
    for at in (0..4).map(|k| k * 4) {
        let Ok(i) = decode(code, at) else {
            break;
        };
        if i.opcode != Opcode::MRS || !matches!(i.operands[1], Operand::SystemReg(TPIDR_EL0)) {
            continue;
        }
        let Operand::Register(SizeCode::X, t) = i.operands[0] else {
            return Err(format!("+{at}: `{i}`, expected mrs xN, tpidr_el0"));
        };
        let acc = decode(code, at + 4)?;
        return match (acc.opcode, &acc.operands[1]) {
            (
                Opcode::LDUR | Opcode::STUR | Opcode::LDR | Opcode::STR,
                Operand::RegPreIndex(base, off, false),
            ) if *base == t => Ok(i64::from(*off)),
            _ => Err(format!(
                "+{}: `{acc}`, expected a load or store at [x{t}, #off]",
                at + 4
            )),
        };
    }
    Err("no `mrs xN, tpidr_el0` in the first four instructions".into())
}

/// The cold block (docs/abi.md, 5.3) at `code[at..]`: an optional
/// `sub x10, sp, #frame` (form S only), the continuation in x12 (`adrp`
/// and `add`, or `adr`), and a branch whose relocation `morestack_reloc_at`
/// says whether it goes to `__morestack`.  Returns the frame size the cold
/// block passes for form S (bytes), if any.
pub fn check_cold_block(
    code: &[u8],
    at: u64,
    form: FrameForm,
    branch_to_morestack: impl Fn(u64) -> bool,
) -> Result<Option<u64>, String> {
    let mut at = at as usize;
    let mut i = decode(code, at)?;
    let mut small_size = None;
    if form == FrameForm::Small {
        let ok = i.opcode == Opcode::SUB && is_x(&i.operands[0], 10) && is_sp(&i.operands[1]);
        let size = match i.operands[2] {
            Operand::Immediate(v) if ok => v as u64,
            Operand::ImmShift(v, 0) if ok => v as u64,
            Operand::ImmShift(v, 12) if ok => (v as u64) << 12,
            _ => {
                return Err(unexpected(
                    at,
                    &i,
                    "`sub x10, sp, #frame` in the cold block",
                ))
            }
        };
        if size > SMALL_FRAME_LIMIT {
            return Err(format!(
                "+{at}: the small form asks for {size} bytes, more than {SMALL_FRAME_LIMIT}"
            ));
        }
        small_size = Some(size);
        at += 4;
        i = decode(code, at)?;
    }
    match i.opcode {
        Opcode::ADRP if is_x(&i.operands[0], 12) => {
            at += 4;
            let a = decode(code, at)?;
            if !(a.opcode == Opcode::ADD && is_x(&a.operands[0], 12) && is_x(&a.operands[1], 12)) {
                return Err(unexpected(at, &a, "`add x12, x12, :lo12:.Lcont`"));
            }
        }
        Opcode::ADR if is_x(&i.operands[0], 12) => {}
        _ => {
            return Err(unexpected(
                at,
                &i,
                "`adrp x12, .Lcont` or `adr x12, .Lcont`",
            ))
        }
    }
    at += 4;
    let b = decode(code, at)?;
    if b.opcode != Opcode::B {
        return Err(unexpected(at, &b, "`b __morestack`"));
    }
    if !branch_to_morestack(at as u64) {
        return Err(format!("+{at}: `{b}` does not branch to __morestack"));
    }
    Ok(small_size)
}

/// The fast path and the cold block as text, one instruction a line,
/// with PC-relative operands written as the labels of docs/abi.md
/// (`.Lcold`, `.Lcont`, `__morestack`), so that a snapshot diff shows only
/// what a reviewer must look at.  Errors: undecodable instructions.
pub fn listing(code: &[u8], fp: &FastPath) -> Result<String, String> {
    let mut out = String::new();
    let mut at = 0usize;
    while at as u64 <= fp.branch_at {
        let i = decode(code, at)?;
        let text = match i.opcode {
            Opcode::Bcc(_) => "b.lo .Lcold".to_string(),
            _ => i.to_string(),
        };
        out.push_str(&format!("    {text}\n"));
        at += 4;
    }
    out.push_str(".Lcold:\n");
    let mut at = fp.cold_at as usize;
    loop {
        let i = decode(code, at)?;
        let text = match i.opcode {
            Opcode::ADRP => "adrp x12, .Lcont".to_string(),
            Opcode::ADR => "adr x12, .Lcont".to_string(),
            Opcode::ADD if is_x(&i.operands[0], 12) => "add x12, x12, :lo12:.Lcont".to_string(),
            Opcode::B => "b __morestack".to_string(),
            _ => i.to_string(),
        };
        out.push_str(&format!("    {text}\n"));
        if i.opcode == Opcode::B || at > fp.cold_at as usize + 16 {
            break;
        }
        at += 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    const MRS: u32 = 0xd53bd049; // mrs x9, tpidr_el0
    const LDUR: u32 = 0xf85f8129; // ldur x9, [x9, #-8]
    const CMP_SP: u32 = 0xeb2963ff; // cmp sp, x9
    const BLO_16: u32 = 0x54000083; // b.lo +16

    #[test]
    fn small_form_is_four_instructions() {
        let p = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BLO_16])).unwrap();
        assert_eq!(p.form, FrameForm::Small);
        assert_eq!(p.instructions, 4);
        assert_eq!(p.cold_at, 12 + 16);
    }

    #[test]
    fn sub_form_with_bti_and_arg_pointer() {
        // bti c; mov x14, sp; mrs; ldur; sub x10, sp, #17, lsl #12; cmp x10, x9; b.lo
        let code = bytes(&[
            0xd503245f, 0x910003ee, MRS, LDUR, 0xd14047ea, 0xeb09015f, 0x54000083,
        ]);
        let p = parse_fast_path(&code).unwrap();
        assert_eq!(p.form, FrameForm::Sub { pages: 17 });
        assert!(p.bti && p.arg_pointer);
        assert_eq!(p.instructions, 6);
    }

    #[test]
    fn any_guard_offset_is_reported() {
        // ldur x9, [x9, #-16]
        let p = parse_fast_path(&bytes(&[MRS, 0xf85f0129, CMP_SP, BLO_16])).unwrap();
        assert_eq!(p.guard_offset, -16);
        assert_eq!(
            parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BLO_16]))
                .unwrap()
                .guard_offset,
            -8
        );
    }

    #[test]
    fn tp_relative_accesses_are_decoded() {
        assert_eq!(tp_access_offset(&bytes(&[MRS, LDUR, CMP_SP])), Ok(-8));
        // bti c; mov x14, sp; mrs; ldur x9, [x9, #-16]
        assert_eq!(
            tp_access_offset(&bytes(&[0xd503245f, 0x910003ee, MRS, 0xf85f0129])),
            Ok(-16)
        );
        // mrs x1, tpidr_el0; stur x0, [x1, #-8] (libgcc's set_guard shape)
        assert_eq!(tp_access_offset(&bytes(&[0xd53bd041, 0xf81f8020])), Ok(-8));
        // The access must use the register mrs wrote: ldur x9, [x10, #-8].
        assert!(tp_access_offset(&bytes(&[MRS, 0xf85f8149])).is_err());
        // No TP read at all.
        assert!(tp_access_offset(&bytes(&[LDUR, CMP_SP, BLO_16, CMP_SP, MRS, LDUR])).is_err());
        // Something else after mrs.
        assert!(tp_access_offset(&bytes(&[MRS, CMP_SP])).is_err());
    }

    #[test]
    fn signed_branch_fails() {
        // b.lt +16
        let e = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, 0x5400008b])).unwrap_err();
        assert!(e.contains("signed"), "{e}");
    }

    #[test]
    fn clobbered_argument_register_fails() {
        // mov x1, sp before the check
        let e = parse_fast_path(&bytes(&[0x910003e1, MRS, LDUR, CMP_SP, BLO_16])).unwrap_err();
        assert!(e.contains("writes x1"), "{e}");
    }

    #[test]
    fn missing_tp_read_fails() {
        let e = parse_fast_path(&bytes(&[LDUR, CMP_SP, BLO_16])).unwrap_err();
        assert!(e.contains("mrs x9, tpidr_el0"), "{e}");
    }

    #[test]
    fn cold_block_must_reach_morestack() {
        // sub x10, sp, #272; adrp x12, 0; add x12, x12, #0; b 0
        let code = bytes(&[0xd10443ea, 0x9000000c, 0x9100018c, 0x14000000]);
        assert_eq!(
            check_cold_block(&code, 0, FrameForm::Small, |at| at == 12),
            Ok(Some(272))
        );
        let e = check_cold_block(&code, 0, FrameForm::Small, |_| false).unwrap_err();
        assert!(e.contains("does not branch to __morestack"), "{e}");
    }
}
