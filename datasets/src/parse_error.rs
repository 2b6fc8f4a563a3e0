//! Errors of the benchmark file readers (DIMACS, OR-Library): what is wrong and on which line.

use crate::dimacs::{ASN_CELLS_PER_BYTE, ASN_MIN_CELLS, MAX_ASSIGNMENT_CELLS};
use commonsnet_solvers::FORBIDDEN;

/// A benchmark file that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A problem on line `line` (1-based).
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: Problem },
}

impl ParseError {
    pub fn at(line: usize, problem: Problem) -> Self {
        ParseError::Line { line, problem }
    }

    /// The line the error names.
    pub fn line(&self) -> usize {
        match self {
            ParseError::Line { line, .. } => *line,
        }
    }
}

/// What is wrong on a line. `what` names the token as the format's documentation does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{what} must be an integer, found {found:?}")]
    NotAnInteger { what: &'static str, found: String },
    #[error("expected {what} (an integer), found {found:?}")]
    ExpectedInteger { what: &'static str, found: String },
    #[error("{0} does not fit in 64 bits")]
    Overflow(&'static str),
    #[error("{what} {value} is not a node in 1..{nodes}")]
    NotANode {
        what: &'static str,
        value: i64,
        nodes: usize,
    },
    #[error("expected 'p {expected}', found 'p {found}'")]
    ProblemKind { expected: String, found: String },
    #[error("{nodes} nodes / {arcs} arcs is out of range")]
    SizeOutOfRange { nodes: i64, arcs: i64 },
    #[error(
        "the problem line declares {nodes} nodes and {arcs} arcs, more than a file of \
         {file_len} bytes (comments aside) can hold"
    )]
    SizeBeyondFile {
        nodes: usize,
        arcs: usize,
        file_len: usize,
    },
    #[error("a second problem line")]
    SecondProblemLine,
    /// An assignment arc between two nodes of the same side (known once every `n` line is
    /// read, so it is found after the whole file, and named by the arc's line).
    #[error("the arc {from} -> {to} does not go from a left node to a right node")]
    ArcSide { from: usize, to: usize },
    #[error("data line before the problem line")]
    DataBeforeProblemLine,
    #[error("unknown line type {0:?}")]
    UnknownLineType(String),
    #[error("no 'p {0}' problem line")]
    NoProblemLine(String),
    #[error("the problem line declares {declared} arcs, the file has {found}")]
    ArcCount { declared: usize, found: usize },
    #[error("capacity {upper} is below the lower bound {lower}")]
    CapacityBelowLower { lower: i64, upper: i64 },
    #[error("unexpected end of file, expected {0}")]
    UnexpectedEnd(&'static str),
    #[error("{what} must be in [1, {max}], found {value}")]
    CountOutOfRange {
        what: &'static str,
        max: i64,
        value: i64,
    },
    /// A header that claims more numbers than the file holds (the error is on its line).
    #[error(
        "the header declares {claim}, but the file ends on line {end_line} after {read} of the \
         {count} numbers read here (unexpected end of file, expected {what})"
    )]
    Truncated {
        claim: String,
        end_line: usize,
        read: usize,
        count: usize,
        what: &'static str,
    },
    #[error("unexpected data after the last instance")]
    TrailingData,

    /// A token past the last field of a line (or past the last number of a file).
    #[error("unexpected {found:?} after {after}")]
    ExtraData { found: String, after: String },
    /// Two `n` lines for one node: the second would silently replace the first.
    #[error("node {node} has a second 'n' line (the first is line {first})")]
    SecondNodeLine { node: usize, first: usize },
    /// A cost that the assignment solver would read as a forbidden pair.
    #[error(
        "cost {cost} is out of range{}: {FORBIDDEN} marks a forbidden pair for the assignment \
         solver",
        if *.negated { " once negated for maximisation" } else { "" }
    )]
    ForbiddenCost { cost: i64, negated: bool },
    /// A sparse assignment file whose dense matrix is far larger than its arcs.
    #[error(
        "{left} left x {right} right nodes make an assignment matrix of more than {limit} \
         cells, the most {arc_bytes} bytes of arc lines may ask for ({ASN_CELLS_PER_BYTE} cells \
         a byte, {ASN_MIN_CELLS} for any file, {MAX_ASSIGNMENT_CELLS} for all)"
    )]
    MatrixTooLarge {
        left: usize,
        right: usize,
        arc_bytes: usize,
        limit: usize,
    },
    /// A GAP instance with more pairs (links of its scenario) than the engine takes.
    #[error(
        "{agents} agents x {jobs} jobs make more than {limit} pairs, the most links a scenario \
         may have"
    )]
    GapTooLarge {
        agents: usize,
        jobs: usize,
        limit: usize,
    },
    #[error("{what} must be in [{low}, {high}], found {value}")]
    OutOfRange {
        what: &'static str,
        value: i64,
        low: i64,
        high: i64,
    },
    /// A GAP file whose numbers read validly both as one instance and as several.
    #[error(
        "the numbers read both as one {agents} x {jobs} instance and as {instances} instances \
         (the multi-instance layout), and nothing tells which is meant: for one instance, write \
         1 (a count of instances) before it; for several, give each a file of its own that \
         starts with 1"
    )]
    AmbiguousGap {
        agents: usize,
        jobs: usize,
        instances: usize,
    },
}
