//! The `ember` binary is linked statically where `build.rs` found the static C libraries
//! (see its docs): no program interpreter (`PT_INTERP`), so no dynamic loader runs at
//! start-up.

use std::path::Path;

/// The ELF program header types of `path` (64-bit little-endian files only).
fn program_header_types(path: &Path) -> Vec<u32> {
    let elf = std::fs::read(path).expect("the ember binary is readable");
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(
        (elf[4], elf[5]),
        (2, 1),
        "not a 64-bit little-endian ELF file"
    );
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (offset, size, count) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..count)
        .map(|k| {
            let h = offset + k * size;
            u32::from_le_bytes(elf[h..h + 4].try_into().unwrap())
        })
        .collect()
}

#[test]
fn the_binary_has_no_dynamic_loader_when_linked_statically() {
    const PT_INTERP: u32 = 3;
    const PT_LOAD: u32 = 1;
    let types = program_header_types(Path::new(env!("CARGO_BIN_EXE_ember")));
    assert!(types.contains(&PT_LOAD), "{types:?}");
    match option_env!("EMBER_STATIC_LINK") {
        Some(_) => assert!(
            !types.contains(&PT_INTERP),
            "statically linked, yet {types:?}"
        ),
        // Linked as usual (no static C libraries, another target, or opted out): a
        // dynamically linked binary names its loader.
        None if cfg!(all(target_os = "linux", target_env = "gnu")) => {
            assert!(types.contains(&PT_INTERP), "{types:?}");
        }
        None => {}
    }
}
