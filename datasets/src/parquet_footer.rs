//! A bounds check of a Parquet file's footer before arrow-rs decodes it.
//!
//! The footer (`FileMetaData`) is Thrift in the compact protocol. arrow-rs's decoder sizes a
//! list by the count its header claims (`Vec::with_capacity(n)`), so a footer of a few bytes
//! that claims 2^32 schema elements asks the allocator for tens of gigabytes and the process
//! aborts (found by fuzzing; the input is in `fuzz/regressions/parquet/`). This walk reads
//! the footer's structure without building anything and refuses every container that claims
//! more elements than bytes remain (each element of the compact protocol takes at least one
//! byte), every length past the end, unknown types and nesting deeper than Parquet uses.
//! Hand-written because it is a validator of one wire format, not a decoder: a Thrift library
//! would allocate by the same claims.

use std::fmt;

/// Nesting deeper than this is refused (Parquet's metadata nests a handful of levels; the
/// bound keeps the recursion's stack small whatever the bytes say).
const MAX_DEPTH: usize = 64;

/// Why a footer is refused, with the byte offset inside the footer where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FooterError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for FooterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad footer at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for FooterError {}

/// Check the footer of a whole Parquet file held in memory. A file too short to have a footer
/// is left to the decoder (it reports that itself); only the metadata it would decode is
/// walked.
pub fn check(file: &[u8]) -> Result<(), FooterError> {
    let n = file.len();
    if n < 12 || &file[n - 4..] != b"PAR1" {
        return Ok(());
    }
    let len = u32::from_le_bytes([file[n - 8], file[n - 7], file[n - 6], file[n - 5]]) as usize;
    if len > n - 12 {
        return Err(FooterError {
            offset: 0,
            what: "the footer claims more bytes than the file has",
        });
    }
    let mut walk = Walk {
        bytes: &file[n - 8 - len..n - 8],
        at: 0,
    };
    walk.value(STRUCT, 0)
}

const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const I8: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walk<'_> {
    fn fail<T>(&self, what: &'static str) -> Result<T, FooterError> {
        Err(FooterError {
            offset: self.at,
            what,
        })
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8, FooterError> {
        match self.bytes.get(self.at) {
            Some(&b) => {
                self.at += 1;
                Ok(b)
            }
            None => self.fail("truncated"),
        }
    }

    fn skip(&mut self, k: usize) -> Result<(), FooterError> {
        if k > self.left() {
            return self.fail("a length runs past the end");
        }
        self.at += k;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, FooterError> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        self.fail("a varint longer than 10 bytes")
    }

    /// A count of elements that each take at least `min` bytes, checked against what is left.
    fn count(&mut self, n: u64, min: usize) -> Result<usize, FooterError> {
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min) <= self.left() => Ok(n),
            _ => self.fail("a container claims more elements than the footer has bytes"),
        }
    }

    fn value(&mut self, ty: u8, depth: usize) -> Result<(), FooterError> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        match ty {
            BOOL_TRUE | BOOL_FALSE | I8 => self.skip(1),
            I16 | I32 | I64 => self.varint().map(|_| ()),
            DOUBLE => self.skip(8),
            UUID => self.skip(16),
            BINARY => {
                let n = self.varint()?;
                let n = self.count(n, 1)?;
                self.skip(n)
            }
            LIST | SET => {
                let head = self.byte()?;
                let elem = head & 0x0f;
                let n = match head >> 4 {
                    15 => self.varint()?,
                    small => u64::from(small),
                };
                let n = self.count(n, 1)?;
                for _ in 0..n {
                    self.value(elem, depth + 1)?;
                }
                Ok(())
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                let n = self.count(n, 2)?;
                for _ in 0..n {
                    self.value(types >> 4, depth + 1)?;
                    self.value(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => loop {
                let head = self.byte()?;
                let field = head & 0x0f;
                if field == 0 {
                    return Ok(());
                }
                if head >> 4 == 0 {
                    // A field id that is not a small delta follows as a zigzag varint.
                    self.varint()?;
                }
                // A boolean field carries its value in its type nibble.
                if field != BOOL_TRUE && field != BOOL_FALSE {
                    self.value(field, depth + 1)?;
                }
            },
            _ => self.fail("an unknown Thrift type"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(footer: &[u8]) -> Vec<u8> {
        let mut f = b"PAR1".to_vec();
        f.extend_from_slice(footer);
        f.extend_from_slice(&(footer.len() as u32).to_le_bytes());
        f.extend_from_slice(b"PAR1");
        f
    }

    #[test]
    fn a_well_formed_struct_passes() {
        // field 1: i32 2; field 2: list of 2 structs {field 1: binary "ab"}; stop.
        let footer = [
            0x15, 0x04, 0x19, 0x2c, 0x18, 0x02, b'a', b'b', 0x00, 0x18, 0x02, b'c', b'd', 0x00,
            0x00,
        ];
        assert_eq!(check(&file(&footer)), Ok(()));
    }

    #[test]
    fn a_list_claiming_more_elements_than_bytes_is_refused() {
        // field 1: list header with a varint size of 2^32 structs.
        let footer = [0x19, 0xfc, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00];
        let err = check(&file(&footer)).unwrap_err();
        assert!(err.what.contains("more elements"), "{err}");
    }

    #[test]
    fn a_binary_past_the_end_and_deep_nesting_are_refused() {
        assert!(check(&file(&[0x18, 0x7f, b'x', 0x00])).is_err());
        let deep: Vec<u8> = std::iter::repeat_n(0x1c, 100).collect();
        assert_eq!(check(&file(&deep)).unwrap_err().what, "nested too deeply");
    }

    #[test]
    fn the_fuzzed_footer_is_refused() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/regressions/parquet/arrow-rs-footer-list-claims-77gb.parquet"
        ))
        .unwrap();
        assert!(check(&bytes).is_err());
    }
}
