//! Source tarballs (from Debian packages or supplied by the user) and their
//! import into git work trees.
//!
//! A work tree `<cache>/src/<component>` has the tag `pristine` on the
//! unmodified upstream import, the tag `base` on top of the build fixes the
//! tree needs (only Debian's GCC tarball needs one, see [`GFDL_FIX`]), and
//! the branch `series` with one commit per project patch.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::base::cache::{sha256_file, Cache, KeyHasher};
use crate::base::git::{commit_fixed, git};
use crate::base::manifest::{Component, Manifest, SourcePin};
use crate::base::shell::{Cmd, Ui};
use crate::toolchain::apt::{extract_deb, Apt, Deb};

/// Bump when the import procedure changes in a way that changes trees.
const IMPORT_RECIPE: &str = "import-v1";

/// Debian's build fix for the GFDL-stubbed GCC tarball: without it the build
/// fails in `s-tm-texi`, because `gcc/doc/tm.texi.in` is a stub.  It is
/// shipped in the gcc-16-source package and applied as the `base` commit,
/// separate from the project's patches.
pub const GFDL_FIX: &str = "usr/src/gcc-16/debian/patches/gcc-gfdl-build.diff";

/// Where a source tarball came from.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    Debian(Deb),
    Tarball { path: PathBuf, sha256: String },
}

impl Origin {
    /// Content identity of the tarball's source (not its location).
    pub fn identity(&self) -> String {
        match self {
            Origin::Debian(d) => format!("deb:{}:{}", d.file, d.sha256),
            Origin::Tarball { sha256, .. } => format!("tarball:{sha256}"),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Origin::Debian(d) => format!("Debian {} {} ({})", d.package, d.version, d.suite),
            Origin::Tarball { path, .. } => format!("tarball {}", path.display()),
        }
    }
}

/// A component's imported source tree.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub component: Component,
    pub origin: Origin,
    /// The git work tree.
    pub tree: PathBuf,
    /// Content key of the imported tree (origin + import recipe).
    pub key: String,
    /// True for a GCC tree whose GFDL documentation is stubbed (Debian's
    /// dfsg tarball): documentation patches are skipped on it.
    pub docs_stubbed: bool,
}

/// Reads the upstream version recorded inside an unpacked source tree.
///
/// gcc: `gcc/BASE-VER`; glibc: `version.h` (`#define VERSION "2.43"`);
/// binutils: `bfd/version.m4` (`BFD_VERSION`) and, for snapshots,
/// `bfd/version.h` (`BFD_VERSION_DATE`), returned as `2.47.50` plus the date.
pub fn tree_version(c: Component, tree: &Path) -> Result<(String, Option<String>)> {
    let read = |rel: &str| {
        std::fs::read_to_string(tree.join(rel))
            .with_context(|| format!("not a {c} source tree: {rel} is missing"))
    };
    Ok(match c {
        Component::Gcc => (read("gcc/BASE-VER")?.trim().to_string(), None),
        Component::Glibc => {
            let text = read("version.h")?;
            let v = text
                .lines()
                .find_map(|l| l.strip_prefix("#define VERSION"))
                .map(|v| v.trim().trim_matches('"').to_string())
                .context("version.h has no #define VERSION")?;
            (v, None)
        }
        Component::Binutils => {
            let m4 = read("bfd/version.m4")?;
            let v = m4
                .split("[BFD_VERSION], [")
                .nth(1)
                .and_then(|r| r.split(']').next())
                .context("bfd/version.m4 has no BFD_VERSION")?
                .to_string();
            let date = std::fs::read_to_string(tree.join("bfd/version.h"))
                .ok()
                .and_then(|h| {
                    h.lines()
                        .find_map(|l| l.strip_prefix("#define BFD_VERSION_DATE"))
                        .map(|d| d.trim().to_string())
                });
            (v, date)
        }
    })
}

/// Checks the unpacked tree's version against the pin.
pub fn check_version(c: Component, tree: &Path, pin: &SourcePin, what: &str) -> Result<()> {
    let (v, date) = tree_version(c, tree)?;
    if v != pin.upstream {
        bail!(
            "{what} contains {c} {v}, but toolchain.toml pins {c} {}; use a {c}-{} tarball",
            pin.upstream,
            pin.upstream
        );
    }
    if let Some(snap) = &pin.snapshot {
        if date.as_deref() != Some(snap.as_str()) {
            bail!(
                "{what} is {c} {v} snapshot {}, but toolchain.toml pins snapshot {snap}",
                date.as_deref().unwrap_or("(no date)")
            );
        }
    }
    Ok(())
}

/// Whether a GCC tree has Debian's GFDL documentation stubs.
pub fn gcc_docs_stubbed(tree: &Path) -> bool {
    std::fs::metadata(tree.join("gcc/doc/tm.texi.in")).map_or(true, |m| m.len() < 1024)
}

/// Finds the upstream tarball inside an unpacked source package.
fn tarball_in(unpacked: &Path, c: Component) -> Result<PathBuf> {
    let src = unpacked.join("usr/src");
    let mut found = Vec::new();
    for dir in std::fs::read_dir(&src).with_context(|| format!("{} missing", src.display()))? {
        let dir = dir?.path();
        for f in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{}-", c.name())) && name.contains(".tar") {
                found.push(f.path());
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("no {c} tarball in the source package"),
        _ => bail!("several {c} tarballs in the source package: {found:?}"),
    }
}

/// Options that choose where a component's source comes from.
#[derive(Debug, Clone, Default)]
pub struct SourceChoice {
    /// A user-supplied upstream tarball, instead of the Debian package.
    pub tarball: Option<PathBuf>,
    /// Look at the Debian package lists again even if a matching package was
    /// downloaded before.
    pub refresh: bool,
}

/// Makes sure `<cache>/src/<c>` holds the pinned source with its build
/// fixes, importing it if needed.  Does not touch the project's patches.
///
/// Errors: download failures, corrupt package, a tarball of another version
/// (nothing in the cache is replaced then), or a work tree with unexported
/// developer changes that a new import would destroy.
pub fn prepare(
    ui: &Ui,
    cache: &Cache,
    manifest: &Manifest,
    apt: &mut Apt,
    c: Component,
    choice: &SourceChoice,
) -> Result<Source> {
    let pin = manifest.pin(c);
    let log = cache.log(&format!("{c}-source"));
    let (origin, deb_path) = match &choice.tarball {
        Some(t) => {
            let t = t
                .canonicalize()
                .with_context(|| format!("{c} tarball {} not found", t.display()))?;
            let sha256 = sha256_file(&t)?;
            (Origin::Tarball { path: t, sha256 }, None)
        }
        None => {
            let (deb, path) = apt.fetch(
                ui,
                &pin.package,
                &pin.suite,
                Some(&pin.debian_upstream),
                choice.refresh,
                &log,
            )?;
            (Origin::Debian(deb), Some(path))
        }
    };
    let key = KeyHasher::new(IMPORT_RECIPE)
        .str("component", c.name())
        .str("origin", &origin.identity())
        .finish();
    let tree = cache.src(c.name());
    let step = format!("{c}-import");
    if cache.is_done(&step, &key) && tree.join(".git").is_dir() {
        let docs_stubbed = c == Component::Gcc && gcc_docs_stubbed(&tree);
        return Ok(Source {
            component: c,
            origin,
            tree,
            key,
            docs_stubbed,
        });
    }
    if tree.exists() {
        crate::toolchain::patches::ensure_no_developer_work(cache, c, &tree)
            .context("refusing to replace the work tree with a new import")?;
    }
    cache.clear(&step)?;
    ui.line(format!(
        "{c}: importing {} into {}",
        origin.describe(),
        tree.display()
    ));
    std::fs::create_dir_all(cache.root())?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{c}-import-"))
        .tempdir_in(cache.root())?;
    let mut gfdl_fix = None;
    let tarball = match (&origin, &deb_path) {
        (Origin::Tarball { path, .. }, _) => path.clone(),
        (Origin::Debian(deb), Some(p)) => {
            let unpacked = tmp.path().join("deb");
            if let Err(e) = extract_deb(p, &unpacked) {
                apt.discard(deb)?;
                return Err(e.context(
                    "the package was removed from the cache; rerun to download it again",
                ));
            }
            if c == Component::Gcc {
                gfdl_fix = Some(unpacked.join(GFDL_FIX)).filter(|p| p.is_file());
            }
            tarball_in(&unpacked, c)?
        }
        (Origin::Debian(_), None) => unreachable!("Debian origin always has a path"),
    };
    let new_tree = tmp.path().join("tree");
    std::fs::create_dir_all(&new_tree)?;
    Cmd::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(&new_tree)
        .arg("--strip-components=1")
        .arg("--no-same-owner")
        .run_logged(ui, &format!("{c}: extract"), &log)
        .with_context(|| format!("cannot unpack {}", tarball.display()))?;
    check_version(c, &new_tree, pin, &origin.describe())?;
    let docs_stubbed = c == Component::Gcc && gcc_docs_stubbed(&new_tree);

    git(&new_tree).args(["init", "-q"]).read()?;
    git(&new_tree).args(["add", "-A", "-f", "."]).run_logged(
        ui,
        &format!("{c}: git import"),
        &log,
    )?;
    commit_fixed(
        &new_tree,
        &format!("Import {c} {} ({})", pin.upstream, origin.describe()),
    )?;
    git(&new_tree).args(["tag", "pristine"]).read()?;
    if docs_stubbed {
        let fix = match gfdl_fix {
            Some(f) => f,
            None => fetch_gfdl_fix(ui, manifest, apt, tmp.path(), &log)?,
        };
        let out = git(&new_tree)
            .args(["apply", "-p2", "--index"])
            .arg(&fix)
            .output()?;
        if !out.0 {
            bail!("Debian's GFDL build fix does not apply: {}", out.2.trim());
        }
        commit_fixed(
            &new_tree,
            "Build fix: Debian's gcc-gfdl-build.diff (GFDL texinfo sources are stubs)",
        )?;
    }
    git(&new_tree).args(["tag", "base"]).read()?;
    git(&new_tree)
        .args(["checkout", "-q", "-B", "series"])
        .read()?;

    if tree.exists() {
        std::fs::remove_dir_all(&tree)
            .with_context(|| format!("cannot remove the old work tree {}", tree.display()))?;
    }
    std::fs::create_dir_all(tree.parent().context("no parent")?)?;
    std::fs::rename(&new_tree, &tree)?;
    crate::toolchain::patches::record_applied(cache, c, &tree, &[])?;
    cache.mark_done(
        &step,
        &key,
        serde_json::json!({ "origin": origin, "docs_stubbed": docs_stubbed }),
    )?;
    Ok(Source {
        component: c,
        origin,
        tree,
        key,
        docs_stubbed,
    })
}

/// Takes the GFDL build fix from Debian's gcc-16-source package, for a
/// user-supplied tarball that is itself GFDL-stubbed.
fn fetch_gfdl_fix(
    ui: &Ui,
    manifest: &Manifest,
    apt: &mut Apt,
    tmp: &Path,
    log: &Path,
) -> Result<PathBuf> {
    let pin = manifest.pin(Component::Gcc);
    let (_, deb) = apt.fetch(
        ui,
        &pin.package,
        &pin.suite,
        Some(&pin.debian_upstream),
        false,
        log,
    )?;
    let dir = tmp.join("gfdl");
    extract_deb(&deb, &dir)?;
    let fix = dir.join(GFDL_FIX);
    if !fix.is_file() {
        bail!("{} has no {GFDL_FIX}", deb.display());
    }
    Ok(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn pin(upstream: &str, snapshot: Option<&str>) -> SourcePin {
        SourcePin {
            upstream: upstream.into(),
            snapshot: snapshot.map(Into::into),
            package: "p".into(),
            suite: "sid".into(),
            debian_upstream: upstream.into(),
        }
    }

    #[test]
    fn versions_are_read_from_each_tree_kind() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "gcc/BASE-VER", "16.2.0\n");
        write(
            d.path(),
            "version.h",
            "/* x */\n#define RELEASE \"stable\"\n#define VERSION \"2.43\"\n",
        );
        write(
            d.path(),
            "bfd/version.m4",
            "m4_define([BFD_VERSION], [2.47.50])\n",
        );
        write(
            d.path(),
            "bfd/version.h",
            "#define BFD_VERSION_DATE 20261021\n",
        );
        assert_eq!(tree_version(Component::Gcc, d.path()).unwrap().0, "16.2.0");
        assert_eq!(tree_version(Component::Glibc, d.path()).unwrap().0, "2.43");
        assert_eq!(
            tree_version(Component::Binutils, d.path()).unwrap(),
            ("2.47.50".into(), Some("20261021".into()))
        );
    }

    #[test]
    fn wrong_version_tarball_is_rejected_with_the_fix() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "gcc/BASE-VER", "16.1.0\n");
        let err = check_version(
            Component::Gcc,
            d.path(),
            &pin("16.2.0", None),
            "tarball x.tar.xz",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("contains gcc 16.1.0"), "{err}");
        assert!(err.contains("pins gcc 16.2.0"), "{err}");
    }

    #[test]
    fn wrong_snapshot_date_is_rejected() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "bfd/version.m4",
            "m4_define([BFD_VERSION], [2.47.50])\n",
        );
        write(
            d.path(),
            "bfd/version.h",
            "#define BFD_VERSION_DATE 20260101\n",
        );
        let err = check_version(
            Component::Binutils,
            d.path(),
            &pin("2.47.50", Some("20261021")),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("snapshot 20260101"), "{err}");
    }

    #[test]
    fn not_a_source_tree_is_named() {
        let d = tempfile::tempdir().unwrap();
        let err = tree_version(Component::Glibc, d.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a glibc source tree"), "{err}");
    }

    fn manifest() -> Manifest {
        Manifest::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../toolchain.toml")).unwrap()
    }

    /// A synthetic glibc tarball claiming `version`.
    fn glibc_tarball(dir: &Path, version: &str) -> PathBuf {
        let top = dir.join(format!("glibc-{version}"));
        write(
            &top,
            "version.h",
            &format!("#define VERSION \"{version}\"\n"),
        );
        write(&top, "configure", "#!/bin/sh\n");
        let t = dir.join(format!("glibc-{version}.tar.xz"));
        Cmd::new("tar")
            .arg("-cJf")
            .arg(&t)
            .arg("-C")
            .arg(dir)
            .arg(format!("glibc-{version}"))
            .read()
            .unwrap();
        t
    }

    #[test]
    fn user_tarball_of_wrong_version_leaves_the_cache_usable() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::at(d.path().join("cache"));
        let m = manifest();
        let mut apt = Apt::new(cache.apt(), &m);
        let ui = Ui::new();
        let good = glibc_tarball(d.path(), "2.44");
        let choice = SourceChoice {
            tarball: Some(good),
            refresh: false,
        };
        let s = prepare(&ui, &cache, &m, &mut apt, Component::Glibc, &choice).unwrap();
        assert!(s.tree.join("version.h").is_file());
        assert!(matches!(s.origin, Origin::Tarball { .. }));
        let head = crate::base::git::rev_parse(&s.tree, "HEAD").unwrap();
        assert_eq!(head, crate::base::git::rev_parse(&s.tree, "base").unwrap());

        let bad = glibc_tarball(d.path(), "2.42");
        let choice = SourceChoice {
            tarball: Some(bad),
            refresh: false,
        };
        let err = format!(
            "{:#}",
            prepare(&ui, &cache, &m, &mut apt, Component::Glibc, &choice).unwrap_err()
        );
        assert!(err.contains("contains glibc 2.42"), "{err}");
        assert!(err.contains("pins glibc 2.44"), "{err}");
        // The previously imported tree is still there and intact.
        assert_eq!(crate::base::git::rev_parse(&s.tree, "HEAD").unwrap(), head);
        assert!(std::fs::read_to_string(s.tree.join("version.h"))
            .unwrap()
            .contains("2.44"));
        // And re-using the good tarball is a no-op.
        let choice = SourceChoice {
            tarball: Some(d.path().join("glibc-2.44.tar.xz")),
            refresh: false,
        };
        let again = prepare(&ui, &cache, &m, &mut apt, Component::Glibc, &choice).unwrap();
        assert_eq!(again.key, s.key);
    }

    #[test]
    fn missing_user_tarball_is_named() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::at(d.path());
        let m = manifest();
        let mut apt = Apt::new(cache.apt(), &m);
        let choice = SourceChoice {
            tarball: Some(d.path().join("gcc-16.2.0.tar.xz")),
            refresh: false,
        };
        let err = prepare(&Ui::new(), &cache, &m, &mut apt, Component::Gcc, &choice)
            .unwrap_err()
            .to_string();
        assert!(err.contains("gcc tarball"), "{err}");
        assert!(err.contains("gcc-16.2.0.tar.xz"), "{err}");
    }

    #[test]
    fn stubbed_gcc_docs_are_detected() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "gcc/doc/tm.texi.in", "@c stub\n");
        assert!(gcc_docs_stubbed(d.path()));
        write(d.path(), "gcc/doc/tm.texi.in", &"x".repeat(5000));
        assert!(!gcc_docs_stubbed(d.path()));
    }
}
