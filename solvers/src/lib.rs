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
//! - [`assignment`] (standalone) holds [`solve_assignment`];
//! - this file holds [`MinCostFlow`], the choice between the two flow methods.

pub mod assignment;
pub mod cost_scaling;
pub mod network_simplex;
#[cfg(test)]
mod oracle;
pub mod problem;

pub use assignment::{
    solve_assignment, Assignment, AssignmentError, AssignmentProblem, InvalidAssignment, FORBIDDEN,
};
pub use cost_scaling::CostScaling;
pub use network_simplex::NetworkSimplex;
pub use problem::{
    Basis, FlowError, FlowMethod, FlowProblem, FlowSolution, Infeasibility, InvalidNetwork,
    INFINITE,
};

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

    /// A network with a hub, a node with arcs to at least 1/`HUB_SHARE` of the nodes (a dummy
    /// source feeding every demand, a dummy sink taking every surplus), goes to network
    /// simplex: its heuristic start and block search route through the hub in few pivots
    /// (transportation 2,000 x 50,000 with hubs: 0.25 s against cost scaling's 0.96 s; the
    /// same shape without hubs, 0.98 s against 0.57 s: `benches/FLOW_FAMILIES.md`).
    pub const HUB_SHARE: usize = 4;
    /// A network whose total supply is below 1/`LOW_SUPPLY_SHARE` of its node count carries
    /// little flow, and network simplex needs few pivots for it (NETGEN-LO-8, supply
    /// 10 sqrt(n): 2^14 nodes 0.049 s against 0.073 s, 2^16 nodes 0.38 s against 0.44 s).
    pub const LOW_SUPPLY_SHARE: i128 = 4;

    /// The method [`MinCostFlow::solve`] tries first.
    pub fn choose(p: &FlowProblem) -> FlowMethod {
        let large_sparse = p.nodes >= Self::COST_SCALING_FROM
            && p.arcs() <= Self::COST_SCALING_MAX_DEGREE * p.nodes;
        if large_sparse && !Self::has_hub(p) && !Self::low_supply(p) {
            FlowMethod::CostScaling
        } else {
            FlowMethod::NetworkSimplex
        }
    }

    fn has_hub(p: &FlowProblem) -> bool {
        let mut degree = vec![0usize; p.nodes];
        for a in 0..p.arcs() {
            degree[p.source[a]] += 1;
            degree[p.target[a]] += 1;
        }
        degree.iter().any(|&d| d * Self::HUB_SHARE >= p.nodes)
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
        // A dummy node joined to a quarter of the nodes is a hub; to a fifth, not.
        for (joined, method) in [
            (n / MinCostFlow::HUB_SHARE, FlowMethod::NetworkSimplex),
            (n / 5, FlowMethod::CostScaling),
        ] {
            let mut p = shape(n, 2);
            for v in 1..=joined {
                p.add_arc(0, v, 0, 1, 1);
            }
            assert_eq!(MinCostFlow::choose(&p), method, "{joined} arcs at node 0");
        }
        // Total supply below a quarter of the nodes: little flow.
        let mut p = shape(n, 2);
        p.supply[0] = (n / 4 - 1) as i64;
        p.supply[n / 2] = -p.supply[0];
        assert_eq!(MinCostFlow::choose(&p), FlowMethod::NetworkSimplex);
        p.supply[0] = (n / 4) as i64;
        p.supply[n / 2] = -p.supply[0];
        assert_eq!(MinCostFlow::choose(&p), FlowMethod::CostScaling);
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
