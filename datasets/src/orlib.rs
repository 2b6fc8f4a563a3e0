//! OR-Library generalised assignment (GAP) files: one instance, or the multi-instance layout
//! (a count followed by that many instances). Read as bytes, token by token, with line numbers
//! for errors; no allocation per line.

use crate::parse_error::{ParseError, Problem};
use serde_json::{json, Value};

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

/// Whitespace-separated integer tokens with their line numbers.
pub struct Tokens<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Tokens<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Tokens {
            bytes,
            pos: 0,
            line: 1,
        }
    }

    /// The next integer, or an error naming the line.
    pub fn int(&mut self, what: &'static str) -> Result<i64, ParseError> {
        self.skip_space();
        if self.pos >= self.bytes.len() {
            return Err(ParseError::at(self.line, Problem::UnexpectedEnd(what)));
        }
        let start = self.pos;
        while self.pos < self.bytes.len() && !self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let tok = &self.bytes[start..self.pos];
        let (neg, digits) = match tok.first() {
            Some(b'-') => (true, &tok[1..]),
            Some(b'+') => (false, &tok[1..]),
            _ => (false, tok),
        };
        if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::at(
                self.line,
                Problem::ExpectedInteger {
                    what,
                    found: String::from_utf8_lossy(tok).into_owned(),
                },
            ));
        }
        let v = digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + (d - b'0') as i64);
        Ok(if neg { -v } else { v })
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

    /// Read `count` integers (each `what`). The vector grows with what is read, its capacity
    /// never above what the bytes left can hold (a token and a separator each), so a header
    /// that claims more than the file holds allocates nothing for it; when the file ends first,
    /// the error names the header's line and what it claimed (`claim`).
    pub fn ints(
        &mut self,
        count: usize,
        what: &'static str,
        header_line: usize,
        claim: &str,
    ) -> Result<Vec<i64>, ParseError> {
        let room = (self.bytes.len() - self.pos).div_ceil(2);
        let mut out = Vec::with_capacity(count.min(room));
        for _ in 0..count {
            match self.int(what) {
                Ok(v) => out.push(v),
                Err(_) if self.at_end() => {
                    return Err(ParseError::at(
                        header_line,
                        Problem::Truncated {
                            claim: claim.to_string(),
                            end_line: self.line,
                            read: out.len(),
                            count,
                            what,
                        },
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn at_end(&mut self) -> bool {
        self.skip_space();
        self.pos >= self.bytes.len()
    }

    fn remaining_tokens(&self) -> usize {
        self.bytes[self.pos..]
            .split(|b| b.is_ascii_whitespace())
            .filter(|t| !t.is_empty())
            .count()
    }
}

fn read_instance(t: &mut Tokens) -> Result<GapInstance, ParseError> {
    let line = t.line();
    let agents = t.count("the number of agents", 100_000)?;
    let jobs = t.count("the number of jobs", 10_000_000)?;
    if agents.saturating_mul(jobs) > 100_000_000 {
        return Err(ParseError::at(line, Problem::GapTooLarge { agents, jobs }));
    }
    // Vectors grow with the numbers read: a header that claims more than the file holds
    // allocates nothing for it, and its error names the header's line.
    let pairs = agents * jobs;
    let claim = format!("{agents} agents x {jobs} jobs");
    let cost = t.ints(pairs, "a cost", line, &claim)?;
    let weight = t.ints(pairs, "a resource consumption", line, &claim)?;
    let capacity = t.ints(agents, "a capacity", line, &claim)?;
    Ok(GapInstance {
        agents,
        jobs,
        cost,
        weight,
        capacity,
    })
}

/// Parse a GAP file: one instance, or the multi-instance layout.
pub fn parse_gap(bytes: &[u8]) -> Result<Vec<GapInstance>, ParseError> {
    let mut probe = Tokens::new(bytes);
    let a = probe.int("the first count")?;
    let b = probe.int("the second count")?;
    let single = a > 0 && b > 0 && {
        let (m, n) = (a as usize, b as usize);
        probe.remaining_tokens() == m.saturating_mul(n).saturating_mul(2).saturating_add(m)
    };
    let mut t = Tokens::new(bytes);
    let mut out = Vec::new();
    if single {
        out.push(read_instance(&mut t)?);
    } else {
        let p = t.count("the number of instances", 10_000)?;
        for _ in 0..p {
            out.push(read_instance(&mut t)?);
        }
    }
    if !t.at_end() {
        return Err(ParseError::at(t.line, Problem::TrailingData));
    }
    Ok(out)
}

impl GapInstance {
    /// The instance as a SPEC scenario: agents are resources with one dimension (`units`), jobs
    /// are indivisible needs with `min_fill = 1`, links carry the agent's consumption as `use`,
    /// and the objective is `cost` (costs negated for maximisation).
    pub fn to_scenario(&self, sense: Sense, name: &str) -> Value {
        let sign = if sense == Sense::Max { -1 } else { 1 };
        let resources: Vec<Value> = (0..self.agents)
            .map(|i| {
                json!({"id": format!("agent{}", i + 1), "kind": "job",
                       "capacity": {"units": self.capacity[i]}})
            })
            .collect();
        let needs: Vec<Value> = (0..self.jobs)
            .map(|j| {
                json!({"id": format!("job{}", j + 1), "kind": "job", "demand": {"units": 1},
                       "min_fill": 1, "indivisible": true})
            })
            .collect();
        let mut links = Vec::with_capacity(self.agents * self.jobs);
        for i in 0..self.agents {
            for j in 0..self.jobs {
                let k = i * self.jobs + j;
                links.push(json!({"resource": format!("agent{}", i + 1),
                                  "need": format!("job{}", j + 1),
                                  "cost": sign * self.cost[k],
                                  "use": {"units": self.weight[k]}}));
            }
        }
        json!({"name": name, "resources": resources, "needs": needs, "links": links,
               "policy": {"objective": "cost"}})
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
            (
                b"0 2\n",
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
        ] {
            let e = parse_gap(text).unwrap_err().to_string();
            assert_eq!(e, want, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn a_gap_instance_becomes_a_cost_scenario() {
        let g = &parse_gap(b"1 2\n3 4\n1 1\n2\n").unwrap()[0];
        let v = g.to_scenario(Sense::Max, "g");
        assert_eq!(v["links"][1]["cost"], -4);
        assert_eq!(v["links"][1]["use"]["units"], 1);
        assert_eq!(v["resources"][0]["capacity"]["units"], 2);
        assert_eq!(v["policy"]["objective"], "cost");
    }
}
