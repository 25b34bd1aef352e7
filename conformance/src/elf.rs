//! ELF facts read with the `object` crate.

use anyhow::{Context, Result};
use object::elf::FileHeader64;
use object::read::elf::FileHeader;
use object::Endianness;

/// A version a binary needs from a shared object (an entry of its
/// `.gnu.version_r` verneed table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNeed {
    /// The shared object, e.g. `libc.so.6`.
    pub file: String,
    /// The version node, e.g. `GLIBC_2.44`.
    pub version: String,
}

/// Every (file, version) pair in the verneed table of a 64-bit ELF file.
///
/// Errors: not a 64-bit ELF file, or a malformed verneed table.
pub fn needed_versions(data: &[u8]) -> Result<Vec<VersionNeed>> {
    let header = FileHeader64::<Endianness>::parse(data).context("not a 64-bit ELF file")?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let mut out = Vec::new();
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        while let Some((need, mut auxs)) = needs.next()? {
            let file = String::from_utf8_lossy(need.file(endian, strings)?).into_owned();
            while let Some(aux) = auxs.next()? {
                out.push(VersionNeed {
                    file: file.clone(),
                    version: String::from_utf8_lossy(aux.name(endian, strings)?).into_owned(),
                });
            }
        }
    }
    Ok(out)
}
