//! A minimal writer of NumPy `.npy` files (format version 1.0) holding one-dimensional
//! structured arrays, the layout `ember run --format npy` uses.
//!
//! A file is the magic string `\x93NUMPY`, the version bytes `1, 0`, a little-endian `u16`
//! header length, and the header: a Python dict literal
//! `{'descr': [('name', '<u4'), …], 'fortran_order': False, 'shape': (N,), }` padded with
//! spaces and ended by `\n` so that the data starts at a multiple of 64 bytes. The records
//! follow, packed (no alignment padding), little-endian. `numpy.load(path)` reads such a file
//! without `allow_pickle`, since no field is an object.

use std::io::{self, Write};

/// The data of every file starts at a multiple of this many bytes.
pub const ALIGN: usize = 64;

/// The magic string that starts every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// One field of a structured record: its name and NumPy type string (`<u4`, `<u8`, `<f4`,
/// `<U16`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name (ASCII, no quotes).
    pub name: &'static str,
    /// NumPy type string, little-endian.
    pub dtype: String,
}

impl Field {
    /// A field named `name` of type `dtype`.
    pub fn new(name: &'static str, dtype: impl Into<String>) -> Field {
        Field {
            name,
            dtype: dtype.into(),
        }
    }

    /// Size in bytes of the field's type (`<u4` → 4, `<U16` → 64), from the type string.
    pub fn size(&self) -> usize {
        let kind = self.dtype.chars().nth(1).unwrap_or('?');
        let n: usize = self
            .dtype
            .get(2..)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if kind == 'U' { 4 * n } else { n }
    }
}

/// The size in bytes of one record of `fields`.
pub fn record_size(fields: &[Field]) -> usize {
    fields.iter().map(Field::size).sum()
}

/// The complete header (magic, version, length, dict, padding, newline) of a file holding
/// `len` records of `fields`.
pub fn header(fields: &[Field], len: u64) -> Vec<u8> {
    let descr: Vec<String> = fields
        .iter()
        .map(|f| format!("('{}', '{}')", f.name, f.dtype))
        .collect();
    let mut dict = format!(
        "{{'descr': [{}], 'fortran_order': False, 'shape': ({len},), }}",
        descr.join(", ")
    );
    // magic (6) + version (2) + header length (2) + dict + padding + '\n'
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(ALIGN) - unpadded,
    ));
    dict.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // A header of a few fields is far below 64 KiB, the limit of version 1.0.
    let len = u16::try_from(dict.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes the header of a file holding `len` records of `fields`.
pub fn write_header(out: &mut impl Write, fields: &[Field], len: u64) -> io::Result<()> {
    out.write_all(&header(fields, len))
}

/// Appends `s` as a NumPy fixed-width unicode field of `width` characters (`<U{width}`):
/// UTF-32LE code points, zero-padded; longer strings are cut at `width` characters.
pub fn push_unicode(buf: &mut Vec<u8>, s: &str, width: usize) {
    let mut n = 0;
    for c in s.chars().take(width) {
        buf.extend_from_slice(&u32::from(c).to_le_bytes());
        n += 1;
    }
    buf.resize(buf.len() + 4 * (width - n), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_padded_to_64_bytes_and_ends_in_newline() {
        let fields = [Field::new("a", "<u4"), Field::new("name", "<U16")];
        let h = header(&fields, 12);
        assert_eq!(h.len() % ALIGN, 0);
        assert!(h.starts_with(b"\x93NUMPY\x01\x00"));
        assert_eq!(
            u16::from_le_bytes([h[8], h[9]]) as usize,
            h.len() - 10,
            "header length field"
        );
        assert_eq!(h.last(), Some(&b'\n'));
        let dict = std::str::from_utf8(&h[10..]).unwrap().trim_end();
        assert_eq!(
            dict,
            "{'descr': [('a', '<u4'), ('name', '<U16')], 'fortran_order': False, 'shape': (12,), }"
        );
        assert_eq!(record_size(&fields), 4 + 64);
    }

    #[test]
    fn unicode_fields_are_utf32_zero_padded() {
        let mut b = Vec::new();
        push_unicode(&mut b, "ab", 3);
        assert_eq!(b, [b'a', 0, 0, 0, b'b', 0, 0, 0, 0, 0, 0, 0]);
        b.clear();
        push_unicode(&mut b, "abcd", 2);
        assert_eq!(b.len(), 8);
    }
}
