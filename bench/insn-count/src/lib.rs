//! A QEMU TCG plugin that counts executed guest instructions exactly.
//!
//! Loaded by `qemu-aarch64 -plugin libinsn_count.so,out=FILE`.  At
//! translation time every translation block gets an inline "add the
//! block's instruction count" operation (QEMU plugin API version 1,
//! `qemu_plugin_register_vcpu_tb_exec_inline`), so counting costs no
//! callback per instruction.  A block ends at every branch, so it runs to
//! its end except when an instruction in it faults or traps mid-block;
//! the workloads of `cargo xtask bench` take no such faults in their
//! measured loops.  At exit the plugin writes the total (a decimal number
//! of instructions and a newline) to `out`, or to stderr without `out`.
//!
//! The counter is shared by all vCPUs (guest threads) and updated without
//! atomics, as QEMU's own `libinsn` does in its inline mode: counts are
//! exact for single-threaded guests only, which the benchmarks are.
//!
//! With `calls=FILE`, it also counts executed calls (AArch64 `bl` and
//! `blr`, decoded from each instruction's word at translation time) and,
//! with `at=ADDR` (a guest address, decimal or `0x` hex), executions of
//! the instruction at ADDR (for example `__morestack`'s entry: the
//! segment crossings of `cargo xtask gcc-check --stress`); at exit it
//! writes `calls C\nat N\n` to FILE.

use std::sync::atomic::{AtomicU64, Ordering};

use qemu_plugin::install::{Args, Info, Value};
use qemu_plugin::plugin::{HasCallbacks, Register};
use qemu_plugin::{PluginId, PluginOp, TranslationBlock};

/// Executed guest instructions so far.
static TOTAL: AtomicU64 = AtomicU64::new(0);
/// Executed `bl`/`blr` instructions so far (with `calls=`).
static CALLS: AtomicU64 = AtomicU64::new(0);
/// Executions of the instruction at `at=` so far.
static AT: AtomicU64 = AtomicU64::new(0);

/// Whether the little-endian AArch64 instruction word is `bl` or `blr`.
fn is_call(word: u32) -> bool {
    word & 0xfc00_0000 == 0x9400_0000 || word & 0xffff_fc1f == 0xd63f_0000
}

#[derive(Default)]
struct InsnCount {
    /// Count calls and the address below.
    calls: bool,
    /// The guest address whose executions are counted.
    at: Option<u64>,
}

impl HasCallbacks for InsnCount {
    fn on_translation_block_translate(
        &mut self,
        _id: PluginId,
        tb: TranslationBlock,
    ) -> qemu_plugin::Result<()> {
        let n = tb.size() as u64;
        if self.calls {
            for insn in tb.instructions() {
                let data = insn.data();
                let word = data
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                let counter = if is_call(word) {
                    Some(&CALLS)
                } else if Some(insn.vaddr()) == self.at {
                    Some(&AT)
                } else {
                    None
                };
                if let Some(c) = counter {
                    qemu_plugin::qemu_plugin_register_vcpu_insn_exec_inline(
                        insn,
                        PluginOp::QEMU_PLUGIN_INLINE_ADD_U64,
                        c.as_ptr().cast(),
                        1,
                    );
                }
            }
        }
        qemu_plugin::qemu_plugin_register_vcpu_tb_exec_inline(
            tb,
            PluginOp::QEMU_PLUGIN_INLINE_ADD_U64,
            TOTAL.as_ptr().cast(),
            n,
        );
        Ok(())
    }
}

impl Register for InsnCount {
    fn register(&mut self, id: PluginId, args: &Args, _info: &Info) -> qemu_plugin::Result<()> {
        let out = match args.parsed.get("out") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let calls_out = match args.parsed.get("calls") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        self.calls = calls_out.is_some();
        self.at = match args.parsed.get("at") {
            Some(Value::String(s)) => match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            },
            Some(Value::Integer(i)) => u64::try_from(*i).ok(),
            _ => None,
        };
        // One exit callback: QEMU keeps one per event and plugin.
        qemu_plugin::qemu_plugin_register_atexit_cb(id, move |_| {
            let text = format!("{}\n", TOTAL.load(Ordering::Relaxed));
            match &out {
                Some(path) => {
                    if let Err(e) = std::fs::write(path, &text) {
                        eprintln!("insn-count: cannot write {path}: {e}");
                    }
                }
                None => eprint!("insn-count: {text}"),
            }
            if let Some(path) = &calls_out {
                let text = format!(
                    "calls {}\nat {}\n",
                    CALLS.load(Ordering::Relaxed),
                    AT.load(Ordering::Relaxed)
                );
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("insn-count: cannot write {path}: {e}");
                }
            }
        })?;
        Ok(())
    }
}

qemu_plugin::register!(InsnCount::default());
