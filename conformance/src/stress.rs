//! The crossing-stress runtime: a copy of the toolchain's `libgcc.a`
//! whose `morestack.o` keeps the guard just above SP, so that split-stack
//! functions enter a new segment (and return through `__morestack`) at
//! almost every call instead of once per segment's worth of stack.  It is
//! a test facility, not part of the upstream series: programs link it
//! with `-B DIR/` ahead of the real libgcc; it changes no calling
//! convention, only where the guard points (docs/abi.md, 5.8 and
//! `docs/stress.md`).
//!
//! Three guard computations of libgcc's `morestack.S` change, each found
//! by its exact instruction words (an error names any that is missing, so
//! a changed `morestack.S` is noticed rather than silently not stressed):
//!
//! 1. `__morestack`, switching to a reused segment (the path without
//!    system calls): the guard becomes the new segment's top (the SP the
//!    function continues with) instead of its bottom + BACKOFF, so the
//!    function's first call into split-stack code crosses again (`sub x9,
//!    x16, x17; add x9, x9, #BACKOFF`, the segment's top minus its size plus
//!    BACKOFF, becomes `mov x9, x16; nop`);
//! 2. `__morestack`, switching to a segment it had to allocate: the same
//!    (`sub x9, x0, x10; add x9, x9, #BACKOFF` becomes `mov x9, x0; nop`);
//! 3. `__stack_split_initialize`: the initial thread's guard becomes
//!    S + 4 KiB instead of S - 16 KiB, so that `main` crosses at once
//!    (`add x10, x0, #1, lsl #12; nop`).
//!
//! 4. A wrapper in front of `__morestack` ([`POISONING_WRAPPER`]) changes
//!    every register a call may change that carries no result when the
//!    function returns through it.
//!
//! On the way back `__morestack` restores the guard it found on entry
//! (docs/abi.md, 5.8), which for a stressed caller already lies above its
//! SP: the caller's next call crosses again without a change there.  A
//! lone segment (a crossing from a signal handler that interrupted
//! another one) keeps its normal guard.
//!
//! The stack actually allocated is unchanged (every segment still has its
//! BACKOFF slack below the real frame), so code that does not check the
//! guard (signal handlers, non-split code) runs as safely as before.
//! Not stressed: threads before their first natural crossing (glibc sets
//! their guard, section 4), and the guard that the exception landing pad
//! restores (normal until the next return through `__morestack`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::Toolchain;

/// `sub x9, x0, x10`.
const SUB_X9_X0_X10: u32 = 0xcb0a_0009;
/// `sub x9, x16, x17` (a reused segment's top minus its size).
const SUB_X9_X16_X17: u32 = 0xcb11_0209;
/// `mov x9, x16` (`orr x9, xzr, x16`).
const MOV_X9_X16: u32 = 0xaa10_03e9;
/// `add x9, x9, #4, lsl #12` (BACKOFF, 16 KiB).
const ADD_X9_BACKOFF: u32 = 0x9140_1129;
/// `mov x9, x0` (`orr x9, xzr, x0`).
const MOV_X9_X0: u32 = 0xaa00_03e9;
/// `sub x10, x0, x1` (S - INITIAL_STACK).
const SUB_X10_X0_X1: u32 = 0xcb01_000a;
/// `add x10, x10, #4, lsl #12` (+ BACKOFF).
const ADD_X10_BACKOFF: u32 = 0x9140_114a;
/// `add x10, x0, #1, lsl #12` (S + 4 KiB).
const ADD_X10_X0_4K: u32 = 0x9140_040a;
/// `nop`.
const NOP: u32 = 0xd503_201f;

/// The compiler option that the stress-mode runs add, so that a case can
/// leave out assertions about exact guard values, which stress changes by
/// design.
pub const STRESS_DEFINE: &str = "-DSPLIT_STACK_STRESS=1";

fn words(code: &[u8]) -> Vec<u32> {
    code.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn put(code: &mut [u8], index: usize, word: u32) {
    code[index * 4..index * 4 + 4].copy_from_slice(&word.to_le_bytes());
}

/// Where the two-word sequence `seq` starts in `w` (instruction indexes).
fn find_pairs(w: &[u32], seq: [u32; 2]) -> Vec<usize> {
    w.windows(2)
        .enumerate()
        .filter(|(_, p)| *p == seq)
        .map(|(k, _)| k)
        .collect()
}

/// Rewrites `__morestack`'s code (`code`, its bytes) as the module says
/// (changes 1 and 2).  Errors: either guard computation is not there
/// exactly once.
pub fn stress_morestack(code: &mut [u8]) -> Result<()> {
    let w = words(code);
    let reused = find_pairs(&w, [SUB_X9_X16_X17, ADD_X9_BACKOFF]);
    let allocated = find_pairs(&w, [SUB_X9_X0_X10, ADD_X9_BACKOFF]);
    if reused.len() != 1 || allocated.len() != 1 {
        bail!(
            "__morestack: {} guard computations `sub x9, x16, x17; add x9, x9, #BACKOFF` and {} \
             `sub x9, x0, x10; add x9, x9, #BACKOFF`, expected one each (switch to a reused \
             and to an allocated segment): libgcc's morestack.S changed",
            reused.len(),
            allocated.len()
        );
    }
    put(code, reused[0], MOV_X9_X16);
    put(code, reused[0] + 1, NOP);
    put(code, allocated[0], MOV_X9_X0);
    put(code, allocated[0] + 1, NOP);
    Ok(())
}

/// Rewrites `__stack_split_initialize`'s code (change 3).  Errors: its
/// `sub x10, x0, x1; add x10, x10, #BACKOFF` is not there exactly once.
pub fn stress_initialize(code: &mut [u8]) -> Result<()> {
    let w = words(code);
    let at = find_pairs(&w, [SUB_X10_X0_X1, ADD_X10_BACKOFF]);
    if at.len() != 1 {
        bail!(
            "__stack_split_initialize: {} initial guard computations, expected 1: libgcc's \
             morestack.S changed",
            at.len()
        );
    }
    put(code, at[0], ADD_X10_X0_4K);
    put(code, at[0] + 1, NOP);
    Ok(())
}

/// Writes the crossing-stress runtime into `dir` (`dir/libgcc.a`: the
/// toolchain's `libgcc.a` with its `morestack.o` rewritten); a driver
/// given `-B DIR/` links it instead of the real one.  Errors: the
/// driver, `ar` or the object cannot be used, or a rewrite does not find
/// its instructions.
pub fn write_stress_libgcc(gcc: &Path, dir: &Path) -> Result<PathBuf> {
    write_guard_changes(gcc, dir).context("cannot build the crossing-stress runtime")?;
    add_poisoning_wrapper(gcc, dir)
        .context("cannot add the register-poisoning wrapper to the crossing-stress runtime")?;
    Ok(dir.join("libgcc.a"))
}

/// The wrapper that the crossing-stress runtime puts in front of
/// `__morestack` (renamed `__morestack_unstressed` in `morestack.o`): it
/// calls the real one and, when the function has returned through it,
/// overwrites every register a call may change that carries no result
/// (x8-x17, the upper halves of v8-v15, v16-v31, NZCV; docs/abi.md 5.3,
/// "What a caller may assume"), so that a caller that keeps a value in
/// one of them across a call that crosses (an IPA-RA-class defect) sees
/// the damage, whatever the runtime happens to use.  Its 16-byte frame
/// has CFI, so unwinding passes through it.
pub const POISONING_WRAPPER: &str = r#"	.text
	.global	__morestack
	.hidden	__morestack
	.type	__morestack, %function
	.balign	16
__morestack:
	.cfi_startproc
	hint	34
	stp	x29, x30, [sp, #-16]!
	.cfi_def_cfa_offset 16
	.cfi_offset x29, -16
	.cfi_offset x30, -8
	mov	x29, sp
	bl	__morestack_unstressed
	mov	x8, #0x5a5a
	movk	x8, #0xdead, lsl #48
	mov	x9, x8
	mov	x10, x8
	mov	x11, x8
	mov	x12, x8
	mov	x13, x8
	mov	x14, x8
	mov	x15, x8
	mov	x16, x8
	mov	x17, x8
	mov	v8.d[1], x8
	mov	v9.d[1], x8
	mov	v10.d[1], x8
	mov	v11.d[1], x8
	mov	v12.d[1], x8
	mov	v13.d[1], x8
	mov	v14.d[1], x8
	mov	v15.d[1], x8
	dup	v16.2d, x8
	dup	v17.2d, x8
	dup	v18.2d, x8
	dup	v19.2d, x8
	dup	v20.2d, x8
	dup	v21.2d, x8
	dup	v22.2d, x8
	dup	v23.2d, x8
	dup	v24.2d, x8
	dup	v25.2d, x8
	dup	v26.2d, x8
	dup	v27.2d, x8
	dup	v28.2d, x8
	dup	v29.2d, x8
	dup	v30.2d, x8
	dup	v31.2d, x8
	cmn	x8, #1
	ldp	x29, x30, [sp], #16
	.cfi_def_cfa_offset 0
	.cfi_restore x29
	.cfi_restore x30
	ret
	.cfi_endproc
	.size	__morestack, . - __morestack
	.section .note.GNU-stack, "", %progbits
	.section .note.GNU-split-stack, "", %progbits
	.section .note.GNU-no-split-stack, "", %progbits
"#;

/// Makes `__morestack` in `dir/libgcc.a`'s `morestack.o` weak and gives
/// its code a second name, `__morestack_unstressed` (objcopy), and adds
/// [`POISONING_WRAPPER`], assembled by `gcc`, as `stress-poison.o` before
/// it in the archive: the wrapper's strong `__morestack` then takes every
/// reference, the cold blocks' and `__morestack_non_split`'s.  Errors: a tool fails, or
/// `__morestack` is not found in `.text`.
fn add_poisoning_wrapper(gcc: &Path, dir: &Path) -> Result<()> {
    let lib = dir.join("libgcc.a");
    let tool = |name: &str| crate::selftest::binutil(gcc, name);
    let work = dir.join("poison");
    std::fs::create_dir_all(&work)?;
    duct::cmd!(tool("ar").as_os_str(), "x", &lib, "morestack.o")
        .dir(&work)
        .run()?;
    let value = text_symbol_value(&std::fs::read(work.join("morestack.o"))?, "__morestack")?;
    duct::cmd!(
        tool("objcopy").as_os_str(),
        "--weaken-symbol",
        "__morestack",
        "--add-symbol",
        format!("__morestack_unstressed=.text:{value:#x},global,function"),
        "morestack.o"
    )
    .dir(&work)
    .run()?;
    duct::cmd!(
        gcc.as_os_str(),
        "-c",
        "-x",
        "assembler",
        "-",
        "-o",
        "stress-poison.o"
    )
    .dir(&work)
    .stdin_bytes(POISONING_WRAPPER)
    .run()?;
    // The wrapper's member goes before morestack.o, so that a reference
    // to __morestack pulls it (the first member that defines the symbol)
    // rather than morestack.o, whose weak definition it then overrides.
    duct::cmd!(tool("ar").as_os_str(), "r", &lib, "morestack.o")
        .dir(&work)
        .run()?;
    duct::cmd!(
        tool("ar").as_os_str(),
        "rb",
        "morestack.o",
        &lib,
        "stress-poison.o"
    )
    .dir(&work)
    .run()?;
    std::fs::remove_dir_all(&work)?;
    Ok(())
}

/// The value (offset in `.text`, bytes) of the defined symbol `name` in
/// the relocatable object `data`.  Errors: not an object, no such symbol
/// in `.text`.
fn text_symbol_value(data: &[u8], name: &str) -> Result<u64> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(data).context("morestack.o is not an ELF object")?;
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(name) && s.is_definition())
        .with_context(|| format!("morestack.o does not define {name}"))?;
    let section = sym
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
        .with_context(|| format!("{name} has no section"))?;
    if section.name() != Ok(".text") {
        bail!("{name} is not in .text");
    }
    Ok(sym.address())
}

/// [`write_stress_libgcc`]'s first step: the guard changes in
/// `morestack.o`.
fn write_guard_changes(gcc: &Path, dir: &Path) -> Result<()> {
    crate::selftest::libgcc_patched(gcc, dir, |data| {
        for (name, f) in [
            (
                "__morestack",
                stress_morestack as fn(&mut [u8]) -> Result<()>,
            ),
            ("__stack_split_initialize", stress_initialize),
        ] {
            let range = crate::elf::function_file_range(data, name)?;
            f(&mut data[range])?;
        }
        Ok(())
    })
}

/// `tc` seen through a driver that links the crossing-stress runtime
/// (written into `dir`) and defines [`STRESS_DEFINE`].
pub fn stress_toolchain(tc: &Toolchain, dir: &Path) -> Result<Toolchain> {
    std::fs::create_dir_all(dir)?;
    write_stress_libgcc(&tc.gcc, dir)?;
    let mut s = tc.clone();
    s.gcc = crate::selftest::wrapper_driver(tc, dir, &[STRESS_DEFINE], None)?;
    Ok(s)
}

/// The hardening flags Debian and Ubuntu build packages with (PIE by
/// default, `dpkg-buildflags` with `hardening=+all`; Ubuntu uses
/// `_FORTIFY_SOURCE=3`): the third mode of the runtime cases.  The first
/// two ([`PIE_FLAGS`]) are left out of `-shared` and `-fPIC` commands, as
/// a default-PIE compiler does.
pub const HARDENING_FLAGS: &[&str] = &[
    "-fPIE",
    "-pie",
    "-fstack-protector-strong",
    "-fstack-clash-protection",
    "-mbranch-protection=standard",
    "-D_FORTIFY_SOURCE=2",
    "-Wl,-z,relro,-z,now",
];

/// The position-independent-executable part of [`HARDENING_FLAGS`].
pub const PIE_FLAGS: &[&str] = &["-fPIE", "-pie"];

/// `tc` seen through drivers (C and, if there is one, C++; written into
/// `dir`) that add [`HARDENING_FLAGS`] to every command, without
/// [`PIE_FLAGS`] when it has `-shared`, `-fPIC` or `-fpic`.
pub fn hardened_toolchain(tc: &Toolchain, dir: &Path) -> Result<Toolchain> {
    use crate::selftest::{sh_quote, write_script};
    std::fs::create_dir_all(dir)?;
    let words = |v: &[&str]| v.iter().map(|f| sh_quote(f)).collect::<Vec<_>>().join(" ");
    let rest: Vec<&str> = HARDENING_FLAGS
        .iter()
        .copied()
        .filter(|f| !PIE_FLAGS.contains(f))
        .collect();
    let script = |real: &Path| {
        format!(
            "#!/bin/sh\n# Distribution hardening flags (conformance --hardened).\n\
             pie={}\nfor a do case \"$a\" in -shared|-fPIC|-fpic) pie=;; esac; done\n\
             exec {} \"$@\" $pie {}\n",
            sh_quote(&PIE_FLAGS.join(" ")),
            sh_quote(&real.display().to_string()),
            words(&rest)
        )
    };
    let gcc = dir.join("aarch64-linux-gnu-gcc");
    write_script(&gcc, &script(&tc.gcc))?;
    if let Some(cxx) = crate::probe::cxx_driver(&tc.gcc) {
        write_script(&dir.join("aarch64-linux-gnu-g++"), &script(&cxx))?;
    }
    let mut s = tc.clone();
    s.gcc = gcc;
    Ok(s)
}

/// The `runtime/` checks: what the hardened mode runs.
pub fn runtime_checks() -> Vec<crate::checks::Check> {
    crate::checks::registry()
        .into_iter()
        .filter(|c| c.id.starts_with("runtime/"))
        .collect()
}

/// The checks that run in stress mode: the `runtime/` cases, except the
/// two that require libgcc's exact guard values (stress changes them by
/// design).
pub fn stress_checks() -> Vec<crate::checks::Check> {
    crate::checks::registry()
        .into_iter()
        .filter(|c| c.id.starts_with("runtime/") && !c.id.starts_with("runtime/guard-values"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn morestack_gets_both_switches_raised() {
        let stur = 0xf81f_8169; // stur x9, [x11, #-8]
        let mov_sp_x16 = 0x9100_021f;
        let mut code = bytes(&[
            mov_sp_x16,
            SUB_X9_X16_X17,
            ADD_X9_BACKOFF,
            stur,
            NOP,
            SUB_X9_X0_X10,
            ADD_X9_BACKOFF,
            stur,
        ]);
        stress_morestack(&mut code).unwrap();
        assert_eq!(
            words(&code),
            [mov_sp_x16, MOV_X9_X16, NOP, stur, NOP, MOV_X9_X0, NOP, stur]
        );
    }

    #[test]
    fn a_changed_morestack_is_refused() {
        for w in [
            vec![SUB_X9_X16_X17, ADD_X9_BACKOFF],
            vec![SUB_X9_X0_X10, ADD_X9_BACKOFF],
            vec![
                SUB_X9_X16_X17,
                ADD_X9_BACKOFF,
                SUB_X9_X0_X10,
                ADD_X9_BACKOFF,
                SUB_X9_X0_X10,
                ADD_X9_BACKOFF,
            ],
        ] {
            let mut code = bytes(&w);
            let e = stress_morestack(&mut code).unwrap_err().to_string();
            assert!(e.contains("expected one each"), "{e}");
            assert_eq!(code, bytes(&w), "nothing written on refusal");
        }
    }

    #[test]
    fn the_initial_guard_moves_above_sp() {
        let mut code = bytes(&[0xd2a00001, SUB_X10_X0_X1, ADD_X10_BACKOFF, 0xf81f812a]);
        stress_initialize(&mut code).unwrap();
        assert_eq!(words(&code), [0xd2a00001, ADD_X10_X0_4K, NOP, 0xf81f812a]);
        let mut none = bytes(&[0xd2a00001]);
        assert!(stress_initialize(&mut none).is_err());
    }

    #[test]
    fn the_hardened_driver_adds_the_flags_and_pie_only_for_executables() {
        let d = tempfile::tempdir().unwrap();
        let tc = crate::Toolchain::for_tests("/bin/echo");
        let h = hardened_toolchain(&tc, d.path()).unwrap();
        let run = |args: &[&str]| duct::cmd(&h.gcc, args).read().unwrap();
        let exe = run(&["-O2", "a b.c"]);
        assert_eq!(
            exe,
            format!("-O2 a b.c {}", HARDENING_FLAGS.join(" ")),
            "every flag, PIE included, after the command's own"
        );
        for lib in ["-shared", "-fPIC"] {
            let out = run(&["-O2", lib, "x.c"]);
            assert!(!out.contains("-pie") && !out.contains("-fPIE"), "{out}");
            assert!(
                out.contains("-fstack-protector-strong -fstack-clash-protection"),
                "{out}"
            );
        }
    }

    #[test]
    fn stress_mode_runs_the_runtime_cases_but_not_the_exact_guard_ones() {
        let ids: Vec<String> = stress_checks().into_iter().map(|c| c.id).collect();
        assert!(ids.iter().any(|i| i == "runtime/cxx-exceptions"));
        assert!(ids.iter().all(|i| i.starts_with("runtime/")));
        assert!(!ids.iter().any(|i| i.starts_with("runtime/guard-values")));
    }
}
