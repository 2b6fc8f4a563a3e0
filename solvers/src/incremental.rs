//! `IncrementalFlow`: a min-cost flow kept optimal across small changes of its network.
//!
//! It starts from an optimal flow and potentials (a cold [`crate::NetworkSimplex`] solve) and
//! takes changes: nodes and arcs added, bounds, costs and supplies changed (an arc is removed by
//! bounding it to `0..=0`). [`IncrementalFlow::reoptimize`] then restores optimality from the
//! previous optimum instead of solving again:
//!
//! 1. A new node gets a potential that keeps its uncapacitated arcs' reduced costs
//!    non-negative; an uncapacitated arc whose cost change made its reduced cost negative moves
//!    the potential of its head (or else its tail) once.
//! 2. Every changed arc, and every arc at a node whose potential moved, is set to the bound its
//!    reduced cost prefers (kept where it is, clamped into its bounds, at reduced cost 0). The
//!    flow then satisfies every bound and complementary slackness, but not conservation: nodes
//!    hold excesses and deficits.
//! 3. Successive shortest paths (Dijkstra on reduced costs, which are non-negative on the
//!    residual network) carry each excess to a deficit; the distances update the potentials so
//!    that complementary slackness still holds. Each path is searched from both ends at once
//!    (forward from the excesses, backward from the deficits) and the first search to reach
//!    the other side wins; it stops there, and only the nodes it settled change potential, so
//!    a small change costs a small search even when one end of it is a hub.
//!
//! The result is an optimal flow of the changed network (checked against cold solves in the
//! tests); among several optima it may be another than a cold solve's. Everything is integer
//! (`i64` flows, `i128` excesses, costs and potentials), so optimality is exact. Where step 1
//! cannot keep an uncapacitated arc's reduced cost non-negative, or the network turns
//! infeasible, it says so and the caller solves cold; so it does where a number would leave its
//! range ([`IncrementalError::Overflow`]): a cost beyond `POTENTIAL_LIMIT` over the nodes
//! (checked before the searches, so that no path length leaves `i128`), a potential beyond it,
//! or a push that would take an uncapacitated arc's flow to `i64::MAX`.

use crate::problem::{objective, FlowProblem, INFINITE};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Why [`IncrementalFlow`] cannot go on; the caller solves the network cold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncrementalError {
    #[error("the starting flow is not optimal: arc {arc} breaks its bounds or slackness")]
    NotOptimal { arc: usize },
    #[error("the starting flow does not conserve flow at node {node}")]
    NotBalanced { node: usize },
    #[error("arc {arc}: lower bound {lower} above upper bound {upper}")]
    Bounds { arc: usize, lower: i64, upper: i64 },
    #[error("arc {arc} names a node out of range")]
    NodeOutOfRange { arc: usize },
    #[error(
        "an uncapacitated arc's reduced cost turned negative beyond one potential move: solve cold"
    )]
    NeedsCold,
    #[error("the changed network has no feasible flow")]
    Infeasible,
    #[error("costs, potentials or flows beyond the exact range")]
    Overflow,
}

/// What one [`IncrementalFlow::reoptimize`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reoptimized {
    /// Augmenting paths (one Dijkstra each).
    pub paths: usize,
    /// Nodes settled over all the searches.
    pub settled: usize,
    /// Arc entries the searches read (every arc relaxed or passed over).
    pub scanned: usize,
}

/// Potentials stay within this bound, and so does the largest cost times the nodes plus one,
/// so that a reduced cost (a cost plus two potentials, at most 3 limits) and a path length (a
/// path's cost plus two potentials, at most 3 limits; with one more arc and the other side's
/// distance, 12) never overflow `i128`.
const POTENTIAL_LIMIT: i128 = i128::MAX / 16;

/// A min-cost flow kept optimal across changes (see the module documentation).
#[derive(Debug, Clone)]
pub struct IncrementalFlow {
    source: Vec<u32>,
    target: Vec<u32>,
    lower: Vec<i64>,
    upper: Vec<i64>,
    cost: Vec<i128>,
    flow: Vec<i64>,
    /// Each node's arcs out and in, as the searches scan them.
    out_arcs: Vec<Vec<Adj>>,
    in_arcs: Vec<Vec<Adj>>,
    /// Each arc's place in `out_arcs` of its tail and `in_arcs` of its head.
    adj_at: Vec<(u32, u32)>,
    /// The arcs out of (into) each node whose flow is above the lower bound: the only ones a
    /// search may push back along. Kept apart because an optimum has few of them and the
    /// dense networks of sessions have thousands of arcs at a node.
    flowing_out: Vec<Vec<Adj>>,
    flowing_in: Vec<Vec<Adj>>,
    /// Each arc's place in `flowing_out` and `flowing_in` (`NOT_FLOWING` when absent).
    flowing_at: Vec<(u32, u32)>,
    supply: Vec<i64>,
    /// Supply minus (outflow - inflow): zero everywhere at an optimum. In `i128`: setting many
    /// arcs at a node to their bounds may take it beyond `i64` on the way.
    excess: Vec<i128>,
    /// The largest `|cost|` the network has had (it only grows): with the nodes, it bounds
    /// every path length the searches compute (see [`POTENTIAL_LIMIT`]).
    max_cost: u128,
    pi: Vec<i128>,
    /// Nodes added since the last re-optimisation (no potential yet).
    fresh_nodes: Vec<u32>,
    /// Arcs added or changed since the last re-optimisation.
    dirty: Vec<u32>,
    /// Arcs whose flow changed since the last [`IncrementalFlow::take_changed`].
    changed: Vec<u32>,
    is_changed: Vec<bool>,
    /// Each node's out-arcs (in-arcs) ordered for forward (backward) scans: see [`ScanIndex`].
    out_index: Vec<ScanIndex>,
    in_index: Vec<ScanIndex>,
    /// Upper bounds on how far any node's potential has risen (fallen) since the start, summed
    /// over the searches' potential updates: a [`ScanIndex`] built at clock `c` bounds its
    /// far arcs' reduced costs by what the clock has moved since.
    rise: i128,
    fall: i128,
    /// Nodes with fewer arcs on a side than this are always scanned in full; the near part of
    /// an index holds `max(near_min, arcs / 32)` arcs.
    index_min_degree: usize,
    near_min: usize,
    /// The two searches' scratch, kept across paths.
    forward: Search,
    backward: Search,
}

/// One side (out or in) of a node's arcs, ordered for the searches. A dense transportation
/// network has thousands of arcs at a node, and a search needs only those whose reduced cost is
/// below the path it is looking for: measured on a session of 5,000 needs x 1,000 teams, 1.3% of
/// the arcs a search read. A full scan of the side moves the `near` arcs (lowest reduced cost)
/// to the front of the node's arc list, where a search reads them in a row, and keeps a lower
/// bound `far` on every other arc's reduced cost, both taken at potentials `pi` of this node
/// and clock `clock`. Later, a far arc's reduced cost is at least `far`, plus what this
/// node's potential has moved since (known exactly), minus what the other end's may have moved
/// against it (at most the clock's progress). A search relaxes the near arcs when it settles the
/// node and leaves the far ones behind a heap entry keyed by that bound, scanned in full only
/// if the search gets that far; that scan takes the bound afresh and selects the near arcs
/// again only where more than half of them are no longer below every far arc. Arcs whose
/// reduced cost may have fallen otherwise (added, cost changed, reopened, or the other end's
/// potential moved outside a search) are listed in `extra` while the index is valid.
#[derive(Debug, Clone, Default)]
struct ScanIndex {
    valid: bool,
    /// The near arcs are the first `near` of the node's arc list (out or in).
    near: u32,
    /// Positions of other arcs in that list that are relaxed one by one.
    extra: Vec<u32>,
    /// The lowest reduced cost of the other open arcs at the last full scan (`i128::MAX` when
    /// there are none).
    far: i128,
    pi: i128,
    clock: i128,
}

/// An index with more extra arcs than this is built anew at its node's next scan.
const MAX_EXTRA: usize = 64;

impl ScanIndex {
    /// After a full scan: `far` the other arcs' lowest reduced cost, at potential `pi` of
    /// this node and clock `clock`; no extra arcs (the scan read them).
    fn stamp(&mut self, far: i128, pi: i128, clock: i128) {
        self.far = far;
        self.pi = pi;
        self.clock = clock;
        self.extra.clear();
    }

    /// Relax the arc at position `at` one by one from now on (nothing when the index is not
    /// built, or the arc is near already).
    fn add(&mut self, at: u32) {
        if self.valid && at >= self.near {
            self.extra.push(at);
            if self.extra.len() > MAX_EXTRA {
                self.valid = false;
            }
        }
    }
}

/// One Dijkstra's scratch: reset through `stamp` (no O(nodes) clear per search).
#[derive(Debug, Clone, Default)]
struct Search {
    /// From the deficits against the arcs (distances to a deficit), else from the excesses.
    backward: bool,
    dist: Vec<i128>,
    /// The residual arc a node was reached by (`FWD | a` along arc `a`, `a` against it).
    pred: Vec<u32>,
    /// `round`: reached this search; `round` with the high bit: settled.
    stamp: Vec<u32>,
    round: u32,
    heap: BinaryHeap<Reverse<(i128, u32)>>,
    /// Settled nodes whose far arcs (see [`ScanIndex`]) are not scanned yet, keyed by a lower
    /// bound on the length of a path through them.
    far: BinaryHeap<Reverse<(i128, u32)>>,
    settled: Vec<u32>,
    /// Arc entries read this search (reported in [`Reoptimized::scanned`]).
    work: usize,
    /// A full scan's open arcs, (reduced cost, position), to build an index from.
    scratch: Vec<(i128, u32)>,
}

impl Search {
    /// A new search of a network of `n` nodes from `roots`.
    fn start(&mut self, n: usize, backward: bool, roots: &[u32]) {
        self.backward = backward;
        if self.stamp.len() < n {
            self.dist.resize(n, 0);
            self.pred.resize(n, NO_PRED);
            self.stamp.resize(n, 0);
        }
        // Rounds stay below the settled bit, so reached and settled never read alike.
        self.round += 1;
        if self.round >= 1 << 31 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.round = 1;
        }
        self.heap.clear();
        self.far.clear();
        self.settled.clear();
        self.work = 0;
        for &r in roots {
            let r = r as usize;
            self.stamp[r] = self.round;
            self.dist[r] = 0;
            self.pred[r] = NO_PRED;
            self.heap.push(Reverse((0, r as u32)));
        }
    }

    /// Whether this search has reached (or settled) `v`: its `dist` is then a path's length.
    fn reached(&self, v: usize) -> bool {
        self.stamp[v] & !(1 << 31) == self.round
    }

    /// The smallest key left in the heap (a lower bound on every node not yet settled).
    fn nearest(&self) -> Option<i128> {
        self.heap.peek().map(|Reverse((d, _))| *d)
    }

    /// The smallest key of the far entries (a lower bound on every path through an arc not
    /// yet scanned).
    fn nearest_far(&self) -> Option<i128> {
        self.far.peek().map(|Reverse((d, _))| *d)
    }

    /// Nothing left to settle or scan.
    fn exhausted(&self) -> bool {
        self.heap.is_empty() && self.far.is_empty()
    }
}

/// A residual arc: `FWD | a` goes along arc `a`, `a` alone against it.
const FWD: u32 = 1 << 31;
const NO_PRED: u32 = u32::MAX;
const NOT_FLOWING: u32 = u32::MAX;
/// In [`Adj::other`]: the arc is uncapacitated (always open along it).
const UNCAPACITATED: u32 = 1 << 31;
/// In [`Adj::other`]: the arc is at its upper bound (closed along it).
const CLOSED: u32 = 1 << 30;

/// An arc as one of its ends sees it, laid out for the searches' scans, which read every
/// arc at a settled node: the arc, the node at its other end (with [`UNCAPACITATED`] and
/// [`CLOSED`], so that a scan reads no flow or bound) and its cost in two words (24 bytes,
/// where an `i128` field would pad the entry to 32). Reading these in a row instead of the
/// arc arrays at scattered arc ids took the searches' time from cache misses; the flowing
/// lists hold the same entries for the same reason.
#[derive(Debug, Clone, Copy)]
struct Adj {
    arc: u32,
    other: u32,
    cost_lo: u64,
    cost_hi: i64,
}

impl Adj {
    fn new(arc: usize, other: usize, cost: i128, upper: i64) -> Adj {
        let mut a = Adj {
            arc: arc as u32,
            other: other as u32,
            cost_lo: 0,
            cost_hi: 0,
        };
        a.set_cost(cost);
        a.set_upper(upper);
        a
    }

    fn cost(&self) -> i128 {
        ((self.cost_hi as i128) << 64) | self.cost_lo as i128
    }

    fn set_cost(&mut self, cost: i128) {
        self.cost_lo = cost as u64;
        self.cost_hi = (cost >> 64) as i64;
    }

    fn set_upper(&mut self, upper: i64) {
        self.other &= !UNCAPACITATED;
        if upper == INFINITE {
            self.other |= UNCAPACITATED;
        }
    }

    fn set_closed(&mut self, closed: bool) {
        self.other &= !CLOSED;
        if closed {
            self.other |= CLOSED;
        }
    }

    fn closed(&self) -> bool {
        self.other & CLOSED != 0
    }

    fn node(&self) -> usize {
        (self.other & !(UNCAPACITATED | CLOSED)) as usize
    }

    fn uncapacitated(&self) -> bool {
        self.other & UNCAPACITATED != 0
    }
}

impl IncrementalFlow {
    /// Start from an optimal `flow` of `p` (its arc costs replaced by `cost`, which may exceed
    /// `i64`, such as lexicographic costs) with `potential` certifying it (reduced cost
    /// `cost + pi[from] - pi[to]` >= 0 below the upper bound, <= 0 above the lower bound).
    /// Checked in O(arcs). Self-loops are not supported (none of the engine's networks has one).
    // Arc ids index several parallel arrays at once; an index loop reads best here.
    #[allow(clippy::needless_range_loop)]
    pub fn from_optimum(
        p: &FlowProblem,
        cost: Vec<i128>,
        flow: Vec<i64>,
        potential: Vec<i128>,
    ) -> Result<Self, IncrementalError> {
        let (n, m) = (p.nodes, p.arcs());
        if cost.len() != m || flow.len() != m || potential.len() != n || m >= FWD as usize {
            return Err(IncrementalError::Overflow);
        }
        if n >= CLOSED as usize {
            return Err(IncrementalError::Overflow);
        }
        let mut out_arcs = vec![Vec::new(); n];
        let mut in_arcs = vec![Vec::new(); n];
        let mut adj_at = Vec::with_capacity(m);
        let mut excess: Vec<i128> = p.supply.iter().map(|&x| x as i128).collect();
        for a in 0..m {
            let (s, t) = (p.source[a], p.target[a]);
            if s >= n || t >= n || s == t {
                return Err(IncrementalError::NodeOutOfRange { arc: a });
            }
            adj_at.push((out_arcs[s].len() as u32, in_arcs[t].len() as u32));
            out_arcs[s].push(Adj::new(a, t, cost[a], p.upper[a]));
            in_arcs[t].push(Adj::new(a, s, cost[a], p.upper[a]));
            let f = flow[a];
            if f < p.lower[a] || f > p.upper[a] {
                return Err(IncrementalError::NotOptimal { arc: a });
            }
            excess[s] -= f as i128;
            excess[t] += f as i128;
        }
        if let Some(node) = excess.iter().position(|&e| e != 0) {
            return Err(IncrementalError::NotBalanced { node });
        }
        let max_cost = cost.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        if potential
            .iter()
            .any(|x| x.unsigned_abs() > POTENTIAL_LIMIT as u128)
            || max_cost > POTENTIAL_LIMIT as u128
        {
            return Err(IncrementalError::Overflow);
        }
        let mut me = IncrementalFlow {
            source: p.source.iter().map(|&x| x as u32).collect(),
            target: p.target.iter().map(|&x| x as u32).collect(),
            lower: p.lower.clone(),
            upper: p.upper.clone(),
            cost,
            flow,
            flowing_out: vec![Vec::new(); n],
            flowing_in: vec![Vec::new(); n],
            flowing_at: vec![(NOT_FLOWING, NOT_FLOWING); m],
            out_arcs,
            in_arcs,
            adj_at,
            excess,
            max_cost,
            supply: p.supply.clone(),
            pi: potential,
            fresh_nodes: Vec::new(),
            dirty: Vec::new(),
            changed: Vec::new(),
            is_changed: vec![false; m],
            out_index: vec![ScanIndex::default(); n],
            in_index: vec![ScanIndex::default(); n],
            rise: 0,
            fall: 0,
            index_min_degree: 128,
            near_min: 16,
            forward: Search::default(),
            backward: Search::default(),
        };
        if let Some(arc) = (0..m).find(|&a| !me.slack_holds(a)) {
            return Err(IncrementalError::NotOptimal { arc });
        }
        me.reserve_arcs(m / 4);
        for a in 0..m {
            me.sync_closed(a);
            me.mark_flowing(a);
        }
        Ok(me)
    }

    /// Room for `extra` more arcs in every per-arc array. The arrays start at their exact
    /// length, so without it the first arc added after a large start copies all of them at
    /// once: one slow event, on a large session, where the rest take milliseconds.
    fn reserve_arcs(&mut self, extra: usize) {
        self.source.reserve(extra);
        self.target.reserve(extra);
        self.lower.reserve(extra);
        self.upper.reserve(extra);
        self.cost.reserve(extra);
        self.flow.reserve(extra);
        self.is_changed.reserve(extra);
        self.adj_at.reserve(extra);
        self.flowing_at.reserve(extra);
    }

    pub fn nodes(&self) -> usize {
        self.pi.len()
    }

    /// Index sides of `min_degree` arcs and more, keeping `near_min` near arcs at least: the
    /// tests index the small networks they can check against cold solves.
    #[cfg(test)]
    fn tune_index(&mut self, min_degree: usize, near_min: usize) {
        self.index_min_degree = min_degree;
        self.near_min = near_min;
    }

    pub fn arcs(&self) -> usize {
        self.source.len()
    }

    /// Add a node (supply 0); returns its id.
    pub fn add_node(&mut self) -> usize {
        let v = self.pi.len();
        self.pi.push(0);
        self.excess.push(0);
        self.supply.push(0);
        self.out_arcs.push(Vec::new());
        self.in_arcs.push(Vec::new());
        self.flowing_out.push(Vec::new());
        self.flowing_in.push(Vec::new());
        self.out_index.push(ScanIndex::default());
        self.in_index.push(ScanIndex::default());
        self.fresh_nodes.push(v as u32);
        v
    }

    /// Add an arc carrying no flow yet; returns its id.
    pub fn add_arc(
        &mut self,
        from: usize,
        to: usize,
        lower: i64,
        upper: i64,
        cost: i128,
    ) -> Result<usize, IncrementalError> {
        let a = self.source.len();
        if from >= self.nodes()
            || to >= self.nodes()
            || from == to
            || a + 1 >= FWD as usize
            || self.nodes() >= CLOSED as usize
        {
            return Err(IncrementalError::NodeOutOfRange { arc: a });
        }
        if lower > upper {
            return Err(IncrementalError::Bounds {
                arc: a,
                lower,
                upper,
            });
        }
        if cost.unsigned_abs() > POTENTIAL_LIMIT as u128 {
            return Err(IncrementalError::Overflow);
        }
        self.max_cost = self.max_cost.max(cost.unsigned_abs());
        self.source.push(from as u32);
        self.target.push(to as u32);
        self.lower.push(lower);
        self.upper.push(upper);
        self.cost.push(cost);
        self.flow.push(0);
        self.is_changed.push(false);
        self.adj_at.push((
            self.out_arcs[from].len() as u32,
            self.in_arcs[to].len() as u32,
        ));
        self.out_arcs[from].push(Adj::new(a, to, cost, upper));
        self.in_arcs[to].push(Adj::new(a, from, cost, upper));
        self.flowing_at.push((NOT_FLOWING, NOT_FLOWING));
        self.sync_closed(a);
        self.mark_flowing(a);
        self.index_near(a);
        self.dirty.push(a as u32);
        Ok(a)
    }

    pub fn set_bounds(
        &mut self,
        arc: usize,
        lower: i64,
        upper: i64,
    ) -> Result<(), IncrementalError> {
        if lower > upper {
            return Err(IncrementalError::Bounds { arc, lower, upper });
        }
        let was_open = self.open(arc);
        self.lower[arc] = lower;
        self.upper[arc] = upper;
        if !was_open && self.open(arc) {
            self.index_near(arc);
        }
        let (o, i) = self.adj_at[arc];
        self.out_arcs[self.source[arc] as usize][o as usize].set_upper(upper);
        self.in_arcs[self.target[arc] as usize][i as usize].set_upper(upper);
        self.sync_closed(arc);
        self.mark_flowing(arc);
        self.dirty.push(arc as u32);
        Ok(())
    }

    pub fn set_cost(&mut self, arc: usize, cost: i128) -> Result<(), IncrementalError> {
        if cost.unsigned_abs() > POTENTIAL_LIMIT as u128 {
            return Err(IncrementalError::Overflow);
        }
        self.max_cost = self.max_cost.max(cost.unsigned_abs());
        if cost < self.cost[arc] {
            self.index_near(arc);
        }
        self.cost[arc] = cost;
        let (o, i) = self.adj_at[arc];
        self.out_arcs[self.source[arc] as usize][o as usize].set_cost(cost);
        self.in_arcs[self.target[arc] as usize][i as usize].set_cost(cost);
        let (fo, fi) = self.flowing_at[arc];
        if fo != NOT_FLOWING {
            self.flowing_out[self.source[arc] as usize][fo as usize].set_cost(cost);
            self.flowing_in[self.target[arc] as usize][fi as usize].set_cost(cost);
        }
        self.dirty.push(arc as u32);
        Ok(())
    }

    /// Change a node's supply by `delta` (> 0 sends more); supplies must balance again by the
    /// next re-optimisation. `Overflow` (and nothing changed) where the supply would leave
    /// `i64`.
    pub fn add_supply(&mut self, node: usize, delta: i64) -> Result<(), IncrementalError> {
        self.supply[node] = self.supply[node]
            .checked_add(delta)
            .ok_or(IncrementalError::Overflow)?;
        self.excess[node] += delta as i128;
        Ok(())
    }

    pub fn flow(&self, arc: usize) -> i64 {
        self.flow[arc]
    }

    pub fn flows(&self) -> &[i64] {
        &self.flow
    }

    pub fn cost(&self, arc: usize) -> i128 {
        self.cost[arc]
    }

    pub fn bounds(&self, arc: usize) -> (i64, i64) {
        (self.lower[arc], self.upper[arc])
    }

    pub fn potentials(&self) -> &[i128] {
        &self.pi
    }

    /// Total cost `sum cost * flow`, exact; `Overflow` where it leaves `i128`.
    pub fn objective(&self) -> Result<i128, IncrementalError> {
        objective(&self.flow, &self.cost).map_err(|_| IncrementalError::Overflow)
    }

    /// The arcs whose flow changed since the last call, each once.
    pub fn take_changed(&mut self) -> Vec<usize> {
        let out: Vec<usize> = self.changed.iter().map(|&a| a as usize).collect();
        for &a in &self.changed {
            self.is_changed[a as usize] = false;
        }
        self.changed.clear();
        out
    }

    /// The end of arc `a` that is not `v`.
    fn other_end(&self, a: usize, v: usize) -> usize {
        (self.source[a] ^ self.target[a]) as usize ^ v
    }

    fn reduced(&self, a: usize) -> i128 {
        self.cost[a] + self.pi[self.source[a] as usize] - self.pi[self.target[a] as usize]
    }

    fn slack_holds(&self, a: usize) -> bool {
        let rc = self.reduced(a);
        (self.flow[a] >= self.upper[a] || rc >= 0) && (self.flow[a] <= self.lower[a] || rc <= 0)
    }

    /// Whether a search may go along arc `a` (from its tail, or back from its head).
    fn open(&self, a: usize) -> bool {
        self.upper[a] == INFINITE || self.flow[a] < self.upper[a]
    }

    /// Arc `a` may now be open with a reduced cost below its ends' indexes' bounds: each index
    /// relaxes it one by one from now on.
    fn index_near(&mut self, a: usize) {
        let (o, i) = self.adj_at[a];
        self.out_index[self.source[a] as usize].add(o);
        self.in_index[self.target[a] as usize].add(i);
    }

    fn set_flow(&mut self, a: usize, f: i64) {
        // In i128: f and the flow lie within the arc's bounds, which may be 2^64 apart.
        let d = f as i128 - self.flow[a] as i128;
        if d == 0 {
            return;
        }
        if f < self.flow[a] && !self.open(a) && f < self.upper[a] {
            self.index_near(a);
        }
        let was_closed = !self.open(a);
        self.flow[a] = f;
        self.excess[self.source[a] as usize] -= d;
        self.excess[self.target[a] as usize] += d;
        if was_closed == self.open(a) {
            self.sync_closed(a);
        }
        self.mark_flowing(a);
        if !self.is_changed[a] {
            self.is_changed[a] = true;
            self.changed.push(a as u32);
        }
    }

    /// Put arc `a` in the flowing lists of its ends, or take it out, as its flow and lower
    /// bound now say.
    fn mark_flowing(&mut self, a: usize) {
        let want = self.flow[a] > self.lower[a];
        let (po, pi) = self.flowing_at[a];
        let (s, t) = (self.source[a] as usize, self.target[a] as usize);
        if want && po == NOT_FLOWING {
            self.flowing_at[a] = (
                self.flowing_out[s].len() as u32,
                self.flowing_in[t].len() as u32,
            );
            let (c, up) = (self.cost[a], self.upper[a]);
            self.flowing_out[s].push(Adj::new(a, t, c, up));
            self.flowing_in[t].push(Adj::new(a, s, c, up));
        } else if !want && po != NOT_FLOWING {
            self.flowing_out[s].swap_remove(po as usize);
            if let Some(b) = self.flowing_out[s].get(po as usize) {
                self.flowing_at[b.arc as usize].0 = po;
            }
            self.flowing_in[t].swap_remove(pi as usize);
            if let Some(b) = self.flowing_in[t].get(pi as usize) {
                self.flowing_at[b.arc as usize].1 = pi;
            }
            self.flowing_at[a] = (NOT_FLOWING, NOT_FLOWING);
        }
    }

    /// Mark arc `a` closed or open in both ends' arc lists, as its flow and bound now say.
    fn sync_closed(&mut self, a: usize) {
        let closed = !self.open(a);
        let (o, i) = self.adj_at[a];
        self.out_arcs[self.source[a] as usize][o as usize].set_closed(closed);
        self.in_arcs[self.target[a] as usize][i as usize].set_closed(closed);
    }

    /// Restore an optimal flow after the changes since the last call. On an error the state is
    /// no longer optimal and the caller solves cold.
    pub fn reoptimize(&mut self) -> Result<Reoptimized, IncrementalError> {
        // The bound that keeps the searches' path lengths (`step`'s `d + rc`) inside i128
        // without a check: a simple path costs at most `nodes * max_cost` (see
        // POTENTIAL_LIMIT).
        let paths = self.max_cost.checked_mul(self.nodes() as u128 + 1);
        if paths.is_none_or(|x| x > POTENTIAL_LIMIT as u128) {
            return Err(IncrementalError::Overflow);
        }
        if self.rise.max(self.fall) > POTENTIAL_LIMIT {
            // The clocks would saturate, and a saturated clock no longer bounds a move: every
            // index is built anew from its next scan, and the clocks start again.
            self.out_index.iter_mut().for_each(|x| x.valid = false);
            self.in_index.iter_mut().for_each(|x| x.valid = false);
            self.rise = 0;
            self.fall = 0;
        }
        self.price_fresh_nodes()?;
        self.settle_dirty_arcs()?;
        let mut stats = Reoptimized::default();
        let mut sources: Vec<u32> = (0..self.nodes() as u32)
            .filter(|&v| self.excess[v as usize] > 0)
            .collect();
        let mut sinks: Vec<u32> = (0..self.nodes() as u32)
            .filter(|&v| self.excess[v as usize] < 0)
            .collect();
        while !sources.is_empty() {
            if sinks.is_empty() {
                return Err(IncrementalError::Infeasible);
            }
            let (settled, scanned) = self.shortest_path(&sources, &sinks)?;
            stats.paths += 1;
            stats.settled += settled;
            stats.scanned += scanned;
            sources.retain(|&v| self.excess[v as usize] > 0);
            sinks.retain(|&v| self.excess[v as usize] < 0);
        }
        if self.excess.iter().any(|&e| e != 0) {
            // Deficits left with no excess to fill them: supplies did not balance.
            return Err(IncrementalError::Infeasible);
        }
        Ok(stats)
    }

    /// Step 1 for new nodes: a potential between the bounds their uncapacitated arcs set.
    fn price_fresh_nodes(&mut self) -> Result<(), IncrementalError> {
        let fresh = std::mem::take(&mut self.fresh_nodes);
        let mut priced = vec![false; fresh.len()];
        // Each fresh node's first place in `fresh`: looked up once per arc (a scan of the
        // list there made a batch of k new needs of d links cost k^2 d).
        let mut place: std::collections::HashMap<usize, usize> =
            std::collections::HashMap::with_capacity(fresh.len());
        for (i, &f) in fresh.iter().enumerate() {
            place.entry(f as usize).or_insert(i);
        }
        let is_fresh = |v: usize, priced: &[bool]| place.get(&v).is_some_and(|&i| !priced[i]);
        for (i, &v) in fresh.iter().enumerate() {
            let v = v as usize;
            // pi[v] <= cost + pi[from] over uncapacitated arcs in; >= pi[to] - cost out.
            let mut hi: Option<i128> = None;
            let mut lo: Option<i128> = None;
            for e in &self.in_arcs[v] {
                let (a, s) = (e.arc as usize, e.node());
                if self.upper[a] == INFINITE && !is_fresh(s, &priced) {
                    let b = self.cost[a] + self.pi[s];
                    hi = Some(hi.map_or(b, |h| h.min(b)));
                }
            }
            for e in &self.out_arcs[v] {
                let (a, t) = (e.arc as usize, e.node());
                if self.upper[a] == INFINITE && !is_fresh(t, &priced) {
                    let b = self.pi[t] - self.cost[a];
                    lo = Some(lo.map_or(b, |l| l.max(b)));
                }
            }
            self.pi[v] = match (lo, hi) {
                (Some(l), Some(h)) if l > h => return Err(IncrementalError::NeedsCold),
                (_, Some(h)) => h,
                (Some(l), None) => l,
                (None, None) => 0,
            };
            // A cost and a potential apart from the one it is priced from: a chain of new
            // nodes would take it further.
            if self.pi[v].unsigned_abs() > POTENTIAL_LIMIT as u128 {
                return Err(IncrementalError::Overflow);
            }
            priced[i] = true;
            let arcs = self.in_arcs[v].iter().chain(&self.out_arcs[v]);
            self.dirty.extend(arcs.map(|e| e.arc));
        }
        Ok(())
    }

    /// Step 1 for cost changes and step 2: each dirty arc to the bound its reduced cost
    /// prefers; an uncapacitated arc with a negative reduced cost first moves a potential.
    fn settle_dirty_arcs(&mut self) -> Result<(), IncrementalError> {
        let mut moved: Vec<bool> = Vec::new();
        while let Some(a) = self.dirty.pop() {
            let a = a as usize;
            let mut rc = self.reduced(a);
            if rc < 0 && self.upper[a] == INFINITE {
                if moved.is_empty() {
                    moved = vec![false; self.nodes()];
                }
                let (s, t) = (self.source[a] as usize, self.target[a] as usize);
                // Lower the head's potential (or raise the tail's) until no uncapacitated arc
                // into it (out of it) has a negative reduced cost; every arc at the moved node
                // is settled again. Moving by the whole amount at once keeps a node from
                // moving twice (which would move a neighbour, and all its arcs, instead).
                // A potential moved outside a search: the arcs whose reduced costs it lowers
                // (out of t, into s) leave their other ends' index bounds.
                let node = if !moved[t] {
                    self.pi[t] += self.lowest_uncapacitated(&self.in_arcs[t], rc);
                    for k in 0..self.out_arcs[t].len() {
                        let e = self.out_arcs[t][k];
                        self.in_index[e.node()].add(self.adj_at[e.arc as usize].1);
                    }
                    t
                } else if !moved[s] {
                    self.pi[s] -= self.lowest_uncapacitated(&self.out_arcs[s], rc);
                    for k in 0..self.in_arcs[s].len() {
                        let e = self.in_arcs[s][k];
                        self.out_index[e.node()].add(self.adj_at[e.arc as usize].0);
                    }
                    s
                } else {
                    return Err(IncrementalError::NeedsCold);
                };
                if self.pi[node].unsigned_abs() > POTENTIAL_LIMIT as u128 {
                    return Err(IncrementalError::Overflow);
                }
                moved[node] = true;
                let arcs = self.in_arcs[node].iter().chain(&self.out_arcs[node]);
                self.dirty.extend(arcs.map(|e| e.arc));
                rc = self.reduced(a);
            }
            let f = match rc.signum() {
                1 => self.lower[a],
                -1 => self.upper[a],
                _ => self.flow[a].clamp(self.lower[a], self.upper[a]),
            };
            self.set_flow(a, f);
        }
        Ok(())
    }

    /// The lowest reduced cost among the uncapacitated `arcs`, and `rc`.
    fn lowest_uncapacitated(&self, arcs: &[Adj], rc: i128) -> i128 {
        arcs.iter()
            .filter(|e| e.uncapacitated())
            .map(|e| self.reduced(e.arc as usize))
            .fold(rc, i128::min)
    }

    /// One shortest path between an excess and a deficit, by a bidirectional Dijkstra:
    /// forward from every excess and backward (against the arcs) from every deficit, each
    /// side given turns by the nodes it has settled, until the nearest heap entries of the two
    /// sides add up to the best path seen where they met (and no far entry is below it). One end of a change often sits at
    /// a hub (the sink every need feeds, the source every resource draws from), and the ball
    /// of nodes nearer than the path's length covers most of a dense network; two balls of
    /// half the radius cover far fewer.
    ///
    /// Potentials: with `L` the path's length, `a = min(nearest forward entry, L)` and
    /// `b = L - a`, let `h(v)` be `d_f(v)` where `d_f(v) < a`, `L - d_b(v)` where
    /// `d_b(v) < b`, and `a` elsewhere (no node is both: `d_f + d_b >= L`). `h` is the
    /// combination of two capped distance functions that stays feasible (every residual
    /// reduced cost stays >= 0 after `pi += h - a`) and equals `d_f` along the path, whose
    /// arcs become tight; only settled nodes move. Returns the nodes settled and the arc
    /// entries read.
    fn shortest_path(
        &mut self,
        sources: &[u32],
        sinks: &[u32],
    ) -> Result<(usize, usize), IncrementalError> {
        let mut fwd = std::mem::take(&mut self.forward);
        let mut bwd = std::mem::take(&mut self.backward);
        fwd.start(self.nodes(), false, sources);
        bwd.start(self.nodes(), true, sinks);
        // The best path seen: its length and the node where the two sides met.
        let mut best: Option<(i128, usize)> = None;
        let result = loop {
            let (tf, tb) = (fwd.nearest(), bwd.nearest());
            // A far arc may end at a node the other side has settled (at any distance from
            // 0), so its entry bounds a path by its key alone: every one below the best path
            // is scanned before the searches stop.
            let (ff, fb) = (fwd.nearest_far(), bwd.nearest_far());
            let mut turn = fwd.settled.len() <= bwd.settled.len();
            // Once the node heaps have met, only far entries below the best path are taken.
            let mut far_only = false;
            if let Some((l, m)) = best {
                let met = tf.is_none_or(|x| x.saturating_add(tb.unwrap_or(i128::MAX)) >= l)
                    || tb.is_none();
                let (far_f, far_b) = (ff.is_some_and(|x| x < l), fb.is_some_and(|x| x < l));
                if met && !far_f && !far_b {
                    break Ok((l, m, tf.map_or(l, |x| x.min(l))));
                }
                if met {
                    turn = far_f;
                    far_only = true;
                }
            } else if fwd.exhausted() || bwd.exhausted() {
                break Err(IncrementalError::Infeasible);
            }
            if turn {
                self.step(&mut fwd, &bwd, &mut best, far_only);
            } else {
                self.step(&mut bwd, &fwd, &mut best, far_only);
            }
        };
        let settled = fwd.settled.len() + bwd.settled.len();
        let scanned = fwd.work + bwd.work;
        let out = match result {
            Ok((l, m, a)) => {
                let b = l - a;
                let (mut fell, mut rose) = (0, 0);
                for &v in &fwd.settled {
                    let d = fwd.dist[v as usize];
                    if d < a {
                        self.pi[v as usize] += d - a;
                        fell = fell.max(a - d);
                    }
                }
                for &v in &bwd.settled {
                    let d = bwd.dist[v as usize];
                    if d < b {
                        self.pi[v as usize] += b - d;
                        rose = rose.max(b - d);
                    }
                }
                self.fall = self.fall.saturating_add(fell);
                self.rise = self.rise.saturating_add(rose);
                if fwd
                    .settled
                    .iter()
                    .chain(&bwd.settled)
                    .any(|&v| self.pi[v as usize].unsigned_abs() > POTENTIAL_LIMIT as u128)
                {
                    Err(IncrementalError::Overflow)
                } else {
                    self.augment(&fwd, &bwd, m).map(|()| (settled, scanned))
                }
            }
            Err(e) => Err(e),
        };
        self.forward = fwd;
        self.backward = bwd;
        out
    }

    /// Take the nearest heap entry of `s` (the nearest far entry with `far_only`): settle its
    /// node and relax its residual arcs (the near ones of an index, leaving the far ones behind
    /// an entry of their own), or scan the far arcs an entry stands for; record in `best` a
    /// shorter path where a relaxed node is one `other` has reached. Far arcs may be scanned
    /// out of Dijkstra's order: their node is settled, so they only lower tentative distances.
    fn step(
        &mut self,
        s: &mut Search,
        other: &Search,
        best: &mut Option<(i128, usize)>,
        far_only: bool,
    ) {
        let settled_mark = s.round | (1 << 31);
        let (u, d, far) = loop {
            // The nearer of the next node and the next far entry, in Dijkstra's order.
            let far_first = match (s.heap.peek(), s.far.peek()) {
                (_, None) => false,
                (None, Some(_)) => true,
                _ if far_only => true,
                (Some(Reverse(n)), Some(Reverse(f))) => f.0 < n.0,
            };
            if far_first {
                let Some(Reverse((_, u))) = s.far.pop() else {
                    return;
                };
                break (u as usize, s.dist[u as usize], true);
            }
            let Some(Reverse((d, u))) = s.heap.pop() else {
                return;
            };
            let u = u as usize;
            if s.stamp[u] != settled_mark && d <= s.dist[u] {
                break (u, d, false);
            }
        };
        let pu = self.pi[u];
        let relax =
            |s: &mut Search, best: &mut Option<(i128, usize)>, v: usize, nd: i128, via: u32| {
                // No path through v is shorter than the best seen, and v keeps its potential
                // (h(v) = a <= that length <= nd stays feasible): not worth a heap entry.
                if best.is_some_and(|(l, _)| nd >= l) {
                    return;
                }
                let st = s.stamp[v];
                if st == settled_mark || (st == s.round && nd >= s.dist[v]) {
                    return;
                }
                s.stamp[v] = s.round;
                s.dist[v] = nd;
                s.pred[v] = via;
                s.heap.push(Reverse((nd, v as u32)));
                if other.reached(v) {
                    let l = nd + other.dist[v];
                    if best.is_none_or(|(b, _)| l < b) {
                        *best = Some((l, v));
                    }
                }
            };
        // Forward, the residual arcs out of u: along its out-arcs, against its flowing
        // in-arcs; backward, those into u: along its in-arcs, against its flowing out-arcs.
        let (along, against, index) = if s.backward {
            (
                &self.in_arcs[u],
                &self.flowing_out[u],
                &mut self.in_index[u],
            )
        } else {
            (
                &self.out_arcs[u],
                &self.flowing_in[u],
                &mut self.out_index[u],
            )
        };
        // The reduced cost of an along arc, if it is open.
        let pi = &self.pi;
        let backward = s.backward;
        let reduced = |e: &Adj| {
            if e.closed() {
                return None;
            }
            let v = e.node();
            // Forward the arc is u -> v, backward v -> u.
            Some(if backward {
                e.cost() + pi[v] - pu
            } else {
                e.cost() + pu - pi[v]
            })
        };
        if !far {
            s.stamp[u] = settled_mark;
            s.settled.push(u as u32);
            s.work += against.len() + 1;
            for e in against.iter() {
                // Forward u is the arc's head (v -> u), backward its tail (u -> v).
                let v = e.node();
                let rc = if backward {
                    e.cost() + pu - pi[v]
                } else {
                    e.cost() + pi[v] - pu
                };
                relax(s, best, v, d - rc, e.arc);
            }
            if index.valid {
                s.work += index.near as usize + index.extra.len() + 1;
                let near = along[..index.near as usize].iter();
                for e in near.chain(index.extra.iter().map(|&at| &along[at as usize])) {
                    if let Some(rc) = reduced(e) {
                        relax(s, best, e.node(), d + rc, FWD | e.arc);
                    }
                }
                // The far arcs' bound: their reduced costs at the last full scan, plus this
                // node's move since (exact; forward it adds to the arcs' reduced costs,
                // backward it subtracts), minus the most the other ends can have moved.
                let (own, others) = if s.backward {
                    (
                        index.pi.saturating_sub(pu),
                        self.fall.saturating_sub(index.clock),
                    )
                } else {
                    (
                        pu.saturating_sub(index.pi),
                        self.rise.saturating_sub(index.clock),
                    )
                };
                let bound = d
                    .saturating_add(index.far)
                    .saturating_add(own)
                    .saturating_sub(others)
                    .max(d);
                if index.far != i128::MAX && best.is_none_or(|(l, _)| bound < l) {
                    s.far.push(Reverse((bound, u as u32)));
                }
                return;
            }
        }
        // A full scan: every along arc, and the index built anew where the side is large.
        s.work += along.len();
        let build = along.len() >= self.index_min_degree;
        s.scratch.clear();
        let clock = if s.backward { self.fall } else { self.rise };
        // Whether every arc is relaxed already (by a far entry's scan that selects again).
        let mut relaxed = false;
        if far && index.valid {
            // A far entry's scan. While most near arcs are still below every far arc, a new
            // selection would keep most of them: the index takes the far arcs' lowest reduced
            // cost and this node's potential, and stays. Pushing every arc and selecting again
            // (most of a full scan's cost) is left for sides whose near arcs went stale.
            let near = index.near as usize;
            let mut far_min = i128::MAX;
            for (at, e) in along.iter().enumerate() {
                if let Some(rc) = reduced(e) {
                    relax(s, best, e.node(), d + rc, FWD | e.arc);
                    if at < near {
                        s.scratch.push((rc, at as u32));
                    } else {
                        far_min = far_min.min(rc);
                    }
                }
            }
            let stale = s.scratch.iter().filter(|x| x.0 > far_min).count();
            if 2 * stale <= near {
                index.stamp(far_min, pu, clock);
                return;
            }
            // Otherwise a new selection, from every arc read again.
            s.work += along.len();
            s.scratch.clear();
            relaxed = true;
        }
        for (at, e) in along.iter().enumerate() {
            if let Some(rc) = reduced(e) {
                if !relaxed {
                    relax(s, best, e.node(), d + rc, FWD | e.arc);
                }
                if build {
                    s.scratch.push((rc, at as u32));
                }
            }
        }
        if build {
            let keep = self.near_min.max(along.len() / 32);
            let mut far_bound = i128::MAX;
            if s.scratch.len() > keep {
                // The entry selected at `keep` is the lowest of the far ones.
                far_bound = s.scratch.select_nth_unstable_by_key(keep, |x| x.0).1 .0;
                s.scratch.truncate(keep);
            }
            index.near = s.scratch.len() as u32;
            index.stamp(far_bound, pu, clock);
            index.valid = true;
            self.move_to_front(u, s.backward, &mut s.scratch);
        }
    }

    /// Move the arcs at positions `near` (of u's in-list when `backward`, else its out-list)
    /// to the front of the list, keeping `adj_at` true.
    fn move_to_front(&mut self, u: usize, backward: bool, near: &mut [(i128, u32)]) {
        let k = near.len();
        near.sort_unstable_by_key(|x| x.1);
        let (list, adj_at) = if backward {
            (&mut self.in_arcs[u], &mut self.adj_at)
        } else {
            (&mut self.out_arcs[u], &mut self.adj_at)
        };
        // The near arcs behind the front, paired with the front's slots that hold no near arc.
        let outside = near.iter().map(|x| x.1 as usize).filter(|&p| p >= k);
        let mut next = near.iter().map(|x| x.1 as usize).peekable();
        let holes = (0..k).filter(|&slot| {
            while next.next_if(|&p| p < slot).is_some() {}
            next.next_if_eq(&slot).is_none()
        });
        for (hole, p) in holes.collect::<Vec<_>>().into_iter().zip(outside) {
            list.swap(hole, p);
            for at in [hole, p] {
                let a = list[at].arc as usize;
                if backward {
                    adj_at[a].1 = at as u32;
                } else {
                    adj_at[a].0 = at as u32;
                }
            }
        }
    }

    /// Push along the path through `m` (the forward search's path from an excess to `m`,
    /// then the backward search's from `m` to a deficit) as much as its residual capacities,
    /// the excess at its start and the deficit at its end allow. `Overflow` (nothing pushed)
    /// where that would take an uncapacitated arc's flow to `INFINITE` or beyond.
    fn augment(&mut self, fwd: &Search, bwd: &Search, m: usize) -> Result<(), IncrementalError> {
        // In i128: a residual capacity spans up to 2^64, an excess more.
        let mut amount = i128::MAX;
        // The largest flow of an uncapacitated arc the push goes along: nothing else bounds it.
        let mut free: Option<i64> = None;
        let mut ends = [m, m];
        for (k, s) in [fwd, bwd].into_iter().enumerate() {
            let mut v = m;
            while s.pred[v] != NO_PRED {
                let via = s.pred[v];
                let a = (via & !FWD) as usize;
                if via & FWD == 0 {
                    amount = amount.min(self.flow[a] as i128 - self.lower[a] as i128);
                } else if self.upper[a] == INFINITE {
                    free = free.max(Some(self.flow[a]));
                } else {
                    amount = amount.min(self.upper[a] as i128 - self.flow[a] as i128);
                }
                v = self.other_end(a, v);
            }
            ends[k] = v;
        }
        amount = amount.min(self.excess[ends[0]]).min(-self.excess[ends[1]]);
        if free.is_some_and(|f| f as i128 + amount >= INFINITE as i128) {
            return Err(IncrementalError::Overflow);
        }
        // Every new flow lies within its arc's bounds (below INFINITE where there is none),
        // so it fits i64.
        for s in [fwd, bwd] {
            let mut v = m;
            while s.pred[v] != NO_PRED {
                let via = s.pred[v];
                let a = (via & !FWD) as usize;
                let f = self.flow[a] as i128;
                if via & FWD != 0 {
                    self.set_flow(a, (f + amount) as i64);
                } else {
                    self.set_flow(a, (f - amount) as i64);
                }
                v = self.other_end(a, v);
            }
        }
        Ok(())
    }

    /// The current network as a [`FlowProblem`] (its costs truncated to `i64`: for tests that
    /// solve it cold with costs that fit).
    pub fn to_problem(&self) -> FlowProblem {
        let mut p = FlowProblem::new(self.nodes());
        p.supply = self.supply.clone();
        for a in 0..self.arcs() {
            p.add_arc(
                self.source[a] as usize,
                self.target[a] as usize,
                self.lower[a],
                self.upper[a],
                self.cost[a] as i64,
            );
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FlowError, NetworkSimplex};
    use proptest::prelude::*;

    /// One change of a transportation network as a session makes it.
    #[derive(Debug, Clone)]
    enum Change {
        /// A need of demand `d` (minimum `lo`) linked to resources `links` at costs.
        AddNeed {
            lo: i64,
            d: i64,
            links: Vec<(usize, i64)>,
        },
        /// A resource of capacity `cap` linked to needs at costs.
        AddResource {
            cap: i64,
            links: Vec<(usize, i64)>,
        },
        /// A need's bounds (arc `k`-th need arc); `0..=0` withdraws it.
        NeedBounds {
            k: usize,
            lo: i64,
            d: i64,
        },
        ResourceCap {
            k: usize,
            cap: i64,
        },
        /// A link's cost.
        LinkCost {
            k: usize,
            cost: i64,
        },
    }

    /// A transportation network: 0 source, 1 sink, resources, needs; sink -> source closes
    /// the circulation. Returns the network and its resource, need and link arcs.
    struct Net {
        p: FlowProblem,
        res_nodes: Vec<usize>,
        need_nodes: Vec<usize>,
        cap_arcs: Vec<usize>,
        need_arcs: Vec<usize>,
        link_arcs: Vec<usize>,
    }

    fn transport(caps: &[i64], needs: &[(i64, i64)], links: &[(usize, usize, i64)]) -> Net {
        let mut p = FlowProblem::new(2 + caps.len() + needs.len());
        let res_nodes: Vec<usize> = (0..caps.len()).map(|i| 2 + i).collect();
        let need_nodes: Vec<usize> = (0..needs.len()).map(|i| 2 + caps.len() + i).collect();
        let cap_arcs = caps
            .iter()
            .zip(&res_nodes)
            .map(|(&c, &r)| p.add_arc(0, r, 0, c, 0))
            .collect();
        let need_arcs = needs
            .iter()
            .zip(&need_nodes)
            .map(|(&(lo, d), &n)| p.add_arc(n, 1, lo, d, 0))
            .collect();
        let link_arcs = links
            .iter()
            .map(|&(r, n, c)| p.add_arc(res_nodes[r], need_nodes[n], 0, INFINITE, c))
            .collect();
        p.add_arc(1, 0, 0, INFINITE, 0);
        Net {
            p,
            res_nodes,
            need_nodes,
            cap_arcs,
            need_arcs,
            link_arcs,
        }
    }

    /// Feasible, conserving and complementary-slack: an optimum, whatever the solver.
    fn assert_optimal(f: &IncrementalFlow) {
        let p = f.to_problem();
        // In i128: flows near the limits add up beyond i64 at a node.
        let mut net: Vec<i128> = p.supply.iter().map(|&x| x as i128).collect();
        for a in 0..f.arcs() {
            let (lo, up) = f.bounds(a);
            assert!(lo <= f.flow(a) && f.flow(a) <= up, "arc {a} out of bounds");
            net[p.source[a]] -= f.flow(a) as i128;
            net[p.target[a]] += f.flow(a) as i128;
            assert!(f.slack_holds(a), "arc {a} breaks slackness");
        }
        assert!(net.iter().all(|&x| x == 0), "flow not conserved");
    }

    /// Capacities, (min, demand) per need, (resource, need, cost) per link.
    type Transport = (Vec<i64>, Vec<(i64, i64)>, Vec<(usize, usize, i64)>);

    fn network() -> impl Strategy<Value = Transport> {
        (1usize..=5, 1usize..=6).prop_flat_map(|(r, n)| {
            (
                prop::collection::vec(0i64..=6, r),
                prop::collection::vec((0i64..=1, 1i64..=4), n),
                prop::collection::vec((0..r, 0..n, -20i64..=5), 0..=(r * n)),
            )
        })
    }

    fn change() -> impl Strategy<Value = Change> {
        let links = prop::collection::vec((0usize..8, -20i64..=5), 0..=4);
        prop_oneof![
            (0i64..=1, 1i64..=4, links.clone()).prop_map(|(lo, d, links)| Change::AddNeed {
                lo: lo.min(d),
                d,
                links
            }),
            (0i64..=6, links).prop_map(|(cap, links)| Change::AddResource { cap, links }),
            (0usize..8, 0i64..=1, 0i64..=4).prop_map(|(k, lo, d)| Change::NeedBounds {
                k,
                lo: lo.min(d),
                d
            }),
            (0usize..8, 0i64..=6).prop_map(|(k, cap)| Change::ResourceCap { k, cap }),
            (0usize..40, -20i64..=5).prop_map(|(k, cost)| Change::LinkCost { k, cost }),
        ]
    }

    fn cold(p: &FlowProblem) -> Result<i128, FlowError> {
        NetworkSimplex::solve(p).map(|s| s.cost)
    }

    /// Apply `changes` to the transportation network one at a time, re-optimising after each
    /// with sides of `index.0` arcs and more indexed (`index.1` near arcs at least), and check
    /// every result against a cold solve.
    fn replay_changes(
        caps: &[i64],
        needs: &[(i64, i64)],
        links: &[(usize, usize, i64)],
        changes: Vec<Change>,
        index: (usize, usize),
    ) -> Result<(), TestCaseError> {
        let mut net = transport(caps, needs, links);
        let Ok(sol) = NetworkSimplex::solve(&net.p) else {
            return Ok(());
        };
        let cost = net.p.cost.iter().map(|&c| c as i128).collect();
        let mut f = IncrementalFlow::from_optimum(&net.p, cost, sol.flow, sol.potential)
            .expect("a cold optimum is accepted");
        f.tune_index(index.0, index.1);
        for ch in changes {
            match ch {
                Change::AddNeed { lo, d, links } => {
                    let v = f.add_node();
                    net.need_arcs.push(f.add_arc(v, 1, lo, d, 0).unwrap());
                    net.need_nodes.push(v);
                    for (r, c) in links {
                        let r = net.res_nodes[r % net.res_nodes.len()];
                        net.link_arcs
                            .push(f.add_arc(r, v, 0, INFINITE, c as i128).unwrap());
                    }
                }
                Change::AddResource { cap, links } => {
                    let v = f.add_node();
                    net.cap_arcs.push(f.add_arc(0, v, 0, cap, 0).unwrap());
                    net.res_nodes.push(v);
                    for (n, c) in links {
                        let n = net.need_nodes[n % net.need_nodes.len()];
                        net.link_arcs
                            .push(f.add_arc(v, n, 0, INFINITE, c as i128).unwrap());
                    }
                }
                Change::NeedBounds { k, lo, d } => {
                    let a = net.need_arcs[k % net.need_arcs.len()];
                    f.set_bounds(a, lo, d).unwrap();
                }
                Change::ResourceCap { k, cap } => {
                    let a = net.cap_arcs[k % net.cap_arcs.len()];
                    f.set_bounds(a, 0, cap).unwrap();
                }
                Change::LinkCost { k, cost } => {
                    if net.link_arcs.is_empty() {
                        continue;
                    }
                    let a = net.link_arcs[k % net.link_arcs.len()];
                    f.set_cost(a, cost as i128).unwrap();
                }
            }
            let truth = cold(&f.to_problem());
            match f.reoptimize() {
                Ok(_) => {
                    assert_optimal(&f);
                    prop_assert_eq!(Ok(f.objective().unwrap()), truth);
                }
                Err(IncrementalError::Infeasible) => {
                    prop_assert!(
                        matches!(truth, Err(FlowError::Infeasible(_))),
                        "{:?}",
                        truth
                    );
                    return Ok(());
                }
                Err(e) => panic!("transportation changes never need a cold solve: {e}"),
            }
        }
        Ok(())
    }

    /// Resources and needs where each need is linked to most resources.
    fn dense_network() -> impl Strategy<Value = Transport> {
        (3usize..=6, 6usize..=14).prop_flat_map(|(r, n)| {
            (
                prop::collection::vec(0i64..=6, r),
                prop::collection::vec((0i64..=1, 1i64..=4), n),
                prop::collection::vec(prop::collection::vec((any::<bool>(), -40i64..=5), r), n),
            )
                .prop_map(move |(caps, needs, rows)| {
                    let links = rows
                        .iter()
                        .enumerate()
                        .flat_map(|(j, row)| {
                            row.iter()
                                .enumerate()
                                .filter(|(i, (skip, _))| !skip || *i == 0)
                                .map(move |(i, &(_, c))| (i, j, c))
                        })
                        .collect();
                    (caps, needs, links)
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// After every change, the re-optimised flow is an optimum (certificate) of the same
        /// cost as a cold solve, or both find no feasible flow.
        #[test]
        fn reoptimised_flows_cost_what_cold_solves_cost(
            (caps, needs, links) in network(),
            changes in prop::collection::vec(change(), 1..=8),
            index in prop::sample::select(vec![(128, 16), (2, 1), (3, 2)]),
        ) {
            replay_changes(&caps, &needs, &links, changes, index)?;
        }

        /// Dense networks (every need linked to most resources) and longer streams, every
        /// side indexed with one or two near arcs: the far arcs' bounds are what decides.
        #[test]
        fn indexed_dense_networks_reoptimise_to_cold_cost(
            (caps, needs, links) in dense_network(),
            changes in prop::collection::vec(change(), 8..=30),
            index in prop::sample::select(vec![(2, 1), (2, 2), (4, 1)]),
        ) {
            replay_changes(&caps, &needs, &links, changes, index)?;
        }

        /// General small networks (negative lower bounds, supplies, parallel arcs): random
        /// bound, cost and supply changes; the re-optimised cost equals a cold solve's.
        #[test]
        fn general_networks_reoptimise_to_cold_cost(
            p in crate::oracle::network(),
            changes in prop::collection::vec(
                (0usize..6, -1i64..=1, 0i64..=3, -4i64..=5, 0usize..4, -2i64..=2), 1..=6),
            index in prop::sample::select(vec![(128, 16), (2, 1)]),
        ) {
            if (0..p.arcs()).any(|a| p.source[a] == p.target[a]) {
                return Ok(());
            }
            let Ok(sol) = NetworkSimplex::solve(&p) else {
                return Ok(());
            };
            let cost = p.cost.iter().map(|&c| c as i128).collect();
            let mut f = IncrementalFlow::from_optimum(&p, cost, sol.flow, sol.potential).unwrap();
            f.tune_index(index.0, index.1);
            for (k, lo, w, c, v, s) in changes {
                let a = k % f.arcs();
                let up = if f.bounds(a).1 == INFINITE { INFINITE } else { lo + w };
                f.set_bounds(a, lo, up).unwrap();
                f.set_cost(a, c as i128).unwrap();
                // A supply moved from node v to the last node keeps the total balanced.
                let (v, last) = (v % f.nodes(), f.nodes() - 1);
                f.add_supply(v, s).unwrap();
                f.add_supply(last, -s).unwrap();
                let truth = cold(&f.to_problem());
                match f.reoptimize() {
                    Ok(_) => {
                        assert_optimal(&f);
                        prop_assert_eq!(Ok(f.objective().unwrap()), truth);
                    }
                    Err(IncrementalError::Infeasible) => {
                        prop_assert!(truth.is_err(), "{:?}", truth);
                        return Ok(());
                    }
                    Err(IncrementalError::NeedsCold) => return Ok(()),
                    Err(e) => panic!("{e}"),
                }
            }
        }
    }

    proptest! {
        // Cheap cases; most end early (a start infeasible, or a change making it so).
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// `general_networks_reoptimise_to_cold_cost` with every quantity (supplies, bounds,
        /// and the changes' too) times a scale that puts the start's flow bound near
        /// `i64::MAX / 4` (flows near 2^61, excesses on the way beyond): where the cold solve
        /// answers, the same cost; where it refuses (the changes took the network beyond the
        /// limit), an optimal flow or `Overflow`; in debug builds any overflow on the way
        /// panics.
        #[test]
        fn general_networks_near_the_flow_limit_reoptimise_to_cold_cost(
            p in crate::oracle::network(),
            changes in prop::collection::vec(
                (0usize..6, -1i64..=1, 0i64..=3, -4i64..=5, 0usize..4, -2i64..=2), 1..=6),
        ) {
            // Without its self-loops (the incremental flow takes none).
            let mut no_loops = FlowProblem::new(p.nodes);
            no_loops.supply = p.supply.clone();
            for a in (0..p.arcs()).filter(|&a| p.source[a] != p.target[a]) {
                no_loops.add_arc(p.source[a], p.target[a], p.lower[a], p.upper[a], p.cost[a]);
            }
            let p = no_loops;
            if p.arcs() == 0 {
                return Ok(());
            }
            // Supplies, lower bounds and widths bound what any arc carries.
            let widths = (0..p.arcs())
                .filter(|&a| p.upper[a] != INFINITE)
                .map(|a| p.upper[a] - p.lower[a]);
            let spread: i64 = p.supply.iter().chain(&p.lower).map(|x| x.abs()).sum::<i64>()
                + widths.sum::<i64>();
            // At most a quarter of a quarter of i64 per unit: six supply moves of 2 units
            // stay in i64.
            let k = (i64::MAX / 4) / spread.max(4);
            let mut q = p.clone();
            for x in q.supply.iter_mut().chain(&mut q.lower) {
                *x *= k;
            }
            q.upper.iter_mut().filter(|u| **u != INFINITE).for_each(|u| *u *= k);
            let Ok(sol) = NetworkSimplex::solve(&q) else {
                return Ok(());
            };
            let cost = q.cost.iter().map(|&c| c as i128).collect();
            let mut f = IncrementalFlow::from_optimum(&q, cost, sol.flow, sol.potential).unwrap();
            for (a, lo, w, c, v, s) in changes {
                let a = a % f.arcs();
                let up = if f.bounds(a).1 == INFINITE { INFINITE } else { (lo + w) * k };
                f.set_bounds(a, lo * k, up).unwrap();
                f.set_cost(a, c as i128).unwrap();
                let (v, last) = (v % f.nodes(), f.nodes() - 1);
                f.add_supply(v, s * k).unwrap();
                f.add_supply(last, -s * k).unwrap();
                let truth = cold(&f.to_problem());
                match (f.reoptimize(), &truth) {
                    (Ok(_), Ok(c)) => {
                        assert_optimal(&f);
                        prop_assert_eq!(f.objective(), Ok(*c));
                    }
                    (Ok(_), Err(FlowError::Invalid(_))) => assert_optimal(&f),
                    (Err(IncrementalError::Overflow), Err(FlowError::Invalid(_))) => return Ok(()),
                    (Err(IncrementalError::Infeasible), _) => {
                        prop_assert!(truth.is_err(), "{:?}", truth);
                        return Ok(());
                    }
                    (Err(IncrementalError::NeedsCold), _) => return Ok(()),
                    (got, _) => panic!("{got:?} where cold says {truth:?}"),
                }
            }
        }
    }

    /// Two nodes, one arc 0 -> 1 of cost 1 and no upper bound carrying `s` (its optimum, with
    /// potentials [0, 1]); then node 2 added with an arc 2 -> 0 to bring `extra` more, and
    /// node 3 with an arc 1 -> 3 to take it.
    fn one_arc_carrying(s: i64, extra: i64) -> IncrementalFlow {
        let mut p = FlowProblem::new(2);
        p.supply = vec![s, -s];
        p.add_arc(0, 1, 0, INFINITE, 1);
        let mut f = IncrementalFlow::from_optimum(&p, vec![1], vec![s], vec![0, 1]).unwrap();
        let (v, w) = (f.add_node(), f.add_node());
        f.add_arc(v, 0, 0, INFINITE, 0).unwrap();
        f.add_arc(1, w, 0, INFINITE, 0).unwrap();
        f.add_supply(v, extra).unwrap();
        f.add_supply(w, -extra).unwrap();
        f
    }

    /// A push that would take an uncapacitated arc's flow to i64::MAX (its "no upper bound")
    /// or beyond is refused, in debug and release alike; short of it, made.
    #[test]
    fn a_push_beyond_i64_is_refused() {
        let mut f = one_arc_carrying(i64::MAX - 5, 10);
        assert_eq!(f.reoptimize(), Err(IncrementalError::Overflow));
        let mut f = one_arc_carrying(i64::MAX - 5, 4);
        f.reoptimize().unwrap();
        assert_eq!(f.flows(), &[i64::MAX - 1, 4, 4][..]);
        assert_eq!(f.objective(), Ok((i64::MAX - 1) as i128));
        assert_optimal(&f);
        // A supply beyond i64 is refused where it is given, and leaves the supply as it was.
        assert_eq!(f.add_supply(0, i64::MAX), Err(IncrementalError::Overflow));
        assert_eq!(
            f.to_problem().supply,
            vec![i64::MAX - 5, -(i64::MAX - 5), 4, -4]
        );
    }

    /// Two arcs 0 -> 1 of `i64::MAX - 1` each turned negative: settling both at their upper
    /// bounds leaves node 0 an excess of about -2^64 on the way (beyond i64), which the paths
    /// then take back to a flow of 0.
    #[test]
    fn excesses_beyond_i64_on_the_way_are_exact() {
        let mut p = FlowProblem::new(2);
        p.add_arc(0, 1, 0, i64::MAX - 1, 0);
        p.add_arc(0, 1, 0, i64::MAX - 1, 0);
        let mut f = IncrementalFlow::from_optimum(&p, vec![0, 0], vec![0, 0], vec![0, 0]).unwrap();
        f.set_cost(0, -1).unwrap();
        f.set_cost(1, -1).unwrap();
        f.reoptimize().unwrap();
        assert_eq!((f.flows(), f.objective()), (&[0, 0][..], Ok(0)));
        assert_optimal(&f);
    }

    /// Costs whose paths could leave i128 are refused before any search: a chain of 33 arcs
    /// of cost `POTENTIAL_LIMIT` is a path of length 2^128. An objective beyond i128 is
    /// refused too.
    #[test]
    fn costs_and_objectives_beyond_i128_are_refused() {
        let n = 34;
        let mut p = FlowProblem::new(n);
        for v in 0..n - 1 {
            p.add_arc(v, v + 1, 0, INFINITE, 0);
        }
        let cost = vec![POTENTIAL_LIMIT; n - 1];
        let mut f = IncrementalFlow::from_optimum(&p, cost, vec![0; n - 1], vec![0; n]).unwrap();
        f.add_supply(0, 1).unwrap();
        f.add_supply(n - 1, -1).unwrap();
        assert_eq!(f.reoptimize(), Err(IncrementalError::Overflow));
        // Within the bound: solved, the path's cost exact.
        let c = POTENTIAL_LIMIT / (n as i128 + 1);
        let mut f =
            IncrementalFlow::from_optimum(&p, vec![c; n - 1], vec![0; n - 1], vec![0; n]).unwrap();
        f.add_supply(0, 1).unwrap();
        f.add_supply(n - 1, -1).unwrap();
        f.reoptimize().unwrap();
        assert_eq!(f.objective(), Ok(c * (n as i128 - 1)));
        assert_optimal(&f);
        // 2^62 units forced over an arc of cost POTENTIAL_LIMIT: about 2^185.
        let mut p = FlowProblem::new(2);
        p.supply = vec![1 << 62, -(1 << 62)];
        p.add_arc(0, 1, 1 << 62, 1 << 62, 0);
        let f = IncrementalFlow::from_optimum(&p, vec![POTENTIAL_LIMIT], vec![1 << 62], vec![0, 0])
            .unwrap();
        assert_eq!(f.objective(), Err(IncrementalError::Overflow));
        // Costs and potentials at i128::MIN are refused, not negated.
        let p = FlowProblem::new(1);
        assert_eq!(
            IncrementalFlow::from_optimum(&p, vec![], vec![], vec![i128::MIN]).err(),
            Some(IncrementalError::Overflow)
        );
    }

    /// A start leaves room for a quarter more arcs, so the first arcs a session adds do not
    /// copy every per-arc array at once.
    #[test]
    fn the_first_arcs_added_fit_in_the_room_a_start_leaves() {
        let links: Vec<(usize, usize, i64)> = (0..4)
            .flat_map(|r| (0..4).map(move |n| (r, n, -(r as i64) - n as i64)))
            .collect();
        let net = transport(&[2, 2, 2, 2], &[(0, 2); 4], &links);
        let sol = NetworkSimplex::solve(&net.p).unwrap();
        let cost = net.p.cost.iter().map(|&c| c as i128).collect();
        let mut f = IncrementalFlow::from_optimum(&net.p, cost, sol.flow, sol.potential).unwrap();
        let m = f.arcs();
        let places = |f: &IncrementalFlow| {
            [
                f.source.as_ptr() as usize,
                f.target.as_ptr() as usize,
                f.lower.as_ptr() as usize,
                f.upper.as_ptr() as usize,
                f.cost.as_ptr() as usize,
                f.flow.as_ptr() as usize,
                f.is_changed.as_ptr() as usize,
                f.adj_at.as_ptr() as usize,
                f.flowing_at.as_ptr() as usize,
            ]
        };
        let before = places(&f);
        let v = f.add_node();
        f.add_arc(v, 1, 0, 2, 0).unwrap();
        while f.arcs() < m + m / 4 {
            let r = net.res_nodes[f.arcs() % 4];
            f.add_arc(r, v, 0, INFINITE, -9).unwrap();
        }
        assert_eq!(places(&f), before);
        f.reoptimize().unwrap();
        assert_optimal(&f);
        assert_eq!(Ok(f.objective().unwrap()), cold(&f.to_problem()));
    }

    #[test]
    fn a_need_added_takes_the_cheapest_free_capacity() {
        // Two resources (caps 2 and 1), one need of 2 linked to both at value -10 / -4.
        let net = transport(&[2, 1], &[(0, 2)], &[(0, 0, -10), (1, 0, -4)]);
        let sol = NetworkSimplex::solve(&net.p).unwrap();
        let cost = net.p.cost.iter().map(|&c| c as i128).collect();
        let mut f = IncrementalFlow::from_optimum(&net.p, cost, sol.flow, sol.potential).unwrap();
        assert_eq!(f.objective(), Ok(-20));
        // A second need of 2 that values resource 0 more: it takes resource 0 and the first
        // need moves one unit to resource 1.
        let v = f.add_node();
        f.add_arc(v, 1, 0, 2, 0).unwrap();
        let a = f.add_arc(net.res_nodes[0], v, 0, INFINITE, -15).unwrap();
        f.take_changed();
        let stats = f.reoptimize().unwrap();
        assert_eq!(f.objective(), Ok(-34));
        assert_eq!(f.flow(a), 2);
        assert!(stats.paths >= 1);
        let changed = f.take_changed();
        assert!(changed.contains(&a) && changed.contains(&net.link_arcs[0]));
        assert_optimal(&f);
    }

    #[test]
    fn a_need_that_outbids_the_rest_takes_one_short_search() {
        // 30 resources of 2 and 300 needs of 1, every need linked to every resource: supply
        // short, the sink (which every need feeds) and the source are hubs of 300 and 30
        // arcs. A need added that outbids them all takes one unit from the cheapest need to
        // drop: one path, found after a few nodes of the 333, not a search of the network.
        let caps = vec![2; 30];
        let needs = vec![(0, 1); 300];
        let links: Vec<(usize, usize, i64)> = (0..30)
            .flat_map(|r| (0..300).map(move |n| (r, n, -10 - ((7 * n + 13 * r) % 17) as i64)))
            .collect();
        let net = transport(&caps, &needs, &links);
        let sol = NetworkSimplex::solve(&net.p).unwrap();
        let cost = net.p.cost.iter().map(|&c| c as i128).collect();
        let mut f = IncrementalFlow::from_optimum(&net.p, cost, sol.flow, sol.potential).unwrap();
        let v = f.add_node();
        f.add_arc(v, 1, 0, 1, 0).unwrap();
        for &r in &net.res_nodes {
            f.add_arc(r, v, 0, INFINITE, -100).unwrap();
        }
        let stats = f.reoptimize().unwrap();
        assert_optimal(&f);
        assert_eq!(cold(&f.to_problem()), Ok(f.objective().unwrap()));
        assert_eq!(stats.paths, 1);
        assert!(stats.settled <= 40, "{stats:?}");
    }
}
