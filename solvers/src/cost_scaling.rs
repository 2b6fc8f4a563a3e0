//! `CostScaling`: Goldberg's cost-scaling push-relabel for minimum-cost flow, the method that
//! overtakes network simplex on large sparse networks (Kovács 2015 puts the crossover near
//! 2^17 nodes; OR-Tools' `SimpleMinCostFlow` is one too).
//!
//! The variant is the one Kovács found fastest (LEMON's "partial augment-relabel"): costs are
//! multiplied by `n + 1`, and each phase (`refine`) turns an `alpha * eps`-optimal flow into an
//! `eps`-optimal one (alpha = 16) by saturating every arc of negative reduced cost and then
//! moving excess along admissible paths of up to four arcs, relabelling a node when it has
//! none. A global price update (Dial's buckets: distances to the deficits in units of `eps`)
//! runs every `2n` relabels. From the second phase on, price refinement first tries to make
//! the flow `eps`-optimal by lowering prices along the admissible network in topological
//! order, and skips the phase when that works: late phases often need no flow moved at all.
//! After the phase with `eps = 1`, i.e. `1 / (n + 1)` in real units, no cycle of at most `n`
//! arcs has negative cost: the flow is optimal. Exact potentials then come from a
//! label-correcting pass on the final residual graph, started at the scaled prices divided
//! back. The same pass, with a small budget, runs after each phase once `eps` is below 1/32 of
//! a cost unit: when it settles, the potentials certify the flow optimal already and the last
//! phases are skipped.
//!
//! Two measures for networks with hubs (a few nodes of hundreds of arcs, many of tens: the
//! crisis shape, stations supplying incidents): when the supplies are the high-degree side the
//! transposed problem is solved (excess then starts at the many small nodes), and a node of 64
//! arcs or more keeps a list of its residual arcs, so that its searches and relabels read the
//! few that are residual rather than all. Networks without hubs run the plain scan (the phase
//! is compiled for both cases), so they pay nothing for it.
//!
//! Data: the residual network in compressed rows, one 32-byte record per residual arc (cost,
//! residual capacity, the paired arc's residual capacity, head, paired arc), so the
//! admissible-arc scan reads one stream and the global update, which walks the arcs into a
//! node, needs no jump to the pair. Lower bounds are shifted away; "no upper bound" becomes
//! the total supply plus the capacity of the negative arcs, which some optimal flow never
//! exceeds (its paths and negative cycles each cross one of them).
//!
//! Where cost scaling cannot answer exactly [`CostScaling::solve`] returns `None` and the
//! caller uses network simplex, which decides those cases: an uncapacitated arc of negative
//! cost (possibly unbounded), data whose scaled prices could leave `i64`, supplies and
//! capacities beyond a quarter of [`FLOW_LIMIT`] (network simplex takes up to the limit, and
//! refuses beyond it with a typed error, as it refuses an objective beyond `i128`), and
//! infeasibility, recognised in the first phase (the end of any phase proves a feasible flow)
//! when a node with excess is relabelled further below its price at the start of the phase
//! than Goldberg and Tarjan's bound allows on a feasible problem.

use std::collections::VecDeque;

use crate::problem::{
    objective, self_loop_flow, FlowMethod, FlowProblem, FlowSolution, FLOW_LIMIT, INFINITE,
};

/// The cost-scaling solver (see the module documentation).
pub struct CostScaling;

/// Division factor of `eps` between phases (LEMON's default).
const ALPHA: i64 = 16;
/// "No arc yet" in the relabel's arg-min.
const NO_ARC: usize = u32::MAX as usize;
/// Arc relaxations allowed to the optimality check after a phase, in passes over the arcs.
const EARLY_CHECK_PASSES: u64 = 4;
/// The check runs once `eps` is below `1 / EARLY_CHECK_BELOW` of a cost unit: on coarser flows
/// it rarely settles and costs about half a phase each time it does not.
const EARLY_CHECK_BELOW: i64 = 32;
/// Longest admissible path searched before pushing along it.
const MAX_PATH: usize = 4;

/// The residual network in compressed rows: arcs leaving node `u` are
/// `first_out[u]..first_out[u + 1]`; `reverse[a]` is the paired arc.
struct Residual {
    n: usize,
    first_out: Vec<u32>,
    /// One record per residual arc: the admissible-arc search reads the fields of
    /// consecutive arcs, so they share cache lines.
    arcs: Vec<ResArc>,
    excess: Vec<i64>,
    pi: Vec<i64>,
    next_out: Vec<u32>,
    hubs: Hubs,
    /// Prices below this (in absolute value) keep every reduced-cost sum inside `i64`.
    price_limit: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct ResArc {
    /// Scaled cost: `cost * (n + 1)`; the reverse arc has the negated cost.
    cost: i64,
    res_cap: i64,
    /// The paired arc's `res_cap`, mirrored here so that the global update, which walks the
    /// arcs into a node, reads it without a jump to the pair's record.
    rev_cap: i64,
    target: u32,
    /// The paired arc.
    reverse: u32,
}

impl CostScaling {
    /// Solve `p`, or `None` when the problem is one cost scaling leaves to network simplex
    /// (see the module documentation). Errors are those of the input's shape.
    pub fn solve(p: &FlowProblem) -> Option<FlowSolution> {
        let n = p.nodes;
        let m = p.arcs();
        if n == 0 || n >= u32::MAX as usize / 2 || 2 * m >= u32::MAX as usize {
            return None;
        }
        // Lower bounds shifted away; self-loops decided on their own (their reduced cost is
        // their cost), exactly as network simplex does.
        let mut supply: Vec<i128> = p.supply.iter().map(|&s| s as i128).collect();
        let mut flow = vec![0i64; m];
        let mut cap = vec![0i64; m];
        let mut negative_caps: i128 = 0;
        let mut max_cost: i128 = 0;
        for a in 0..m {
            let (s, t, lo, up, c) = (p.source[a], p.target[a], p.lower[a], p.upper[a], p.cost[a]);
            if s >= n || t >= n || lo > up {
                return None;
            }
            if s == t {
                flow[a] = self_loop_flow(c.cmp(&0), lo, up)?;
                continue;
            }
            supply[s] -= lo as i128;
            supply[t] += lo as i128;
            cap[a] = if up == INFINITE {
                if c < 0 {
                    // An uncapacitated negative arc may close an unbounded cycle.
                    return None;
                }
                INFINITE
            } else {
                up.checked_sub(lo)?
            };
            if c < 0 {
                negative_caps += cap[a] as i128;
            }
            max_cost = max_cost.max((c as i128).abs());
        }
        if supply.iter().sum::<i128>() != 0 {
            return None;
        }
        // Some optimal flow carries at most the total supply plus the capacity of the
        // negative arcs on any arc (paths plus negative cycles, each crossing a negative arc):
        // that bound replaces "no upper bound".
        let positive: i128 = supply.iter().filter(|&&s| s > 0).sum();
        let bound = positive + negative_caps;
        // Every excess and residual capacity is at most the supplies plus all capacities.
        let total: i128 = positive
            + (0..m)
                .filter(|&a| p.source[a] != p.target[a])
                .map(|a| {
                    if cap[a] == INFINITE {
                        bound
                    } else {
                        cap[a] as i128
                    }
                })
                .sum::<i128>();
        // Bounds every excess and residual capacity the phases compute, so that their pushes
        // (an excess plus at most `total`) stay inside i64 without a check.
        if total > (FLOW_LIMIT / 4) as i128 {
            return None;
        }
        // Prices fall by at most (alpha + 1)(n + 1) eps per phase on a feasible problem, so in
        // all by about 1.1 (n + 1) times the largest scaled cost; keep 4x that inside i64.
        let scale = n as i128 + 1;
        let max_scaled = max_cost * scale;
        // Checked: at the extremes of `n` and the costs the product itself leaves i128.
        let price_limit = (4 * (n as i128 + 1)).checked_mul(max_scaled + 1)?;
        if price_limit > (i64::MAX / 4) as i128 {
            return None;
        }

        // Compressed rows: each real arc gives a forward arc at its tail, a reverse at its head.
        let mut degree = vec![0u32; n + 1];
        for a in 0..m {
            if p.source[a] != p.target[a] {
                degree[p.source[a]] += 1;
                degree[p.target[a]] += 1;
            }
        }
        let mut first_out = vec![0u32; n + 1];
        for u in 0..n {
            first_out[u + 1] = first_out[u] + degree[u];
        }
        let k = first_out[n] as usize;
        // Where the supplies are hubs, the transposed problem (see `supplies_are_hubs`).
        let transposed = supplies_are_hubs(&supply, &degree);
        if transposed {
            supply.iter_mut().for_each(|s| *s = -*s);
        }
        let mut fill: Vec<u32> = first_out[..n].to_vec();
        let hubs = Hubs::new(&first_out);
        let mut r = Residual {
            n,
            first_out,
            arcs: vec![ResArc::default(); k],
            excess: supply.iter().map(|&s| s as i64).collect(),
            pi: vec![0; n],
            next_out: Vec::new(),
            hubs,
            price_limit: price_limit as i64,
        };
        let mut forward = vec![u32::MAX; m];
        for a in 0..m {
            let (s, t) = if transposed {
                (p.target[a], p.source[a])
            } else {
                (p.source[a], p.target[a])
            };
            if s == t {
                continue;
            }
            let (f, b) = (fill[s] as usize, fill[t] as usize);
            fill[s] += 1;
            fill[t] += 1;
            let c = (p.cost[a] as i128 * scale) as i64;
            r.arcs[f].target = t as u32;
            r.arcs[b].target = s as u32;
            r.arcs[f].reverse = b as u32;
            r.arcs[b].reverse = f as u32;
            r.arcs[f].res_cap = if cap[a] == INFINITE {
                bound as i64
            } else {
                cap[a]
            };
            r.arcs[b].rev_cap = r.arcs[f].res_cap;
            r.arcs[f].cost = c;
            r.arcs[b].cost = -c;
            forward[a] = f as u32;
        }
        r.next_out = r.first_out[..n].to_vec();
        r.hubs.list_residual(&r.first_out, &r.arcs);
        // The arcs that really have no upper bound stay residual forward whatever their flow:
        // the potentials must certify the real problem, not the one with stand-in bounds.
        let mut uncapped = vec![false; r.arcs.len()];
        for a in 0..m {
            if forward[a] != u32::MAX && cap[a] == INFINITE {
                uncapped[forward[a] as usize] = true;
            }
        }

        let mut potential = r.run(max_scaled as i64, scale as i64, &uncapped)?;
        if transposed {
            potential.iter_mut().for_each(|p| *p = -*p);
        }
        for a in 0..m {
            let f = forward[a];
            if f != u32::MAX {
                let x = r.arcs[f as usize].rev_cap;
                flow[a] = x.checked_add(p.lower[a])?;
            }
        }
        // An objective beyond i128 is declined too: network simplex refuses it with its error.
        let cost = objective(&flow, &p.cost).ok()?;
        Some(FlowSolution {
            cost,
            flow,
            potential,
            pivots: 0,
            basis: None,
            method: FlowMethod::CostScaling,
        })
    }
}

impl Residual {
    /// All phases, `eps` from `max_scaled / alpha` down to 1, or fewer: after each phase with
    /// `eps` below `1 / EARLY_CHECK_BELOW` of a cost unit, a short label-correcting pass on the
    /// unscaled costs looks for exact potentials, and where it finds them the flow is already
    /// optimal (complementary slackness) and the remaining phases are skipped. Returns the
    /// exact potentials (from that pass or the final one); `None` when
    /// a price leaves the range a feasible problem keeps it in (the problem is then
    /// infeasible, or too large).
    fn run(&mut self, max_scaled: i64, scale: i64, uncapped: &[bool]) -> Option<Vec<i128>> {
        let n = self.n;
        let mut eps = ((max_scaled + ALPHA - 1) / ALPHA).max(1);
        let mut buckets = Buckets::new(n);
        let mut scratch = RefineScratch::new(n);
        let mut work = PhaseScratch {
            active: VecDeque::new(),
            path: Vec::with_capacity(MAX_PATH + 1),
            path_nodes: Vec::with_capacity(MAX_PATH + 1),
            on_path: vec![false; self.arcs.len()],
            // A global update costs a pass over the arcs, balanced against the relabels it
            // saves: every 2n relabels. (LEMON's n + s^2, s the supply nodes, is the same on
            // NETGEN-8, where s = sqrt(n), and updates far too rarely when s is large.)
            update_every: 2 * n + 1,
        };
        // Infeasibility is caught in the first phase only (its end proves a feasible flow). On
        // a feasible problem a node with excess lies on a residual path to a deficit whose
        // reverse is residual for some feasible flow, which the zero starting prices make
        // `max_scaled`-optimal; so its price stays above -(n + 1)(eps + max_scaled) (Goldberg
        // and Tarjan's bound).
        let mut floor = -((n as i64 + 1) * (eps + max_scaled.max(1)) + eps);
        let mut feasible = false;
        loop {
            // Price refinement (LEMON's heuristic, from the second phase): prices alone may
            // make the flow eps-optimal, and then the phase has nothing to do.
            if !(feasible && self.refine_prices(eps, &mut buckets, &mut scratch)) {
                // Compiled twice: without hubs the search is the plain scan.
                let done = if self.hubs.any() {
                    self.discharge::<true>(eps, floor, &mut buckets, &mut work)
                } else {
                    self.discharge::<false>(eps, floor, &mut buckets, &mut work)
                };
                if !done {
                    return None;
                }
                feasible = true;
                floor = i64::MIN;
            }
            if eps == 1 {
                // Each node can be corrected at most n times without a negative cycle.
                let budget = (self.n as u64 + 1) * (self.arcs.len() as u64 + 1);
                return self.exact_potentials(scale, uncapped, budget);
            }
            if eps * EARLY_CHECK_BELOW <= scale {
                // A few passes' worth of corrections: enough when the prices are nearly
                // exact already, and a bounded loss when a negative cycle remains.
                let budget = EARLY_CHECK_PASSES * (self.arcs.len() as u64 + self.n as u64);
                if let Some(pi) = self.exact_potentials(scale, uncapped, budget) {
                    return Some(pi);
                }
            }
            eps = if eps < ALPHA { 1 } else { eps / ALPHA };
        }
    }

    /// One phase's push-relabel work: saturate the arcs of negative reduced cost, then move
    /// every excess along admissible paths, relabelling where there is none, until no node has
    /// excess (the flow is then feasible and `eps`-optimal). False when a price leaves the safe
    /// range or a start node's price falls below `floor`.
    fn discharge<const HUBS: bool>(
        &mut self,
        eps: i64,
        floor: i64,
        buckets: &mut Buckets,
        w: &mut PhaseScratch,
    ) -> bool {
        self.saturate_negative(&mut w.active);
        let mut relabels = 0usize;
        while let Some(&start) = w.active.front() {
            let start = start as usize;
            if self.excess[start] <= 0 {
                w.active.pop_front();
                continue;
            }
            let mut tip = start;
            w.path.clear();
            w.path_nodes.clear();
            w.path_nodes.push(start as u32);
            'search: while w.path.len() < MAX_PATH && self.excess[tip] >= 0 {
                let pi_tip = self.pi[tip];
                let mut min_rc = i64::MAX;
                let mut min_arc = NO_ARC;
                let hub = if HUBS { self.hubs.of[tip] } else { NO_HUB };
                if hub == NO_HUB {
                    let last = self.first_out[tip + 1] as usize;
                    let mut a = self.next_out[tip] as usize;
                    while a < last {
                        if self.arcs[a].res_cap > 0 {
                            let v = self.arcs[a].target as usize;
                            let rc = self.arcs[a].cost + pi_tip - self.pi[v];
                            if rc < 0 {
                                self.next_out[tip] = a as u32;
                                if w.extend(a, v) {
                                    break 'search;
                                }
                                tip = v;
                                continue 'search;
                            }
                            if rc < min_rc {
                                min_rc = rc;
                                min_arc = a;
                            }
                        }
                        a += 1;
                    }
                } else {
                    // A hub scans its list of residual arcs from its current place.
                    let h = hub as usize;
                    let (start, cur) = (self.hubs.start[h] as usize, self.hubs.cur[h] as usize);
                    let list = &self.hubs.list[start..start + self.hubs.len[h] as usize];
                    let mut found = None;
                    for (i, e) in list.iter().enumerate().skip(cur) {
                        let rc = e.cost + pi_tip - self.pi[e.target as usize];
                        if rc < 0 {
                            found = Some((i, e.arc as usize, e.target as usize));
                            break;
                        }
                        if rc < min_rc {
                            min_rc = rc;
                            min_arc = e.arc as usize;
                        }
                    }
                    if let Some((i, a, v)) = found {
                        self.hubs.cur[h] = i as u32;
                        if w.extend(a, v) {
                            break 'search;
                        }
                        tip = v;
                        continue 'search;
                    }
                }
                // No admissible arc: relabel so that the cheapest residual arc has reduced
                // cost -eps (the arcs before `next_out`, or a hub's entries before its current
                // place, were scanned and found inadmissible earlier; prices only fall, so
                // they are re-checked for the minimum).
                if let Some(&pa) = w.path.last() {
                    let ra = self.arcs[pa as usize].reverse as usize;
                    let rc = self.arcs[ra].cost + pi_tip - self.pi[self.arcs[ra].target as usize];
                    if rc < min_rc {
                        min_rc = rc;
                        min_arc = ra;
                    }
                }
                if hub == NO_HUB {
                    let first = self.first_out[tip] as usize;
                    for a in first..self.next_out[tip] as usize {
                        if self.arcs[a].res_cap > 0 {
                            let rc =
                                self.arcs[a].cost + pi_tip - self.pi[self.arcs[a].target as usize];
                            if rc < min_rc {
                                min_rc = rc;
                                min_arc = a;
                            }
                        }
                    }
                } else {
                    let h = hub as usize;
                    let start = self.hubs.start[h] as usize;
                    for e in &self.hubs.list[start..start + self.hubs.cur[h] as usize] {
                        let rc = e.cost + pi_tip - self.pi[e.target as usize];
                        if rc < min_rc {
                            min_rc = rc;
                            min_arc = e.arc as usize;
                        }
                    }
                }
                if min_rc == i64::MAX {
                    return false;
                }
                let new_pi = pi_tip - (min_rc + eps);
                // The bound is proved for nodes with excess (the start); a node further
                // on the path stays within one arc of it (the reverse path arc counts in
                // `min_rc`), so only the overflow range is checked there.
                if (w.path.is_empty() && new_pi < floor) || new_pi < -self.price_limit {
                    return false;
                }
                self.pi[tip] = new_pi;
                // Resume the search at the arc that set the new price: it is admissible
                // now (reduced cost -eps) if residual. Arcs before it that became
                // admissible too are only passed over until the next relabel, which sees
                // every arc and comes back to the best one: correct, and it saves the
                // rescan from the first arc.
                if hub == NO_HUB {
                    self.next_out[tip] = min_arc as u32;
                } else {
                    let i = self.hubs.pos[min_arc];
                    self.hubs.cur[hub as usize] = if i == NOT_LISTED { 0 } else { i };
                }
                relabels += 1;
                if let Some(pa) = w.path.pop() {
                    w.on_path[pa as usize] = false;
                    w.path_nodes.pop();
                    tip = *w.path_nodes.last().unwrap_or(&(start as u32)) as usize;
                }
            }
            // Push along the path, as much as each step allows.
            let mut u = start;
            for &pa in &w.path {
                let pa = pa as usize;
                w.on_path[pa] = false;
                let v = self.arcs[pa].target as usize;
                let delta = self.arcs[pa].res_cap.min(self.excess[u]);
                self.push_as::<HUBS>(pa, delta);
                self.excess[u] -= delta;
                self.excess[v] += delta;
                if self.excess[v] > 0 && self.excess[v] <= delta {
                    w.active.push_back(v as u32);
                }
                u = v;
            }
            if relabels >= w.update_every {
                relabels = 0;
                if !self.global_update(eps, buckets) {
                    return false;
                }
            }
        }
        true
    }

    /// Price refinement: lower prices along the admissible network (residual arcs of negative
    /// reduced cost) so that every residual arc ends with reduced cost `>= -eps`, without
    /// moving flow. True when that succeeded (the flow is `eps`-optimal and the phase can be
    /// skipped); false when the admissible network has a cycle (one is cancelled, which only
    /// lowers the cost) or the ranks grow beyond the buckets.
    fn refine_prices(&mut self, eps: i64, b: &mut Buckets, t: &mut RefineScratch) -> bool {
        let n = self.n;
        let end = n as u32;
        // A few rounds settle it when it can be settled; each costs a pass over the arcs.
        for _ in 0..8 {
            if !self.admissible_order(t) {
                return false;
            }
            b.clear(end);
            // Ranks: how many eps steps each node's price must fall, longest paths over the
            // admissible arcs in topological order (an arc of reduced cost rc < 0 asks for
            // ceil(-rc / eps) - 1 steps more at its head).
            t.rank.iter_mut().for_each(|r| *r = 0);
            let mut top = 0usize;
            for &u in t.order.iter().rev() {
                let u = u as usize;
                let rank_u = t.rank[u];
                let pi_u = self.pi[u];
                for a in self.first_out[u] as usize..self.first_out[u + 1] as usize {
                    let arc = &self.arcs[a];
                    if arc.res_cap > 0 {
                        let v = arc.target as usize;
                        let rc = arc.cost + pi_u - self.pi[v];
                        if rc < 0 {
                            let steps = ((-rc - 1) / eps) as usize;
                            t.rank[v] = t.rank[v].max(rank_u + steps);
                        }
                    }
                }
                if rank_u > 0 {
                    if rank_u >= b.max_rank {
                        return false;
                    }
                    top = top.max(rank_u);
                    b.push(u, rank_u, end);
                }
            }
            if top == 0 {
                return true;
            }
            // From the highest rank down, pass the need to fall on to the heads of residual
            // arcs that would otherwise drop below -eps, then lower each node's price.
            for rank in (1..=top).rev() {
                while b.heads[rank] != end {
                    let u = b.heads[rank] as usize;
                    b.heads[rank] = b.next[u];
                    let pi_u = self.pi[u];
                    for a in self.first_out[u] as usize..self.first_out[u + 1] as usize {
                        let arc = &self.arcs[a];
                        if arc.res_cap == 0 {
                            continue;
                        }
                        let v = arc.target as usize;
                        let old = t.rank[v];
                        if old >= rank {
                            continue;
                        }
                        let rc = arc.cost + pi_u - self.pi[v];
                        let new = if rc < 0 {
                            rank
                        } else {
                            let steps = rc / eps;
                            if steps >= rank as i64 {
                                0
                            } else {
                                rank - 1 - steps as usize
                            }
                        };
                        if new > old {
                            t.rank[v] = new;
                            if old > 0 {
                                b.unlink(v, old, end);
                            }
                            b.push(v, new, end);
                        }
                    }
                    let new_pi = pi_u - rank as i64 * eps;
                    if new_pi < -self.price_limit {
                        // Leave it to the phase (the next user of the buckets clears them).
                        return false;
                    }
                    self.pi[u] = new_pi;
                }
            }
        }
        false
    }

    /// Depth-first search of the admissible network: its nodes in post-order into `t.order`
    /// (true), or, at the first cycle met, push its bottleneck around it and answer false.
    fn admissible_order(&mut self, t: &mut RefineScratch) -> bool {
        let n = self.n;
        t.order.clear();
        t.state.iter_mut().for_each(|s| *s = 0);
        self.next_out.copy_from_slice(&self.first_out[..n]);
        for start in 0..n {
            if t.state[start] != 0 {
                continue;
            }
            t.stack.clear();
            t.stack.push(start as u32);
            t.state[start] = 1;
            while let Some(&u) = t.stack.last() {
                let u = u as usize;
                let pi_u = self.pi[u];
                let last = self.first_out[u + 1] as usize;
                let mut a = self.next_out[u] as usize;
                let mut child = None;
                while a < last {
                    let arc = &self.arcs[a];
                    if arc.res_cap > 0 {
                        let v = arc.target as usize;
                        if arc.cost + pi_u - self.pi[v] < 0 {
                            match t.state[v] {
                                0 => {
                                    child = Some(v);
                                    break;
                                }
                                1 => {
                                    self.next_out[u] = a as u32;
                                    self.cancel_cycle(v, t);
                                    self.next_out.copy_from_slice(&self.first_out[..n]);
                                    return false;
                                }
                                _ => {}
                            }
                        }
                    }
                    a += 1;
                }
                self.next_out[u] = a as u32;
                match child {
                    Some(v) => {
                        t.state[v] = 1;
                        t.stack.push(v as u32);
                    }
                    None => {
                        t.state[u] = 2;
                        t.order.push(u as u32);
                        t.stack.pop();
                    }
                }
            }
        }
        self.next_out.copy_from_slice(&self.first_out[..n]);
        true
    }

    /// Push the bottleneck around the admissible cycle that runs from `v` along the search
    /// stack (each node's current arc) back to `v`.
    fn cancel_cycle(&mut self, v: usize, t: &RefineScratch) {
        let from = t.stack.iter().rposition(|&w| w as usize == v).unwrap_or(0);
        let cycle = &t.stack[from..];
        let delta = cycle
            .iter()
            .map(|&w| self.arcs[self.next_out[w as usize] as usize].res_cap)
            .min()
            .unwrap_or(0);
        for &w in cycle {
            self.push(self.next_out[w as usize] as usize, delta);
        }
    }

    /// Move `delta` units of residual capacity from arc `a` to its reverse (flow along `a`).
    #[inline]
    fn push(&mut self, a: usize, delta: i64) {
        if self.hubs.any() {
            self.push_as::<true>(a, delta);
        } else {
            self.push_as::<false>(a, delta);
        }
    }

    /// `push`, with the hubs' lists kept up to date where `HUBS`.
    #[inline(always)]
    fn push_as<const HUBS: bool>(&mut self, a: usize, delta: i64) {
        self.arcs[a].res_cap -= delta;
        self.arcs[a].rev_cap += delta;
        let ra = self.arcs[a].reverse as usize;
        let opened = self.arcs[ra].res_cap == 0 && delta > 0;
        self.arcs[ra].res_cap += delta;
        self.arcs[ra].rev_cap -= delta;
        if HUBS {
            // A hub's list holds exactly its residual arcs.
            if self.arcs[a].res_cap == 0 && delta > 0 {
                let hub = self.hubs.of[self.arcs[ra].target as usize];
                if hub != NO_HUB {
                    self.hubs.remove(hub as usize, a);
                }
            }
            if opened {
                let hub = self.hubs.of[self.arcs[a].target as usize];
                if hub != NO_HUB {
                    self.hubs
                        .insert(hub as usize, HubArc::of(&self.arcs[ra], ra));
                }
            }
        }
    }

    /// Start of a phase: saturate every residual arc of negative reduced cost (the flow is then
    /// 0-optimal, a pseudo-flow), queue the nodes left with excess, rewind the arc pointers.
    fn saturate_negative(&mut self, active: &mut VecDeque<u32>) {
        for u in 0..self.n {
            let pi_u = self.pi[u];
            for a in self.first_out[u] as usize..self.first_out[u + 1] as usize {
                let delta = self.arcs[a].res_cap;
                if delta > 0 {
                    let v = self.arcs[a].target as usize;
                    if self.arcs[a].cost + pi_u - self.pi[v] < 0 {
                        self.excess[u] -= delta;
                        self.excess[v] += delta;
                        self.push(a, delta);
                    }
                }
            }
        }
        active.clear();
        active.extend((0..self.n as u32).filter(|&u| self.excess[u as usize] > 0));
        self.next_out.copy_from_slice(&self.first_out[..self.n]);
        self.hubs.cur.iter_mut().for_each(|c| *c = 0);
    }

    /// Global price update: ranks are distances to the nearest deficit over residual arcs,
    /// an arc of reduced cost `rc` counting `1 + floor(rc / eps)`; every node's price falls by
    /// `eps` times its rank (capped at the rank where the last excess was reached). False when
    /// a price would leave the safe range.
    fn global_update(&mut self, eps: i64, b: &mut Buckets) -> bool {
        let n = self.n;
        let max_rank = b.max_rank;
        let end = n as u32;
        b.clear(end);
        let mut total_excess: i128 = 0;
        let mut head0 = end;
        for u in 0..n {
            if self.excess[u] < 0 {
                b.rank[u] = 0;
                b.next[u] = head0;
                b.prev[head0 as usize] = u as u32;
                head0 = u as u32;
            } else {
                total_excess += self.excess[u] as i128;
                b.rank[u] = max_rank;
            }
        }
        if total_excess == 0 {
            return true;
        }
        b.heads[0] = head0;
        let mut r = 0usize;
        while r < max_rank {
            while b.heads[r] != end {
                let u = b.heads[r] as usize;
                b.heads[r] = b.next[u];
                let pi_u = self.pi[u];
                for a in self.first_out[u] as usize..self.first_out[u + 1] as usize {
                    // The rank first: most neighbours are settled by now, and it saves the
                    // two random reads behind it.
                    let v = self.arcs[a].target as usize;
                    let old = b.rank[v];
                    if r >= old || self.arcs[a].rev_cap == 0 {
                        continue;
                    }
                    // The arc v -> u is the reverse of a, so its cost is -cost[a].
                    let steps = (self.pi[v] - self.arcs[a].cost - pi_u) / eps;
                    if steps >= (max_rank - r - 1) as i64 {
                        continue;
                    }
                    // eps-optimality keeps rc >= -eps, so steps >= -1 and new >= r.
                    let new = (r as i64 + 1 + steps.max(-1)) as usize;
                    if new >= old {
                        continue;
                    }
                    b.rank[v] = new;
                    if old < max_rank {
                        b.unlink(v, old, end);
                    }
                    b.push(v, new, end);
                }
                if self.excess[u] > 0 {
                    total_excess -= self.excess[u] as i128;
                    if total_excess <= 0 {
                        break;
                    }
                }
            }
            if total_excess <= 0 {
                break;
            }
            r += 1;
        }
        for u in 0..n {
            let k = b.rank[u].min(r);
            if k > 0 {
                let new_pi = self.pi[u] - eps * k as i64;
                if new_pi < -self.price_limit {
                    return false;
                }
                self.pi[u] = new_pi;
                self.next_out[u] = self.first_out[u];
                if self.hubs.of[u] != NO_HUB {
                    self.hubs.cur[self.hubs.of[u] as usize] = 0;
                }
            }
        }
        true
    }

    /// Exact potentials for the unscaled costs, if the current flow is optimal:
    /// label-correcting shortest distances on the residual graph, started from the scaled
    /// prices divided back, which already satisfy almost every arc; the `uncapped` arcs count
    /// as residual whatever their flow, so the potentials certify the real problem, not the
    /// one with stand-in bounds. Distances that settle certify the flow optimal; `None` when
    /// `budget` arc relaxations do not settle them (after the last phase the flow is optimal
    /// and the budget is the n-corrections bound, so that is a negative cycle, which cannot
    /// happen; after an earlier phase it usually means the flow is not optimal yet).
    fn exact_potentials(
        &self,
        scale: i64,
        uncapped: &[bool],
        mut budget: u64,
    ) -> Option<Vec<i128>> {
        let n = self.n;
        let mut d: Vec<i64> = self.pi.iter().map(|&p| p.div_euclid(scale)).collect();
        let mut queued = vec![true; n];
        let mut queue: VecDeque<u32> = (0..n as u32).collect();
        while let Some(u) = queue.pop_front() {
            let u = u as usize;
            queued[u] = false;
            let row = self.first_out[u] as usize..self.first_out[u + 1] as usize;
            for (arc, &free) in self.arcs[row.clone()].iter().zip(&uncapped[row]) {
                if arc.res_cap == 0 && !free {
                    continue;
                }
                budget = budget.checked_sub(1)?;
                let v = arc.target as usize;
                let cand = d[u] + arc.cost / scale;
                if cand < d[v] {
                    d[v] = cand;
                    if !queued[v] {
                        queued[v] = true;
                        queue.push_back(v as u32);
                    }
                }
            }
        }
        Some(d.into_iter().map(i128::from).collect())
    }
}

/// Work arrays of the push-relabel phases, kept across phases.
struct PhaseScratch {
    /// Nodes with excess, first in first out.
    active: VecDeque<u32>,
    /// The admissible path being grown (arcs) and its nodes, the start first.
    path: Vec<u32>,
    path_nodes: Vec<u32>,
    on_path: Vec<bool>,
    /// Relabels between global price updates.
    update_every: usize,
}

impl PhaseScratch {
    /// Extend the path by admissible arc `a` to `v`; true when `a` is on it already (the
    /// path closed a cycle, to be pushed around at once).
    #[inline(always)]
    fn extend(&mut self, a: usize, v: usize) -> bool {
        self.path.push(a as u32);
        if self.on_path[a] {
            return true;
        }
        self.on_path[a] = true;
        self.path_nodes.push(v as u32);
        false
    }
}

/// Work arrays of the price refinement, kept across phases.
struct RefineScratch {
    rank: Vec<usize>,
    /// 0 unvisited, 1 on the search stack, 2 done.
    state: Vec<u8>,
    stack: Vec<u32>,
    order: Vec<u32>,
}

impl RefineScratch {
    fn new(n: usize) -> Self {
        RefineScratch {
            rank: vec![0; n],
            state: vec![0; n],
            stack: Vec::new(),
            order: Vec::with_capacity(n),
        }
    }
}

/// Dial's buckets for the global update: doubly linked lists of nodes per rank.
struct Buckets {
    max_rank: usize,
    /// The highest bucket filled since the last reset.
    top: usize,
    heads: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    rank: Vec<usize>,
}

impl Buckets {
    fn new(n: usize) -> Self {
        let max_rank = ALPHA as usize * (n + 1);
        Buckets {
            max_rank,
            top: max_rank - 1,
            heads: vec![n as u32; max_rank],
            next: vec![0; n + 1],
            prev: vec![0; n + 1],
            rank: vec![max_rank; n],
        }
    }

    /// Empty every bucket (those above `top` were never filled since the last clear).
    fn clear(&mut self, end: u32) {
        self.heads[..=self.top].iter_mut().for_each(|h| *h = end);
        self.top = 0;
    }

    fn unlink(&mut self, v: usize, rank: usize, end: u32) {
        if self.heads[rank] == v as u32 {
            self.heads[rank] = self.next[v];
        } else {
            let (p, nx) = (self.prev[v], self.next[v]);
            self.next[p as usize] = nx;
            if nx != end {
                self.prev[nx as usize] = p;
            }
        }
    }

    fn push(&mut self, v: usize, rank: usize, end: u32) {
        self.top = self.top.max(rank);
        let h = self.heads[rank];
        self.next[v] = h;
        if h != end {
            self.prev[h as usize] = v as u32;
        }
        self.heads[rank] = v as u32;
    }
}

/// Whether to solve the transposed problem (every arc reversed, every supply negated; same
/// flows, and its potentials negated are the original's). Excess starts at the supplies and
/// each relabel of a node scans its arcs, so the phases are cheaper when the supplies are the
/// low-degree side: true when they have on average more than twice the arcs of the demands
/// (stations of hundreds of arcs supplying incidents of tens). Networks whose sides are alike,
/// such as NETGEN's, are not transposed.
fn supplies_are_hubs(supply: &[i128], degree: &[u32]) -> bool {
    let (mut supply_arcs, mut supply_nodes, mut demand_arcs, mut demand_nodes) =
        (0u64, 0u64, 0u64, 0u64);
    for (s, &d) in supply.iter().zip(degree) {
        if *s > 0 {
            supply_arcs += d as u64;
            supply_nodes += 1;
        } else if *s < 0 {
            demand_arcs += d as u64;
            demand_nodes += 1;
        }
    }
    // Mean degrees compared without division: s_a / s_n > 2 d_a / d_n.
    supply_arcs as u128 * demand_nodes as u128 > 2 * demand_arcs as u128 * supply_nodes as u128
}

/// A node with at least this many arcs is a hub: it keeps a list of its residual arcs, so that
/// its searches and relabels read those and not every arc (a station of the transposed crisis
/// shape has ~500 arcs, of which the ~20 carrying flow are residual).
const HUB_DEGREE: u32 = 64;
/// "Not a hub" in `Hubs::of`.
const NO_HUB: u32 = u32::MAX;
/// "Not listed" in `Hubs::pos`.
const NOT_LISTED: u32 = u32::MAX;

/// A residual arc of a hub, with the arc's cost and head copied in so that a scan of the list
/// reads the list alone (and the heads' prices).
#[derive(Debug, Clone, Copy, Default)]
struct HubArc {
    cost: i64,
    target: u32,
    arc: u32,
}

impl HubArc {
    fn of(record: &ResArc, arc: usize) -> HubArc {
        HubArc {
            cost: record.cost,
            target: record.target,
            arc: arc as u32,
        }
    }
}

/// Per hub, the list of exactly its residual arcs (`push` keeps it so); all lists share one
/// array, each in the slot its degree reserves.
struct Hubs {
    /// The hub number of each node, or `NO_HUB`.
    of: Vec<u32>,
    start: Vec<u32>,
    len: Vec<u32>,
    /// The current place in each list: entries before it were not admissible when passed.
    /// New entries go to the end, and a removal keeps the entries before it before it, so
    /// nothing unseen moves there.
    cur: Vec<u32>,
    list: Vec<HubArc>,
    /// Each hub arc's place in its list, or `NOT_LISTED` (empty when there are no hubs).
    pos: Vec<u32>,
}

impl Hubs {
    fn new(first_out: &[u32]) -> Self {
        let n = first_out.len() - 1;
        let mut of = vec![NO_HUB; n];
        let mut start = Vec::new();
        let mut total = 0u32;
        for u in 0..n {
            let degree = first_out[u + 1] - first_out[u];
            if degree >= HUB_DEGREE {
                of[u] = start.len() as u32;
                start.push(total);
                total += degree;
            }
        }
        let hubs = start.len();
        Hubs {
            of,
            start,
            len: vec![0; hubs],
            cur: vec![0; hubs],
            list: vec![HubArc::default(); total as usize],
            pos: vec![NOT_LISTED; if hubs > 0 { first_out[n] as usize } else { 0 }],
        }
    }

    /// Whether any node is a hub.
    fn any(&self) -> bool {
        !self.start.is_empty()
    }

    /// List every hub's residual arcs (the lists start empty).
    fn list_residual(&mut self, first_out: &[u32], arcs: &[ResArc]) {
        for u in 0..first_out.len() - 1 {
            let h = self.of[u];
            if h != NO_HUB {
                let row = first_out[u] as usize..first_out[u + 1] as usize;
                for (arc, a) in arcs[row.clone()].iter().zip(row) {
                    if arc.res_cap > 0 {
                        self.insert(h as usize, HubArc::of(arc, a));
                    }
                }
            }
        }
    }

    /// List `e` in hub `h`'s list, unless its arc is listed already.
    #[inline]
    fn insert(&mut self, h: usize, e: HubArc) {
        if self.pos[e.arc as usize] != NOT_LISTED {
            return;
        }
        let i = self.len[h];
        self.list[self.start[h] as usize + i as usize] = e;
        self.pos[e.arc as usize] = i;
        self.len[h] = i + 1;
    }

    /// Place entry `from` of hub `h`'s list (starting at `start`) at place `to`.
    #[inline]
    fn relocate(&mut self, start: usize, from: usize, to: usize) {
        let e = self.list[start + from];
        self.list[start + to] = e;
        self.pos[e.arc as usize] = to as u32;
    }

    /// Unlist arc `a` of hub `h`: an entry before the current place is replaced by the last
    /// one before it, whose place the last entry of all takes (the current place moves back
    /// by one); one at or after it by the last entry.
    #[inline]
    fn remove(&mut self, h: usize, a: usize) {
        let i = self.pos[a];
        if i == NOT_LISTED {
            return;
        }
        let (i, start) = (i as usize, self.start[h] as usize);
        let last = self.len[h] as usize - 1;
        let cur = self.cur[h] as usize;
        if i < cur {
            self.relocate(start, cur - 1, i);
            if last != cur - 1 {
                self.relocate(start, last, cur - 1);
            }
            self.cur[h] = cur as u32 - 1;
        } else {
            self.relocate(start, last, i);
        }
        self.pos[a] = NOT_LISTED;
        self.len[h] = last as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, Truth};
    use crate::problem::FlowError;
    use crate::NetworkSimplex;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn a_small_network_by_hand() {
        // Source 0 (4 units) to sink 3 over two paths; the cheap one holds 3.
        let mut p = FlowProblem::new(4);
        p.supply = vec![4, 0, 0, -4];
        p.add_arc(0, 1, 0, 3, 1);
        p.add_arc(1, 3, 0, INFINITE, 1);
        p.add_arc(0, 2, 0, INFINITE, 5);
        p.add_arc(2, 3, 0, INFINITE, 0);
        let s = CostScaling::solve(&p).unwrap();
        assert_eq!((s.flow.as_slice(), s.cost), (&[3, 3, 1, 1][..], 11));
        assert_eq!(
            (s.method, s.pivots, s.basis.as_ref()),
            (FlowMethod::CostScaling, 0, None)
        );
        oracle::check_certificate(&p, &p.cost, &s);
    }

    #[test]
    fn it_declines_what_network_simplex_decides() {
        // An uncapacitated negative arc (here an unbounded cycle).
        let mut p = FlowProblem::new(2);
        p.add_arc(0, 1, 0, INFINITE, -1);
        p.add_arc(1, 0, 0, 5, 0);
        assert_eq!(CostScaling::solve(&p), None);
        // Infeasible: node 1 cannot pass its unit on.
        let mut p = FlowProblem::new(3);
        p.supply = vec![1, 0, -1];
        p.add_arc(0, 1, 0, 1, 1);
        p.add_arc(2, 1, 0, 1, 1);
        assert_eq!(CostScaling::solve(&p), None);
        assert!(matches!(
            NetworkSimplex::solve(&p),
            Err(FlowError::Infeasible(_))
        ));
        // Scaled prices that could leave i64.
        let mut p = FlowProblem::new(2);
        p.supply = vec![1, -1];
        p.add_arc(0, 1, 0, 1, i64::MAX / 8);
        assert_eq!(CostScaling::solve(&p), None);
        assert!(NetworkSimplex::solve(&p).is_ok());
    }

    #[test]
    fn hubs_and_the_transposed_problem_agree_with_network_simplex() {
        // Two stations of 80 arcs each (hubs) supplying 40 incidents of 4 links: the supplies
        // are the high-degree side, so the transposed problem is solved.
        let (stations, incidents) = (2usize, 40usize);
        let mut p = FlowProblem::new(stations + incidents);
        let mut x = 7u64;
        for i in 0..incidents {
            p.supply[stations + i] = -2;
            for k in 0..4 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let c = (x >> 40) as i64 % 100;
                p.add_arc(k % stations, stations + i, 0, 1 + k as i64 % 2, c);
            }
        }
        p.supply[0] = 40;
        p.supply[1] = 40;
        let degree: Vec<u32> = (0..p.nodes)
            .map(|v| {
                (0..p.arcs())
                    .filter(|&a| p.source[a] == v || p.target[a] == v)
                    .count() as u32
            })
            .collect();
        let supply: Vec<i128> = p.supply.iter().map(|&s| s as i128).collect();
        assert!(supplies_are_hubs(&supply, &degree));
        let cs = CostScaling::solve(&p).unwrap();
        assert_eq!(cs.cost, NetworkSimplex::solve(&p).unwrap().cost);
        oracle::check_certificate(&p, &p.cost, &cs);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Against enumeration: where it answers, the optimum with certifying potentials; it
        /// declines only what network simplex decides (no optimum, or an uncapacitated
        /// negative arc).
        #[test]
        fn agrees_with_brute_force(p in oracle::network()) {
            let negative_free = (0..p.arcs())
                .any(|a| p.source[a] != p.target[a] && p.upper[a] == INFINITE && p.cost[a] < 0);
            match (oracle::brute_force(&p, &p.cost), CostScaling::solve(&p)) {
                (Truth::Optimal(c), Some(s)) => {
                    prop_assert_eq!(s.cost, c);
                    oracle::check_certificate(&p, &p.cost, &s);
                }
                (Truth::Optimal(_), None) => prop_assert!(negative_free, "declined a plain optimum"),
                (_, None) => {}
                (truth, Some(s)) => prop_assert!(false, "{:?} but cost {}", truth, s.cost),
            }
        }
    }

    /// A hub's list under random inserts, removals and scans keeps exactly the listed arcs,
    /// with the scanned ones before the current place and the unseen ones after it.
    #[test]
    fn hub_lists_keep_scanned_entries_before_the_current_place() {
        // Node 0 is a hub of 100 arcs, node 1 is not; arcs are drawn from the first 16, so
        // that the list stays short and scans often reach its end.
        let mut hubs = Hubs::new(&[0, 100, 110]);
        assert_eq!((hubs.of[0], hubs.of[1]), (0, NO_HUB));
        let (mut scanned, mut unseen) = (BTreeSet::new(), BTreeSet::new());
        let mut x = 12345u64;
        for step in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (x >> 33) as usize;
            let a = r % 16;
            match r % 7 {
                0..=2 => {
                    let e = HubArc {
                        cost: a as i64,
                        target: 1,
                        arc: a as u32,
                    };
                    hubs.insert(0, e);
                    if !scanned.contains(&a) {
                        unseen.insert(a);
                    }
                }
                3..=4 => {
                    hubs.remove(0, a);
                    scanned.remove(&a);
                    unseen.remove(&a);
                }
                5 => {
                    // Scan a few entries on.
                    let len = hubs.len[0] as usize;
                    let to = (hubs.cur[0] as usize + r % 4).min(len);
                    for e in &hubs.list[hubs.cur[0] as usize..to] {
                        unseen.remove(&(e.arc as usize));
                        scanned.insert(e.arc as usize);
                    }
                    hubs.cur[0] = to as u32;
                }
                _ => {
                    hubs.cur[0] = 0;
                    unseen.append(&mut scanned);
                }
            }
            let (cur, len) = (hubs.cur[0] as usize, hubs.len[0] as usize);
            let before: BTreeSet<usize> = hubs.list[..cur].iter().map(|e| e.arc as usize).collect();
            let after: BTreeSet<usize> =
                hubs.list[cur..len].iter().map(|e| e.arc as usize).collect();
            assert_eq!((before.len(), after.len()), (cur, len - cur), "step {step}");
            assert_eq!(before, scanned, "step {step}");
            assert_eq!(after, unseen, "step {step}");
            for (i, e) in hubs.list[..len].iter().enumerate() {
                assert_eq!(hubs.pos[e.arc as usize], i as u32, "step {step}");
                assert_eq!(e.cost, e.arc as i64);
            }
        }
    }
}
