//! The min-cost flow problem both flow solvers take, the solution they give, their errors, and
//! the helpers they share (shape checks, self-loops). Nothing here depends on a solver, so the
//! solvers depend on this module and not on each other.

use std::cmp::Ordering;

/// "No upper bound".
pub const INFINITE: i64 = i64::MAX;

/// The most flow one arc may carry: one less than [`INFINITE`], which reads as no bound.
/// Network simplex refuses, before its first pivot, a network where some basis could put more
/// on an arc ([`InvalidNetwork::FlowTooLarge`]), which keeps its pivots free of overflow
/// checks; cost scaling, whose pushes add an excess to a residual capacity, declines beyond a
/// quarter of it (and network simplex answers).
pub const FLOW_LIMIT: i64 = INFINITE - 1;

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
    /// A node's supply (lower bounds shifted in) beyond [`FLOW_LIMIT`].
    #[error("supplies too large")]
    SuppliesTooLarge,
    #[error("{nodes} nodes and {arcs} arcs: more than the 2^32 - 2 ids the solver stores")]
    TooManyIds { nodes: usize, arcs: usize },
    #[error("flow overflows i64")]
    FlowOverflow,
    /// The flow one arc may have to carry is beyond [`FLOW_LIMIT`]: `total` is the positive
    /// supplies (lower bounds shifted in) plus what arcs at their upper bounds can bring
    /// across a cut, a bound on what a basis of the network can put on one arc.
    #[error(
        "flow too large: supplies and capacities allow up to {total} units on one arc, more \
         than the 9223372036854775806 (i64::MAX - 1) one arc can carry"
    )]
    FlowTooLarge { total: i128 },
    /// The optimal cost `sum flow * cost` does not fit `i128`.
    #[error("objective too large: the optimal cost leaves the 128-bit range")]
    ObjectiveTooLarge,
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

/// A cost type the objective is summed in.
pub(crate) trait ObjectiveCost: Copy + Into<i128> {
    /// Whether `flow * self` may leave `i128` for some `i64` flow (never for `i64` costs:
    /// |flow * cost| <= 2^126; for `i128` costs of 2^64 and more).
    fn wide(self) -> bool;
}

impl ObjectiveCost for i64 {
    #[inline(always)]
    fn wide(self) -> bool {
        false
    }
}

impl ObjectiveCost for i128 {
    #[inline(always)]
    fn wide(self) -> bool {
        self.unsigned_abs() >= 1 << 64
    }
}

/// The objective `sum flow[a] * cost[a]`, exact, or [`InvalidNetwork::ObjectiveTooLarge`]
/// where it leaves `i128` (or, with `i128` costs, where one term does). Partial sums may
/// leave `i128` where the total does not: the sum is kept in 192 bits (the low 128, and the
/// carries out of them less the terms' sign extensions), and fits when the high part is the
/// low part's sign. No branch per arc (it runs over every arc of a large network): a cost
/// whose products may leave `i128` sends the sum to a checked pass.
pub(crate) fn objective<C: ObjectiveCost>(
    flow: &[i64],
    cost: &[C],
) -> Result<i128, InvalidNetwork> {
    let (mut low, mut high, mut wide) = (0u128, 0i64, false);
    for (&f, &c) in flow.iter().zip(cost) {
        wide |= c.wide();
        let term = (f as i128).wrapping_mul(c.into());
        let (sum, carry) = low.overflowing_add(term as u128);
        low = sum;
        high += carry as i64 - (term < 0) as i64;
    }
    if wide {
        return checked_objective(flow, cost);
    }
    let value = low as i128;
    match (high, value < 0) {
        (0, false) | (-1, true) => Ok(value),
        _ => Err(InvalidNetwork::ObjectiveTooLarge),
    }
}

/// [`objective`] with every term checked.
#[cold]
fn checked_objective<C: ObjectiveCost>(flow: &[i64], cost: &[C]) -> Result<i128, InvalidNetwork> {
    let (mut low, mut high) = (0u128, 0i64);
    for (&f, &c) in flow.iter().zip(cost) {
        let term = (f as i128)
            .checked_mul(c.into())
            .ok_or(InvalidNetwork::ObjectiveTooLarge)?;
        let (sum, carry) = low.overflowing_add(term as u128);
        low = sum;
        high += carry as i64 - (term < 0) as i64;
    }
    let value = low as i128;
    match (high, value < 0) {
        (0, false) | (-1, true) => Ok(value),
        _ => Err(InvalidNetwork::ObjectiveTooLarge),
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
        // The CLI's one line for a network beyond the limit.
        let total = 5 * (i64::MAX / 4) as i128;
        assert_eq!(
            FlowError::from(InvalidNetwork::FlowTooLarge { total }).to_string(),
            "invalid network: flow too large: supplies and capacities allow up to \
             11529215046068469755 units on one arc, more than the 9223372036854775806 \
             (i64::MAX - 1) one arc can carry"
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
    fn the_objective_is_exact_or_refused() {
        let big = (i64::MAX - 1, i64::MIN);
        // Two terms of about -2^126 reach -2^127 + 2^65: inside.
        let two = objective(&[big.0, big.0], &[big.1, big.1]);
        assert_eq!(two, Ok(2 * (big.0 as i128 * big.1 as i128)));
        // Three leave i128 (about -1.5 * 2^127), in any order.
        let refused = Err(InvalidNetwork::ObjectiveTooLarge);
        assert_eq!(objective(&[big.0; 3], &[big.1; 3]), refused);
        // Partial sums beyond i128 whose total is back inside: exact.
        let flow = [big.0, big.0, big.0, big.0, big.0];
        let cost = [i64::MIN, i64::MIN, i64::MIN, i64::MAX, i64::MAX];
        let (down, up) = (
            big.0 as i128 * i64::MIN as i128,
            big.0 as i128 * i64::MAX as i128,
        );
        assert_eq!(objective(&flow, &cost), Ok(up + up + down + down + down));
        // i128 costs: a term beyond i128 is refused.
        assert_eq!(objective(&[2], &[i128::MAX / 2 + 1]), refused);
        assert_eq!(objective(&[2], &[i128::MAX / 2]), Ok(i128::MAX - 1));
        assert_eq!(objective::<i64>(&[], &[]), Ok(0));
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
