//! DIMACS min-cost flow (`.min`) and assignment (`.asn`) files, and OR-Library `assignp`
//! matrices. Read as bytes: lines and tokens are slices of the input, nothing is allocated per
//! line, and every error names its line.

use crate::parse_error::{ParseError, Problem};
use commonsnet_solvers::AssignmentProblem;
use commonsnet_solvers::{FlowProblem, INFINITE};

/// Lines of a byte buffer with their 1-based numbers.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
}

fn int(tok: Option<&[u8]>, line: usize, what: &'static str) -> Result<i64, ParseError> {
    let tok = tok.ok_or_else(|| ParseError::at(line, Problem::Missing(what)))?;
    let (neg, digits) = match tok.first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::at(
            line,
            Problem::NotAnInteger {
                what,
                found: String::from_utf8_lossy(tok).into_owned(),
            },
        ));
    }
    let mut v: i64 = 0;
    for d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as i64))
            .ok_or_else(|| ParseError::at(line, Problem::Overflow(what)))?;
    }
    Ok(if neg { -v } else { v })
}

fn node(
    tok: Option<&[u8]>,
    line: usize,
    n: usize,
    what: &'static str,
) -> Result<usize, ParseError> {
    let v = int(tok, line, what)?;
    if v < 1 || v as u64 > n as u64 {
        return Err(ParseError::at(
            line,
            Problem::NotANode {
                what,
                value: v,
                nodes: n,
            },
        ));
    }
    Ok(v as usize - 1)
}

/// The problem line `p KIND N M`, checked against the size of the file: an arc line takes at
/// least 4 bytes (`a 1 2 3` is 7 with its newline), so a file of `len` bytes cannot hold more
/// than `len / 4` arcs; a node numbered on no line is isolated, and a file cannot describe more
/// nodes than it has bytes. Nothing is allocated from a count the file cannot back.
fn problem_line(
    toks: &mut DataLine,
    line: usize,
    kind: &[u8],
    file_len: usize,
) -> Result<(usize, usize), ParseError> {
    let k = toks.next().unwrap_or_default();
    if k != kind {
        return Err(ParseError::at(
            line,
            Problem::ProblemKind {
                expected: String::from_utf8_lossy(kind).into_owned(),
                found: String::from_utf8_lossy(k).into_owned(),
            },
        ));
    }
    let n = int(toks.next(), line, "the node count")?;
    let m = int(toks.next(), line, "the arc count")?;
    if !(0..=100_000_000).contains(&n) || !(0..=1_000_000_000).contains(&m) {
        return Err(ParseError::at(
            line,
            Problem::SizeOutOfRange { nodes: n, arcs: m },
        ));
    }
    let (n, m) = (n as usize, m as usize);
    if m > file_len / 4 || n > file_len {
        return Err(ParseError::at(
            line,
            Problem::SizeBeyondFile {
                nodes: n,
                arcs: m,
                file_len,
            },
        ));
    }
    Ok((n, m))
}

/// What [`scan`] hands on: the problem size, then each `n` or `a` line.
enum Event<'a> {
    Header {
        nodes: usize,
        arcs: usize,
        line: usize,
    },
    Data(DataLine<'a>),
}

/// One line being read: its tag, its remaining tokens, its number, the declared node count.
struct DataLine<'a> {
    tag: &'a [u8],
    /// The rest of the line after the tag.
    rest: &'a [u8],
    line: usize,
    nodes: usize,
}

impl<'a> DataLine<'a> {
    /// The next whitespace-separated token, as a slice of the input.
    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let rest = &self.rest[start..];
        let end = rest
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

/// Walk a DIMACS file of problem type `kind`: comments skipped, exactly one problem line
/// first, `n` and `a` lines handed on, and the declared arc count checked.
fn scan<'a>(
    bytes: &'a [u8],
    kind: &[u8],
    mut on: impl FnMut(Event<'a>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut declared: Option<(usize, usize)> = None;
    let mut arcs = 0usize;
    let mut last_line = 0;
    for (ln, line) in lines(bytes) {
        last_line = ln;
        let mut first = DataLine {
            tag: b"",
            rest: line,
            line: ln,
            nodes: 0,
        };
        let Some(tag) = first.next() else { continue };
        match tag {
            b"c" => {}
            b"p" => {
                if declared.is_some() {
                    return Err(ParseError::at(ln, Problem::SecondProblemLine));
                }
                let (n, m) = problem_line(&mut first, ln, kind, bytes.len())?;
                on(Event::Header {
                    nodes: n,
                    arcs: m,
                    line: ln,
                })?;
                declared = Some((n, m));
            }
            b"n" | b"a" => {
                let (n, _) =
                    declared.ok_or_else(|| ParseError::at(ln, Problem::DataBeforeProblemLine))?;
                if tag == b"a" {
                    arcs += 1;
                }
                on(Event::Data(DataLine {
                    tag,
                    rest: first.rest,
                    line: ln,
                    nodes: n,
                }))?;
            }
            other => {
                return Err(ParseError::at(
                    ln,
                    Problem::UnknownLineType(String::from_utf8_lossy(other).into_owned()),
                ))
            }
        }
    }
    let (_, m) = declared.ok_or_else(|| {
        ParseError::at(
            last_line,
            Problem::NoProblemLine(String::from_utf8_lossy(kind).into_owned()),
        )
    })?;
    if arcs != m {
        return Err(ParseError::at(
            last_line,
            Problem::ArcCount {
                declared: m,
                found: arcs,
            },
        ));
    }
    Ok(())
}

/// Parse a DIMACS min-cost flow file. A capacity of `i64::MAX` stays "no upper bound".
pub fn parse_min(bytes: &[u8]) -> Result<FlowProblem, ParseError> {
    let mut fp = FlowProblem::new(0);
    scan(bytes, b"min", |ev| {
        let mut d = match ev {
            // Both counts are bounded by the file's size (see `problem_line`).
            Event::Header { nodes, arcs, .. } => {
                fp = FlowProblem::new(nodes);
                fp.source.reserve(arcs);
                fp.target.reserve(arcs);
                fp.lower.reserve(arcs);
                fp.upper.reserve(arcs);
                fp.cost.reserve(arcs);
                return Ok(());
            }
            Event::Data(d) => d,
        };
        let ln = d.line;
        if d.tag == b"n" {
            let v = node(d.next(), ln, d.nodes, "node id")?;
            fp.supply[v] = int(d.next(), ln, "supply")?;
            return Ok(());
        }
        let s = node(d.next(), ln, d.nodes, "tail")?;
        let t = node(d.next(), ln, d.nodes, "head")?;
        let lo = int(d.next(), ln, "lower bound")?;
        let up = int(d.next(), ln, "capacity")?;
        let c = int(d.next(), ln, "cost")?;
        if up < lo {
            return Err(ParseError::at(
                ln,
                Problem::CapacityBelowLower {
                    lower: lo,
                    upper: up,
                },
            ));
        }
        let up = if up == i64::MAX { INFINITE } else { up };
        fp.add_arc(s, t, lo, up, c);
        Ok(())
    })?;
    Ok(fp)
}

/// Cells of the dense assignment matrix a DIMACS `.asn` file may ask for per byte of file
/// (a sparse file lists only its arcs), and the allowance of any file.
const ASN_CELLS_PER_BYTE: usize = 128;
const ASN_MIN_CELLS: usize = 1 << 20;

/// Parse a DIMACS assignment file: `n` lines name the left nodes, arcs go left -> right.
pub fn parse_asn(bytes: &[u8]) -> Result<AssignmentProblem, ParseError> {
    let mut is_left: Vec<bool> = Vec::new();
    // Each arc with its line, which a later error names.
    let mut arcs: Vec<(usize, usize, i64, usize)> = Vec::new();
    let mut header_line = 0;
    scan(bytes, b"asn", |ev| {
        let mut d = match ev {
            // Both counts are bounded by the file's size (see `problem_line`).
            Event::Header {
                nodes,
                arcs: m,
                line,
            } => {
                is_left = vec![false; nodes];
                arcs.reserve(m);
                header_line = line;
                return Ok(());
            }
            Event::Data(d) => d,
        };
        let ln = d.line;
        if d.tag == b"n" {
            let v = node(d.next(), ln, d.nodes, "node id")?;
            is_left[v] = true;
            return Ok(());
        }
        let s = node(d.next(), ln, d.nodes, "left node")?;
        let t = node(d.next(), ln, d.nodes, "right node")?;
        let c = int(d.next(), ln, "cost")?;
        arcs.push((s, t, c, ln));
        Ok(())
    })?;
    let n = is_left.len();
    // Number the two sides in node order.
    let mut index = vec![0usize; n];
    let (mut left, mut right) = (0usize, 0usize);
    for v in 0..n {
        if is_left[v] {
            index[v] = left;
            left += 1;
        } else {
            index[v] = right;
            right += 1;
        }
    }
    // The solver keeps a dense `left x right` matrix; a sparse file may ask for far more cells
    // than it has bytes, but not without bound.
    let limit = bytes
        .len()
        .saturating_mul(ASN_CELLS_PER_BYTE)
        .max(ASN_MIN_CELLS);
    match left.checked_mul(right) {
        Some(cells) if cells <= limit => {}
        _ => {
            return Err(ParseError::at(
                header_line,
                Problem::MatrixTooLarge {
                    left,
                    right,
                    file_len: bytes.len(),
                    limit,
                },
            ))
        }
    }
    let mut p = AssignmentProblem::sparse(left, right);
    for (s, t, c, line) in arcs {
        if !is_left[s] || is_left[t] {
            return Err(ParseError::at(
                line,
                Problem::ArcSide {
                    from: s + 1,
                    to: t + 1,
                },
            ));
        }
        p.add(index[s], index[t], c);
    }
    Ok(p)
}

/// Parse an OR-Library `assignp` file: `n`, then `n * n` costs, row-major, lines wrapped anywhere.
pub fn parse_orlib_assign(bytes: &[u8]) -> Result<AssignmentProblem, ParseError> {
    let mut t = crate::orlib::Tokens::new(bytes);
    let line = t.line();
    let n = t.count("the matrix size", 100_000)?;
    // The costs grow with what is read: a size the file cannot back allocates nothing.
    let costs = t.ints(n * n, "a cost", line, &format!("a {n} x {n} matrix"))?;
    Ok(AssignmentProblem::dense(n, n, costs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_min_file_reads() {
        let text =
            b"c two nodes\np min 3 2\nn 1 4\nn 3 -4\na 1 2 0 5 3\na 2 3 1 9223372036854775807 -2\n";
        let p = parse_min(text).unwrap();
        assert_eq!(p.nodes, 3);
        assert_eq!(p.supply, [4, 0, -4]);
        assert_eq!(
            (p.source.clone(), p.target.clone()),
            (vec![0, 1], vec![1, 2])
        );
        assert_eq!((p.lower.clone(), p.cost.clone()), (vec![0, 1], vec![3, -2]));
        assert_eq!(p.upper, [5, INFINITE]);
        // CRLF line ends and blank lines are fine.
        assert_eq!(parse_min(b"p min 1 0\r\n\r\n").unwrap().nodes, 1);
    }

    #[test]
    fn min_errors_name_the_line() {
        for (text, want) in [
            (
                &b"a 1 2 0 1 1\n"[..],
                "line 1: data line before the problem line",
            ),
            (b"p min 2 1\na 1 2 0 1\n", "line 2: missing cost"),
            (
                b"p min 2 1\na 1 3 0 1 1\n",
                "line 2: head 3 is not a node in 1..2",
            ),
            (
                b"p min 2 1\na 1 2 5 1 1\n",
                "line 2: capacity 1 is below the lower bound 5",
            ),
            (b"p min 2 1\np min 2 1\n", "line 2: a second problem line"),
            (b"p max 2 1\n", "line 1: expected 'p min', found 'p max'"),
            (b"p min 2 1\nx\n", "line 2: unknown line type \"x\""),
            (
                b"p min 2 1\nn 1 99999999999999999999\n",
                "line 2: supply does not fit in 64 bits",
            ),
            (b"c only\n", "line 2: no 'p min' problem line"),
        ] {
            let e = parse_min(text).unwrap_err().to_string();
            assert_eq!(e, want, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn small_assignment_files_read() {
        let p = parse_asn(b"p asn 4 3\nn 1\nn 2\na 1 3 7\na 1 4 2\na 2 3 5\n").unwrap();
        assert_eq!((p.rows, p.cols), (2, 2));
        let e = parse_asn(b"p asn 3 1\nn 1\na 2 3 3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: the arc 2 -> 3 does not go from a left node to a right node"
        );
        let p = parse_orlib_assign(b"2\n1 2\n3\n4\n").unwrap();
        assert_eq!((p.rows, p.cols, p.cost.clone()), (2, 2, vec![1, 2, 3, 4]));
    }
}
