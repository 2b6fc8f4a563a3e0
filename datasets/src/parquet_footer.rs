//! A bounds check of a Parquet file's footer before arrow-rs decodes it.
//!
//! The footer (`FileMetaData`) is Thrift in the compact protocol. arrow-rs's decoder sizes a
//! list by the count its header claims (`Vec::with_capacity(n)`), so a footer of a few bytes
//! that claims 2^32 schema elements asks the allocator for tens of gigabytes and the process
//! aborts (found by fuzzing; the inputs are in `fuzz/regressions/parquet/`). This walk reads
//! the footer's structure without building anything and refuses every container that claims
//! more elements than bytes remain (each element of the compact protocol takes at least one
//! byte), every length past the end, unknown types and nesting deeper than Parquet uses.
//! arrow-rs matches fields by id and reads the type it expects whatever the wire type says,
//! so the walk follows the part of parquet.thrift it decodes (`Expect`): a known field of
//! another wire type is refused (else the two would read different bytes). The schema list is
//! walked as the pre-order tree arrow-rs builds from it ([`SchemaTree`]): arrow-rs recurses
//! once per level and reserves each group's `num_children` slots before reading them, so the
//! tree's depth and every claimed child count are bounded before it sees them.
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
        children: None,
    };
    walk.expect(FILE_META_DATA, 0)
}

fn zigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
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
    /// The `num_children` of the schema element being walked (the last one given: arrow-rs
    /// keeps the last of a repeated field).
    children: Option<i64>,
}

/// The schema list as the tree arrow-rs builds from it: in pre-order, each group (an element
/// with `num_children` > 0) followed by its children's subtrees. arrow-rs's conversion recurses
/// once per level with no limit and reserves a group's `num_children` slots before it reads a
/// child, so 100,000 nested one-child groups overflow its stack, and groups claiming n-1,
/// n-2, ... children reserve quadratic memory. Here the depth is bounded, and every group's
/// claim, together with the children its ancestors still await, must fit in the elements
/// left after it: then every claim is met by real elements, and the tree ends exactly at the
/// list's last element.
struct SchemaTree {
    /// Elements of the list not yet seen.
    left: u64,
    /// Children still awaited by each open group, outermost first.
    open: Vec<u64>,
    /// The sum of `open`.
    awaited: u64,
    /// The root has been seen.
    started: bool,
}

impl SchemaTree {
    fn new(len: usize) -> Self {
        SchemaTree {
            left: len as u64,
            open: Vec::new(),
            awaited: 0,
            started: false,
        }
    }

    /// The next element, with its `num_children` (none or 0: a leaf).
    fn element(&mut self, children: Option<i64>) -> Result<(), &'static str> {
        // `new` counted every element the list walk feeds here.
        self.left -= 1;
        if self.started {
            let Some(top) = self.open.last_mut() else {
                return Err("the schema's tree ends before its last element");
            };
            *top -= 1;
            self.awaited -= 1;
        }
        self.started = true;
        let claimed = match children {
            None | Some(0) => 0,
            Some(c) => match u64::try_from(c) {
                Ok(c) if c <= self.left - self.awaited => c,
                _ => return Err("a schema element claims more children than the schema has"),
            },
        };
        if claimed > 0 {
            if self.open.len() >= MAX_DEPTH {
                return Err("the schema is nested too deeply");
            }
            self.open.push(claimed);
            self.awaited += claimed;
        }
        while self.open.last() == Some(&0) {
            self.open.pop();
        }
        // `awaited <= left` holds after every element, so at the last one (`left == 0`) no
        // group awaits a child: the tree cannot end past the list.
        Ok(())
    }
}

/// What arrow-rs reads a value as: the part of parquet.thrift its footer decoder reads by
/// field id. Structs not listed (logical types, encryption) are walked by wire type.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    Bool,
    I16,
    I32,
    I64,
    Binary,
    /// `SchemaElement.num_children`: checked by [`SchemaTree`] once its element is read.
    Children,
    Struct(&'static [(i64, Expect)]),
    List(&'static Expect),
    /// `FileMetaData.schema`: a list of schema elements forming one tree ([`SchemaTree`]).
    Schema(&'static Expect),
}

impl Expect {
    fn on_wire(self, ty: u8) -> bool {
        match self {
            Expect::Bool => ty == BOOL_TRUE || ty == BOOL_FALSE,
            Expect::I16 => ty == I16,
            Expect::I32 | Expect::Children => ty == I32,
            Expect::I64 => ty == I64,
            Expect::Binary => ty == BINARY,
            Expect::Struct(_) => ty == STRUCT,
            Expect::List(_) | Expect::Schema(_) => ty == LIST,
        }
    }
}

use Expect::{Binary as B, Bool as Z, I16 as S, I32 as I, I64 as L};

// One Thrift struct a line (field id, expected wire type), as the format lists them.
const KEY_VALUE: Expect = Expect::Struct(&[(1, B), (2, B)]);
#[rustfmt::skip]
const STATISTICS: Expect = Expect::Struct(&[
    (1, B), (2, B), (3, L), (4, L), (5, B), (6, B), (7, Z), (8, Z),
]);
const PAGE_ENCODING_STATS: Expect = Expect::Struct(&[(1, I), (2, I), (3, I)]);
#[rustfmt::skip]
const SIZE_STATISTICS: Expect = Expect::Struct(&[
    (1, L), (2, Expect::List(&L)), (3, Expect::List(&L)),
]);
#[rustfmt::skip]
const COLUMN_META_DATA: Expect = Expect::Struct(&[
    (1, I), (2, Expect::List(&I)), (3, Expect::List(&B)), (4, I), (5, L), (6, L), (7, L),
    (8, Expect::List(&KEY_VALUE)), (9, L), (10, L), (11, L), (12, STATISTICS),
    (13, Expect::List(&PAGE_ENCODING_STATS)), (14, L), (15, I), (16, SIZE_STATISTICS),
]);
#[rustfmt::skip]
const COLUMN_CHUNK: Expect = Expect::Struct(&[
    (1, B), (2, L), (3, COLUMN_META_DATA), (4, L), (5, I), (6, L), (7, I), (9, B),
]);
const SORTING_COLUMN: Expect = Expect::Struct(&[(1, I), (2, Z), (3, Z)]);
#[rustfmt::skip]
const ROW_GROUP: Expect = Expect::Struct(&[
    (1, Expect::List(&COLUMN_CHUNK)), (2, L), (3, L), (4, Expect::List(&SORTING_COLUMN)), (5, L),
    (6, L), (7, S),
]);
#[rustfmt::skip]
const SCHEMA_ELEMENT: Expect = Expect::Struct(&[
    (1, I), (2, I), (3, I), (4, B), (5, Expect::Children), (6, I), (7, I), (8, I), (9, I),
]);
#[rustfmt::skip]
const FILE_META_DATA: Expect = Expect::Struct(&[
    (1, I), (2, Expect::Schema(&SCHEMA_ELEMENT)), (3, L), (4, Expect::List(&ROW_GROUP)),
    (5, Expect::List(&KEY_VALUE)), (6, B), (9, B),
]);

impl Walk<'_> {
    /// The fields of a struct up to its stop byte. `inspect(walk, id, type)` sees each field
    /// first and returns whether it read the value itself; other values are walked here.
    fn fields(
        &mut self,
        depth: usize,
        mut inspect: impl FnMut(&mut Self, i64, u8) -> Result<bool, FooterError>,
    ) -> Result<(), FooterError> {
        let mut id = 0i64;
        loop {
            let head = self.byte()?;
            let ty = head & 0x0f;
            if ty == 0 {
                return Ok(());
            }
            id = match head >> 4 {
                // A field id that is not a small delta follows as a zigzag varint.
                0 => zigzag(self.varint()?),
                delta => id + i64::from(delta),
            };
            // arrow-rs keeps field ids in an i16 and refuses what does not fit.
            if i16::try_from(id).is_err() {
                return self.fail("a field id beyond 16 bits");
            }
            if inspect(self, id, ty)? {
                continue;
            }
            // A boolean field carries its value in its type nibble.
            if ty != BOOL_TRUE && ty != BOOL_FALSE {
                self.value(ty, depth + 1)?;
            }
        }
    }

    /// A value arrow-rs reads as `e`: known fields must have the wire type arrow-rs will read
    /// them as (it matches fields by id and reads the type it expects, whatever the wire
    /// says), unknown ones are walked by their wire type, as arrow-rs skips them.
    fn expect(&mut self, e: Expect, depth: usize) -> Result<(), FooterError> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        match e {
            Expect::Bool => self.skip(1),
            Expect::I16 | Expect::I32 | Expect::I64 => self.varint().map(|_| ()),
            Expect::Binary => self.value(BINARY, depth),
            Expect::Children => {
                self.children = Some(zigzag(self.varint()?));
                Ok(())
            }
            Expect::Struct(fields) => self.fields(depth, |w, id, ty| {
                let Some(&(_, want)) = fields.iter().find(|f| f.0 == id) else {
                    return Ok(false);
                };
                if !want.on_wire(ty) {
                    return w.fail("a field has another type than Parquet's");
                }
                if want != Expect::Bool {
                    w.expect(want, depth + 1)?;
                }
                Ok(true)
            }),
            Expect::List(elem) | Expect::Schema(elem) => {
                let (ty, n) = self.list_header()?;
                if !elem.on_wire(ty) {
                    return self.fail("a list holds another type than Parquet's");
                }
                let mut tree = matches!(e, Expect::Schema(_)).then(|| SchemaTree::new(n));
                for _ in 0..n {
                    self.children = None;
                    self.expect(*elem, depth + 1)?;
                    if let Some(tree) = &mut tree {
                        let children = self.children.take();
                        if let Err(what) = tree.element(children) {
                            return self.fail(what);
                        }
                    }
                }
                Ok(())
            }
        }
    }

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

    /// A list or set header: the element type and the count, checked against what is left.
    fn list_header(&mut self) -> Result<(u8, usize), FooterError> {
        let head = self.byte()?;
        let n = match head >> 4 {
            15 => self.varint()?,
            small => u64::from(small),
        };
        Ok((head & 0x0f, self.count(n, 1)?))
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
                let (elem, n) = self.list_header()?;
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
            STRUCT => self.fields(depth, |_, _, _| Ok(false)),
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
        // field 1: i32 2; field 2: list of 2 schema elements, a root {field 4: binary "ab",
        // field 5 (num_children): 1} and its leaf {field 4: "cd"}; stop.
        let footer = [
            0x15, 0x04, 0x19, 0x2c, 0x48, 0x02, b'a', b'b', 0x15, 0x02, 0x00, 0x48, 0x02, b'c',
            b'd', 0x00, 0x00,
        ];
        assert_eq!(check(&file(&footer)), Ok(()));
    }

    /// A footer whose only field is the schema: one element per entry, with that
    /// `num_children` (field 5) or none.
    fn schema_footer(children: &[Option<i64>]) -> Vec<u8> {
        fn varint(out: &mut Vec<u8>, mut v: u64) {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        // Field 2, a list; its header: struct elements and the count.
        let mut f = vec![0x29];
        if children.len() < 15 {
            f.push(((children.len() as u8) << 4) | STRUCT);
        } else {
            f.push(0xf0 | STRUCT);
            varint(&mut f, children.len() as u64);
        }
        for c in children {
            if let Some(c) = c {
                f.push(0x50 | I32);
                varint(&mut f, ((c << 1) ^ (c >> 63)) as u64);
            }
            f.push(0x00);
        }
        f.push(0x00);
        f
    }

    fn refusal(children: &[Option<i64>]) -> &'static str {
        match check(&file(&schema_footer(children))) {
            Err(e) => e.what,
            Ok(()) => panic!("accepted: {children:?}"),
        }
    }

    #[test]
    fn schema_trees_that_end_at_their_last_element_pass() {
        let trees: [&[Option<i64>]; 5] = [
            // An empty schema: a root alone.
            &[None],
            &[Some(0)],
            // root(group(leaf, leaf), leaf), children counts of 0 on leaves as parquet-cpp
            // writes them.
            &[Some(2), Some(2), None, Some(0), None],
            // root(leaf, group(group(leaf)), leaf)
            &[Some(3), None, Some(1), Some(1), None, None],
            // A chain of 64 one-child groups (the most allowed) ending in a leaf.
            &[&[Some(1); MAX_DEPTH][..], &[None]].concat(),
        ];
        for t in trees {
            assert_eq!(check(&file(&schema_footer(t))), Ok(()), "{t:?}");
        }
    }

    #[test]
    fn a_schema_nested_deeper_than_the_limit_is_refused() {
        // arrow-rs recurses once per level: 100,000 one-child groups would overflow its stack.
        let mut chain = vec![Some(1); 100_000];
        chain.push(None);
        assert_eq!(refusal(&chain), "the schema is nested too deeply");
        let just_over = [&[Some(1); MAX_DEPTH + 1][..], &[None]].concat();
        assert_eq!(refusal(&just_over), "the schema is nested too deeply");
    }

    #[test]
    fn children_claims_beyond_the_elements_left_are_refused() {
        let more = "a schema element claims more children than the schema has";
        // Each group claiming all the elements after it: arrow-rs would reserve n^2 / 2 slots.
        let n = 20_000i64;
        let greedy: Vec<_> = (0..n).map(|i| Some(n - 1 - i)).collect();
        assert_eq!(refusal(&greedy), more);
        // A root claiming 2 children with one element after it.
        assert_eq!(refusal(&[Some(2), None]), more);
        // Fits the elements after it, but not with the sibling its parent still awaits.
        assert_eq!(refusal(&[Some(2), Some(2), None, None]), more);
        // arrow-rs would reserve a negative count cast to usize.
        assert_eq!(refusal(&[Some(-1), None]), more);
        assert_eq!(refusal(&[Some(1 << 40), None]), more);
    }

    #[test]
    fn a_schema_with_elements_after_its_tree_is_refused() {
        let ends = "the schema's tree ends before its last element";
        assert_eq!(refusal(&[None, None]), ends);
        assert_eq!(refusal(&[Some(1), None, None]), ends);
        assert_eq!(refusal(&[Some(1), Some(1), None, Some(1), None]), ends);
    }

    #[test]
    fn a_nested_file_written_by_arrow_rs_passes() {
        use arrow_array::builder::{Int32Builder, ListBuilder};
        use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StructArray};
        use arrow_schema::{DataType, Field};
        use std::sync::Arc;
        let mut list = ListBuilder::new(Int32Builder::new());
        list.values().append_value(1);
        list.append(true);
        let inner = StructArray::from(vec![(
            Arc::new(Field::new("x", DataType::Float64, true)),
            Arc::new(Float64Array::from(vec![2.5])) as ArrayRef,
        )]);
        let outer = StructArray::from(vec![(
            Arc::new(Field::new("inner", inner.data_type().clone(), true)),
            Arc::new(inner) as ArrayRef,
        )]);
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
            ("list", Arc::new(list.finish())),
            ("outer", Arc::new(outer)),
        ])
        .unwrap();
        let mut bytes = Vec::new();
        crate::frames::write_parquet(&mut bytes, batch.schema(), std::slice::from_ref(&batch))
            .unwrap();
        assert_eq!(check(&bytes), Ok(()));
    }

    #[test]
    fn a_list_claiming_more_elements_than_bytes_is_refused() {
        // field 2 (the schema): a list header with a varint size of 2^32 structs.
        let footer = [0x29, 0xfc, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00];
        let err = check(&file(&footer)).unwrap_err();
        assert!(err.what.contains("more elements"), "{err}");
    }

    #[test]
    fn a_binary_past_the_end_a_mistyped_field_and_deep_nesting_are_refused() {
        assert!(check(&file(&[0x68, 0x7f, b'x', 0x00])).is_err());
        // field 2 (the schema) sent as a struct: arrow-rs would read it as a list anyway.
        let err = check(&file(&[0x2c, 0x00, 0x00])).unwrap_err();
        assert!(err.what.contains("another type"), "{err}");
        let deep: Vec<u8> = std::iter::repeat_n(0xfc, 100).collect();
        assert_eq!(check(&file(&deep)).unwrap_err().what, "nested too deeply");
    }

    #[test]
    fn a_schema_element_claiming_more_children_than_the_schema_is_refused() {
        // field 2: list of 2 structs; the first has num_children (field 5, i32) = 1, then 2.
        let ok = [0x29, 0x2c, 0x55, 0x02, 0x00, 0x00, 0x00];
        assert_eq!(check(&file(&ok)), Ok(()));
        let bad = [0x29, 0x2c, 0x55, 0x04, 0x00, 0x00, 0x00];
        assert!(check(&file(&bad)).unwrap_err().what.contains("children"));
    }

    #[test]
    fn the_fuzzed_footers_are_refused() {
        for name in [
            "arrow-rs-footer-list-claims-77gb.parquet",
            "arrow-rs-schema-num-children-claims-6gb.parquet",
        ] {
            let path = format!(
                "{}/../fuzz/regressions/parquet/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            assert!(check(&std::fs::read(path).unwrap()).is_err(), "{name}");
        }
    }
}
