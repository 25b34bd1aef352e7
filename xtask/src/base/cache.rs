//! The cache directory the xtask owns, outside the repository.
//!
//! Location: `$SPLIT_STACK_CACHE`, else `$XDG_CACHE_HOME/split-stack-aarch64`,
//! else `~/.cache/split-stack-aarch64`.  Everything in it is keyed by content
//! (source versions, patch contents, build options), never by the path of the
//! repository, so a fresh clone finds and reuses a matching build.
//!
//! ```text
//! apt/                    private apt configuration, lists and .deb archive
//! src/<component>/        git work trees (pristine import + one commit per patch)
//! build/<component>/      incremental build trees
//! stage/<component>/      `make install DESTDIR=` staging, synced into place
//! toolchain/              the installed prefix; published only when
//!                         toolchain/.ready holds the current key
//! toolchain/aarch64-linux-gnu/sys-root/   the patched glibc sysroot
//! sysroots/<name>/        stock glibc sysroots (Debian cross packages)
//! stamps/<step>.json      input key of each completed step
//! logs/<step>.log         full output of every step
//! ccache/                 compiler cache for the host compilers
//! lock                    held by one build at a time
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Environment variable that overrides the cache location.
pub const CACHE_ENV: &str = "SPLIT_STACK_CACHE";

/// Paths inside the cache.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache at its configured location (see module docs).
    ///
    /// Errors: no `$SPLIT_STACK_CACHE`, `$XDG_CACHE_HOME` or `$HOME`.
    pub fn from_env() -> Result<Cache> {
        let root = if let Some(p) = std::env::var_os(CACHE_ENV).filter(|p| !p.is_empty()) {
            PathBuf::from(p)
        } else if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
            PathBuf::from(p).join("split-stack-aarch64")
        } else if let Some(h) = std::env::var_os("HOME").filter(|p| !p.is_empty()) {
            PathBuf::from(h).join(".cache/split-stack-aarch64")
        } else {
            anyhow::bail!("cannot place the cache: set {CACHE_ENV} to a directory");
        };
        Ok(Cache::at(root))
    }

    /// A cache rooted at `root` (used by tests with a temporary directory).
    pub fn at(root: impl Into<PathBuf>) -> Cache {
        let root = root.into();
        let root = if root.is_relative() {
            std::env::current_dir()
                .map(|d| d.join(&root))
                .unwrap_or(root)
        } else {
            root
        };
        Cache { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn apt(&self) -> PathBuf {
        self.root.join("apt")
    }
    pub fn src(&self, name: &str) -> PathBuf {
        self.root.join("src").join(name)
    }
    pub fn build(&self, name: &str) -> PathBuf {
        self.root.join("build").join(name)
    }
    pub fn stage(&self, name: &str) -> PathBuf {
        self.root.join("stage").join(name)
    }
    pub fn toolchain(&self) -> PathBuf {
        self.root.join("toolchain")
    }
    /// The patched glibc sysroot (GCC's relocatable `$prefix/$target/sys-root`).
    pub fn patched_sysroot(&self) -> PathBuf {
        self.toolchain().join("aarch64-linux-gnu/sys-root")
    }
    pub fn old_sysroot(&self, name: &str) -> PathBuf {
        self.root.join("sysroots").join(name)
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn log(&self, step: &str) -> PathBuf {
        self.logs().join(format!("{step}.log"))
    }
    pub fn ccache(&self) -> PathBuf {
        self.root.join("ccache")
    }
    pub fn ready_file(&self) -> PathBuf {
        self.toolchain().join(".ready")
    }

    fn stamp_path(&self, step: &str) -> PathBuf {
        self.root.join("stamps").join(format!("{step}.json"))
    }

    /// The stamp of `step`, if the step completed at some point.
    pub fn stamp(&self, step: &str) -> Option<Stamp> {
        let text = std::fs::read_to_string(self.stamp_path(step)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Whether `step` last completed with exactly `key`.
    pub fn is_done(&self, step: &str, key: &str) -> bool {
        self.stamp(step).is_some_and(|s| s.key == key)
    }

    /// Records that `step` completed with `key` (atomically: write + rename).
    pub fn mark_done(&self, step: &str, key: &str, detail: serde_json::Value) -> Result<()> {
        let stamp = Stamp {
            key: key.to_string(),
            detail,
        };
        write_atomic(
            &self.stamp_path(step),
            serde_json::to_string_pretty(&stamp)?.as_bytes(),
        )
    }

    /// Forgets `step` (before re-running it, so an interrupted run is never
    /// mistaken for a completed one).
    pub fn clear(&self, step: &str) -> Result<()> {
        match std::fs::remove_file(self.stamp_path(step)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Takes the cache lock, waiting (with a message) while another xtask
    /// process holds it.  The lock is released when the guard is dropped or
    /// the process dies (it is an advisory `flock`, so `kill -9` frees it).
    pub fn lock(&self) -> Result<LockGuard> {
        use fs4::fs_std::FileExt;
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create the cache {}", self.root.display()))?;
        let path = self.root.join("lock");
        let file =
            File::create(&path).with_context(|| format!("cannot open {}", path.display()))?;
        if !file.try_lock_exclusive().unwrap_or(false) {
            eprintln!(
                "waiting for another `cargo xtask` to release {} ...",
                path.display()
            );
            file.lock_exclusive()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Ok(LockGuard { _file: file })
    }
}

/// Holds the cache lock while alive.
pub struct LockGuard {
    _file: File,
}

/// A completed step: its input key and free-form details (versions, times).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stamp {
    pub key: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// Writes `data` to `path` through a temporary file and a rename, so readers
/// see the old or the new content, never a torn write.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no parent")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().map_or("f".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    std::fs::write(&tmp, data).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// An order-sensitive SHA-256 over named parts; the hex digest is a cache key.
#[derive(Default)]
pub struct KeyHasher {
    h: Sha256,
}

impl KeyHasher {
    pub fn new(kind: &str) -> KeyHasher {
        let mut k = KeyHasher::default();
        k.part("kind", kind.as_bytes());
        k
    }

    /// Adds a named part; name and value are length-prefixed so that
    /// `("ab","c")` and `("a","bc")` differ.
    pub fn part(&mut self, name: &str, value: &[u8]) -> &mut KeyHasher {
        for bytes in [name.as_bytes(), value] {
            self.h.update((bytes.len() as u64).to_le_bytes());
            self.h.update(bytes);
        }
        self
    }

    pub fn str(&mut self, name: &str, value: &str) -> &mut KeyHasher {
        self.part(name, value.as_bytes())
    }

    /// The key: the first 16 bytes of the digest in hex (32 characters).
    pub fn finish(&self) -> String {
        hex::encode(&self.h.clone().finalize()[..16])
    }
}

/// SHA-256 of a file's content, in hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_every_part_and_its_boundaries() {
        let k = |parts: &[(&str, &str)]| {
            let mut h = KeyHasher::new("t");
            for (n, v) in parts {
                h.str(n, v);
            }
            h.finish()
        };
        assert_eq!(k(&[("a", "1")]), k(&[("a", "1")]));
        assert_ne!(k(&[("a", "1")]), k(&[("a", "2")]));
        assert_ne!(k(&[("ab", "c")]), k(&[("a", "bc")]));
        assert_ne!(k(&[("a", "1"), ("b", "2")]), k(&[("b", "2"), ("a", "1")]));
        assert_eq!(k(&[]).len(), 32);
    }

    #[test]
    fn stamps_round_trip_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::at(dir.path());
        assert!(!c.is_done("gcc-build", "k1"));
        c.mark_done("gcc-build", "k1", serde_json::json!({"v": 1}))
            .unwrap();
        assert!(c.is_done("gcc-build", "k1"));
        assert!(!c.is_done("gcc-build", "k2"));
        c.clear("gcc-build").unwrap();
        assert!(!c.is_done("gcc-build", "k1"));
        c.clear("gcc-build").unwrap();
    }

    #[test]
    fn corrupt_stamp_counts_as_not_done() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::at(dir.path());
        std::fs::create_dir_all(dir.path().join("stamps")).unwrap();
        std::fs::write(dir.path().join("stamps/x.json"), "{trunc").unwrap();
        assert!(!c.is_done("x", "k"));
    }

    #[test]
    fn lock_is_exclusive_between_handles() {
        use fs4::fs_std::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::at(dir.path());
        let g = c.lock().unwrap();
        let other = File::open(dir.path().join("lock")).unwrap();
        assert!(!other.try_lock_exclusive().unwrap_or(false));
        drop(g);
        assert!(other.try_lock_exclusive().unwrap());
    }
}
