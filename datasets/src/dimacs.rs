//! DIMACS min-cost flow (`.min`) and assignment (`.asn`) files, and OR-Library `assignp`
//! matrices. Read as bytes: lines and tokens are slices of the input, nothing is allocated per
//! line, and every error names its line. A line holds exactly the fields its type has: a token
//! past them is refused rather than dropped (it is most often a field too many, typed where
//! another was meant).

use crate::orlib::{parse_int, BadInt, Sense, Tokens};
use crate::parse_error::{ParseError, Problem};
use commonsnet_solvers::{AssignmentProblem, FlowProblem, FORBIDDEN, INFINITE};

/// Record line `ln` as node `v`'s `n` line (`lines[v]`, 0 for none yet): a second one would
/// silently replace the first, so it is refused naming both lines.
fn first_n_line(lines: &mut [usize], v: usize, ln: usize) -> Result<(), ParseError> {
    if lines[v] != 0 {
        return Err(ParseError::at(
            ln,
            Problem::SecondNodeLine {
                node: v + 1,
                first: lines[v],
            },
        ));
    }
    lines[v] = ln;
    Ok(())
}

/// A token as an error shows it: at most 40 characters (a token can be a whole file).
fn shown(tok: &[u8]) -> String {
    const MAX: usize = 40;
    let text = String::from_utf8_lossy(&tok[..tok.len().min(MAX)]).into_owned();
    if tok.len() > MAX {
        text + "..."
    } else {
        text
    }
}

/// Lines of a byte buffer with their 1-based numbers.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    // A byte order mark (an editor's UTF-8 file) is no part of the first line.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
}

fn int(tok: Option<&[u8]>, line: usize, what: &'static str) -> Result<i64, ParseError> {
    let tok = tok.ok_or_else(|| ParseError::at(line, Problem::Missing(what)))?;
    parse_int(tok).map_err(|e| {
        let problem = match e {
            BadInt::NotAnInteger => Problem::NotAnInteger {
                what,
                found: String::from_utf8_lossy(tok).into_owned(),
            },
            BadInt::Overflow => Problem::Overflow(what),
        };
        ParseError::at(line, problem)
    })
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
    toks.end("the arc count (a problem line is 'p KIND NODES ARCS')")?;
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

/// One line being read: its tag, its remaining tokens, its number, its length, the declared
/// node count.
struct DataLine<'a> {
    tag: &'a [u8],
    /// The rest of the line after the tag.
    rest: &'a [u8],
    line: usize,
    /// Bytes of the line, its newline included.
    len: usize,
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

    /// The line must end here, after its last field (`after` names it and the line's form).
    fn end(&mut self, after: &str) -> Result<(), ParseError> {
        match self.next() {
            None => Ok(()),
            Some(tok) => Err(ParseError::at(
                self.line,
                Problem::ExtraData {
                    found: shown(tok),
                    after: after.to_string(),
                },
            )),
        }
    }
}

/// The bytes of a file's lines that are not comments: what the problem line's counts are
/// checked against (20 MB of comments bought 20 million nodes, 2.8 GB, before).
fn data_bytes(bytes: &[u8]) -> usize {
    lines(bytes)
        .filter(|(_, l)| {
            // Blank lines and comments (`c`, alone or before a blank) back nothing.
            let t = l.trim_ascii_start();
            let comment = t.first() == Some(&b'c') && t.get(1).is_none_or(u8::is_ascii_whitespace);
            !t.is_empty() && !comment
        })
        .map(|(_, l)| l.len() + 1)
        .sum()
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
            len: line.len() + 1,
            nodes: 0,
        };
        let Some(tag) = first.next() else { continue };
        match tag {
            b"c" => {}
            b"p" => {
                if declared.is_some() {
                    return Err(ParseError::at(ln, Problem::SecondProblemLine));
                }
                // A floor for small hand-made files of mostly isolated nodes (65,536 nodes
                // are a few megabytes).
                let backed = data_bytes(bytes).max(1 << 16);
                let (n, m) = problem_line(&mut first, ln, kind, backed)?;
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
                    nodes: n,
                    ..first
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

/// Parse a DIMACS min-cost flow file. A capacity of `i64::MAX` stays "no upper bound". Parallel
/// arcs are distinct arcs, as in the format; a node's supply is given once.
pub fn parse_min(bytes: &[u8]) -> Result<FlowProblem, ParseError> {
    let mut fp = FlowProblem::new(0);
    // The line of each node's `n` line (0: none yet), to refuse a second one naming both.
    let mut n_line: Vec<usize> = Vec::new();
    scan(bytes, b"min", |ev| {
        let mut d = match ev {
            // Both counts are bounded by the file's size (see `problem_line`).
            Event::Header { nodes, arcs, .. } => {
                fp = FlowProblem::new(nodes);
                n_line = vec![0; nodes];
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
            let supply = int(d.next(), ln, "supply")?;
            d.end("the supply (an 'n' line is 'n NODE SUPPLY')")?;
            first_n_line(&mut n_line, v, ln)?;
            fp.supply[v] = supply;
            return Ok(());
        }
        let s = node(d.next(), ln, d.nodes, "tail")?;
        let t = node(d.next(), ln, d.nodes, "head")?;
        let lo = int(d.next(), ln, "lower bound")?;
        let up = int(d.next(), ln, "capacity")?;
        let c = int(d.next(), ln, "cost")?;
        d.end("the cost (an 'a' line is 'a TAIL HEAD LOWER CAPACITY COST')")?;
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

/// Cells of the dense assignment matrix a DIMACS `.asn` file may ask for per byte of its arc
/// lines (a sparse file lists only its arcs; comments and `n` lines, which cost the solver
/// nothing, buy no cells), the allowance of any file, and the most of all.
pub(crate) const ASN_CELLS_PER_BYTE: usize = 128;
pub(crate) const ASN_MIN_CELLS: usize = 1 << 20;
/// The engine's largest dense assignment matrix: 200 MB of costs, before the solver's own
/// arrays.
pub(crate) use commonsnet_engine::MAX_ASSIGNMENT_CELLS;

/// `cost` of a pair in the minimisation sense, as the assignment solver takes it: negated for
/// maximisation (the readers never give `i64::MIN`, so this cannot overflow). A cost that would
/// be [`FORBIDDEN`] is refused: the solver would read it as no pair at all.
fn assignment_cost(cost: i64, sense: Sense, line: usize) -> Result<i64, ParseError> {
    let c = match sense {
        Sense::Min => cost,
        Sense::Max => -cost,
    };
    if c == FORBIDDEN {
        return Err(ParseError::at(
            line,
            Problem::ForbiddenCost {
                cost,
                negated: sense == Sense::Max,
            },
        ));
    }
    Ok(c)
}

/// Parse a DIMACS assignment file (minimisation): `n` lines name the left nodes, arcs go left
/// -> right.
pub fn parse_asn(bytes: &[u8]) -> Result<AssignmentProblem, ParseError> {
    parse_asn_with_sense(bytes, Sense::Min)
}

/// [`parse_asn`] for an instance of either sense, as a minimisation problem (costs negated for
/// `Sense::Max`). Of parallel arcs (the same pair twice) the best in the instance's sense
/// counts: an assignment file is a flow network with unit capacities, where parallel arcs are
/// distinct arcs and an optimum takes the best of them. That is why the sense is known while
/// the file is read: negated afterwards, the cheapest arc kept for minimisation would be the
/// worst one for maximisation.
pub fn parse_asn_with_sense(bytes: &[u8], sense: Sense) -> Result<AssignmentProblem, ParseError> {
    // The line of each left node's `n` line (0: a right node).
    let mut left_line: Vec<usize> = Vec::new();
    // Each arc with its line, which a later error names.
    let mut arcs: Vec<(usize, usize, i64, usize)> = Vec::new();
    let mut arc_bytes = 0usize;
    let mut header_line = 0;
    scan(bytes, b"asn", |ev| {
        let mut d = match ev {
            // Both counts are bounded by the file's size (see `problem_line`).
            Event::Header {
                nodes,
                arcs: m,
                line,
            } => {
                left_line = vec![0; nodes];
                arcs.reserve(m);
                header_line = line;
                return Ok(());
            }
            Event::Data(d) => d,
        };
        let ln = d.line;
        if d.tag == b"n" {
            let v = node(d.next(), ln, d.nodes, "node id")?;
            d.end("the node id (an 'n' line of an assignment file is 'n NODE')")?;
            first_n_line(&mut left_line, v, ln)?;
            return Ok(());
        }
        let s = node(d.next(), ln, d.nodes, "left node")?;
        let t = node(d.next(), ln, d.nodes, "right node")?;
        let c = int(d.next(), ln, "cost")?;
        d.end("the cost (an 'a' line of an assignment file is 'a LEFT RIGHT COST')")?;
        arcs.push((s, t, assignment_cost(c, sense, ln)?, ln));
        arc_bytes += d.len;
        Ok(())
    })?;
    let is_left = |v: usize| left_line[v] != 0;
    let n = left_line.len();
    // Number the two sides in node order.
    let mut index = vec![0usize; n];
    let (mut left, mut right) = (0usize, 0usize);
    for (v, slot) in index.iter_mut().enumerate() {
        let side = if is_left(v) { &mut left } else { &mut right };
        *slot = *side;
        *side += 1;
    }
    // The solver keeps a dense `left x right` matrix; a sparse file may ask for far more cells
    // than it has arcs, but not without bound.
    let limit = arc_bytes
        .saturating_mul(ASN_CELLS_PER_BYTE)
        .clamp(ASN_MIN_CELLS, MAX_ASSIGNMENT_CELLS);
    let too_large = || {
        ParseError::at(
            header_line,
            Problem::MatrixTooLarge {
                left,
                right,
                arc_bytes,
                limit,
            },
        )
    };
    if left.checked_mul(right).is_none_or(|cells| cells > limit) {
        return Err(too_large());
    }
    let mut p = AssignmentProblem::sparse(left, right).map_err(|_| too_large())?;
    for (s, t, c, line) in arcs {
        if !is_left(s) || is_left(t) {
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

/// Parse an OR-Library `assignp` file (minimisation): `n`, then `n * n` costs, row-major, lines
/// wrapped anywhere, and nothing after them.
pub fn parse_orlib_assign(bytes: &[u8]) -> Result<AssignmentProblem, ParseError> {
    parse_orlib_assign_with_sense(bytes, Sense::Min)
}

/// [`parse_orlib_assign`] for an instance of either sense, as a minimisation problem (costs
/// negated for `Sense::Max`), so that both assignment readers hand the solver the same form.
pub fn parse_orlib_assign_with_sense(
    bytes: &[u8],
    sense: Sense,
) -> Result<AssignmentProblem, ParseError> {
    let mut t = Tokens::new(bytes);
    let line = t.line();
    let n = t.count("the matrix size", 100_000)?;
    // The costs grow with what is read: a size the file cannot back allocates nothing.
    let costs = t.ints(
        n * n,
        "a cost",
        line,
        &format!("a {n} x {n} matrix"),
        |c, line| assignment_cost(c, sense, line),
    )?;
    if let Some((tok, extra_line)) = t.raw() {
        return Err(ParseError::at(
            extra_line,
            Problem::ExtraData {
                found: shown(tok),
                after: format!("the {} costs of the {n} x {n} matrix", n * n),
            },
        ));
    }
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
        // CRLF line ends and blank lines are fine, and so is a UTF-8 byte order mark (it was
        // an unknown line type).
        assert_eq!(parse_min(b"p min 1 0\r\n\r\n").unwrap().nodes, 1);
        assert_eq!(
            parse_min(b"\xEF\xBB\xBFc made by an editor\np min 2 0\n")
                .unwrap()
                .nodes,
            2
        );
        let orlib = parse_orlib_assign_with_sense(b"\xEF\xBB\xBF2\n1 2\n3 4\n", Sense::Min);
        assert_eq!(orlib.unwrap().rows, 2);
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

    /// The reviewer's `dupn.min` and `extra.min`: a second `n` line for a node replaced the
    /// first supply, and tokens past a line's last field were dropped.
    #[test]
    fn second_node_lines_and_extra_fields_are_refused_naming_the_line() {
        for (text, want) in [
            (
                &b"p min 3 2\nn 1 4\nn 1 9\nn 3 -4\na 1 2 0 5 3\na 2 3 0 5 2\n"[..],
                "line 3: node 1 has a second 'n' line (the first is line 2)",
            ),
            (
                b"p min 3 2 junk\n",
                "line 1: unexpected \"junk\" after the arc count (a problem line is 'p KIND \
                 NODES ARCS')",
            ),
            (
                b"p min 3 0\nn 1 4 junk\n",
                "line 2: unexpected \"junk\" after the supply (an 'n' line is 'n NODE SUPPLY')",
            ),
            (
                b"p min 3 1\nn 1 4\nn 3 -4\na 1 2 0 5 3 99\n",
                "line 4: unexpected \"99\" after the cost (an 'a' line is 'a TAIL HEAD LOWER \
                 CAPACITY COST')",
            ),
        ] {
            let e = parse_min(text).unwrap_err().to_string();
            assert_eq!(e, want, "{}", String::from_utf8_lossy(text));
        }
        for (text, want) in [
            (
                &b"p asn 4 1\nn 1\nn 1\na 1 3 1\n"[..],
                "line 3: node 1 has a second 'n' line (the first is line 2)",
            ),
            (
                b"p asn 4 1\nn 1 2\na 1 3 1\n",
                "line 2: unexpected \"2\" after the node id (an 'n' line of an assignment file \
                 is 'n NODE')",
            ),
            (
                b"p asn 4 1 7\nn 1\na 1 3 1\n",
                "line 1: unexpected \"7\" after the arc count (a problem line is 'p KIND NODES \
                 ARCS')",
            ),
            (
                b"p asn 2 1\nn 1\na 1 2 1 1\n",
                "line 3: unexpected \"1\" after the cost (an 'a' line of an assignment file is \
                 'a LEFT RIGHT COST')",
            ),
        ] {
            let e = parse_asn(text).unwrap_err().to_string();
            assert_eq!(e, want, "{}", String::from_utf8_lossy(text));
        }
        // Trailing blanks and comment lines stay fine.
        assert!(parse_min(b"p min 2 1 \nc n 1 5 x\nn 1 0\t\na 1 2 0 1 1  \r\n").is_ok());
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

    /// The reviewer's `par.asn`: two arcs 1 -> 2 of costs 3 and 8. Minimising keeps 3;
    /// maximising must keep 8 (negated: -8), where negating after the read kept -3.
    #[test]
    fn parallel_arcs_keep_the_best_in_the_instance_sense() {
        let text = b"p asn 2 2\nn 1\na 1 2 3\na 1 2 8\n";
        assert_eq!(parse_asn(text).unwrap().cost, [3]);
        assert_eq!(parse_asn_with_sense(text, Sense::Max).unwrap().cost, [-8]);
        let p = parse_orlib_assign_with_sense(b"2\n1 2 3 4\n", Sense::Max).unwrap();
        assert_eq!(p.cost, [-1, -2, -3, -4]);
    }

    /// `forb.asn` and `negbig.asn --sense max`: a cost that is the solver's forbidden mark
    /// would silently remove its arc.
    #[test]
    fn a_cost_the_solver_reads_as_forbidden_is_refused() {
        let e = parse_asn(b"p asn 2 1\nn 1\na 1 2 9223372036854775807\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: cost 9223372036854775807 is out of range: 9223372036854775807 marks a \
             forbidden pair for the assignment solver"
        );
        let text = b"p asn 2 1\nn 1\na 1 2 -9223372036854775807\n";
        assert!(parse_asn(text).is_ok());
        let e = parse_asn_with_sense(text, Sense::Max).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("line 3: cost -9223372036854775807 is out of range once negated"),
            "{e}"
        );
        let e = parse_orlib_assign(b"1\n\n9223372036854775807\n").unwrap_err();
        assert!(e.to_string().starts_with("line 3: cost"), "{e}");
    }

    /// A megabyte of comments bought a node a byte (20 MB of them, 20 million nodes and
    /// 2.8 GB); only data lines count now.
    #[test]
    fn comments_buy_no_nodes() {
        let padding = "c padding padding padding padding padding padding padding padding\n";
        // 660 kB of comments and a problem line of 100,000 isolated nodes: more than the
        // file's 15 data bytes back, or the floor of 65,536 nodes any file may have.
        let text = format!("{}p min 100000 0\n", padding.repeat(10_000));
        let e = parse_min(text.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .contains("more than a file of 65536 bytes (comments aside) can hold"),
            "{e}"
        );
        // Within the floor, isolated nodes are read.
        let text = format!("{}p min 65536 0\n", padding.repeat(10_000));
        assert_eq!(parse_min(text.as_bytes()).unwrap().nodes, 65_536);
    }

    /// The reviewer's `sparse.asn`: a megabyte of comments bought 128 cells a byte (a 963 MB
    /// matrix for one arc). Only arc lines count now, and no file asks for more than
    /// `MAX_ASSIGNMENT_CELLS`.
    #[test]
    fn comments_buy_no_assignment_matrix() {
        let left = 1500;
        let mut text = String::new();
        for _ in 0..10_000 {
            text.push_str("c padding padding padding padding padding padding padding padding\n");
        }
        text.push_str(&format!("p asn {} 1\n", left + 1000));
        for i in 1..=left {
            text.push_str(&format!("n {i}\n"));
        }
        text.push_str(&format!("a 1 {} 3\n", left + 1));
        // 1,500 x 1,000 = 1.5M cells: within 128 cells a byte of the file (660 kB), beyond the
        // 1M any file may have, and far beyond what one arc line buys.
        let e = parse_asn(text.as_bytes()).unwrap_err();
        assert_eq!(e.line(), 10_001);
        assert!(e.to_string().contains("1500 left x 1000 right"), "{e}");
        assert!(e.to_string().contains("more than 1048576 cells"), "{e}");
        // The absolute bound, whatever the arcs buy: 5,001 x 5,001 cells (just over
        // `MAX_ASSIGNMENT_CELLS`) from an arc line of 200 kB (a cost written with leading
        // zeros), which buys 25.6M cells.
        let side = 5_001;
        let mut text = format!("p asn {} 1\n", 2 * side);
        for i in 1..=side {
            text.push_str(&format!("n {i}\n"));
        }
        text.push_str(&format!("a 1 {} {}3\n", side + 1, "0".repeat(200_000)));
        let e = parse_asn(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("more than 25000000 cells"), "{e}");
    }

    /// `oa2.txt`: five costs for a 2 x 2 matrix were read as the matrix and the fifth dropped;
    /// `oa11.txt`: a bad last cost was reported as the end of the file on the header's line.
    #[test]
    fn orlib_assign_names_bad_and_extra_numbers() {
        let e = parse_orlib_assign(b"2\n1 2 3 4 5\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: unexpected \"5\" after the 4 costs of the 2 x 2 matrix"
        );
        let e = parse_orlib_assign(b"2\n1 2 3 4.0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: expected a cost (an integer), found \"4.0\""
        );
        // 19 digits fit in 64 bits; 20 do not, and say so.
        let p = parse_orlib_assign(b"1\n1000000000000000000\n").unwrap();
        assert_eq!(p.cost, [1_000_000_000_000_000_000]);
        let e = parse_orlib_assign(b"1\n10000000000000000000\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: a cost does not fit in 64 bits");
    }
}
