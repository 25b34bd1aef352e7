//! Infrastructure every layer uses: processes and progress output (`shell`),
//! the cache directory (`cache`), git work trees (`git`), host packages
//! (`hostdeps`), the pinned sources (`manifest`). Imports nothing above it.

pub mod cache;
pub mod git;
pub mod hostdeps;
pub mod manifest;
pub mod shell;
