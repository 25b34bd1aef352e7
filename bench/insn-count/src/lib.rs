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

use std::sync::atomic::{AtomicU64, Ordering};

use qemu_plugin::install::{Args, Info, Value};
use qemu_plugin::plugin::{HasCallbacks, Register};
use qemu_plugin::{PluginId, PluginOp, TranslationBlock};

/// Executed guest instructions so far.
static TOTAL: AtomicU64 = AtomicU64::new(0);

struct InsnCount;

impl HasCallbacks for InsnCount {
    fn on_translation_block_translate(
        &mut self,
        _id: PluginId,
        tb: TranslationBlock,
    ) -> qemu_plugin::Result<()> {
        let n = tb.size() as u64;
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
        })?;
        Ok(())
    }
}

qemu_plugin::register!(InsnCount);
