//! CommonsNet's exact combinatorial solvers: minimum-cost flow (network simplex, cost scaling)
//! and linear assignment, on integer data, with duals. They know nothing of scenarios: the
//! engine turns a component into one of these problems and reads the answer back.
//!
//! Hand-written rather than bound from a library because the engine needs what libraries do
//! not give together: exact `i64`/`i128` arithmetic, the optimal spanning-tree basis (duals of
//! a second objective), a lexicographic objective in one solve, and rectangular, sparse
//! assignment with LP duals.
//!
//! Modules, each depending only on those before it:
//! - [`problem`] holds [`FlowProblem`], [`FlowSolution`], [`FlowError`], [`Basis`] and the
//!   shared checks;
//! - [`network_simplex`] holds [`NetworkSimplex`];
//! - [`cost_scaling`] holds [`CostScaling`];
//! - [`incremental`] holds [`IncrementalFlow`], a flow kept optimal across changes;
//! - [`assignment`] (standalone) holds [`solve_assignment`];
//! - [`residual`] holds [`ResidualNetwork`]: shortest paths in the residual network of an
//!   optimal flow, the gain of one more unit on an arc (exact where a degenerate basis's
//!   potentials are one subgradient among many);
//! - this file holds [`MinCostFlow`], the choice between the two flow methods.

pub mod assignment;
pub mod cost_scaling;
pub mod incremental;
pub mod network_simplex;
#[cfg(test)]
mod oracle;
pub mod problem;
pub mod residual;

pub use assignment::{
    solve_assignment, solve_assignment_until, Assignment, AssignmentError, AssignmentProblem,
    InvalidAssignment, FORBIDDEN,
};
pub use cost_scaling::CostScaling;
pub use incremental::{IncrementalError, IncrementalFlow, Reoptimized};
pub use network_simplex::{lexicographic_weight, NetworkSimplex, WarmStart};
pub use problem::{
    Basis, FlowError, FlowMethod, FlowProblem, FlowSolution, Infeasibility, InvalidNetwork,
    FLOW_LIMIT, INFINITE,
};
pub use residual::{raise_gain, NotOptimal, ResidualNetwork};

/// Min-cost flow with the method suited to the network: cost scaling on large sparse
/// networks, network simplex elsewhere (and wherever cost scaling declines, see
/// [`cost_scaling`]).
pub struct MinCostFlow;

impl MinCostFlow {
    /// Networks with at least this many nodes, and ...
    pub const COST_SCALING_FROM: usize = 1 << 13;
    /// ... at most this many arcs per node go to cost scaling. Below 2^13 nodes network
    /// simplex's cheap pivots win; on dense networks its lead holds at every size (Kovács), and
    /// our transportation shapes of ~20 arcs per node are still faster by cost scaling
    /// (`benches/RESULTS.md`, "Flow method crossover").
    pub const COST_SCALING_MAX_DEGREE: usize = 24;

    pub fn solve(p: &FlowProblem) -> Result<FlowSolution, FlowError> {
        Self::solve_with(p, Self::choose(p))
    }

    /// A network with a hub, a node with at least nodes/`HUB_SHARE` arcs in and out (a dummy
    /// source feeding every demand, a dummy sink taking every surplus), goes to network
    /// simplex: its heuristic start and block search route through the hub in few pivots,
    /// where cost scaling's relabels crowd at the hub ("transportation with hubs" in
    /// `benches/FLOW_FAMILIES.md`; the same shape without hubs, the crisis section of
    /// `benches/RESULTS.md`, stays with cost scaling).
    pub const HUB_SHARE: usize = 4;
    /// A network whose total supply is below nodes/`LOW_SUPPLY_SHARE` carries little flow, and
    /// network simplex needs few pivots for it ("NETGEN-LO-8" in `benches/FLOW_FAMILIES.md`).
    /// Supplies only: flow forced by lower bounds or negative-cost cycles is not counted.
    pub const LOW_SUPPLY_SHARE: i128 = 4;
    /// ... below this many nodes: network simplex's time grows faster than cost scaling's even
    /// with little flow, and on NETGEN-LO-8 they are level at 2^16 nodes (0.41 s against
    /// 0.44) where at 2^18 cost scaling takes 2.5 s against 6.7.
    pub const LOW_SUPPLY_BELOW: usize = 1 << 17;

    /// The method [`MinCostFlow::solve`] tries first.
    pub fn choose(p: &FlowProblem) -> FlowMethod {
        let large_sparse = p.nodes >= Self::COST_SCALING_FROM
            && p.arcs() <= Self::COST_SCALING_MAX_DEGREE * p.nodes;
        let little_flow = p.nodes < Self::LOW_SUPPLY_BELOW && Self::low_supply(p);
        if large_sparse && !little_flow && !Self::has_hub(p) {
            FlowMethod::CostScaling
        } else {
            FlowMethod::NetworkSimplex
        }
    }

    /// One pass over the arcs; stops at the first hub. Ends out of range are skipped here
    /// (the solve refuses them with a typed error).
    fn has_hub(p: &FlowProblem) -> bool {
        let threshold = p.nodes.div_ceil(Self::HUB_SHARE).max(1);
        let mut degree = vec![0u32; p.nodes];
        for (&s, &t) in p.source.iter().zip(&p.target) {
            for v in [s, t] {
                if let Some(d) = degree.get_mut(v) {
                    *d += 1;
                    if *d as usize >= threshold {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn low_supply(p: &FlowProblem) -> bool {
        let total: i128 = p
            .supply
            .iter()
            .filter(|&&s| s > 0)
            .map(|&s| i128::from(s))
            .sum();
        total * Self::LOW_SUPPLY_SHARE < p.nodes as i128
    }

    /// Solve with `method`; cost scaling falls back to network simplex where it declines.
    pub fn solve_with(p: &FlowProblem, method: FlowMethod) -> Result<FlowSolution, FlowError> {
        problem::check(p)?;
        if method == FlowMethod::CostScaling {
            if let Some(s) = CostScaling::solve(p) {
                return Ok(s);
            }
        }
        NetworkSimplex::solve(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `n` nodes with `per_node` arcs each, and a supply of `n` units from node 0 to node
    /// `n / 2`.
    fn shape(n: usize, per_node: usize) -> FlowProblem {
        let mut p = FlowProblem::new(n);
        for u in 0..n {
            for k in 1..=per_node {
                p.add_arc(u, (u + k) % n, 0, 1, 1);
            }
        }
        p.supply[0] = n as i64;
        p.supply[n / 2] = -(n as i64);
        p
    }

    #[test]
    fn hubs_and_little_flow_go_to_network_simplex() {
        let n = MinCostFlow::COST_SCALING_FROM;
        let hub = n / MinCostFlow::HUB_SHARE;
        // Node 0 has 4 arcs in `shape` (2 out, 2 in): a quarter of the nodes in all is a hub,
        // one arc fewer is not; in-arcs count as out-arcs do.
        for (extra, method) in [
            (hub - 4, FlowMethod::NetworkSimplex),
            (hub - 5, FlowMethod::CostScaling),
        ] {
            for incoming in [false, true] {
                let mut p = shape(n, 2);
                for v in 1..=extra {
                    if incoming {
                        p.add_arc(v, 0, 0, 1, 1);
                    } else {
                        p.add_arc(0, v, 0, 1, 1);
                    }
                }
                assert_eq!(
                    MinCostFlow::choose(&p),
                    method,
                    "{extra} more arcs at node 0"
                );
            }
        }
        // An arc to a node out of range: no panic in the choice; the solve refuses it.
        let mut p = shape(n, 2);
        p.target[0] = n + 7;
        assert_eq!(MinCostFlow::choose(&p), FlowMethod::CostScaling);
        assert!(MinCostFlow::solve(&p).is_err());
        // Total supply below a quarter of the nodes: little flow.
        let mut p = shape(n, 2);
        p.supply[0] = (n / 4 - 1) as i64;
        p.supply[n / 2] = -p.supply[0];
        assert_eq!(MinCostFlow::choose(&p), FlowMethod::NetworkSimplex);
        p.supply[0] = (n / 4) as i64;
        p.supply[n / 2] = -p.supply[0];
        assert_eq!(MinCostFlow::choose(&p), FlowMethod::CostScaling);
        // From 2^17 nodes little flow goes to cost scaling too.
        for (nodes, method) in [
            (
                MinCostFlow::LOW_SUPPLY_BELOW - 1,
                FlowMethod::NetworkSimplex,
            ),
            (MinCostFlow::LOW_SUPPLY_BELOW, FlowMethod::CostScaling),
        ] {
            let mut p = shape(nodes, 2);
            p.supply[0] = 1;
            p.supply[nodes / 2] = -1;
            assert_eq!(MinCostFlow::choose(&p), method, "{nodes} nodes");
        }
    }

    #[test]
    fn the_method_follows_the_network_shape() {
        let from = MinCostFlow::COST_SCALING_FROM;
        let degree = MinCostFlow::COST_SCALING_MAX_DEGREE;
        assert_eq!(
            MinCostFlow::choose(&shape(from - 1, 2)),
            FlowMethod::NetworkSimplex
        );
        assert_eq!(
            MinCostFlow::choose(&shape(from, 2)),
            FlowMethod::CostScaling
        );
        assert_eq!(
            MinCostFlow::choose(&shape(from, degree)),
            FlowMethod::CostScaling
        );
        assert_eq!(
            MinCostFlow::choose(&shape(from, degree + 1)),
            FlowMethod::NetworkSimplex
        );
    }

    #[test]
    fn where_cost_scaling_declines_network_simplex_answers() {
        let mut p = FlowProblem::new(2);
        p.supply = vec![1, -1];
        p.add_arc(0, 1, 0, 1, i64::MAX / 8);
        let s = MinCostFlow::solve_with(&p, FlowMethod::CostScaling).unwrap();
        assert_eq!(
            (s.method, s.cost),
            (FlowMethod::NetworkSimplex, (i64::MAX / 8) as i128)
        );
        // Shape errors come first, whatever the method.
        p.target[0] = 2;
        assert_eq!(
            MinCostFlow::solve_with(&p, FlowMethod::CostScaling),
            Err(FlowError::Invalid(InvalidNetwork::NodeOutOfRange {
                arc: 0
            }))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Both methods reach the same optimum (or the same verdict) through `MinCostFlow`.
        #[test]
        fn both_methods_agree(p in oracle::network()) {
            let ns = MinCostFlow::solve_with(&p, FlowMethod::NetworkSimplex);
            let cs = MinCostFlow::solve_with(&p, FlowMethod::CostScaling);
            match (&ns, &cs) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a.cost, b.cost),
                _ => prop_assert_eq!(ns.map(|s| s.cost), cs.map(|s| s.cost)),
            }
        }
    }
}
