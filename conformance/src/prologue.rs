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

/// Condition code of `b.hs` (`b.cs`): unsigned higher or same, the
/// inverted branch of the far form (docs/abi.md, 5.2).
pub const COND_HS: u8 = 2;

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
    /// Byte offset (from the function start) of the `b.lo`, or in the
    /// far form of the `b.hs` over the `b` to the cold block.
    pub branch_at: u64,
    /// The far form (docs/abi.md, 5.2: the cold block is out of reach of
    /// `b.lo`, in a function larger than 1 MiB): `b.hs .+8; b .Lcold`.
    pub far: bool,
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

/// `paciasp` and `pacibsp`: landing pads for `BLR` and `BR x16`/`x17`
/// themselves (BTYPE 10 and 01; docs/abi.md 5.2).
const PACIXSP: [u32; 2] = [0xd503_233f, 0xd503_237f];

/// Whether the instruction at byte offset `at` of `code` is a landing
/// pad for `BLR` and `BR x16` (BTYPE 10 and 01, how `__morestack` and
/// `__morestack_non_split` enter a continuation; docs/abi.md 5.2):
/// `bti c`, `bti jc`, `paciasp` or `pacibsp`.  False outside `code`.
pub fn call_landing_pad_at(code: &[u8], at: u64) -> bool {
    let at = at as usize;
    let word = code
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if word.is_some_and(|w| PACIXSP.contains(&w)) {
        return true;
    }
    decode(code, at).is_ok_and(|i| {
        is_bti_c(&i)
            || (i.opcode == Opcode::HINT
                && matches!(i.operands[0], Operand::ControlReg(4))
                && matches!(i.operands[1], Operand::Immediate(6)))
    })
}

/// Whether `i` is `nop` (`hint #0`).
pub fn is_nop(i: &Instruction) -> bool {
    i.opcode == Opcode::HINT
        && matches!(i.operands[0], Operand::ControlReg(0))
        && matches!(i.operands[1], Operand::Immediate(0))
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
    // `bti c` and the NOPs of -fpatchable-function-entry, in any order
    // (docs/abi.md 5.4, "Patchable function entries").
    let mut bti = false;
    while is_bti_c(&i) || is_nop(&i) {
        bti |= is_bti_c(&i);
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
    if cond != COND_LO && cond != COND_HS {
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
    let (cold, far) = if cond == COND_HS {
        // The far form: `b.hs .+8` over `b .Lcold`; the fast path takes
        // the b.hs.
        if off != 8 {
            return Err(format!(
                "+{at}: `{b}` branches on condition hs (inverted), expected b.lo .Lcold, or \
                 b.hs .+8 over `b .Lcold` (the far form)"
            ));
        }
        let far = decode(code, at + 4)?;
        let (Opcode::B, Operand::PCOffset(to)) = (far.opcode, far.operands[0]) else {
            return Err(unexpected(at + 4, &far, "the far form's `b .Lcold`"));
        };
        // A `b` that the assembler did not resolve (a tail call, with a
        // relocation: offset 0 in an object) is no branch to the cold block.
        if to <= 4 {
            return Err(format!(
                "+{}: `{far}` after `{b}` does not reach a cold block after it (a b.lo \
                 inverted into b.hs, or a tail call?)",
                at + 4
            ));
        }
        (at as i64 + 4 + to, true)
    } else {
        (at as i64 + off, false)
    };
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
        far,
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

/// ELF relocation types the cold block uses (AArch64 ELF ABI).
pub mod reloc {
    /// `R_AARCH64_ADR_PREL_LO21` (`adr`).
    pub const ADR_PREL_LO21: u32 = 274;
    /// `R_AARCH64_ADR_PREL_PG_HI21` (`adrp`).
    pub const ADR_PREL_PG_HI21: u32 = 275;
    /// `R_AARCH64_ADD_ABS_LO12_NC` (`add ..., :lo12:`).
    pub const ADD_ABS_LO12_NC: u32 = 277;
    /// `R_AARCH64_JUMP26` (`b`).
    pub const JUMP26: u32 = 282;
}

/// The continuation `.Lcont` of a fast path, in bytes from the function's
/// start (docs/abi.md, 5.2 and 5.3): the instruction after the `b.lo`;
/// at -O0, where the cold block stays right after the check, the fast
/// path jumps over it with a `b` (resolved by the assembler: no
/// relocation in `relocs`), and `.Lcont` is that branch's target.  A `b`
/// with a relocation there is the function's body (a tail call).
pub fn continuation(
    code: &[u8],
    fp: &FastPath,
    relocs: &[crate::elf::FunctionReloc],
) -> Result<u64, String> {
    let at = fp.branch_at + if fp.far { 8 } else { 4 };
    let i = decode(code, at as usize)?;
    if at == fp.cold_at || i.opcode != Opcode::B || relocs.iter().any(|r| r.at == at) {
        return Ok(at);
    }
    let Operand::PCOffset(off) = i.operands[0] else {
        return Ok(at);
    };
    let target = at as i64 + off;
    if target <= fp.cold_at as i64 {
        return Err(format!(
            "+{at}: `{i}` after the check does not jump over the cold block"
        ));
    }
    Ok(target as u64)
}

/// The target, in bytes from the function's start, of the PC-relative
/// instruction at `at`: from its relocation when it has one in its own
/// section (`relocs`, see [`crate::elf::FunctionReloc`]), else, for `adr`
/// and branches that the assembler resolved, from the decoded offset.
fn local_target(
    code: &[u8],
    at: u64,
    relocs: &[crate::elf::FunctionReloc],
) -> Result<Option<i64>, String> {
    if let Some(r) = relocs.iter().find(|r| r.at == at) {
        return Ok(r.local_target);
    }
    let i = decode(code, at as usize)?;
    Ok(match (i.opcode, i.operands[0], i.operands[1]) {
        (Opcode::ADR, _, Operand::PCOffset(off)) => Some(at as i64 + off),
        (Opcode::B | Opcode::Bcc(_), Operand::PCOffset(off), _) => Some(at as i64 + off),
        _ => None,
    })
}

/// The cold block (docs/abi.md, 5.3) at `code[at..]`: an optional
/// `sub x10, sp, #frame` (form S only), the continuation `cont` (bytes
/// from the function's start, [`continuation`]) put into x12 (`adrp` and
/// `add`, or `adr`), and a `b` whose relocation (`relocs`) targets
/// `__morestack`.  Returns the frame size the cold block passes for form
/// S (bytes), if any.  Errors name the instruction and the rule.
pub fn check_cold_block(
    code: &[u8],
    at: u64,
    form: FrameForm,
    relocs: &[crate::elf::FunctionReloc],
    cont: u64,
) -> Result<Option<u64>, String> {
    let mut at = at as usize;
    let mut i = decode(code, at)?;
    let mut small_size = None;
    if form == FrameForm::Small {
        let ok = i.opcode == Opcode::SUB && is_x(&i.operands[0], 10) && is_sp(&i.operands[1]);
        let size = match i.operands[2] {
            Operand::Immediate(v) if ok => v as u64,
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
    let points_at_cont = |at: usize| -> Result<(), String> {
        match local_target(code, at as u64, relocs)? {
            Some(t) if t == cont as i64 => Ok(()),
            Some(t) => Err(format!(
                "+{at}: `{}` puts +{t} into x12, not the continuation .Lcont (+{cont})",
                decode(code, at)?
            )),
            None => Err(format!(
                "+{at}: `{}` does not refer to the continuation .Lcont (+{cont})",
                decode(code, at)?
            )),
        }
    };
    match i.opcode {
        Opcode::ADRP if is_x(&i.operands[0], 12) => {
            points_at_cont(at)?;
            at += 4;
            let a = decode(code, at)?;
            if !(a.opcode == Opcode::ADD && is_x(&a.operands[0], 12) && is_x(&a.operands[1], 12)) {
                return Err(unexpected(at, &a, "`add x12, x12, :lo12:.Lcont`"));
            }
            points_at_cont(at)?;
        }
        Opcode::ADR if is_x(&i.operands[0], 12) => points_at_cont(at)?,
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
    if !relocs
        .iter()
        .any(|r| r.at == at as u64 && r.symbol == "__morestack" && r.r_type == reloc::JUMP26)
    {
        return Err(format!("+{at}: `{b}` does not branch to __morestack"));
    }
    Ok(small_size)
}

/// The stack the function's own prologue allocates after the check, in
/// bytes, decoded from its instructions starting at the continuation
/// `cont` (bytes from the function's start): the sum of every constant
/// SP decrement (`sub sp, sp, #imm[, lsl #12]`, `sub sp, sp, xN` with xN
/// set by `mov`/`movz`/`movk`, and pre-indexed stores with writeback such
/// as `stp x29, x30, [sp, #-N]!`) up to the first branch, call or
/// return, or the first non-constant SP change (a dynamic allocation,
/// which docs/abi.md 5.5 checks separately).  This is the "frame size"
/// of docs/abi.md 5.1 for frames without SVE state.
pub fn frame_bytes(code: &[u8], cont: u64) -> Result<u64, String> {
    let mut at = cont as usize;
    let mut total: u64 = 0;
    let mut consts: [Option<u64>; 32] = [None; 32];
    // xN = incoming SP - this many bytes (`sub xN, sp, ...`), for the
    // probing loops of -fstack-clash-protection.
    let mut below_sp: [Option<u64>; 32] = [None; 32];
    // The register compared with SP by the previous instruction.
    let mut compared: Option<u16> = None;
    for _ in 0..64 {
        let Ok(i) = decode(code, at) else {
            break;
        };
        // A probing loop: `1: sub sp, sp, #4096; str xzr, [sp, #..];
        // cmp sp, xN; b.ne 1b` ends with SP at xN.
        if let (Opcode::Bcc(_), Operand::PCOffset(off), Some(n)) =
            (i.opcode, i.operands[0], compared)
        {
            if let (true, Some(t)) = (off < 0, below_sp[usize::from(n)]) {
                total = t;
                compared = None;
                at += 4;
                continue;
            }
        }
        compared = match (i.opcode, i.operands[0], i.operands[1], i.operands[2]) {
            (
                Opcode::SUBS,
                Operand::Register(SizeCode::X, 31),
                op1,
                Operand::RegShift(_, 0, SizeCode::X, n) | Operand::Register(SizeCode::X, n),
            ) if is_sp(&op1) => Some(n),
            _ => None,
        };
        if compared.is_some() {
            at += 4;
            continue;
        }
        match i.opcode {
            Opcode::B
            | Opcode::BL
            | Opcode::BLR
            | Opcode::BR
            | Opcode::RET
            | Opcode::Bcc(_)
            | Opcode::CBZ
            | Opcode::CBNZ
            | Opcode::TBZ
            | Opcode::TBNZ => break,
            _ => {}
        }
        let writes_sp = matches!(i.operands[0], Operand::RegisterOrSP(SizeCode::X, 31));
        if let (Opcode::SUB, Operand::RegisterOrSP(SizeCode::X, n), op1) =
            (i.opcode, i.operands[0], i.operands[1])
        {
            if n != 31 && is_sp(&op1) {
                let bytes = match i.operands[2] {
                    Operand::Immediate(v) => Some(u64::from(v)),
                    Operand::ImmShift(v, sh) => Some(u64::from(v) << sh),
                    Operand::RegShift(_, 0, SizeCode::X, m) | Operand::Register(SizeCode::X, m) => {
                        consts[usize::from(m)]
                    }
                    _ => None,
                };
                below_sp[usize::from(n)] = bytes.map(|b| total.saturating_add(b));
                at += 4;
                continue;
            }
        }
        match (i.opcode, i.operands[0], i.operands[1], i.operands[2]) {
            (Opcode::SUB, _, op1, Operand::Immediate(v)) if writes_sp && is_sp(&op1) => {
                total = total.saturating_add(u64::from(v))
            }
            (Opcode::SUB, _, op1, Operand::ImmShift(v, sh)) if writes_sp && is_sp(&op1) => {
                total = total.saturating_add(u64::from(v) << sh)
            }
            (Opcode::SUB, _, op1, op2) if writes_sp && is_sp(&op1) => {
                let n = match op2 {
                    Operand::RegShift(_, 0, SizeCode::X, n) | Operand::Register(SizeCode::X, n) => {
                        n
                    }
                    _ => break,
                };
                match consts[usize::from(n)] {
                    Some(v) => total = total.saturating_add(v),
                    None => break,
                }
            }
            (Opcode::MOVZ, Operand::Register(_, n), Operand::ImmShift(v, sh), _) => {
                consts[usize::from(n)] = Some(u64::from(v) << sh)
            }
            (Opcode::MOVN, Operand::Register(size, n), Operand::ImmShift(v, sh), _) => {
                consts[usize::from(n)] = match size {
                    SizeCode::W => Some(u64::from(!(u32::from(v) << sh))),
                    SizeCode::X => Some(!(u64::from(v) << sh)),
                }
            }
            // mov wN/xN, #bitmask (orr with the zero register); a W
            // write is zero-extended.
            (
                Opcode::ORR,
                Operand::Register(size, n) | Operand::RegisterOrSP(size, n),
                Operand::Register(_, 31),
                imm,
            ) if n != 31 => {
                let v = match imm {
                    Operand::Imm64(v) => Some(v),
                    Operand::Immediate(v) => Some(u64::from(v)),
                    _ => None,
                };
                consts[usize::from(n)] = v.map(|v| match size {
                    SizeCode::W => v & 0xffff_ffff,
                    SizeCode::X => v,
                });
            }
            (Opcode::MOVK, Operand::Register(_, n), Operand::ImmShift(v, sh), _) => {
                if let Some(c) = consts[usize::from(n)].as_mut() {
                    *c = (*c & !(0xffff << sh)) | (u64::from(v) << sh);
                }
            }
            (
                Opcode::STP | Opcode::STR | Opcode::STUR,
                _,
                _,
                Operand::RegPreIndex(31, off, true),
            )
            | (Opcode::STR | Opcode::STUR, _, Operand::RegPreIndex(31, off, true), _)
                if off < 0 =>
            {
                total = total.saturating_add(off.unsigned_abs() as u64)
            }
            _ if writes_sp => break,
            _ => {}
        }
        at += 4;
    }
    Ok(total)
}

/// The bytes a fast path asks for, per docs/abi.md 5.2: form S passes
/// its frame in the cold block (`cold_small`, from [`check_cold_block`]),
/// form L asks for `K` pages of 4096 bytes, form H for its `movz`/`movk`
/// constant.
pub fn requested_bytes(form: FrameForm, cold_small: Option<u64>) -> u64 {
    match form {
        FrameForm::Small => cold_small.unwrap_or(0),
        FrameForm::Sub { pages } => u64::from(pages) * 4096,
        FrameForm::MovzMovk { bytes } => bytes,
    }
}

/// Judges what a prologue asks for against its frame (`frame`, bytes,
/// [`frame_bytes`]), docs/abi.md 5.2: form S asks for exactly the frame
/// (at most 4096 bytes), form L for `K = ceil(frame / 4096)` pages (a
/// frame above 4096 bytes and at most 0xfff000), form H for exactly the
/// frame (above 0xfff000).  Errors say what was asked and what the frame
/// needs.
pub fn judge_request(form: FrameForm, cold_small: Option<u64>, frame: u64) -> Result<(), String> {
    let asked = requested_bytes(form, cold_small);
    let ok = match form {
        FrameForm::Small => frame <= SMALL_FRAME_LIMIT && asked == frame,
        FrameForm::Sub { pages } => {
            frame > SMALL_FRAME_LIMIT
                && frame <= SUB_FORM_LIMIT
                && u64::from(pages) == frame.div_ceil(4096)
        }
        FrameForm::MovzMovk { bytes } => frame > SUB_FORM_LIMIT && bytes == frame,
    };
    if ok {
        Ok(())
    } else {
        let want = match form {
            FrameForm::Sub { .. } => format!("K = ceil({frame} / 4096) = {}", frame.div_ceil(4096)),
            _ => format!("{frame} bytes"),
        };
        Err(format!(
            "form {} asks for {asked} bytes, but the frame its prologue allocates is {frame} bytes (docs/abi.md 5.2: {want})",
            form.name()
        ))
    }
}

/// Frames above this many bytes use form H (docs/abi.md, 5.1: the
/// `sub ..., lsl #12` limit, 16 MiB - 4 KiB).
pub const SUB_FORM_LIMIT: u64 = 0xfff000;

/// The fast path and the cold block as text, one instruction a line, for
/// snapshots: registers and conditions as decoded; a PC-relative operand
/// is written as the label of docs/abi.md only when it really is that
/// target (`.Lcold` for the cold block, `.Lcont` for the continuation,
/// the symbol of a relocation such as `__morestack`), and as `+N` (bytes
/// from the function's start) otherwise, so that a changed register,
/// condition or target changes the snapshot.  Errors: undecodable
/// instructions.
pub fn listing(f: &crate::elf::ObjectFunction, fp: &FastPath) -> Result<String, String> {
    let code = &f.code;
    let cont = continuation(code, fp, &f.relocs)?;
    let label = |at: u64| -> Result<String, String> {
        if let Some(r) = f.relocs.iter().find(|r| r.at == at && !r.symbol.is_empty()) {
            return Ok(r.symbol.clone());
        }
        Ok(match local_target(code, at, &f.relocs)? {
            Some(t) if t == cont as i64 => ".Lcont".into(),
            Some(t) if t == fp.cold_at as i64 => ".Lcold".into(),
            Some(t) => format!("+{t}"),
            None => "?".into(),
        })
    };
    let text = |at: u64| -> Result<String, String> {
        let i = decode(code, at as usize)?;
        let full = i.to_string();
        Ok(match i.opcode {
            Opcode::B | Opcode::Bcc(_) => {
                let mnemonic = full.split(' ').next().unwrap_or_default();
                format!("{mnemonic} {}", label(at)?)
            }
            Opcode::ADRP | Opcode::ADR => {
                let head = full.rsplit_once(", ").map(|x| x.0).unwrap_or(&full);
                format!("{head}, {}", label(at)?)
            }
            Opcode::ADD if f.relocs.iter().any(|r| r.at == at) => {
                let head = full.rsplit_once(", ").map(|x| x.0).unwrap_or(&full);
                format!("{head}, :lo12:{}", label(at)?)
            }
            _ => full,
        })
    };
    let mut out = String::new();
    let mut at = 0u64;
    // The far form's `b .Lcold` follows its `b.hs`.
    while at <= fp.branch_at + if fp.far { 4 } else { 0 } {
        out.push_str(&format!("    {}\n", text(at)?));
        at += 4;
    }
    out.push_str(".Lcold:\n");
    let mut at = fp.cold_at;
    loop {
        let i = decode(code, at as usize)?;
        out.push_str(&format!("    {}\n", text(at)?));
        if i.opcode == Opcode::B || at > fp.cold_at + 16 {
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
    fn the_far_form_branches_over_a_b_to_the_cold_block() {
        const BHS_8: u32 = 0x54000042; // b.hs +8
        const B_12: u32 = 0x14000003; // b +12
        const STP: u32 = 0xa9bf7bfd; // stp x29, x30, [sp, #-16]!
        const SUB: u32 = 0xd10043ea; // sub x10, sp, #16
        let code = bytes(&[MRS, LDUR, CMP_SP, BHS_8, B_12, STP, 0xd65f03c0, SUB]);
        let p = parse_fast_path(&code).unwrap();
        assert!(p.far);
        assert_eq!((p.branch_at, p.cold_at, p.instructions), (12, 28, 4));
        assert_eq!(continuation(&code, &p, &[]), Ok(20));
        // b.lo keeps the near form.
        let near = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BLO_16])).unwrap();
        assert!(!near.far);
        // b.hs that skips more than the b, or a b.hs without a b after it.
        let e = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, 0x54000062, B_12, STP])).unwrap_err();
        assert!(e.contains("inverted") && e.starts_with("+12:"), "{e}");
        // b.hs .+8 over a b that is a tail call (unresolved: offset 0) or
        // goes to the next instruction.
        for b in [0x14000000, 0x14000001] {
            let e = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BHS_8, b, STP])).unwrap_err();
            assert!(
                e.contains("does not reach a cold block") && e.starts_with("+16:"),
                "{e}"
            );
        }
        // b +8 is the smallest far branch.
        let p = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BHS_8, 0x14000002, STP, STP])).unwrap();
        assert_eq!(p.cold_at, 24);
        let e = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BHS_8, STP, STP])).unwrap_err();
        assert!(
            e.contains("far form's `b .Lcold`") && e.starts_with("+16:"),
            "{e}"
        );
        // A backwards b is no cold block.
        let e = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BHS_8, 0x17fffffc, STP])).unwrap_err();
        assert!(e.contains("does not reach"), "{e}");
    }

    #[test]
    fn small_form_is_four_instructions() {
        let p = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BLO_16])).unwrap();
        assert_eq!(p.form, FrameForm::Small);
        assert_eq!(p.instructions, 4);
        assert_eq!(p.cold_at, 12 + 16);
    }

    #[test]
    fn patchable_entry_nops_may_surround_bti() {
        const NOP: u32 = 0xd503201f;
        const BTI: u32 = 0xd503245f;
        let p = parse_fast_path(&bytes(&[NOP, NOP, MRS, LDUR, CMP_SP, BLO_16])).unwrap();
        assert!(!p.bti);
        assert_eq!((p.instructions, p.branch_at), (4, 20));
        let p = parse_fast_path(&bytes(&[NOP, BTI, NOP, MRS, LDUR, CMP_SP, BLO_16])).unwrap();
        assert!(p.bti);
        assert_eq!(p.instructions, 4);
        // Other hints are not NOPs: paciasp before the check is wrong.
        assert!(parse_fast_path(&bytes(&[NOP, 0xd503233f, MRS, LDUR, CMP_SP, BLO_16])).is_err());
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

    /// Fast paths that differ from a form of docs/abi.md 5.2 in one
    /// instruction: each must be rejected.
    #[test]
    fn every_wrong_instruction_of_the_fast_path_is_rejected() {
        const CMP_X10: u32 = 0xeb09015f; // cmp x10, x9
        let sub_l = 0xd14047ea; // sub x10, sp, #17, lsl #12
        let (movz, movk, sub_h) = (0xd280020a, 0xf2a0200a, 0xcb2a63ea);
        // Sanity: the good forms parse.
        assert!(parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BLO_16])).is_ok());
        assert!(parse_fast_path(&bytes(&[MRS, LDUR, sub_l, CMP_X10, BLO_16])).is_ok());
        let h = parse_fast_path(&bytes(&[MRS, LDUR, movz, movk, sub_h, CMP_X10, BLO_16])).unwrap();
        assert_eq!(h.form, FrameForm::MovzMovk { bytes: 0x0100_0010 });
        assert_eq!(h.instructions, 7);
        let bad: &[(&str, &[u32])] = &[
            ("mrs x8", &[0xd53bd048, LDUR, CMP_SP, BLO_16]),
            ("tpidr_el1", &[0xd538d089, LDUR, CMP_SP, BLO_16]),
            ("msr", &[0xd51bd049, LDUR, CMP_SP, BLO_16]),
            ("ldur x8", &[MRS, 0xf85f8128, CMP_SP, BLO_16]),
            ("ldur from x8", &[MRS, 0xf85f8109, CMP_SP, BLO_16]),
            ("cmn", &[MRS, LDUR, 0xab2963ff, BLO_16]),
            ("subs x1", &[MRS, LDUR, 0xeb2963e1, BLO_16]),
            ("cmp sp, x8", &[MRS, LDUR, 0xeb2863ff, BLO_16]),
            ("sub x11", &[MRS, LDUR, 0xd14047eb, CMP_X10, BLO_16]),
            ("sub from x1", &[MRS, LDUR, 0xd140442a, CMP_X10, BLO_16]),
            ("add", &[MRS, LDUR, 0x914047ea, CMP_X10, BLO_16]),
            ("no lsl #12", &[MRS, LDUR, 0xd10047ea, CMP_X10, BLO_16]),
            ("cmp x11", &[MRS, LDUR, sub_l, 0xeb09017f, BLO_16]),
            ("cmp x10, x8", &[MRS, LDUR, sub_l, 0xeb08015f, BLO_16]),
            (
                "movk x11",
                &[MRS, LDUR, movz, 0xf2a0200b, sub_h, CMP_X10, BLO_16],
            ),
            (
                "movn x10",
                &[MRS, LDUR, 0x9280020a, movk, sub_h, CMP_X10, BLO_16],
            ),
            (
                "movz x11",
                &[MRS, LDUR, 0xd280020b, movk, sub_h, CMP_X10, BLO_16],
            ),
            (
                "movk lsl 0",
                &[MRS, LDUR, movz, 0xf280200a, sub_h, CMP_X10, BLO_16],
            ),
            (
                "sub from x1 (H)",
                &[MRS, LDUR, movz, movk, 0xcb2a602a, CMP_X10, BLO_16],
            ),
            (
                "sub x11 (H)",
                &[MRS, LDUR, movz, movk, 0xcb2b63ea, CMP_X10, BLO_16],
            ),
            (
                "cmp x11 (H)",
                &[MRS, LDUR, movz, movk, sub_h, 0xeb09017f, BLO_16],
            ),
            ("no branch", &[MRS, LDUR, CMP_SP, CMP_SP]),
            ("backwards", &[MRS, LDUR, CMP_SP, 0x54ffffe3]),
            ("paciasp first", &[0xd503233f, MRS, LDUR, CMP_SP, BLO_16]),
            ("bti j first", &[0xd503249f, MRS, LDUR, CMP_SP, BLO_16]),
            ("mov x14, x1", &[0x9100002e, MRS, LDUR, CMP_SP, BLO_16]),
            ("add x14, sp, #16", &[0x910043ee, MRS, LDUR, CMP_SP, BLO_16]),
            ("truncated", &[MRS, LDUR, CMP_SP]),
        ];
        // Errors name the offending instruction's offset.
        let at = |words: &[u32]| parse_fast_path(&bytes(words)).unwrap_err();
        assert!(at(&[MRS, LDUR, movz, 0xf2a0200b, sub_h, CMP_X10, BLO_16]).starts_with("+12:"));
        assert!(at(&[MRS, LDUR, movz, 0xf280200a, sub_h, CMP_X10, BLO_16]).starts_with("+12:"));
        assert!(at(&[MRS, LDUR, movz, movk, 0xcb2b63ea, CMP_X10, BLO_16]).starts_with("+16:"));
        assert!(at(&[MRS, LDUR, movz, movk, sub_h, 0xeb09017f, BLO_16]).starts_with("+20:"));
        assert!(at(&[MRS, LDUR, sub_l, 0xeb09017f, BLO_16]).starts_with("+12:"));
        for (what, words) in bad {
            assert!(
                parse_fast_path(&bytes(words)).is_err(),
                "{what}: accepted {:?}",
                parse_fast_path(&bytes(words))
            );
        }
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
        // Another system register (tpidr_el1), or a store to tpidr_el0.
        assert!(tp_access_offset(&bytes(&[0xd538d089, LDUR])).is_err());
        assert!(tp_access_offset(&bytes(&[0xd51bd049, LDUR])).is_err());
        // Writeback: ldr x9, [x9, #-8]!
        assert!(tp_access_offset(&bytes(&[MRS, 0xf85f8d29])).is_err());
        // The fifth instruction is too late.
        assert!(tp_access_offset(&bytes(&[CMP_SP, CMP_SP, CMP_SP, CMP_SP, MRS, LDUR])).is_err());
        assert_eq!(
            tp_access_offset(&bytes(&[CMP_SP, CMP_SP, CMP_SP, MRS, LDUR])),
            Ok(-8)
        );
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
    fn cold_block_must_reach_morestack_and_continue_at_cont() {
        use crate::elf::FunctionReloc;
        // sub x10, sp, #272; adrp x12, 0; add x12, x12, #0; b 0
        let code = bytes(&[0xd10443ea, 0x9000000c, 0x9100018c, 0x14000000]);
        let rel = |at, r_type, symbol: &str, local_target| FunctionReloc {
            at,
            r_type,
            symbol: symbol.into(),
            local_target,
        };
        let good = vec![
            rel(4, reloc::ADR_PREL_PG_HI21, "", Some(-100)),
            rel(8, reloc::ADD_ABS_LO12_NC, "", Some(-100)),
            rel(12, reloc::JUMP26, "__morestack", None),
        ];
        let cont = (-100i64) as u64;
        assert_eq!(
            check_cold_block(&code, 0, FrameForm::Small, &good, cont),
            Ok(Some(272))
        );
        // The branch goes elsewhere.
        let mut r = good.clone();
        r[2].symbol = "__morestack_non_split".into();
        let e = check_cold_block(&code, 0, FrameForm::Small, &r, cont).unwrap_err();
        assert!(e.contains("does not branch to __morestack"), "{e}");
        // x12 is not the continuation (adrp or add).
        for k in 0..2 {
            let mut r = good.clone();
            r[k].local_target = Some(-96);
            let e = check_cold_block(&code, 0, FrameForm::Small, &r, cont).unwrap_err();
            assert!(e.contains("not the continuation"), "{e}");
        }
        // Form S needs the sub; forms L/H do not have it.
        let e = check_cold_block(&code[4..], 0, FrameForm::Small, &good, cont).unwrap_err();
        assert!(e.contains("sub x10, sp, #frame"), "{e}");
        // adr x12, +8 resolved by the assembler (no relocation).
        let code = bytes(&[0x1000004c, 0x14000000]);
        let r = vec![rel(4, reloc::JUMP26, "__morestack", None)];
        assert_eq!(
            check_cold_block(&code, 0, FrameForm::Sub { pages: 2 }, &r, 8),
            Ok(None)
        );
        assert!(check_cold_block(&code, 0, FrameForm::Sub { pages: 2 }, &r, 12).is_err());
        // Another register.
        let code = bytes(&[0x1000004d, 0x14000000]); // adr x13, +8
        assert!(check_cold_block(&code, 0, FrameForm::Sub { pages: 2 }, &r, 8).is_err());
    }

    #[test]
    fn every_wrong_instruction_of_the_cold_block_is_rejected() {
        use crate::elf::FunctionReloc;
        let rel = |at, r_type, symbol: &str, local_target| FunctionReloc {
            at,
            r_type,
            symbol: symbol.into(),
            local_target,
        };
        // [sub]; adrp x12; add x12, x12; b __morestack, continuation +100.
        let run = |words: &[u32], form: FrameForm| {
            let k = words.len() as u64 - 3;
            let relocs = vec![
                rel(4 * k, reloc::ADR_PREL_PG_HI21, "", Some(100)),
                rel(4 * k + 4, reloc::ADD_ABS_LO12_NC, "", Some(100)),
                rel(4 * k + 8, reloc::JUMP26, "__morestack", None),
            ];
            check_cold_block(&bytes(words), 0, form, &relocs, 100)
        };
        let (adrp, add, b) = (0x9000000c, 0x9100018c, 0x14000000);
        let l = FrameForm::Sub { pages: 2 };
        assert_eq!(run(&[adrp, add, b], l), Ok(None));
        assert_eq!(
            run(&[0xd10443ea, adrp, add, b], FrameForm::Small),
            Ok(Some(272))
        );
        // 4096 bytes exactly is still form S; 8192 is not.
        assert_eq!(
            run(&[0xd14007ea, adrp, add, b], FrameForm::Small),
            Ok(Some(4096))
        );
        assert!(run(&[0xd1400bea, adrp, add, b], FrameForm::Small).is_err());
        for (what, words) in [
            ("sub x11", &[0xd10443eb, adrp, add, b][..]),
            ("sub x11, lsl #12", &[0xd14007eb, adrp, add, b]),
            ("add, lsl #12", &[0x914007ea, adrp, add, b]),
            ("sub from x1", &[0xd104402a, adrp, add, b]),
            ("add", &[0x910443ea, adrp, add, b]),
            ("adrp x13", &[0xd10443ea, 0x9000000d, add, b]),
            ("add x13, x13", &[0xd10443ea, adrp, 0x910001ad, b]),
            ("add x12, x13", &[0xd10443ea, adrp, 0x910001ac, b]),
            ("add x13, x12", &[0xd10443ea, adrp, 0x9100018d, b]),
            ("bl", &[0xd10443ea, adrp, add, 0x94000000]),
        ] {
            assert!(run(words, FrameForm::Small).is_err(), "{what}");
        }
    }

    #[test]
    fn pc_relative_targets_come_from_relocations_or_the_instruction() {
        use crate::elf::FunctionReloc;
        // b +8 at 0, resolved by the assembler.
        let code = bytes(&[0x14000002, 0x14000002]);
        assert_eq!(local_target(&code, 0, &[]), Ok(Some(8)));
        assert_eq!(local_target(&code, 4, &[]), Ok(Some(12)));
        // b.lo +16
        assert_eq!(local_target(&bytes(&[BLO_16]), 0, &[]), Ok(Some(16)));
        // A relocation wins.
        let r = FunctionReloc {
            at: 4,
            r_type: reloc::JUMP26,
            symbol: "x".into(),
            local_target: None,
        };
        assert_eq!(local_target(&code, 4, &[r]), Ok(None));
        // Not PC-relative.
        assert_eq!(local_target(&bytes(&[CMP_SP]), 0, &[]), Ok(None));
    }

    #[test]
    fn the_continuation_is_the_next_instruction_when_the_cold_block_is() {
        // b.lo +4, and the cold block (at +16) starts with a b: the
        // continuation is still +16 (a malformed cold block, judged later).
        let code = bytes(&[MRS, LDUR, CMP_SP, 0x54000023, 0x14000005]);
        let fp = parse_fast_path(&code).unwrap();
        assert_eq!(fp.cold_at, 16);
        assert_eq!(continuation(&code, &fp, &[]), Ok(16));
    }

    #[test]
    fn the_frame_is_the_sum_of_the_prologues_sp_decrements() {
        // movz x16, #16; movn x16, #0 (x16 = !0); sub sp, sp, x16.
        assert_eq!(
            frame_bytes(&bytes(&[0xd2800210, 0x92800010, 0xcb3063ff]), 0),
            Ok(u64::MAX)
        );
        // A register the prologue did not set: sub sp, sp, x1.
        assert_eq!(frame_bytes(&bytes(&[0xd10043ff, 0xcb2163ff]), 0), Ok(16));
        // Subtractions that do not write SP, or do not start from SP.
        assert_eq!(
            frame_bytes(&bytes(&[0xd1004020, 0xd10043e0, 0xd10043ff, 0xd65f03c0]), 0),
            Ok(16)
        );
        // mov w12, #0x100010 (orr, bitmask immediate); sub sp, sp, x12:
        // GCC's -O2 frame_1m.
        assert_eq!(
            frame_bytes(&bytes(&[0x320c83ec, 0xcb2c63ff]), 0),
            Ok(0x100010)
        );
        // movn x16, #0xf, lsl #16 (x16 = !0xf0000); sub sp, sp, x16
        assert_eq!(
            frame_bytes(&bytes(&[0x92a001f0, 0xcb3063ff]), 0),
            Ok(!0xf0000u64)
        );
        // movz x16, #1, lsl #16; sub sp, sp, x16
        assert_eq!(
            frame_bytes(&bytes(&[0xd2a00030, 0xcb3063ff]), 0),
            Ok(0x10000)
        );
        // movz x16, #0x10, lsl #16; movk x16, #0x20, lsl #16: replaced.
        assert_eq!(
            frame_bytes(&bytes(&[0xd2a00210, 0xf2a00410, 0xcb3063ff]), 0),
            Ok(0x200000)
        );
        // sub x0, sp, #1, lsl #12; sub x0, x1, #1, lsl #12: no SP write.
        assert_eq!(
            frame_bytes(&bytes(&[0xd14007e0, 0xd1400420, 0xd65f03c0]), 0),
            Ok(0)
        );
        // movz x16, #16; sub x0, sp, x16 (does not write SP)
        assert_eq!(
            frame_bytes(&bytes(&[0xd2800210, 0xcb3063e0, 0xd65f03c0]), 0),
            Ok(0)
        );
        // Writeback with a positive offset frees stack.
        assert_eq!(frame_bytes(&bytes(&[0xa9817bfd, 0xd65f03c0]), 0), Ok(0));
        // SP written from another register ends the prologue: sub sp, x1,
        // #16; sub sp, x1, #1, lsl #12; movz x16, #16; sub sp, x1, x16.
        for second in [
            &[0xd100403fu32][..],
            &[0xd140043f],
            &[0xd2800210, 0xcb30603f],
        ] {
            let mut w = vec![0xd10043ffu32];
            w.extend_from_slice(second);
            w.extend([0xd10043ff, 0xd65f03c0]);
            assert_eq!(frame_bytes(&bytes(&w), 0), Ok(16), "{second:x?}");
        }
        // movn w16, #0x10, lsl #16 (w16 = 0xffefffff, zero-extended).
        assert_eq!(
            frame_bytes(&bytes(&[0x12a00210, 0xcb3063ff]), 0),
            Ok(0xffef_ffff)
        );
        // mov x12, #0x1000 as an orr (64-bit bitmask immediate).
        assert_eq!(
            frame_bytes(&bytes(&[0xb27403ec, 0xcb2c63ff]), 0),
            Ok(0x1000)
        );
        // mov sp, #0x1000 (orr into SP) ends the prologue too.
        assert_eq!(
            frame_bytes(&bytes(&[0xd10043ff, 0xb27403ff, 0xd10043ff, 0xd65f03c0]), 0),
            Ok(16)
        );
        // Any other write of SP ends the prologue: mov sp, x29.
        assert_eq!(
            frame_bytes(&bytes(&[0xd10043ff, 0x910003bf, 0xd10083ff, 0xd65f03c0]), 0),
            Ok(16)
        );
        // stp x29, x30, [sp, #-32]!; mov x29, sp; sub sp, sp, #1, lsl #12;
        // sub sp, sp, #16; bl
        let code = bytes(&[0xa9be7bfd, 0x910003fd, 0xd14007ff, 0xd10043ff, 0x94000000]);
        assert_eq!(frame_bytes(&code, 0), Ok(32 + 4096 + 16));
        // mov x16, #0x1234; movk x16, #0x10, lsl #16; sub sp, sp, x16; ret
        let code = bytes(&[0xd2824690, 0xf2a00210, 0xcb3063ff, 0xd65f03c0]);
        assert_eq!(frame_bytes(&code, 0), Ok(0x101234));
        // Stops at the first branch: sub sp, sp, #16; b; sub sp, sp, #16
        let code = bytes(&[0xd10043ff, 0x14000002, 0xd10043ff]);
        assert_eq!(frame_bytes(&code, 0), Ok(16));
        // A non-constant SP change ends the prologue: sub sp, sp, x0
        let code = bytes(&[0xd10043ff, 0xcb2063ff, 0xd10043ff]);
        assert_eq!(frame_bytes(&code, 0), Ok(16));
        // str x30, [sp, #-16]!
        assert_eq!(frame_bytes(&bytes(&[0xf81f0ffe, 0xd65f03c0]), 0), Ok(16));
        // Stores without writeback allocate nothing: stp x29, x30, [sp, #16]
        assert_eq!(frame_bytes(&bytes(&[0xa9017bfd, 0xd65f03c0]), 0), Ok(0));
    }

    #[test]
    fn stack_clash_probing_loops_are_followed() {
        // GCC's -O2 -fstack-clash-protection frame_1m: sub x12, sp,
        // #0x100, lsl #12; 1: sub sp, sp, #0x10, lsl #12; str xzr, [sp,
        // #1024]; cmp sp, x12; b.ne 1b; sub sp, sp, #0x10; ...; bl
        let code = bytes(&[
            0xd14403ec, 0xd14043ff, 0xf90203ff, 0xeb2c63ff, 0x54ffffa1, 0xd10043ff, 0x910043e0,
            0xa9007bfd, 0x910003fd, 0x94000000,
        ]);
        assert_eq!(frame_bytes(&code, 0), Ok(0x100010));
        // A forward conditional branch after the compare ends the
        // prologue as before.
        let code = bytes(&[0xd14403ec, 0xd14043ff, 0xeb2c63ff, 0x54000041, 0xd10043ff]);
        assert_eq!(frame_bytes(&code, 0), Ok(0x10000));
        // A branch to itself is not a probing loop.
        let code = bytes(&[0xd14043ec, 0xeb2c63ff, 0x54000001, 0xd10043ff]);
        assert_eq!(frame_bytes(&code, 0), Ok(0));
        // Only a compare with SP closes a probing loop: cmp x1, x12.
        let code = bytes(&[0xd14403ec, 0xd14043ff, 0xeb0c003f, 0x54ffffc1, 0xd10043ff]);
        assert_eq!(frame_bytes(&code, 0), Ok(0x10000));
        // The loop's end set without a shift (sub x12, sp, #2048), or from
        // a register (mov x13, #0x20000; sub x12, sp, x13).
        let code = bytes(&[0xd12003ec, 0xd11003ff, 0xeb2c63ff, 0x54ffffc1, 0xd10043ff]);
        assert_eq!(frame_bytes(&code, 0), Ok(2048 + 16));
        let code = bytes(&[
            0xd2a0004d, 0xcb2d63ec, 0xd14043ff, 0xeb2c63ff, 0x54ffffc1, 0xd10043ff,
        ]);
        assert_eq!(frame_bytes(&code, 0), Ok(0x20000 + 16));
        // A loop on a register not set from SP is not followed.
        let code = bytes(&[0xd14043ff, 0xeb2c63ff, 0x54ffffc1, 0xd10043ff]);
        assert_eq!(frame_bytes(&code, 0), Ok(0x10000));
    }

    #[test]
    fn the_request_must_match_the_frame() {
        let s = FrameForm::Small;
        assert_eq!(judge_request(s, Some(272), 272), Ok(()));
        assert!(judge_request(s, Some(256), 272).is_err());
        assert!(judge_request(s, Some(288), 272).is_err());
        assert!(judge_request(s, Some(5000), 5000).is_err());
        let l = |pages| FrameForm::Sub { pages };
        assert_eq!(judge_request(l(2), None, 4097), Ok(()));
        assert_eq!(judge_request(l(2), None, 8192), Ok(()));
        let e = judge_request(l(1), None, 4097).unwrap_err();
        assert!(e.contains("K = ceil(4097 / 4096) = 2"), "{e}");
        assert!(judge_request(l(3), None, 8192).is_err());
        assert!(judge_request(l(1), None, 4096).is_err());
        assert_eq!(judge_request(l(4095), None, SUB_FORM_LIMIT), Ok(()));
        let h = |bytes| FrameForm::MovzMovk { bytes };
        assert_eq!(judge_request(h(0x1000010), None, 0x1000010), Ok(()));
        assert!(judge_request(h(0x1000000), None, 0x1000010).is_err());
        assert!(judge_request(h(8192), None, 8192).is_err());
        assert!(judge_request(h(SUB_FORM_LIMIT), None, SUB_FORM_LIMIT).is_err());
        assert_eq!(requested_bytes(l(3), None), 3 * 4096);
        assert_eq!(requested_bytes(s, None), 0);
    }

    #[test]
    fn the_continuation_follows_the_branch_or_the_o0_jump() {
        let fp = parse_fast_path(&bytes(&[MRS, LDUR, CMP_SP, BLO_16])).unwrap();
        // b.lo at +12 -> +28; the next instruction is the continuation.
        let mut code = bytes(&[MRS, LDUR, CMP_SP, BLO_16, 0xd503201f]);
        assert_eq!(continuation(&code, &fp, &[]), Ok(16));
        // -O0: b.lo +8; b +20 (over the cold block at +20).
        let code0 = bytes(&[MRS, LDUR, CMP_SP, 0x54000043, 0x14000005]);
        let fp0 = parse_fast_path(&code0).unwrap();
        assert_eq!(fp0.cold_at, 20);
        assert_eq!(continuation(&code0, &fp0, &[]), Ok(36));
        // A `b` backwards is not a jump over the cold block.
        code.truncate(16);
        code.extend(0x17ffffffu32.to_le_bytes());
        let fpb = parse_fast_path(&code).unwrap();
        assert!(continuation(&code, &fpb, &[]).is_err());
        // A tail call right after the check (b with a relocation) is the
        // body: the continuation is the next instruction.
        let tail = crate::elf::FunctionReloc {
            at: 16,
            r_type: reloc::JUMP26,
            symbol: "callee".into(),
            local_target: None,
        };
        assert_eq!(continuation(&code, &fpb, &[tail]), Ok(16));
    }
}
