//! OR-Library generalised assignment (GAP) files: one instance, or the multi-instance layout
//! (a count followed by that many instances). Read as bytes, token by token, with line numbers
//! for errors; no allocation per line.
//!
//! The two layouts are told apart by reading the numbers both ways: a file that reads validly
//! as one instance and also as several is refused, since its numbers alone cannot say which
//! was meant (`2  4 1 ...` is one 2 x 4 instance or two instances, 4 x 1 and then another).
//! Writing the count first settles it: the multi-instance layout with a count of 1 never reads
//! as one instance too (see [`Problem::AmbiguousGap`]).

use crate::parse_error::{ParseError, Problem};
use commonsnet_engine::input::MAX_MAGNITUDE;
use serde_json::{json, Map, Value};

/// Pairs (agent, job) of one instance at most: the engine's bound on a scenario's links, so
/// no instance the engine would refuse is read into memory first.
pub const GAP_MAX_PAIRS: usize = commonsnet_engine::input::MAX_LINKS;
const MAX_AGENTS: i64 = 100_000;
const MAX_JOBS: i64 = 10_000_000;
const MAX_INSTANCES: i64 = 10_000;
/// The engine refuses quantities and costs beyond this magnitude; a GAP number beyond it is
/// refused here, naming its line, before a scenario is built from the instance.
const MAX_VALUE: i64 = MAX_MAGNITUDE as i64;

/// One GAP instance: `m` agents, `n` jobs, agent-major `cost` and `weight` (m x n), `capacity` (m).
#[derive(Debug, Clone, PartialEq)]
pub struct GapInstance {
    pub agents: usize,
    pub jobs: usize,
    pub cost: Vec<i64>,
    pub weight: Vec<i64>,
    pub capacity: Vec<i64>,
}

/// Optimisation sense of a benchmark instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    Min,
    Max,
}

/// Why a token is not an integer of 64 bits.
pub(crate) enum BadInt {
    NotAnInteger,
    Overflow,
}

/// An optionally signed decimal integer, by checked arithmetic: any number of digits reads as
/// long as the value fits. `i64::MIN` is refused with the other overflows, so that every value
/// read can be negated (maximisation instances are negated into minimisation ones).
pub(crate) fn parse_int(tok: &[u8]) -> Result<i64, BadInt> {
    let (neg, digits) = match tok.first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(BadInt::NotAnInteger);
    }
    let mut v: i64 = 0;
    for d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .ok_or(BadInt::Overflow)?;
    }
    Ok(if neg { -v } else { v })
}

/// Whitespace-separated integer tokens with their line numbers.
pub struct Tokens<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Tokens<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Tokens {
            // A byte order mark (an editor's UTF-8 file) is no token.
            bytes: bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes),
            pos: 0,
            line: 1,
        }
    }

    /// The next token as it is written, and its line; `None` at the end of the file.
    pub fn raw(&mut self) -> Option<(&'a [u8], usize)> {
        self.skip_space();
        if self.pos >= self.bytes.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < self.bytes.len() && !self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        Some((&self.bytes[start..self.pos], self.line))
    }

    /// The next integer, or an error naming the line.
    pub fn int(&mut self, what: &'static str) -> Result<i64, ParseError> {
        let Some((tok, line)) = self.raw() else {
            return Err(ParseError::at(self.line, Problem::UnexpectedEnd(what)));
        };
        parse_int(tok).map_err(|e| {
            let problem = match e {
                BadInt::NotAnInteger => Problem::ExpectedInteger {
                    what,
                    found: String::from_utf8_lossy(tok).into_owned(),
                },
                BadInt::Overflow => Problem::Overflow(what),
            };
            ParseError::at(line, problem)
        })
    }

    pub fn count(&mut self, what: &'static str, max: i64) -> Result<usize, ParseError> {
        let line = self.line();
        let v = self.int(what)?;
        if v < 1 || v > max {
            return Err(ParseError::at(
                line,
                Problem::CountOutOfRange {
                    what,
                    max,
                    value: v,
                },
            ));
        }
        Ok(v as usize)
    }

    /// The line (1-based) of the next token, whitespace before it skipped.
    pub fn line(&mut self) -> usize {
        self.skip_space();
        self.line
    }

    fn skip_space(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            if self.bytes[self.pos] == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
    }

    /// Read `count` integers (each `what`), each passed through `check` with its line (which
    /// may refuse it or change it) as it is read, so that a refusal names the value's own line.
    /// The vector grows with what is read, its capacity never above what the bytes left can
    /// hold (a token and a separator each), so a header that claims more than the file holds
    /// allocates nothing for it; when the file ends first, the error names the header's line
    /// and what it claimed (`claim`).
    pub fn ints(
        &mut self,
        count: usize,
        what: &'static str,
        header_line: usize,
        claim: &str,
        mut check: impl FnMut(i64, usize) -> Result<i64, ParseError>,
    ) -> Result<Vec<i64>, ParseError> {
        let room = (self.bytes.len() - self.pos).div_ceil(2);
        let mut out = Vec::with_capacity(count.min(room));
        for _ in 0..count {
            // The end is looked for before the token is taken: a last token that is not an
            // integer is named as such, not mistaken for the end of the file.
            if self.at_end() {
                return Err(ParseError::at(
                    header_line,
                    Problem::Truncated {
                        claim: claim.to_string(),
                        end_line: self.line,
                        read: out.len(),
                        count,
                        what,
                    },
                ));
            }
            let line = self.line;
            let v = self.int(what)?;
            out.push(check(v, line)?);
        }
        Ok(out)
    }

    /// Skip `count` tokens without reading them as numbers; false when the file ends first.
    fn skip(&mut self, count: usize) -> bool {
        (0..count).all(|_| self.raw().is_some())
    }

    fn at_end(&mut self) -> bool {
        self.skip_space();
        self.pos >= self.bytes.len()
    }
}

/// The two layouts of a GAP file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `m n`, then the instance's numbers.
    One,
    /// The number of instances, then each instance as in [`Layout::One`].
    Many,
}

/// An instance's header `m n`, checked: both counts in range, and their pairs at most
/// [`GAP_MAX_PAIRS`] before anything is allocated for them. Also the header's line.
fn header(t: &mut Tokens) -> Result<(usize, usize, usize), ParseError> {
    let line = t.line();
    let agents = t.count("the number of agents", MAX_AGENTS)?;
    let jobs = t.count("the number of jobs", MAX_JOBS)?;
    if agents.saturating_mul(jobs) > GAP_MAX_PAIRS {
        return Err(ParseError::at(
            line,
            Problem::GapTooLarge {
                agents,
                jobs,
                limit: GAP_MAX_PAIRS,
            },
        ));
    }
    Ok((agents, jobs, line))
}

/// A check of GAP numbers as they are read: `what` in `[low, MAX_VALUE]`.
fn within(low: i64, what: &'static str) -> impl Fn(i64, usize) -> Result<i64, ParseError> {
    move |v, line| {
        if (low..=MAX_VALUE).contains(&v) {
            Ok(v)
        } else {
            Err(ParseError::at(
                line,
                Problem::OutOfRange {
                    what,
                    value: v,
                    low,
                    high: MAX_VALUE,
                },
            ))
        }
    }
}

/// One instance. With `values` false only its header is read and its numbers are skipped
/// (counted, not read): the instance comes back with empty vectors, its shape alone telling
/// whether a layout fits the file.
fn read_instance(t: &mut Tokens, values: bool) -> Result<GapInstance, ParseError> {
    let (agents, jobs, line) = header(t)?;
    let pairs = agents * jobs;
    if !values {
        if !t.skip(2 * pairs + agents) {
            // Which number is missing is said by reading the values; here the shape does not
            // fit, and only that is asked.
            return Err(ParseError::at(
                line,
                Problem::UnexpectedEnd("the instance's numbers"),
            ));
        }
        return Ok(GapInstance {
            agents,
            jobs,
            cost: Vec::new(),
            weight: Vec::new(),
            capacity: Vec::new(),
        });
    }
    // Vectors grow with the numbers read: a header that claims more than the file holds
    // allocates nothing for it, and its error names the header's line. GAP's consumptions and
    // capacities are amounts (>= 0); costs may be negative (negated profits).
    let claim = format!("{agents} agents x {jobs} jobs");
    let cost = t.ints(pairs, "a cost", line, &claim, within(-MAX_VALUE, "a cost"))?;
    let weight = t.ints(
        pairs,
        "a resource consumption",
        line,
        &claim,
        within(0, "a resource consumption"),
    )?;
    let capacity = t.ints(agents, "a capacity", line, &claim, within(0, "a capacity"))?;
    Ok(GapInstance {
        agents,
        jobs,
        cost,
        weight,
        capacity,
    })
}

/// The file read in `layout`, to its end.
fn read_layout(bytes: &[u8], layout: Layout, values: bool) -> Result<Vec<GapInstance>, ParseError> {
    let mut t = Tokens::new(bytes);
    let mut out = Vec::new();
    match layout {
        Layout::One => out.push(read_instance(&mut t, values)?),
        Layout::Many => {
            let p = t.count("the number of instances", MAX_INSTANCES)?;
            for _ in 0..p {
                out.push(read_instance(&mut t, values)?);
            }
        }
    }
    let line = t.line();
    if !t.at_end() {
        return Err(ParseError::at(line, Problem::TrailingData));
    }
    Ok(out)
}

/// Parse a GAP file: one instance, or the multi-instance layout (see the module's
/// documentation for how they are told apart).
pub fn parse_gap(bytes: &[u8]) -> Result<Vec<GapInstance>, ParseError> {
    let mut probe = Tokens::new(bytes);
    let first_line = probe.line();
    probe.int("the first count")?;
    // When no layout reads, the error is that of the layout the file looks like: OR-Library's
    // multi-instance files give their count a line of its own, the one-instance files (and
    // the header of each instance) put `m n` on one line.
    let looks = match probe.raw() {
        Some((_, line)) if line == first_line => Layout::One,
        _ => Layout::Many,
    };
    // First the shapes (headers and counts of numbers, nothing stored), then the values in
    // each layout that fits.
    let fits = |layout| read_layout(bytes, layout, false).is_ok();
    let read = |layout| read_layout(bytes, layout, true);
    match (fits(Layout::One), fits(Layout::Many)) {
        (true, false) => read(Layout::One),
        (false, true) => read(Layout::Many),
        (false, false) => read(looks),
        (true, true) => match (read(Layout::One), read(Layout::Many)) {
            (Ok(one), Ok(many)) => Err(ParseError::at(
                first_line,
                Problem::AmbiguousGap {
                    agents: one[0].agents,
                    jobs: one[0].jobs,
                    instances: many.len(),
                },
            )),
            (Ok(one), Err(_)) => Ok(one),
            (Err(_), Ok(many)) => Ok(many),
            (Err(one), Err(many)) => Err(if looks == Layout::One { one } else { many }),
        },
    }
}

impl GapInstance {
    /// The instance as a SPEC scenario: agents are resources with one dimension (`units`), jobs
    /// are indivisible needs with `min_fill = 1`, links carry the agent's consumption as `use`,
    /// and the objective is `cost` (costs negated for maximisation).
    ///
    /// The engine validates scenarios as JSON values only, so each pair is a JSON object, the
    /// most memory a GAP instance takes (~0.9 KB a pair): the objects are built at their exact
    /// sizes, each once. Callers should drop the value once it is validated.
    pub fn to_scenario(&self, sense: Sense, name: &str) -> Value {
        let sign = if sense == Sense::Max { -1 } else { 1 };
        let agent_ids: Vec<Value> = (0..self.agents)
            .map(|i| Value::String(format!("agent{}", i + 1)))
            .collect();
        let job_ids: Vec<Value> = (0..self.jobs)
            .map(|j| Value::String(format!("job{}", j + 1)))
            .collect();
        let resources: Vec<Value> = (0..self.agents)
            .map(|i| {
                json!({"id": agent_ids[i], "kind": "job",
                       "capacity": {"units": self.capacity[i]}})
            })
            .collect();
        let needs: Vec<Value> = (0..self.jobs)
            .map(|j| {
                json!({"id": job_ids[j], "kind": "job", "demand": {"units": 1},
                       "min_fill": 1, "indivisible": true})
            })
            .collect();
        let mut links = Vec::with_capacity(self.agents * self.jobs);
        for (i, agent) in agent_ids.iter().enumerate() {
            for (j, job) in job_ids.iter().enumerate() {
                let k = i * self.jobs + j;
                let mut units = Map::with_capacity(1);
                units.insert("units".into(), self.weight[k].into());
                let mut link = Map::with_capacity(4);
                link.insert("resource".into(), agent.clone());
                link.insert("need".into(), job.clone());
                link.insert("cost".into(), (sign * self.cost[k]).into());
                link.insert("use".into(), Value::Object(units));
                links.push(Value::Object(link));
            }
        }
        // Moved in, not through `json!`, which serialises what it is given into a copy: the
        // links' copy doubled the peak.
        let mut scenario = Map::with_capacity(5);
        scenario.insert("name".into(), name.into());
        scenario.insert("resources".into(), Value::Array(resources));
        scenario.insert("needs".into(), Value::Array(needs));
        scenario.insert("links".into(), Value::Array(links));
        scenario.insert("policy".into(), json!({"objective": "cost"}));
        Value::Object(scenario)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_instance_and_the_multi_instance_layout_read() {
        // 2 agents x 3 jobs: costs, weights, capacities.
        let one = parse_gap(b"2 3\n1 2 3\n4 5 6\n1 1 1\n2 2 2\n3 4\n").unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!((one[0].agents, one[0].jobs), (2, 3));
        assert_eq!(one[0].cost, [1, 2, 3, 4, 5, 6]);
        assert_eq!(one[0].weight, [1, 1, 1, 2, 2, 2]);
        assert_eq!(one[0].capacity, [3, 4]);
        let two = parse_gap(b"2\n1 1\n5\n2\n9\n1 2\n1 2\n3 4\n5\n").unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].cost, [1, 2]);
    }

    #[test]
    fn errors_name_the_line() {
        for (text, want) in [
            (
                &b"1 1\n5\nx\n9\n"[..],
                "line 3: expected a resource consumption (an integer), found \"x\"",
            ),
            // `m n` on the first line: the error of the one-instance layout.
            (
                b"0 2\n",
                "line 1: the number of agents must be in [1, 100000], found 0",
            ),
            // A count on a line of its own: the multi-instance layout's.
            (
                b"0\n2 1\n",
                "line 1: the number of instances must be in [1, 10000], found 0",
            ),
            (
                b"1\n1 1\n5\n2\n9\n7\n",
                "line 6: unexpected data after the last instance",
            ),
            (
                b"",
                "line 1: unexpected end of file, expected the first count",
            ),
            // The reviewer's `g3.gap`: the last token is not an integer (it was reported as
            // the end of the file, on the header's line).
            (
                b"1 2\n3 4\n1 1\n2.5\n",
                "line 4: expected a capacity (an integer), found \"2.5\"",
            ),
            // `gneg.gap`: GAP's capacities and consumptions are amounts.
            (
                b"2 3\n1 2 3\n4 5 6\n1 1 1\n2 2 2\n-3 4\n",
                "line 6: a capacity must be in [0, 1000000000000], found -3",
            ),
            (
                b"1 2\n3 4\n-1 -1\n0\n",
                "line 3: a resource consumption must be in [0, 1000000000000], found -1",
            ),
            // 19 digits read (they were refused as not an integer), and are named as beyond
            // what the engine takes; 20 do not fit in 64 bits.
            (
                b"1 1\n1000000000000000000\n1\n1\n",
                "line 2: a cost must be in [-1000000000000, 1000000000000], found \
                 1000000000000000000",
            ),
            (
                b"1 1\n10000000000000000000\n1\n1\n",
                "line 2: a cost does not fit in 64 bits",
            ),
        ] {
            let e = parse_gap(text).unwrap_err().to_string();
            assert_eq!(e, want, "{}", String::from_utf8_lossy(text));
        }
    }

    /// The reviewer's `gmulti.gap`: two instances (4 x 1 and 1 x 1) whose numbers also read as
    /// one 2 x 4 instance. It was read as the 2 x 4 one (infeasible); now it is refused, and
    /// the count 1 written before an instance settles it.
    #[test]
    fn a_file_that_reads_both_ways_is_refused() {
        let both = b"2\n4 1\n5 6 7 8\n1 1 1 1\n1 1 1 1\n1 1\n3\n1\n1\n";
        let e = parse_gap(both).unwrap_err().to_string();
        assert!(
            e.starts_with("line 1: the numbers read both as one 2 x 4 instance and as 2 instances"),
            "{e}"
        );
        let first = parse_gap(b"1\n4 1\n5 6 7 8\n1 1 1 1\n1 1 1 1\n").unwrap();
        assert_eq!((first[0].agents, first[0].jobs), (4, 1));
        let second = parse_gap(b"1\n1 1\n3\n1\n1\n").unwrap();
        assert_eq!(second[0].cost, [3]);
        // The 2 x 4 reading, with its count.
        let mut one = b"1\n".to_vec();
        one.extend_from_slice(both);
        let one = parse_gap(&one).unwrap();
        assert_eq!((one.len(), one[0].agents, one[0].jobs), (1, 2, 4));
        // Shapes that fit both ways but values that fit one: that one is read. As one 2 x 4
        // instance the -1 is a cost; as two instances it is a consumption.
        let one_only = b"2\n4 1\n5 6 7 8\n-1 1 1 1\n1 1 1 1\n1 1\n3\n1\n1\n";
        assert_eq!(parse_gap(one_only).unwrap()[0].cost[1], 5);
    }

    /// A count of 1 before an instance never reads as one instance too: as one instance,
    /// `1 m` would be followed by 2m + 1 numbers, and the instance holds 2mn + m + 1 of them
    /// (n >= 1). Checked on every small shape.
    #[test]
    fn a_count_of_one_is_never_ambiguous() {
        for m in 1..=6 {
            for n in 1..=6 {
                let mut text = format!("1\n{m} {n}\n");
                for _ in 0..2 * m * n + m {
                    text.push_str("1 ");
                }
                let g = parse_gap(text.as_bytes()).unwrap();
                assert_eq!((g.len(), g[0].agents, g[0].jobs), (1, m, n));
            }
        }
    }

    /// An instance is bounded by the links the engine takes (50M, not 100M), before anything
    /// is allocated for it.
    #[test]
    fn an_instance_beyond_the_engine_link_bound_is_refused_by_its_header() {
        let e = parse_gap(b"8000 8000\n1 2 3\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "line 1: 8000 agents x 8000 jobs make more than 50000000 pairs, the most links a \
             scenario may have"
        );
    }

    #[test]
    fn a_gap_instance_becomes_a_cost_scenario() {
        let g = &parse_gap(b"1 2\n3 4\n1 1\n2\n").unwrap()[0];
        let v = g.to_scenario(Sense::Max, "g");
        assert_eq!(v["links"][1]["cost"], -4);
        assert_eq!(v["links"][1]["use"]["units"], 1);
        assert_eq!(v["links"][1]["resource"], "agent1");
        assert_eq!(v["links"][1]["need"], "job2");
        assert_eq!(v["resources"][0]["capacity"]["units"], 2);
        assert_eq!(v["policy"]["objective"], "cost");
    }
}
