//! The project's patch series (`patches/<component>/NNNN-*.patch`) and the
//! git work trees they are applied to.
//!
//! Series are applied with `git am` semantics (`git mailinfo` + `git apply`)
//! but on a temporary index, building the commits without touching the work
//! tree; the work tree is then moved to the new tip with `git checkout`,
//! which rewrites only the files whose content changed.  Unchanged files keep
//! their modification times, so the incremental build recompiles only what a
//! changed patch touches.
//!
//! `export` writes the work tree's commits back with `git format-patch`,
//! with all variable parts removed (`--zero-commit`, no signature, no
//! numbering), so an unchanged commit always gives an unchanged file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::cache::{write_atomic, Cache, KeyHasher};
use crate::base::git::{dirty_files, git, rev_parse};
use crate::base::manifest::Component;
use crate::base::shell::Ui;

/// The series directory of a component in the repository.
pub fn series_dir(repo: &Path, c: Component) -> PathBuf {
    repo.join("patches").join(c.name())
}

/// The patch files of a component, in application order.
///
/// Names must be `NNNN-<subject>.patch`, numbered from 0001 without gaps or
/// duplicates (what `git format-patch` writes); anything else in the
/// directory except `.gitkeep` and `README*` is an error.
pub fn series(repo: &Path, c: Component) -> Result<Vec<PathBuf>> {
    let dir = series_dir(repo, c);
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == ".gitkeep" || name.starts_with("README") {
            continue;
        }
        if !name.ends_with(".patch") {
            bail!(
                "{}: unexpected file `{name}` (only NNNN-*.patch files belong there)",
                dir.display()
            );
        }
        files.push(e.path());
    }
    files.sort();
    for (i, f) in files.iter().enumerate() {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let num = name
            .get(..4)
            .filter(|n| {
                n.bytes().all(|b| b.is_ascii_digit()) && name.as_bytes().get(4) == Some(&b'-')
            })
            .with_context(|| {
                format!(
                    "{}: `{name}` does not start with a 4-digit number and '-'",
                    dir.display()
                )
            })?;
        let want = format!("{:04}", i + 1);
        if num != want {
            bail!(
                "{}: series numbering is broken at `{name}` (expected {want}-...): \
                 patches must be numbered 0001, 0002, ... without gaps or duplicates",
                dir.display()
            );
        }
    }
    Ok(files)
}

/// Content key of a series: names and bytes of every file, in order.
pub fn series_key(files: &[PathBuf]) -> Result<String> {
    let mut k = KeyHasher::new("series");
    for f in files {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        k.part(&name, &std::fs::read(f)?);
    }
    Ok(k.finish())
}

/// The files a patch modifies (from its `diff --git a/X b/Y` lines).
pub fn touched_files(patch: &str) -> Vec<String> {
    patch
        .lines()
        .filter_map(|l| l.strip_prefix("diff --git a/"))
        .filter_map(|l| l.split(" b/").next())
        .map(str::to_string)
        .collect()
}

/// Whether a GCC patch only touches GFDL documentation (`gcc/doc/`), which
/// is stubbed in Debian's tarball; such patches are skipped there.
pub fn is_docs_only(patch: &str) -> bool {
    let files = touched_files(patch);
    !files.is_empty() && files.iter().all(|f| f.starts_with("gcc/doc/"))
}

/// What was last synced between the series directory and the work tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Applied {
    /// Work tree commit that corresponds to the series.
    pub commit: String,
    /// [`series_key`] of the series at that time.
    pub series: String,
    /// Patch files skipped (documentation on a stubbed tree).
    pub skipped: Vec<String>,
}

fn applied_path(cache: &Cache, c: Component) -> PathBuf {
    cache.src(&format!("{}.applied.json", c.name()))
}

/// Reads the sync record of a component's work tree.
pub fn applied(cache: &Cache, c: Component) -> Option<Applied> {
    let t = std::fs::read_to_string(applied_path(cache, c)).ok()?;
    serde_json::from_str(&t).ok()
}

/// Records that the work tree's HEAD corresponds to `files`.
pub fn record_applied(cache: &Cache, c: Component, tree: &Path, files: &[PathBuf]) -> Result<()> {
    record_applied_skipping(cache, c, tree, files, Vec::new())
}

fn record_applied_skipping(
    cache: &Cache,
    c: Component,
    tree: &Path,
    files: &[PathBuf],
    skipped: Vec<String>,
) -> Result<()> {
    let a = Applied {
        commit: rev_parse(tree, "HEAD")?,
        series: series_key(files)?,
        skipped,
    };
    write_atomic(
        &applied_path(cache, c),
        serde_json::to_string_pretty(&a)?.as_bytes(),
    )
}

/// The state of one component's work tree relative to its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not imported yet (the next build imports it).
    Missing,
    /// Work tree and series directory agree.
    InSync { patches: usize },
    /// Uncommitted changes in the work tree.
    Dirty(Vec<String>),
    /// Commits in the work tree that are not exported yet.
    Ahead,
    /// The series directory changed (e.g. `git pull`); the next build
    /// re-applies it.
    Differs,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Missing => write!(f, "not imported yet"),
            State::InSync { patches } => write!(f, "in sync ({patches} patches)"),
            State::Dirty(files) => write!(
                f,
                "dirty: {} uncommitted change(s), e.g. {}",
                files.len(),
                files.first().map(String::as_str).unwrap_or("")
            ),
            State::Ahead => write!(
                f,
                "ahead: the work tree has commits not exported (run `cargo xtask patches export`)"
            ),
            State::Differs => write!(
                f,
                "differs: patches/ changed since the work tree was synced (the next build re-applies it)"
            ),
        }
    }
}

/// Compares the work tree with the series directory.
pub fn state(cache: &Cache, repo: &Path, c: Component) -> Result<State> {
    let tree = cache.src(c.name());
    if !tree.join(".git").is_dir() {
        return Ok(State::Missing);
    }
    let dirty = dirty_files(&tree)?;
    if !dirty.is_empty() {
        return Ok(State::Dirty(dirty));
    }
    let files = series(repo, c)?;
    let rec = applied(cache, c).unwrap_or_default();
    if rev_parse(&tree, "HEAD")? != rec.commit {
        return Ok(State::Ahead);
    }
    if series_key(&files)? != rec.series {
        return Ok(State::Differs);
    }
    Ok(State::InSync {
        patches: files.len(),
    })
}

/// Fails if the work tree holds developer work that re-applying the series
/// or re-importing the source would destroy.
pub fn ensure_no_developer_work(cache: &Cache, c: Component, tree: &Path) -> Result<()> {
    if !tree.join(".git").is_dir() {
        return Ok(());
    }
    let dirty = dirty_files(tree)?;
    if !dirty.is_empty() {
        bail!(
            "the {c} work tree {} has uncommitted changes ({} file(s), e.g. `{}`): commit them \
             and run `cargo xtask patches export`, or discard them with `git -C {} checkout .`",
            tree.display(),
            dirty.len(),
            dirty[0].trim(),
            tree.display()
        );
    }
    let rec = applied(cache, c).unwrap_or_default();
    let head = rev_parse(tree, "HEAD")?;
    if head != rec.commit {
        bail!(
            "the {c} work tree {} has commits that are not in patches/{c}: run \
             `cargo xtask patches export` to keep them, or `cargo xtask patches reset {c}` to \
             drop them",
            tree.display()
        );
    }
    Ok(())
}

/// Author, date and message of a patch file, via `git mailinfo`.
struct MailInfo {
    author: String,
    email: String,
    date: String,
    message: String,
}

fn mailinfo(tree: &Path, patch: &Path, scratch: &Path) -> Result<MailInfo> {
    let msg = scratch.join("msg");
    let diff = scratch.join("diff");
    let out = git(tree)
        .args(["mailinfo", "--encoding=UTF-8"])
        .arg(&msg)
        .arg(&diff)
        .read_stdin_file(patch)?;
    let mut info = MailInfo {
        author: String::new(),
        email: String::new(),
        date: String::new(),
        message: String::new(),
    };
    let mut subject = String::new();
    for l in out.lines() {
        if let Some(v) = l.strip_prefix("Author: ") {
            info.author = v.to_string();
        } else if let Some(v) = l.strip_prefix("Email: ") {
            info.email = v.to_string();
        } else if let Some(v) = l.strip_prefix("Date: ") {
            info.date = v.to_string();
        } else if let Some(v) = l.strip_prefix("Subject: ") {
            subject = v.to_string();
        }
    }
    if subject.is_empty() || info.author.is_empty() {
        bail!(
            "{} is not a `git format-patch` file (no From:/Subject: header)",
            patch.display()
        );
    }
    let body = std::fs::read_to_string(&msg).unwrap_or_default();
    info.message = if body.trim().is_empty() {
        format!("{subject}\n")
    } else {
        format!("{subject}\n\n{}", body.trim_end())
    };
    Ok(info)
}

/// Builds the commits of `files` on top of `base` in the object database
/// only (temporary index, no work tree changes).  Returns the tip commit and
/// the names of the skipped documentation patches.
///
/// Errors: a patch that does not apply; the message names the patch file
/// and quotes git's report of the failing file and hunk.
pub fn build_commits(
    ui: &Ui,
    tree: &Path,
    base: &str,
    files: &[PathBuf],
    docs_stubbed: bool,
) -> Result<(String, Vec<String>)> {
    let scratch = tempfile::tempdir()?;
    let index = scratch.path().join("index");
    let mut tip = rev_parse(tree, base)?;
    let mut skipped = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        if docs_stubbed && is_docs_only(&text) {
            ui.line(format!(
                "NOTICE: skipping documentation patch {name}: this GCC tree's GFDL texinfo \
                 sources are stubs (Debian dfsg tarball); use an upstream tarball to apply it"
            ));
            skipped.push(name);
            continue;
        }
        let info = mailinfo(tree, f, scratch.path())?;
        let g = |args: &[&str]| git(tree).args(args).env("GIT_INDEX_FILE", &index);
        g(&["read-tree", &tip]).read()?;
        let (ok, _, err) = g(&["apply", "--cached", "--whitespace=nowarn"])
            .arg(scratch.path().join("diff"))
            .output()?;
        if !ok {
            bail!("{} does not apply:\n{}", f.display(), err.trim_end());
        }
        let treeid = g(&["write-tree"]).read()?;
        tip = git(tree)
            .args(["commit-tree", &treeid, "-p", &tip, "-F", "-"])
            .env("GIT_AUTHOR_NAME", &info.author)
            .env("GIT_AUTHOR_EMAIL", &info.email)
            .env("GIT_AUTHOR_DATE", &info.date)
            .env("GIT_COMMITTER_DATE", &info.date)
            .read_with_stdin(info.message.as_bytes())?;
    }
    Ok((tip, skipped))
}

/// Brings the work tree to the series in `patches/<c>` (no-op when in
/// sync).  Returns the series key.
pub fn sync(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    c: Component,
    tree: &Path,
    docs_stubbed: bool,
) -> Result<String> {
    let files = series(repo, c)?;
    let key = series_key(&files)?;
    let rec = applied(cache, c).unwrap_or_default();
    let head = rev_parse(tree, "HEAD")?;
    if rec.commit == head && rec.series == key && dirty_files(tree)?.is_empty() {
        return Ok(key);
    }
    ensure_no_developer_work(cache, c, tree)?;
    ui.line(format!(
        "{c}: applying {} patch(es) from {}",
        files.len(),
        series_dir(repo, c).display()
    ));
    let (tip, skipped) = build_commits(ui, tree, "base", &files, docs_stubbed)?;
    git(tree)
        .args(["checkout", "-q", "-B", "series", &tip])
        .read()?;
    record_applied_skipping(cache, c, tree, &files, skipped)?;
    Ok(key)
}

/// Verifies that every series applies to its pristine source (plus build
/// fixes), without changing any work tree.
pub fn check(ui: &Ui, tree: &Path, repo: &Path, c: Component, docs_stubbed: bool) -> Result<usize> {
    let files = series(repo, c)?;
    build_commits(ui, tree, "base", &files, docs_stubbed)?;
    Ok(files.len())
}

/// Regenerates `patches/<c>` from the work tree's commits after `base`.
/// Returns (written, removed) file names.
pub fn export(cache: &Cache, repo: &Path, c: Component) -> Result<(Vec<String>, Vec<String>)> {
    let tree = cache.src(c.name());
    if !tree.join(".git").is_dir() {
        bail!("no {c} work tree yet: run `cargo xtask build-toolchain` first");
    }
    let dirty = dirty_files(&tree)?;
    if !dirty.is_empty() {
        bail!(
            "the {c} work tree {} has uncommitted changes: commit them first (e.g. `git -C {} commit -a`)",
            tree.display(),
            tree.display()
        );
    }
    let dir = series_dir(repo, c);
    let before = series(repo, c)?;
    let rec = applied(cache, c).unwrap_or_default();
    if series_key(&before)? != rec.series {
        bail!(
            "patches/{c} changed since the work tree was last synced (for example by `git pull`), \
             so exporting would overwrite those changes. Rebase your commits in {} onto the new \
             series by hand, or run `cargo xtask patches reset {c}` to drop them",
            tree.display()
        );
    }
    let out = tempfile::tempdir()?;
    git(&tree)
        .args([
            "format-patch",
            "-q",
            "--zero-commit",
            "--no-signature",
            "--no-numbered",
            "--no-thread",
            "--no-cover-letter",
            "--subject-prefix=PATCH",
            "--full-index",
            "-o",
        ])
        .arg(out.path())
        .arg("base..HEAD")
        .read()?;
    std::fs::create_dir_all(&dir)?;
    let mut new: Vec<PathBuf> = std::fs::read_dir(out.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    new.sort();
    let mut written = Vec::new();
    let mut removed = Vec::new();
    let new_names: Vec<String> = new
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for old in &before {
        let name = old
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !new_names.contains(&name) && !rec.skipped.contains(&name) {
            std::fs::remove_file(old)?;
            removed.push(name);
        }
    }
    for (p, name) in new.iter().zip(&new_names) {
        let data = std::fs::read(p)?;
        let dest = dir.join(name);
        if std::fs::read(&dest).ok().as_deref() != Some(&data[..]) {
            std::fs::write(&dest, &data)?;
            written.push(name.clone());
        }
    }
    let after = series(repo, c)?;
    record_applied_skipping(cache, c, &tree, &after, rec.skipped)?;
    Ok((written, removed))
}

/// Drops commits and changes in the work tree that are not in the series,
/// and re-applies the series.
pub fn reset(ui: &Ui, cache: &Cache, repo: &Path, c: Component, docs_stubbed: bool) -> Result<()> {
    let tree = cache.src(c.name());
    if !tree.join(".git").is_dir() {
        bail!("no {c} work tree yet: run `cargo xtask build-toolchain` first");
    }
    let files = series(repo, c)?;
    let (tip, skipped) = build_commits(ui, &tree, "base", &files, docs_stubbed)?;
    git(&tree)
        .args(["checkout", "-q", "-f", "-B", "series", &tip])
        .read()?;
    git(&tree).args(["clean", "-q", "-fd"]).read()?;
    record_applied_skipping(cache, c, &tree, &files, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::git::commit_fixed;

    fn repo_with(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("patches/gcc");
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        d
    }

    #[test]
    fn series_is_ordered_by_number() {
        let d = repo_with(&["0002-b.patch", "0001-a.patch", ".gitkeep", "0003-c.patch"]);
        let names: Vec<_> = series(d.path(), Component::Gcc)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["0001-a.patch", "0002-b.patch", "0003-c.patch"]);
    }

    #[test]
    fn series_gaps_duplicates_and_strays_are_errors() {
        for (files, needle) in [
            (&["0001-a.patch", "0003-c.patch"][..], "expected 0002"),
            (&["0001-a.patch", "0001-b.patch"][..], "expected 0002"),
            (&["0001-a.patch", "notes.txt"][..], "unexpected file"),
            (&["1-a.patch"][..], "4-digit"),
        ] {
            let d = repo_with(files);
            let err = series(d.path(), Component::Gcc).unwrap_err().to_string();
            assert!(err.contains(needle), "{files:?}: {err}");
        }
    }

    #[test]
    fn empty_or_absent_series_is_fine() {
        let d = tempfile::tempdir().unwrap();
        assert!(series(d.path(), Component::Glibc).unwrap().is_empty());
    }

    #[test]
    fn docs_only_patches_are_recognised() {
        let docs = "diff --git a/gcc/doc/invoke.texi b/gcc/doc/invoke.texi\n";
        let mixed = "diff --git a/gcc/doc/invoke.texi b/gcc/doc/invoke.texi\n\
                     diff --git a/gcc/common.opt b/gcc/common.opt\n";
        assert!(is_docs_only(docs));
        assert!(!is_docs_only(mixed));
        assert!(!is_docs_only("no diff at all"));
    }

    /// A small source "work tree" set up the way `sources::prepare` does.
    fn work_tree() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("src/gcc");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("a.c"), "int a;\nint b;\nint c;\n").unwrap();
        std::fs::write(t.join("b.c"), "int z;\n").unwrap();
        git(&t).args(["init", "-q"]).read().unwrap();
        git(&t).args(["add", "-A"]).read().unwrap();
        commit_fixed(&t, "Import").unwrap();
        git(&t).args(["tag", "pristine"]).read().unwrap();
        git(&t).args(["tag", "base"]).read().unwrap();
        git(&t)
            .args(["checkout", "-q", "-B", "series"])
            .read()
            .unwrap();
        (d, t)
    }

    fn dev_commit(t: &Path, file: &str, text: &str, msg: &str) {
        std::fs::write(t.join(file), text).unwrap();
        git(t)
            .args(["commit", "-q", "-a", "-m", msg])
            .env("GIT_AUTHOR_NAME", "Dev")
            .env("GIT_AUTHOR_EMAIL", "dev@example.org")
            .env("GIT_AUTHOR_DATE", "2026-11-01T10:00:00+0000")
            .read()
            .unwrap();
    }

    #[test]
    fn export_then_apply_round_trips_and_is_stable() {
        let (d, t) = work_tree();
        let cache = Cache::at(d.path());
        let repo = d.path().join("repo");
        record_applied(&cache, Component::Gcc, &t, &[]).unwrap();
        dev_commit(
            &t,
            "a.c",
            "int a;\nint B;\nint c;\n",
            "First change\n\n\t* a.c: Rename b.",
        );
        dev_commit(&t, "b.c", "int y;\n", "Second change");
        assert_eq!(state(&cache, &repo, Component::Gcc).unwrap(), State::Ahead);
        let (written, _) = export(&cache, &repo, Component::Gcc).unwrap();
        assert_eq!(
            written,
            ["0001-First-change.patch", "0002-Second-change.patch"]
        );
        assert_eq!(
            state(&cache, &repo, Component::Gcc).unwrap(),
            State::InSync { patches: 2 }
        );
        let first =
            std::fs::read_to_string(repo.join("patches/gcc/0001-First-change.patch")).unwrap();
        assert!(
            first.starts_with("From 0000000000000000000000000000000000000000 "),
            "{first}"
        );
        assert!(first.contains("Subject: [PATCH] First change"), "{first}");
        assert!(
            !first.contains("-- \n2."),
            "version signature leaked: {first}"
        );

        // Re-applying the series in a fresh object database gives the same
        // tree, and exporting again changes nothing.
        let (tip, skipped) = build_commits(
            &Ui::new(),
            &t,
            "base",
            &series(&repo, Component::Gcc).unwrap(),
            false,
        )
        .unwrap();
        assert!(skipped.is_empty());
        let head_tree = git(&t).args(["rev-parse", "HEAD^{tree}"]).read().unwrap();
        let tip_tree = git(&t)
            .args(["rev-parse", &format!("{tip}^{{tree}}")])
            .read()
            .unwrap();
        assert_eq!(head_tree, tip_tree);
        let (written, removed) = export(&cache, &repo, Component::Gcc).unwrap();
        assert!(
            written.is_empty() && removed.is_empty(),
            "{written:?} {removed:?}"
        );
    }

    #[test]
    fn sync_touches_only_changed_files() {
        let (d, t) = work_tree();
        let cache = Cache::at(d.path());
        let repo = d.path().join("repo");
        record_applied(&cache, Component::Gcc, &t, &[]).unwrap();
        dev_commit(&t, "a.c", "int a;\nint B;\nint c;\n", "Change a");
        export(&cache, &repo, Component::Gcc).unwrap();
        // Simulate a work tree synced to an older (empty) series, followed
        // by a `git pull` that brought the new patch.
        git(&t)
            .args(["checkout", "-q", "-B", "series", "base"])
            .read()
            .unwrap();
        record_applied(&cache, Component::Gcc, &t, &[]).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for f in ["a.c", "b.c"] {
            std::fs::File::options()
                .write(true)
                .open(t.join(f))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        sync(&Ui::new(), &cache, &repo, Component::Gcc, &t, false).unwrap();
        let mtime = |f: &str| std::fs::metadata(t.join(f)).unwrap().modified().unwrap();
        assert_eq!(mtime("b.c"), old, "unchanged file was rewritten");
        assert_ne!(mtime("a.c"), old);
        assert_eq!(
            std::fs::read_to_string(t.join("a.c")).unwrap(),
            "int a;\nint B;\nint c;\n"
        );
        assert_eq!(
            state(&cache, &repo, Component::Gcc).unwrap(),
            State::InSync { patches: 1 }
        );
    }

    #[test]
    fn patch_that_does_not_apply_names_patch_and_file() {
        let (d, t) = work_tree();
        let repo = d.path().join("repo");
        let dir = repo.join("patches/gcc");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("0001-Bad.patch"),
            "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n\
             From: Dev <dev@example.org>\nDate: Sun, 1 Nov 2026 10:00:00 +0000\n\
             Subject: [PATCH] Bad\n\n---\n\
             diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -1,3 +1,3 @@\n int a;\n-int q;\n+int r;\n int c;\n",
        )
        .unwrap();
        let files = series(&repo, Component::Gcc).unwrap();
        let err = build_commits(&Ui::new(), &t, "base", &files, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("0001-Bad.patch does not apply"), "{err}");
        assert!(err.contains("a.c"), "{err}");
        // The work tree is untouched.
        assert!(dirty_files(&t).unwrap().is_empty());
    }

    #[test]
    fn developer_work_blocks_sync_with_a_clear_message() {
        let (d, t) = work_tree();
        let cache = Cache::at(d.path());
        let repo = d.path().join("repo");
        record_applied(&cache, Component::Gcc, &t, &[]).unwrap();
        std::fs::write(t.join("b.c"), "int changed;\n").unwrap();
        let err = ensure_no_developer_work(&cache, Component::Gcc, &t)
            .unwrap_err()
            .to_string();
        assert!(err.contains("uncommitted changes"), "{err}");
        assert!(matches!(
            state(&cache, &repo, Component::Gcc).unwrap(),
            State::Dirty(_)
        ));
        git(&t).args(["checkout", "."]).read().unwrap();
        dev_commit(&t, "b.c", "int w;\n", "Unexported");
        let err = ensure_no_developer_work(&cache, Component::Gcc, &t)
            .unwrap_err()
            .to_string();
        assert!(err.contains("patches export"), "{err}");
    }
}
