//! The min-cost flow problem both flow solvers take, the solution they give, their errors, and
//! the helpers they share (shape checks, self-loops). Nothing here depends on a solver, so the
//! solvers depend on this module and not on each other.

use std::cmp::Ordering;

/// "No upper bound".
pub const INFINITE: i64 = i64::MAX;

/// A min-cost flow instance. Node ids are `0..nodes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowProblem {
    pub nodes: usize,
    /// `supply[v] > 0`: v sends that much; `< 0`: it receives. Must sum to 0.
    pub supply: Vec<i64>,
    pub source: Vec<usize>,
    pub target: Vec<usize>,
    pub lower: Vec<i64>,
    /// Upper bounds; [`INFINITE`] for none.
    pub upper: Vec<i64>,
    pub cost: Vec<i64>,
}

impl FlowProblem {
    pub fn new(nodes: usize) -> Self {
        FlowProblem {
            nodes,
            supply: vec![0; nodes],
            ..Default::default()
        }
    }

    /// Add an arc; returns its index.
    pub fn add_arc(&mut self, from: usize, to: usize, lower: i64, upper: i64, cost: i64) -> usize {
        self.source.push(from);
        self.target.push(to);
        self.lower.push(lower);
        self.upper.push(upper);
        self.cost.push(cost);
        self.source.len() - 1
    }

    pub fn arcs(&self) -> usize {
        self.source.len()
    }
}

/// Why a min-cost flow problem has no optimal flow, or could not be solved exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("infeasible: {0}")]
    Infeasible(Infeasibility),
    #[error("unbounded: a negative-cost cycle has no capacity limit")]
    Unbounded,
    #[error("invalid network: {0}")]
    Invalid(InvalidNetwork),
}

/// What makes a flow problem infeasible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Infeasibility {
    #[error("arc {arc} has lower bound {lower} above its capacity {upper}")]
    Bounds { arc: usize, lower: i64, upper: i64 },
    /// Supplies (after lower bounds are shifted away) do not balance.
    #[error("supplies sum to {sum}, not 0")]
    Unbalanced { sum: i128 },
    #[error("node {node} cannot send or receive its supply")]
    Stranded { node: usize },
}

/// A problem the solvers refuse: malformed, or beyond the integers they compute in exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidNetwork {
    #[error("array lengths disagree")]
    Lengths,
    #[error("arc {arc} names a node out of range")]
    NodeOutOfRange { arc: usize },
    #[error("cost vector length")]
    CostVectorLength,
    #[error("costs too large for exact potentials")]
    CostsTooLarge,
    #[error("supplies too large")]
    SuppliesTooLarge,
    #[error("{nodes} nodes and {arcs} arcs: more than the 2^32 - 2 ids the solver stores")]
    TooManyIds { nodes: usize, arcs: usize },
    #[error("flow overflows i64")]
    FlowOverflow,
}

impl From<Infeasibility> for FlowError {
    fn from(e: Infeasibility) -> Self {
        FlowError::Infeasible(e)
    }
}

impl From<InvalidNetwork> for FlowError {
    fn from(e: InvalidNetwork) -> Self {
        FlowError::Invalid(e)
    }
}

/// An optimal flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSolution {
    /// Total cost `sum cost * flow`.
    pub cost: i128,
    pub flow: Vec<i64>,
    /// Node potentials (duals): every arc's reduced cost `cost + pi[from] - pi[to]` is >= 0 when
    /// its flow is below its upper bound and <= 0 when above its lower bound.
    pub potential: Vec<i128>,
    /// Network simplex pivots (0 from cost scaling).
    pub pivots: u64,
    /// The optimal spanning-tree basis, for duals of other cost vectors (network simplex
    /// only; cost scaling ends without a tree).
    pub basis: Option<Basis>,
    pub method: FlowMethod,
}

/// The algorithm that produced a [`FlowSolution`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowMethod {
    NetworkSimplex,
    CostScaling,
}

impl FlowMethod {
    /// The name reports and the CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowMethod::NetworkSimplex => "network_simplex",
            FlowMethod::CostScaling => "cost_scaling",
        }
    }
}

/// A spanning-tree basis: for each node its tree arc towards the root (an index into the
/// problem's arcs, or `None` for the artificial arc to the root) and that arc's direction,
/// with the nodes in an order where parents come first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Basis {
    pub order: Vec<usize>,
    pub parent: Vec<Option<usize>>,
    pub arc: Vec<Option<usize>>,
    /// True when the tree arc runs from the node to its parent.
    pub up: Vec<bool>,
}

impl Basis {
    /// Potentials making every tree arc's reduced cost zero for the cost vector `cost`
    /// (artificial arcs cost 0): the duals of this basis for another objective.
    pub fn potentials(&self, cost: &[i64]) -> Vec<i128> {
        let mut pi = vec![0i128; self.parent.len()];
        for &u in &self.order {
            let (Some(p), Some(a)) = (self.parent[u], self.arc[u]) else {
                continue;
            };
            let c = cost[a] as i128;
            // cost + pi[from] - pi[to] = 0.
            pi[u] = if self.up[u] { pi[p] - c } else { pi[p] + c };
        }
        pi
    }
}

/// The optimal flow on a self-loop with bounds `lo..=up` whose cost compares to 0 as `sign`
/// (a loop's reduced cost is its cost: it goes to the bound its cost prefers); `None` when a
/// negative loop has no upper bound (unbounded). Shared by both solvers, so they agree on loops.
pub(crate) fn self_loop_flow(sign: Ordering, lo: i64, up: i64) -> Option<i64> {
    match sign {
        Ordering::Less if up == INFINITE => None,
        Ordering::Less => Some(up),
        Ordering::Greater => Some(lo),
        Ordering::Equal => Some(0i64.clamp(lo, up)),
    }
}

/// Shape checks shared by every entry point: consistent arrays, nodes in range, bounds ordered.
pub(crate) fn check(p: &FlowProblem) -> Result<(), FlowError> {
    let m = p.arcs();
    if p.supply.len() != p.nodes
        || [p.target.len(), p.lower.len(), p.upper.len(), p.cost.len()]
            .iter()
            .any(|&l| l != m)
    {
        return Err(InvalidNetwork::Lengths.into());
    }
    if let Some(arc) = (0..m).find(|&a| p.source[a] >= p.nodes || p.target[a] >= p.nodes) {
        return Err(InvalidNetwork::NodeOutOfRange { arc }.into());
    }
    if let Some(arc) = (0..m).find(|&a| p.lower[a] > p.upper[a]) {
        return Err(Infeasibility::Bounds {
            arc,
            lower: p.lower[arc],
            upper: p.upper[arc],
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_before_the_split() {
        // The CLI prints these; keep their wording.
        let e = FlowError::from(Infeasibility::Bounds {
            arc: 3,
            lower: 5,
            upper: 2,
        });
        assert_eq!(
            e.to_string(),
            "infeasible: arc 3 has lower bound 5 above its capacity 2"
        );
        assert_eq!(
            FlowError::from(InvalidNetwork::NodeOutOfRange { arc: 1 }).to_string(),
            "invalid network: arc 1 names a node out of range"
        );
        assert_eq!(
            Infeasibility::Unbalanced { sum: -4 }.to_string(),
            "supplies sum to -4, not 0"
        );
    }

    #[test]
    fn check_names_the_first_fault() {
        let mut p = FlowProblem::new(2);
        p.add_arc(0, 1, 0, 5, 1);
        assert_eq!(check(&p), Ok(()));
        p.add_arc(1, 2, 0, 5, 1);
        assert_eq!(
            check(&p),
            Err(FlowError::Invalid(InvalidNetwork::NodeOutOfRange {
                arc: 1
            }))
        );
        p.target[1] = 0;
        p.lower[1] = 6;
        assert_eq!(
            check(&p),
            Err(FlowError::Infeasible(Infeasibility::Bounds {
                arc: 1,
                lower: 6,
                upper: 5
            }))
        );
        p.cost.pop();
        assert_eq!(check(&p), Err(FlowError::Invalid(InvalidNetwork::Lengths)));
    }

    #[test]
    fn self_loops_go_to_the_bound_their_cost_prefers() {
        assert_eq!(self_loop_flow(Ordering::Less, 1, 4), Some(4));
        assert_eq!(self_loop_flow(Ordering::Less, 1, INFINITE), None);
        assert_eq!(self_loop_flow(Ordering::Greater, -2, 4), Some(-2));
        assert_eq!(self_loop_flow(Ordering::Equal, 2, 4), Some(2));
        assert_eq!(self_loop_flow(Ordering::Equal, -3, 4), Some(0));
    }

    #[test]
    fn basis_potentials_zero_every_tree_arc() {
        // 0 -> 1 (arc 0, cost 3), 2 -> 1 (arc 1, cost 5): node 1 hangs from 0, node 2 from 1.
        let b = Basis {
            order: vec![0, 1, 2],
            parent: vec![None, Some(0), Some(1)],
            arc: vec![None, Some(0), Some(1)],
            up: vec![false, false, true],
        };
        let pi = b.potentials(&[3, 5]);
        assert_eq!(3 + pi[0] - pi[1], 0);
        assert_eq!(5 + pi[2] - pi[1], 0);
    }
}
