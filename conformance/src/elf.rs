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
    /// The version node, e.g. `GLIBC_ABI_SPLIT_STACK`.
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

/// The program interpreter (`PT_INTERP`, e.g. `/lib/ld-linux-aarch64.so.1`)
/// of the 64-bit ELF file at `path`, or `None` for a statically linked
/// executable (static and static-pie programs have no `PT_INTERP`).
///
/// Errors: the file cannot be read or is not a 64-bit ELF file.
pub fn interpreter(path: &std::path::Path) -> Result<Option<String>> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header = FileHeader64::<Endianness>::parse(&*data)
        .with_context(|| format!("{} is not a 64-bit ELF file", path.display()))?;
    let endian = header.endian()?;
    for ph in header.program_headers(endian, &*data)? {
        use object::read::elf::ProgramHeader;
        if let Some(bytes) = ph.interpreter(endian, &*data)? {
            return Ok(Some(String::from_utf8_lossy(bytes).into_owned()));
        }
    }
    Ok(None)
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

/// A relocation inside a function of a relocatable object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionReloc {
    /// Where it applies, in bytes from the function's start.
    pub at: u64,
    /// ELF relocation type (`R_AARCH64_*`, e.g. 275 for
    /// `R_AARCH64_ADR_PREL_PG_HI21`).
    pub r_type: u32,
    /// Name of the target symbol (empty for a section symbol).
    pub symbol: String,
    /// The target as an offset from this function's start, in bytes, when
    /// it lies in the function's own section (a local label, a section
    /// symbol plus addend, or the function itself); `None` otherwise.
    pub local_target: Option<i64>,
}

/// A defined function of a relocatable object: its name, bytes, and the
/// offsets (from the function start, in bytes) of relocations whose
/// target symbol is `__morestack`.
#[derive(Debug, Clone)]
pub struct ObjectFunction {
    /// Symbol name.
    pub name: String,
    /// The function's machine code (its symbol's size).
    pub code: Vec<u8>,
    /// Offsets of relocations against `__morestack` inside the function.
    pub morestack_relocs: Vec<u64>,
    /// Every relocation inside the function, in address order.
    pub relocs: Vec<FunctionReloc>,
}

/// The defined functions of an ELF relocatable object or executable,
/// read with `object`.  Errors: not an ELF file, unreadable sections.
pub fn functions(data: &[u8], reloc_target: &str) -> Result<Vec<ObjectFunction>> {
    use object::{
        Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SymbolKind,
    };
    let file = object::File::parse(data).context("not an ELF object")?;
    let mut out = Vec::new();
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text || !sym.is_definition() || sym.size() == 0 {
            continue;
        }
        let Some(index) = sym.section_index() else {
            continue;
        };
        let section = file.section_by_index(index)?;
        let bytes = section.data()?;
        let start = (sym.address() - section.address()) as usize;
        let end = start + sym.size() as usize;
        let code = bytes
            .get(start..end)
            .with_context(|| format!("{} lies outside its section", sym.name().unwrap_or("?")))?
            .to_vec();
        let mut morestack_relocs = Vec::new();
        let mut relocs = Vec::new();
        for (off, rel) in section.relocations() {
            let off = off - section.address();
            if off < start as u64 || off >= end as u64 {
                continue;
            }
            let at = off - start as u64;
            let r_type = match rel.flags() {
                RelocationFlags::Elf { r_type } => r_type,
                _ => 0,
            };
            let (symbol, local_target) = match rel.target() {
                RelocationTarget::Symbol(si) => {
                    let t = file.symbol_by_index(si)?;
                    let name = t.name()?.to_string();
                    let local = (t.section_index() == Some(index)).then(|| {
                        (t.address() - section.address()) as i64 + rel.addend() - start as i64
                    });
                    (name, local)
                }
                RelocationTarget::Section(si) if si == index => {
                    (String::new(), Some(rel.addend() - start as i64))
                }
                _ => (String::new(), None),
            };
            if symbol == reloc_target {
                morestack_relocs.push(at);
            }
            relocs.push(FunctionReloc {
                at,
                r_type,
                symbol,
                local_target,
            });
        }
        relocs.sort_by_key(|r| r.at);
        out.push(ObjectFunction {
            name: sym.name()?.to_string(),
            code,
            morestack_relocs,
            relocs,
        });
    }
    Ok(out)
}

/// The file offset (bytes) of the 8-byte data of the dynamic symbol
/// `name` in the ELF file `data` (for planting a fault: a `libc.so.6`
/// whose `__tcb_private_ss` holds another value).
///
/// Errors: not an ELF file, no such dynamic symbol, or no file data.
pub fn dynamic_symbol_file_offset(data: &[u8], name: &str) -> Result<usize> {
    symbol_file_offset(data, name, true)
}

/// The file offset (bytes) of the defined symbol `name` (a dynamic one
/// with `dynamic`) in the ELF file `data`.  Errors: not an ELF file, no
/// such symbol, or no file data.
fn symbol_file_offset(data: &[u8], name: &str, dynamic: bool) -> Result<usize> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(data).context("not an ELF file")?;
    let found = |s: &object::Symbol<'_, '_>| s.name() == Ok(name) && s.is_definition();
    let sym = if dynamic {
        file.dynamic_symbols().find(found)
    } else {
        file.symbols().find(found)
    }
    .with_context(|| format!("no symbol {name}"))?;
    let section = sym
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
        .with_context(|| format!("{name} is not in a section"))?;
    let (start, _) = section
        .file_range()
        .with_context(|| format!("{name}'s section has no file data"))?;
    Ok((start + sym.address() - section.address()) as usize)
}

/// The file offsets (bytes) of the code of the function `name` in the ELF
/// file `data`: from its symbol's value, `st_size` bytes long.  Errors:
/// not an ELF file, no such defined symbol, a size of 0, or code outside
/// the file.
pub fn function_file_range(data: &[u8], name: &str) -> Result<std::ops::Range<usize>> {
    use object::{Object, ObjectSymbol};
    let start = symbol_file_offset(data, name, false)?;
    let file = object::File::parse(data).context("not an ELF file")?;
    let size = file
        .symbols()
        .find(|s| s.name() == Ok(name) && s.is_definition())
        .map(|s| s.size() as usize)
        .unwrap_or(0);
    if size == 0 || start + size > data.len() {
        anyhow::bail!("{name}: no size, or code outside the file");
    }
    Ok(start..start + size)
}

/// In the relocatable object `data`, the thread-pointer-relative access of
/// the function `name` (`mrs xT, tpidr_el0` among its first four
/// instructions, then the load or store through xT): its file offset in
/// bytes and its instruction word.
///
/// Errors: not an ELF object, no such function, or no such access.
pub fn tp_access_word(data: &[u8], name: &str) -> Result<(usize, u32)> {
    let func = symbol_file_offset(data, name, false)?;
    let code = data
        .get(func..func + 20)
        .with_context(|| format!("{name} lies outside the file"))?;
    crate::prologue::tp_access_offset(code).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    for k in 0..4 {
        let w = u32::from_le_bytes(code[k * 4..k * 4 + 4].try_into()?);
        // mrs xT, tpidr_el0
        if w & 0xffff_ffe0 == 0xd53b_d040 {
            let at = func + (k + 1) * 4;
            let acc = u32::from_le_bytes(data[at..at + 4].try_into()?);
            return Ok((at, acc));
        }
    }
    anyhow::bail!("{name}: no mrs of tpidr_el0")
}

/// Layout of a C structure type as the DWARF of a compiled binary states
/// it: `byte_size` and each named member's offset, both in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructLayout {
    /// `DW_AT_byte_size` of the structure.
    pub byte_size: u64,
    /// `(name, DW_AT_data_member_location)` of each member, in order.
    pub members: Vec<(String, u64)>,
}

/// The layout of the structure named by the C `typedef` `name` (for
/// example glibc's `tcbprehead_t`), read with `gimli` from the DWARF of
/// the linked ELF file `data` (relocations of a relocatable object's
/// DWARF are not applied); the first definition found.
///
/// Errors: not an ELF file, no DWARF, malformed DWARF, or no such
/// typedef of a structure with a size.
pub fn typedef_struct_layout(data: &[u8], name: &str) -> Result<StructLayout> {
    use object::{Object, ObjectSection};
    use std::borrow::Cow;
    let file = object::File::parse(data).context("not an ELF file")?;
    if file.section_by_name(".debug_info").is_none() {
        anyhow::bail!("no DWARF (.debug_info): built without -g, or stripped");
    }
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let load = |id: gimli::SectionId| -> Result<Cow<'_, [u8]>, gimli::Error> {
        Ok(file
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[])))
    };
    let sections = gimli::DwarfSections::load(load)?;
    let dwarf = sections.borrow(|s| gimli::EndianSlice::new(s, endian));
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        let mut entries = unit.entries();
        while let Some((_, entry)) = entries.next_dfs()? {
            if entry.tag() != gimli::DW_TAG_typedef {
                continue;
            }
            let Some(n) = entry.attr_value(gimli::DW_AT_name)? else {
                continue;
            };
            if dwarf.attr_string(&unit, n)?.slice() != name.as_bytes() {
                continue;
            }
            let Some(gimli::AttributeValue::UnitRef(target)) =
                entry.attr_value(gimli::DW_AT_type)?
            else {
                continue;
            };
            let mut tree = unit.entries_tree(Some(target))?;
            let root = tree.root()?;
            let s = root.entry();
            if s.tag() != gimli::DW_TAG_structure_type {
                anyhow::bail!("{name} is not a typedef of a structure");
            }
            let Some(byte_size) = s
                .attr_value(gimli::DW_AT_byte_size)?
                .and_then(|v| v.udata_value())
            else {
                // A declaration: look for the definition elsewhere.
                continue;
            };
            let mut members = Vec::new();
            let mut children = root.children();
            while let Some(child) = children.next()? {
                let e = child.entry();
                if e.tag() != gimli::DW_TAG_member {
                    continue;
                }
                let member = match e.attr_value(gimli::DW_AT_name)? {
                    Some(v) => {
                        String::from_utf8_lossy(dwarf.attr_string(&unit, v)?.slice()).into_owned()
                    }
                    None => String::new(),
                };
                let off = e
                    .attr_value(gimli::DW_AT_data_member_location)?
                    .and_then(|v| v.udata_value())
                    .unwrap_or(0);
                members.push((member, off));
            }
            return Ok(StructLayout { byte_size, members });
        }
    }
    anyhow::bail!("no typedef {name} of a structure in the DWARF")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_of_a_dynamic_host_program_and_errors() {
        // The host's own shell is a dynamically linked 64-bit ELF program.
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        let interp = interpreter(&sh).unwrap();
        assert!(interp.is_some_and(|i| i.contains("ld-linux")));
        let d = tempfile::tempdir().unwrap();
        let not_elf = d.path().join("x");
        std::fs::write(&not_elf, "#!/bin/sh\n").unwrap();
        assert!(interpreter(&not_elf).is_err());
        assert!(interpreter(&d.path().join("missing")).is_err());
    }

    #[test]
    fn struct_layout_from_the_dwarf_of_a_compiled_object() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("t.c");
        std::fs::write(
            &c,
            "typedef struct { void *r[3]; unsigned long g; } pre_t;\n\
             typedef struct { char c; } small_t;\n\
             pre_t x; small_t y;\n",
        )
        .unwrap();
        // Linked, as libc.so.6 is: gimli does not apply the relocations
        // of a relocatable object's DWARF.
        let o = d.path().join("t.so");
        let st = std::process::Command::new("cc")
            .args(["-g", "-shared", "-fPIC", "-o"])
            .arg(&o)
            .arg(&c)
            .status()
            .expect("the host C compiler (cc) is needed to build this workspace");
        assert!(st.success());
        let data = std::fs::read(&o).unwrap();
        let l = typedef_struct_layout(&data, "pre_t").unwrap();
        assert_eq!(l.byte_size, 32);
        assert_eq!(l.members, vec![("r".to_string(), 0), ("g".to_string(), 24)]);
        let l = typedef_struct_layout(&data, "small_t").unwrap();
        assert_eq!(l.byte_size, 1);
        let e = typedef_struct_layout(&data, "missing_t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no typedef missing_t"), "{e}");
        let st = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&o)
            .arg(&c)
            .status()
            .unwrap();
        assert!(st.success());
        let e = typedef_struct_layout(&std::fs::read(&o).unwrap(), "pre_t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no DWARF"), "{e}");
    }
}
