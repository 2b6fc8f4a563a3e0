//! Shortest paths in the residual network of an optimal flow, and from them how much the
//! optimum improves per unit when one arc's upper bound is raised.
//!
//! The potentials of an optimal basis are optimal duals, but at a degenerate optimum (an
//! arc at its bound that carries no slack either way, as when a capacity exactly meets the
//! demands it serves) they are one subgradient among many: a tree arc at its upper bound can
//! take the price of a need that one more unit of that capacity would not serve. The gain of
//! one more unit is exact from the flow itself: raising arc `a = u -> v` by `delta` lets
//! `delta` more go round the cheapest residual cycle through `a`, so the optimum falls by
//! `max(0, -(cost[a] + dist(v -> u)))` per unit for every `delta` up to that cycle's
//! bottleneck (the right derivative of the optimum in the bound: it is piecewise linear).

use crate::problem::FlowProblem;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// The residual arcs of a flow, both ways: `u -> v` with `cost[a]` where `flow < upper`, and
/// `v -> u` with `-cost[a]` where `flow > lower`. Self-loops are left out (a cycle of one arc
/// changes no path).
pub struct ResidualNetwork {
    nodes: usize,
    /// Residual arcs leaving each node (`out_start[u]..out_start[u + 1]`) and entering it.
    out_start: Vec<usize>,
    out: Vec<(usize, i128)>,
    in_start: Vec<usize>,
    inn: Vec<(usize, i128)>,
}

/// The residual network holds a cycle of negative cost: the flow it was built from is not
/// optimal for the costs given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the residual network has a negative cycle: the flow is not optimal for these costs")]
pub struct NotOptimal;

/// Which way the paths of [`ResidualNetwork::distances`] run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Paths from the root to each node.
    From,
    /// Paths from each node to the root.
    To,
}

impl ResidualNetwork {
    /// The residual network of `flow` in `p` under the arc costs `cost`.
    pub fn new(p: &FlowProblem, cost: &[i64], flow: &[i64]) -> Self {
        let mut arcs: Vec<(usize, usize, i128)> = Vec::with_capacity(p.arcs());
        for a in 0..p.arcs() {
            let (u, v) = (p.source[a], p.target[a]);
            if u == v {
                continue;
            }
            if flow[a] < p.upper[a] {
                arcs.push((u, v, cost[a] as i128));
            }
            if flow[a] > p.lower[a] {
                arcs.push((v, u, -(cost[a] as i128)));
            }
        }
        let csr = |key: fn(&(usize, usize, i128)) -> (usize, usize)| {
            let mut start = vec![0usize; p.nodes + 1];
            for arc in &arcs {
                start[key(arc).0 + 1] += 1;
            }
            for u in 0..p.nodes {
                start[u + 1] += start[u];
            }
            let mut next = start.clone();
            let mut list = vec![(0usize, 0i128); arcs.len()];
            for arc in &arcs {
                let (at, other) = key(arc);
                list[next[at]] = (other, arc.2);
                next[at] += 1;
            }
            (start, list)
        };
        let (out_start, out) = csr(|&(u, v, _)| (u, v));
        let (in_start, inn) = csr(|&(u, v, _)| (v, u));
        ResidualNetwork {
            nodes: p.nodes,
            out_start,
            out,
            in_start,
            inn,
        }
    }

    /// The cost of the cheapest residual path between `root` and each node (`None`: none),
    /// from the root or to it as `way` says. `potential`, optimal duals of the flow (every
    /// residual arc's reduced cost `cost + pi[from] - pi[to]` at least 0), makes it one
    /// Dijkstra search; without them, or where they do not hold, label correcting
    /// (Bellman-Ford with a queue) finds the same lengths.
    pub fn distances(
        &self,
        root: usize,
        way: Way,
        potential: Option<&[i128]>,
    ) -> Result<Vec<Option<i128>>, NotOptimal> {
        // Reduced cost of walking from u to w, where the residual arc runs u -> w (From) or
        // w -> u (To): cost + pi[tail] - pi[head].
        let reduced = |pi: &[i128], u: usize, w: usize, c: i128| match way {
            Way::From => c + pi[u] - pi[w],
            Way::To => c + pi[w] - pi[u],
        };
        let holds = |pi: &[i128]| {
            pi.len() == self.nodes
                && (0..self.nodes).all(|u| {
                    self.walk(way, u)
                        .iter()
                        .all(|&(w, c)| reduced(pi, u, w, c) >= 0)
                })
        };
        match potential {
            Some(pi) if holds(pi) => Ok(self.dijkstra(root, way, pi, reduced)),
            _ => self.label_correcting(root, way),
        }
    }

    /// The arcs a search from the root walks along, with the node at their far end and the
    /// path cost they add.
    fn walk(&self, way: Way, u: usize) -> &[(usize, i128)] {
        match way {
            Way::From => &self.out[self.out_start[u]..self.out_start[u + 1]],
            Way::To => &self.inn[self.in_start[u]..self.in_start[u + 1]],
        }
    }

    fn dijkstra(
        &self,
        root: usize,
        way: Way,
        pi: &[i128],
        reduced: impl Fn(&[i128], usize, usize, i128) -> i128,
    ) -> Vec<Option<i128>> {
        let mut dist: Vec<Option<i128>> = vec![None; self.nodes];
        let mut done = vec![false; self.nodes];
        let mut heap = BinaryHeap::new();
        dist[root] = Some(0);
        heap.push(Reverse((0i128, root)));
        while let Some(Reverse((d, u))) = heap.pop() {
            if done[u] {
                continue;
            }
            done[u] = true;
            for &(w, c) in self.walk(way, u) {
                let nd = d + reduced(pi, u, w, c);
                if !done[w] && dist[w].is_none_or(|old| nd < old) {
                    dist[w] = Some(nd);
                    heap.push(Reverse((nd, w)));
                }
            }
        }
        // Back from reduced lengths: a path's reduced length is its length plus
        // pi[start] - pi[end].
        for (w, d) in dist.iter_mut().enumerate() {
            if let Some(d) = d {
                *d = match way {
                    Way::From => *d - pi[root] + pi[w],
                    Way::To => *d - pi[w] + pi[root],
                };
            }
        }
        dist
    }

    fn label_correcting(&self, root: usize, way: Way) -> Result<Vec<Option<i128>>, NotOptimal> {
        let mut dist: Vec<Option<i128>> = vec![None; self.nodes];
        let mut queued = vec![false; self.nodes];
        // Arcs on each node's current path: a shortest path has fewer than `nodes`, so a
        // longer one closes a negative cycle.
        let mut arcs_on_path = vec![0usize; self.nodes];
        let mut queue = VecDeque::from([root]);
        dist[root] = Some(0);
        queued[root] = true;
        while let Some(u) = queue.pop_front() {
            queued[u] = false;
            let du = dist[u].expect("queued nodes have a distance");
            for &(w, c) in self.walk(way, u) {
                let nd = du + c;
                if dist[w].is_none_or(|old| nd < old) {
                    dist[w] = Some(nd);
                    arcs_on_path[w] = arcs_on_path[u] + 1;
                    if arcs_on_path[w] >= self.nodes {
                        return Err(NotOptimal);
                    }
                    if !queued[w] {
                        queued[w] = true;
                        queue.push_back(w);
                    }
                }
            }
        }
        Ok(dist)
    }
}

/// How much the optimum improves per unit of arc `a`'s upper bound raised, from the cost of
/// the cheapest residual path from its head back to its tail (`None`: there is none, and
/// more room on `a` changes nothing): `max(0, -(cost[a] + back))`.
pub fn raise_gain(arc_cost: i64, back: Option<i128>) -> i128 {
    back.map_or(0, |b| (-(arc_cost as i128 + b)).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, Truth};
    use crate::problem::INFINITE;
    use crate::NetworkSimplex;
    use proptest::prelude::*;

    /// Gains of raising each bounded arc by one unit, from the residual network of `flow`,
    /// with the potentials given (or none).
    fn gains(p: &FlowProblem, flow: &[i64], potential: Option<&[i128]>) -> Vec<Option<i128>> {
        let net = ResidualNetwork::new(p, &p.cost, flow);
        (0..p.arcs())
            .map(|a| {
                if p.upper[a] == INFINITE {
                    return None;
                }
                let (u, v) = (p.source[a], p.target[a]);
                if u == v {
                    return Some((-(p.cost[a] as i128)).max(0));
                }
                let back = net.distances(u, Way::To, potential).unwrap()[v];
                let other = net.distances(v, Way::From, potential).unwrap()[u];
                assert_eq!(back, other, "arc {a}: the two searches disagree");
                Some(raise_gain(p.cost[a], back))
            })
            .collect()
    }

    /// A capacity that exactly meets its one need: the basis may price the need's arc or the
    /// capacity's, but one more unit of capacity gains nothing, and one more unit of the
    /// need's bound gains nothing either (no capacity is left for it).
    #[test]
    fn an_exact_fit_gains_nothing_from_one_more_unit() {
        // 0 source -> 2 resource (cap 10) -> 3 need (<= 10, value 5 a unit) -> 1 sink -> 0.
        let mut p = FlowProblem::new(4);
        let cap = p.add_arc(0, 2, 0, 10, 0);
        p.add_arc(2, 3, 0, INFINITE, -5);
        let need = p.add_arc(3, 1, 0, 10, 0);
        p.add_arc(1, 0, 0, INFINITE, 0);
        let sol = NetworkSimplex::solve(&p).unwrap();
        assert_eq!(sol.cost, -50);
        let net = ResidualNetwork::new(&p, &p.cost, &sol.flow);
        let to_source = net.distances(0, Way::To, Some(&sol.potential)).unwrap();
        let from_sink = net.distances(1, Way::From, Some(&sol.potential)).unwrap();
        assert_eq!(raise_gain(p.cost[cap], to_source[2]), 0);
        assert_eq!(raise_gain(p.cost[need], from_sink[3]), 0);
        // With a second need of value 2 a unit (node 4, up to 4 units), one more unit of
        // capacity serves 2 more.
        let mut q = FlowProblem::new(5);
        let cap = q.add_arc(0, 2, 0, 10, 0);
        q.add_arc(2, 3, 0, INFINITE, -5);
        q.add_arc(3, 1, 0, 10, 0);
        q.add_arc(2, 4, 0, INFINITE, -2);
        q.add_arc(4, 1, 0, 4, 0);
        q.add_arc(1, 0, 0, INFINITE, 0);
        let sol = NetworkSimplex::solve(&q).unwrap();
        let net = ResidualNetwork::new(&q, &q.cost, &sol.flow);
        let to_source = net.distances(0, Way::To, None).unwrap();
        assert_eq!(raise_gain(q.cost[cap], to_source[2]), 2);
    }

    #[test]
    fn a_flow_that_is_not_optimal_is_refused_without_potentials() {
        // Nothing flows on a cycle of cost -1 with room.
        let mut p = FlowProblem::new(2);
        p.add_arc(0, 1, 0, 3, -2);
        p.add_arc(1, 0, 0, 3, 1);
        let net = ResidualNetwork::new(&p, &p.cost, &[0, 0]);
        assert_eq!(net.distances(0, Way::From, None), Err(NotOptimal));
        // Potentials that do not certify the flow are not trusted.
        assert_eq!(net.distances(0, Way::From, Some(&[0, 0])), Err(NotOptimal));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// On small random networks, raising a bounded arc by one unit improves the
        /// enumerated optimum by exactly the gain the residual network gives (integer data:
        /// the optimum is linear in the bound between integers), with the solver's potentials
        /// and without them.
        #[test]
        fn one_more_unit_gains_what_the_residual_network_says(p in oracle::network()) {
            let Truth::Optimal(best) = oracle::brute_force(&p, &p.cost) else {
                return Ok(());
            };
            let sol = NetworkSimplex::solve(&p).unwrap();
            let with = gains(&p, &sol.flow, Some(&sol.potential));
            let without = gains(&p, &sol.flow, None);
            prop_assert_eq!(&with, &without);
            for (a, &gain) in with.iter().enumerate() {
                let Some(gain) = gain else { continue };
                let mut up = p.clone();
                up.upper[a] += 1;
                let Truth::Optimal(raised) = oracle::brute_force(&up, &up.cost) else {
                    prop_assert!(false, "raising arc {} made the problem unsolvable", a);
                    unreachable!();
                };
                prop_assert_eq!(best - raised, gain, "arc {}", a);
            }
        }
    }
}
