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

/// The 8-byte little-endian value of the dynamic data symbol `name` in a
/// 64-bit ELF shared object, read from the section that holds it.
///
/// Errors: not an ELF file, no such dynamic symbol, or the symbol is not
/// 8 bytes of initialised data.
pub fn dynamic_i64(data: &[u8], name: &str) -> Result<i64> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(data).context("not an ELF file")?;
    let sym = file
        .dynamic_symbols()
        .find(|s| s.name() == Ok(name) && s.is_definition())
        .with_context(|| format!("no dynamic symbol {name}"))?;
    anyhow::ensure!(sym.size() == 8, "{name} is {} bytes, not 8", sym.size());
    let section = sym
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
        .with_context(|| format!("{name} is not in a section"))?;
    let bytes = section
        .data_range(sym.address(), 8)?
        .with_context(|| format!("{name} has no initialised data"))?;
    let arr: [u8; 8] = bytes.try_into().context("short read")?;
    Ok(i64::from_le_bytes(arr))
}
