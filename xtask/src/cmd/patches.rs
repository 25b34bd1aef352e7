//! `cargo xtask patches`: the patch series in `patches/` and the work
//! trees they are exported from.

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;

use crate::base::cache::Cache;
use crate::base::manifest::{Component, Manifest};
use crate::base::shell::Ui;
use crate::toolchain::sources::SourceChoice;
use crate::toolchain::{apt, patches, sources};

#[derive(Subcommand)]
pub enum PatchesCmd {
    /// Regenerate patches/<component>/ from the work trees' commits.
    Export {
        /// Components to export (default: all).
        components: Vec<String>,
    },
    /// Verify that every series applies to its pristine source.
    Check,
    /// Show whether work trees and patches/ agree.
    Status,
    /// Drop unexported commits and changes in a work tree.
    Reset { component: String },
}

/// `patches check`: applies every series with `git am` to its pristine
/// source; returns one line per component.  Errors: a patch does not
/// apply (the message names it), sources cannot be prepared.
pub fn check_all(ui: &Ui, cache: &Cache, repo: &Path, manifest: &Manifest) -> Result<Vec<String>> {
    let _lock = cache.lock()?;
    let mut apt = apt::Apt::new(cache.apt(), manifest);
    let mut out = Vec::new();
    for c in Component::ALL {
        let s = sources::prepare(ui, cache, manifest, &mut apt, c, &SourceChoice::default())?;
        let n = patches::check(ui, &s.tree, repo, c, s.docs_stubbed)?;
        out.push(format!(
            "{c}: {n} patch(es) apply to {}",
            s.origin.describe()
        ));
    }
    Ok(out)
}

pub fn run(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    manifest: &Manifest,
    cmd: PatchesCmd,
) -> Result<()> {
    let parse_all = |names: &[String]| -> Result<Vec<Component>> {
        if names.is_empty() {
            Ok(Component::ALL.to_vec())
        } else {
            names.iter().map(|n| Component::parse(n)).collect()
        }
    };
    match cmd {
        PatchesCmd::Export { components } => {
            let _lock = cache.lock()?;
            for c in parse_all(&components)? {
                let (written, removed) = patches::export(cache, repo, c)?;
                println!(
                    "{c}: {} written, {} removed{}",
                    written.len(),
                    removed.len(),
                    written
                        .iter()
                        .chain(&removed)
                        .map(|n| format!("\n  {n}"))
                        .collect::<String>()
                );
            }
        }
        PatchesCmd::Status => {
            for c in Component::ALL {
                println!("{c}: {}", patches::state(cache, repo, c)?);
            }
        }
        PatchesCmd::Check => {
            for line in check_all(ui, cache, repo, manifest)? {
                println!("{line}");
            }
        }
        PatchesCmd::Reset { component } => {
            let _lock = cache.lock()?;
            let c = Component::parse(&component)?;
            let stubbed = c == Component::Gcc && sources::gcc_docs_stubbed(&cache.src("gcc"));
            patches::reset(ui, cache, repo, c, stubbed)?;
            println!("{c}: work tree reset to patches/{c}");
        }
    }
    Ok(())
}
