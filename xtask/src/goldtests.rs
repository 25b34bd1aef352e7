//! The gold series' own testsuite script (`gold/testsuite/split_aarch64.sh`,
//! added by `patches/binutils/0001`), run in the incremental binutils build
//! tree through gold's automake test harness.

use anyhow::{bail, Result};

use crate::cache::Cache;
use crate::shell::{Cmd, Ui};

/// The test script and the data files it reads (gold/testsuite/Makefile.am).
const SCRIPT: &str = "split_aarch64.sh";
const DATA: &[&str] = &[
    "split_aarch64_1.stdout",
    "split_aarch64_2.stdout",
    "split_aarch64_3.stdout",
    "split_aarch64_4.stdout",
    "split_aarch64_r.stdout",
];

/// Rebuilds the test's inputs and runs it; returns "PASS" or "FAIL".
/// Errors: no binutils build tree, or make itself failed.
pub fn run(ui: &Ui, cache: &Cache) -> Result<String> {
    let dir = cache.build("binutils").join("gold/testsuite");
    if !dir.join("Makefile").is_file() {
        bail!(
            "no gold build tree in {}: run `cargo xtask build-toolchain` first",
            dir.display()
        );
    }
    // Fresh results: the harness skips a test whose .log is up to date.
    for f in DATA
        .iter()
        .map(|d| d.to_string())
        .chain([format!("{SCRIPT}.log"), format!("{SCRIPT}.trs")])
    {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let log = cache.log("gold-tests");
    let _ = std::fs::remove_file(&log);
    Cmd::new("make")
        .args(DATA.iter().copied())
        .arg(format!("{SCRIPT}.log"))
        .env("LC_ALL", "C")
        .dir(&dir)
        .run_logged(ui, &format!("gold-tests: {SCRIPT}"), &log)?;
    let trs = std::fs::read_to_string(dir.join(format!("{SCRIPT}.trs"))).unwrap_or_default();
    let result = if trs.contains(":test-result: PASS") {
        "PASS"
    } else {
        "FAIL"
    };
    ui.line(format!("gold-tests: {result}: {SCRIPT}"));
    Ok(result.to_string())
}
