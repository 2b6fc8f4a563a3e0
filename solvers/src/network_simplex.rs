//! `NetworkSimplex`: primal network simplex for minimum-cost flow on integer data.
//!
//! The design follows the one Kovács (2015) found fastest up to ~10^5 nodes and on dense graphs
//! (LEMON's): a spanning-tree basis stored as parent / predecessor-arc / thread / reverse-thread
//! / subtree-size / last-successor arrays, an artificial root joined to every node by big-M
//! arcs, and block-search pivoting (scan blocks of ~sqrt(m) arcs, enter the most negative
//! reduced cost of the first block that has one). Ties on the leaving arc follow the strongly
//! feasible rule that prevents cycling.
//!
//! Data are compact arrays (struct of arrays); flows and capacities are `i64` with
//! `i64::MAX` meaning "no upper bound", and the most flow any basis can put on one arc is
//! bounded by [`FLOW_LIMIT`] (`i64::MAX - 1`) before the first pivot (`flow_bound`), so the
//! pivots' flow updates need no check; potentials are `i64` with the big-M bounded so that no
//! sum overflows (checked up front); the objective is summed exactly in `i128` at the end, and
//! refused where it does not fit.
//! General networks are supported: supplies and demands, lower and upper bounds (negative lower
//! bounds too), negative costs, self-loops (solved outside the tree: saturated when their cost
//! is negative) and parallel arcs. Infeasibility and unboundedness are detected and reported.

use crate::problem::{
    check, objective, self_loop_flow, Basis, FlowError, FlowMethod, FlowProblem, FlowSolution,
    Infeasibility, InvalidNetwork, FLOW_LIMIT, INFINITE,
};

/// The integer type costs and potentials are computed in: `i64` when the big-M bound fits,
/// `i128` otherwise (lexicographic costs need it). Nothing narrower: the tree walks are bound
/// by the latency of their reads, not by the size of what they read.
pub(crate) trait CostInt:
    Copy
    + Ord
    + Default
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + Into<i128>
{
    fn from_i64(x: i64) -> Self;
}

impl CostInt for i64 {
    fn from_i64(x: i64) -> Self {
        x
    }
}

impl CostInt for i128 {
    fn from_i64(x: i64) -> Self {
        x as i128
    }
}

const STATE_UPPER: i8 = -1;
const STATE_TREE: i8 = 0;
const STATE_LOWER: i8 = 1;
const DIR_UP: i8 = 1;
const DIR_DOWN: i8 = -1;

/// Our min-cost flow solver (see the module documentation).
pub struct NetworkSimplex;

/// Where [`NetworkSimplex::solve_from`] starts: the basis and flow of an earlier solve, by
/// the node and arc ids of the network solved now. Nodes and arcs added since take ids after
/// the earlier ones (new nodes hang from the root, new arcs start at their lower bound); an
/// arc taken away is one bounded to `0..=0`. Costs, bounds and supplies may all have changed.
#[derive(Debug, Clone, Copy)]
pub struct WarmStart<'a> {
    pub basis: &'a Basis,
    pub flow: &'a [i64],
}

/// The solver state of one solve, with costs and potentials in `C`.
struct Simplex<C> {
    /// Real arcs (self-loops excluded) are `0..search_num`; artificial ones follow.
    search_num: usize,
    source: IdVec,
    target: IdVec,
    cap: Vec<i64>,
    cost: Vec<C>,
    flow: Vec<i64>,
    state: Vec<i8>,
    /// Parent, predecessor arc, its direction and subtree size of each node, side by side.
    tree: Vec<TreeNode>,
    thread: IdVec,
    rev_thread: IdVec,
    last_succ: IdVec,
    pi: Vec<C>,
    /// The big-M cost of the artificial arcs.
    art: C,
    dirty: Vec<usize>,
    // Pivot scratch.
    in_arc: usize,
    join: usize,
    u_in: usize,
    v_in: usize,
    u_out: usize,
    delta: i64,
    next_arc: usize,
    block: usize,
}

const NONE: usize = u32::MAX as usize;

/// Node and arc ids stored as `u32`: half the cache footprint of `usize`, which is what the
/// tree walks (join node, leaving arc, potential updates) are bound by. Networks are limited to
/// `u32::MAX - 1` nodes and arcs (checked in `run`); `NONE` is `u32::MAX`.
#[derive(Debug, Clone, Default)]
struct IdVec(Vec<u32>);

impl IdVec {
    fn filled(v: usize, n: usize) -> Self {
        IdVec(vec![v as u32; n])
    }

    #[inline(always)]
    fn get(&self, i: usize) -> usize {
        self.0[i] as usize
    }

    #[inline(always)]
    fn set(&mut self, i: usize, v: usize) {
        self.0[i] = v as u32;
    }
}

/// What the tree walks read of a node, in one 16-byte record: the join-node search reads
/// `succ_num` and `parent`, the cycle walks `parent`, `pred` and `pred_dir`, so each node on a
/// walk costs one cache line instead of one per array (LEMON keeps them in separate arrays).
#[derive(Debug, Clone, Copy)]
struct TreeNode {
    parent: u32,
    pred: u32,
    succ_num: u32,
    pred_dir: i32,
}

impl NetworkSimplex {
    /// Solve `p` to optimality.
    pub fn solve(p: &FlowProblem) -> Result<FlowSolution, FlowError> {
        Self::solve_started(p, None)
    }

    /// Solve `p` to optimality starting from an earlier solve's basis and flow (`start`,
    /// see [`WarmStart`]) instead of the artificial star: after a small change of the
    /// network the pivots are those the change needs. Any start gives the optimum (a start
    /// that no longer fits is repaired, not trusted); only the work depends on it.
    pub fn solve_from(p: &FlowProblem, start: &WarmStart) -> Result<FlowSolution, FlowError> {
        Self::solve_started(p, Some(start))
    }

    fn solve_started(
        p: &FlowProblem,
        start: Option<&WarmStart>,
    ) -> Result<FlowSolution, FlowError> {
        check(p)?;
        let max_cost = p.cost.iter().map(|c| c.unsigned_abs()).max().unwrap_or(0) as u128;
        let run = if fits_i64(max_cost, p.nodes) {
            Simplex::<i64>::run(p, p.cost.clone(), start)
        } else {
            let c = p.cost.iter().map(|&c| c as i128).collect();
            Simplex::<i128>::run(p, c, start)
        };
        let mut sol = infeasible_before_unbounded(p, run)?;
        sol.cost = objective(&sol.flow, &p.cost)?;
        Ok(sol)
    }

    /// Solve `p` with arc costs `cost` (`p.cost` is ignored), which may exceed `i64`:
    /// lexicographic costs combined by the caller with [`lexicographic_weight`].
    pub fn solve_with_costs(p: &FlowProblem, cost: &[i128]) -> Result<FlowSolution, FlowError> {
        check(p)?;
        if cost.len() != p.arcs() {
            return Err(InvalidNetwork::CostVectorLength.into());
        }
        let max = cost.iter().map(|c| c.unsigned_abs()).max().unwrap_or(0);
        let fits = max
            .checked_add(1)
            .and_then(|x| x.checked_mul(p.nodes as u128 + 1))
            .is_some_and(|x| x <= (i128::MAX / 16) as u128);
        if !fits {
            return Err(InvalidNetwork::CostsTooLarge.into());
        }
        let run = Simplex::<i128>::run(p, cost.to_vec(), None);
        let mut sol = infeasible_before_unbounded(p, run)?;
        sol.cost = objective(&sol.flow, cost)?;
        Ok(sol)
    }

    /// Minimise `primary` first, then `secondary` among the flows optimal for it (`p.cost`
    /// is ignored). Exact: the arc cost is `M * primary + secondary` with
    /// `M = (2n + 3) * max |secondary| + 1`, in `i128`. Secondary reduced costs are bounded by
    /// `(2n + 3) max |secondary|` while primary ones are integers, so every basis optimal for
    /// the combination is optimal for `primary` alone, and cheapest in `secondary` among those.
    /// The solution's `cost` is that of `secondary`; its potentials are of the combination.
    pub fn solve_lexicographic(
        p: &FlowProblem,
        primary: &[i64],
        secondary: &[i64],
    ) -> Result<FlowSolution, FlowError> {
        check(p)?;
        if primary.len() != p.arcs() || secondary.len() != p.arcs() {
            return Err(InvalidNetwork::CostVectorLength.into());
        }
        let max2 = secondary
            .iter()
            .map(|c| c.unsigned_abs())
            .max()
            .unwrap_or(0);
        let max1 = primary.iter().map(|c| c.unsigned_abs()).max().unwrap_or(0);
        let m = lexicographic_weight(p.nodes, max1, max2)?;
        let c: Vec<i128> = primary
            .iter()
            .zip(secondary)
            .map(|(&a, &b)| m * a as i128 + b as i128)
            .collect();
        let run = Simplex::<i128>::run(p, c, None);
        let mut sol = infeasible_before_unbounded(p, run)?;
        sol.cost = objective(&sol.flow, secondary)?;
        Ok(sol)
    }
}

/// A network that has no feasible flow is infeasible, whatever negative cycles without an
/// upper bound it also holds: "unbounded" speaks of an objective, and without a flow there is
/// none (a DIMACS file whose supplies do not balance was called unbounded for an
/// uncapacitated negative loop). The simplex meets such a cycle before it knows whether the
/// supplies can be met, so an unbounded answer is checked by the same network at cost 0,
/// which has no cycle to follow.
fn infeasible_before_unbounded(
    p: &FlowProblem,
    run: Result<FlowSolution, FlowError>,
) -> Result<FlowSolution, FlowError> {
    match run {
        Err(FlowError::Unbounded) => match Simplex::<i64>::run(p, vec![0; p.arcs()], None) {
            Err(FlowError::Infeasible(why)) => Err(FlowError::Infeasible(why)),
            _ => Err(FlowError::Unbounded),
        },
        other => other,
    }
}

/// The weight `M` that makes `M * primary + secondary` lexicographic on a network of up to
/// `nodes` nodes whose primary and secondary costs are at most `max_primary` and
/// `max_secondary` in absolute value: `M = (2n + 3) * max_secondary + 1` (see
/// [`NetworkSimplex::solve_lexicographic`]). Refused where the potentials of the combination
/// might leave `i128`'s exact range.
pub fn lexicographic_weight(
    nodes: usize,
    max_primary: u64,
    max_secondary: u64,
) -> Result<i128, FlowError> {
    let (nodes, max1, max2) = (nodes as i128, max_primary as i128, max_secondary as i128);
    // Checked: the bound itself may not fit i128 when the costs are near i64's limits.
    let m = (2 * nodes + 3).checked_mul(max2).map(|x| x + 1);
    let bound = m
        .and_then(|m| m.checked_mul(max1))
        .and_then(|x| x.checked_add(max2 + 1))
        .and_then(|x| x.checked_mul(nodes + 1));
    match (m, bound) {
        (Some(m), Some(bound)) if bound <= i128::MAX / 16 => Ok(m),
        _ => Err(InvalidNetwork::CostsTooLarge.into()),
    }
}

/// LEMON's arc mixing, placed exactly as LEMON places it: the arcs taken newest first (LEMON's
/// arc iteration order), arc `t` at the `t`-th stop of the walk `0, skip, 2 skip, ..., 1,
/// 1 + skip, ...` with `skip = max(arcs / nodes, 3)` (self-loops, which LEMON mixes in too,
/// are already out). Input files list a node's arcs together, so each block of the search
/// samples the whole network. The placement matters beyond spreading: on transportation with
/// hub nodes (a dummy source and sink listed last) the earlier placement (the walk read rather
/// than written, oldest first) took 6.5x the pivots (`benches/RESULTS.md`, "Min-cost flow
/// families against LEMON").
fn mix_arcs(arcs: Vec<usize>, nodes: usize) -> Vec<usize> {
    let k = arcs.len();
    let skip = (k / nodes.max(1)).max(3);
    let mut out = vec![0; k];
    let (mut i, mut next_start) = (0, 0);
    for &a in arcs.iter().rev() {
        out[i] = a;
        i += skip;
        if i >= k {
            next_start += 1;
            i = next_start;
        }
    }
    out
}

/// The nodes of the tree `parent` (each node's parent; `root`, one past the last node, for
/// the root's children) in depth-first preorder from the root, the root left out: each
/// subtree is a contiguous run, as the thread needs. Nodes whose parents form a cycle are
/// not reached and are left out too.
fn preorder(parent: &[usize], root: usize) -> Vec<usize> {
    let n = parent.len();
    let mut first = vec![0usize; n + 2];
    for &p in parent {
        first[p + 1] += 1;
    }
    for v in 0..=n {
        first[v + 1] += first[v];
    }
    let mut fill = first.clone();
    let mut child = vec![0usize; n];
    for (u, &p) in parent.iter().enumerate() {
        child[fill[p]] = u;
        fill[p] += 1;
    }
    let mut out = Vec::with_capacity(n);
    let mut stack = vec![root];
    while let Some(v) = stack.pop() {
        if v != root {
            out.push(v);
        }
        stack.extend(child[first[v]..first[v + 1]].iter().rev());
    }
    out
}

/// Arc `a`'s capacity once its lower bound is shifted away (`None`: no upper bound), in i128:
/// `upper - lower` may leave i64 where the lower bound is very negative.
fn shifted_capacity(p: &FlowProblem, a: usize) -> Option<i128> {
    (p.upper[a] != INFINITE).then(|| p.upper[a] as i128 - p.lower[a] as i128)
}

/// A bound on the flow any basis of the `real` arcs (with `supply` the supplies, lower bounds
/// shifted in) can put on one arc, once capacities no optimum needs are lowered; and the
/// bound they are lowered to (`None`: not lowered).
///
/// An arc with an upper bound carries at most that. A tree arc without one (or an artificial
/// arc) carries what crosses the cut the tree splits at it: the supply of one side, at most
/// `P` (the positive supplies), plus the capacities of the arcs at their upper bounds leaving
/// that side less those entering it. Those leaving side `S` come out of `S`'s nodes and go into
/// the other side's, so they add up to at most the smaller of the two sums, at most half of
/// `sum over nodes of max(capacity out, capacity in)`; so do those entering. `P` plus that half
/// bounds every basis (a network of opposite arcs of `i64::MAX - 1` passes, where all its
/// capacities would not). Where the bound passes [`FLOW_LIMIT`], capacities far above any
/// optimum's needs (OR-Tools tests `i64::MAX / 4` on every arc) are lowered to `P + N + 1`,
/// `N` the capacities of the arcs of negative cost: some optimal flow stays within `P + N` on
/// every arc (paths carry `P`; the rest is negative cycles, each through an arc of negative
/// cost; zero-cost cycles can go), so the lowered network has the same verdict and optima;
/// and as that flow leaves every lowered arc below its new bound, the potentials of any
/// optimal basis price those arcs at reduced cost >= 0, so they certify the original network
/// too. Only there, so that a network within the limit is solved as it always was; and not
/// where an arc of negative cost has no upper bound (a negative cycle through it may be held
/// by any finite arc).
fn flow_bound<C: CostInt>(
    p: &FlowProblem,
    real: &[usize],
    supply: &[i128],
    costs: &[C],
) -> (i128, Option<i128>) {
    let positive: i128 = supply.iter().filter(|&&s| s > 0).sum();
    let bound = |lower_to: Option<i128>| {
        // Saturating: a node's sum beyond 2^64 passes the limit whatever the others'.
        let (mut out, mut into) = (vec![0u64; p.nodes], vec![0u64; p.nodes]);
        for &a in real {
            if let Some(c) = shifted_capacity(p, a) {
                let c = lower_to.map_or(c, |k| c.min(k)) as u64;
                out[p.source[a]] = out[p.source[a]].saturating_add(c);
                into[p.target[a]] = into[p.target[a]].saturating_add(c);
            }
        }
        let sides: i128 = out.iter().zip(&into).map(|(&o, &i)| o.max(i) as i128).sum();
        positive + sides / 2
    };
    let total = bound(None);
    if total <= FLOW_LIMIT as i128 {
        return (total, None);
    }
    let mut negative = 0i128;
    for &a in real.iter().filter(|&&a| costs[a] < C::default()) {
        match shifted_capacity(p, a) {
            Some(c) => negative += c,
            None => return (total, None),
        }
    }
    let k = positive + negative + 1;
    (bound(Some(k)), Some(k))
}

/// Whether big-M potentials for costs up to `max_cost` stay far inside `i64`.
fn fits_i64(max_cost: u128, nodes: usize) -> bool {
    (max_cost + 1) * (nodes as u128 + 1) <= (i64::MAX / 8) as u128
}

impl<C: CostInt> Simplex<C> {
    #[inline(always)]
    fn parent(&self, u: usize) -> usize {
        self.tree[u].parent as usize
    }

    #[inline(always)]
    fn set_parent(&mut self, u: usize, v: usize) {
        self.tree[u].parent = v as u32;
    }

    #[inline(always)]
    fn pred(&self, u: usize) -> usize {
        self.tree[u].pred as usize
    }

    #[inline(always)]
    fn set_pred(&mut self, u: usize, e: usize) {
        self.tree[u].pred = e as u32;
    }

    #[inline(always)]
    fn succ_num(&self, u: usize) -> usize {
        self.tree[u].succ_num as usize
    }

    #[inline(always)]
    fn set_succ_num(&mut self, u: usize, k: usize) {
        self.tree[u].succ_num = k as u32;
    }

    #[inline(always)]
    fn pred_dir(&self, u: usize) -> i8 {
        self.tree[u].pred_dir as i8
    }

    #[inline(always)]
    fn set_pred_dir(&mut self, u: usize, d: i8) {
        self.tree[u].pred_dir = d as i32;
    }
}

impl<C: CostInt> Simplex<C> {
    /// Solve `p` with arc costs `costs` (indexed like `p`'s arcs).
    // Arc and node ids index several parallel arrays at once; index loops read best here.
    #[allow(clippy::needless_range_loop)]
    fn run(
        p: &FlowProblem,
        costs: Vec<C>,
        start: Option<&WarmStart>,
    ) -> Result<FlowSolution, FlowError> {
        let m = p.arcs();
        // Big-M of the artificial arcs: above any path cost (callers checked it fits `C`).
        let mut max_cost = C::default();
        for &c in &costs {
            let a = if c < C::default() {
                C::default() - c
            } else {
                c
            };
            if a > max_cost {
                max_cost = a;
            }
        }
        let art = (max_cost + C::from_i64(1)) * C::from_i64(p.nodes as i64 + 1);

        // Shift lower bounds away; self-loops are decided on their own.
        let mut supply: Vec<i128> = p.supply.iter().map(|&s| s as i128).collect();
        let mut flow_out = vec![0i64; m];
        let mut real: Vec<usize> = Vec::with_capacity(m);
        for a in 0..m {
            let (s, t, lo, up) = (p.source[a], p.target[a], p.lower[a], p.upper[a]);
            if s == t {
                let f = self_loop_flow(costs[a].cmp(&C::default()), lo, up)
                    .ok_or(FlowError::Unbounded)?;
                flow_out[a] = f;
                continue;
            }
            supply[s] -= lo as i128;
            supply[t] += lo as i128;
            real.push(a);
        }
        // Arc mixing (LEMON's): the block search scans arcs in an order that interleaves the
        // input's, so that one block samples the whole network instead of one region (input
        // files list arcs grouped by tail node; without mixing a block often sees arcs of a
        // single node and the search spends its pivots there).
        let real = mix_arcs(real, p.nodes);
        let total: i128 = supply.iter().sum();
        if total != 0 {
            return Err(Infeasibility::Unbalanced { sum: total }.into());
        }
        // A supply no arc can carry; `flow_bound` below bounds what the supplies and
        // capacities can add up to on one arc.
        if supply.iter().any(|s| s.unsigned_abs() > FLOW_LIMIT as u128) {
            return Err(InvalidNetwork::SuppliesTooLarge.into());
        }
        let (total, lower_to) = flow_bound(p, &real, &supply, &costs);
        // No basis puts more than `total` on an arc (see `flow_bound`): with it below
        // INFINITE, the pivots' flow updates (`change_flow`) need no overflow check, and no
        // flow or residual reads as INFINITE.
        if total > FLOW_LIMIT as i128 {
            return Err(InvalidNetwork::FlowTooLarge { total }.into());
        }

        let n = p.nodes;
        let k = real.len();
        if n == 0 {
            return Ok(FlowSolution {
                // The callers work the objective out.
                cost: 0,
                flow: flow_out,
                potential: Vec::new(),
                pivots: 0,
                basis: Some(Basis::default()),
                method: FlowMethod::NetworkSimplex,
            });
        }
        let all = k + n;
        if all + 1 >= u32::MAX as usize {
            return Err(InvalidNetwork::TooManyIds { nodes: n, arcs: k }.into());
        }
        let mut ns = Simplex::<C> {
            search_num: k,
            source: IdVec::filled(0, all),
            target: IdVec::filled(0, all),
            cap: vec![0; all],
            cost: vec![C::default(); all],
            flow: vec![0; all],
            state: vec![STATE_LOWER; all],
            tree: vec![
                TreeNode {
                    parent: NONE as u32,
                    pred: NONE as u32,
                    succ_num: 1,
                    pred_dir: DIR_UP as i32,
                };
                n + 1
            ],
            thread: IdVec::filled(0, n + 1),
            rev_thread: IdVec::filled(0, n + 1),
            last_succ: IdVec::filled(0, n + 1),
            pi: vec![C::default(); n + 1],
            art,
            dirty: Vec::new(),
            in_arc: 0,
            join: 0,
            u_in: 0,
            v_in: 0,
            u_out: 0,
            delta: 0,
            next_arc: 0,
            block: ((k as f64).sqrt().ceil() as usize).max(10),
        };
        for (j, &a) in real.iter().enumerate() {
            ns.source.set(j, p.source[a]);
            ns.target.set(j, p.target[a]);
            ns.cap[j] = shifted_capacity(p, a).map_or(INFINITE, |c| {
                // At most `total` (an arc's capacity counts at both its ends), so below
                // INFINITE.
                lower_to.map_or(c, |k| c.min(k)) as i64
            });
            ns.cost[j] = costs[a];
        }
        let mut pivots = 0u64;
        if !start.is_some_and(|st| ns.warm_tree(p, &real, &supply, st)) {
            ns.star_tree(&supply);
            // LEMON's heuristic start: before searching, enter each demand node's cheapest
            // incoming arc (when it improves). On transportation-shaped networks (many demand
            // nodes, each with a few candidate suppliers) this builds most of a good tree in
            // one cheap pass. A warm start has its tree already.
            for e in ns.initial_arcs(&supply) {
                if ns.reduced_violation(e) < C::default() {
                    ns.in_arc = e;
                    pivots += 1;
                    ns.pivot()?;
                }
            }
        }
        while ns.find_entering_arc() {
            pivots += 1;
            ns.pivot()?;
        }
        if let Some(u) = (0..n).find(|&u| ns.flow[k + u] != 0) {
            return Err(Infeasibility::Stranded { node: u }.into());
        }

        for (j, &a) in real.iter().enumerate() {
            flow_out[a] = ns.flow[j]
                .checked_add(p.lower[a])
                .ok_or(InvalidNetwork::FlowOverflow)?;
        }
        let root = n;
        // The basis in thread order (parents before children), real arcs by original index.
        let mut basis = Basis {
            order: Vec::with_capacity(n),
            parent: vec![None; n],
            arc: vec![None; n],
            up: vec![false; n],
        };
        let mut u = ns.thread.get(root);
        while u != root {
            basis.order.push(u);
            let par = ns.parent(u);
            basis.parent[u] = (par != root).then_some(par);
            let e = ns.pred(u);
            basis.arc[u] = (e < k && par != root).then(|| real[e]);
            basis.up[u] = ns.pred_dir(u) == DIR_UP;
            u = ns.thread.get(u);
        }
        ns.normalise_potentials();
        ns.pi.truncate(n);
        Ok(FlowSolution {
            // The callers work the objective out, with the cost vector they report.
            cost: 0,
            flow: flow_out,
            potential: ns.pi.into_iter().map(Into::into).collect(),
            pivots,
            basis: Some(basis),
            method: FlowMethod::NetworkSimplex,
        })
    }

    /// The cold start: the root and its artificial arcs form the first basis, each node's
    /// arc carrying its supply (from the node when positive, to it otherwise).
    // Node ids index the tree arrays and `supply` at once; an index loop reads best here.
    #[allow(clippy::needless_range_loop)]
    fn star_tree(&mut self, supply: &[i128]) {
        let n = self.tree.len() - 1;
        let (k, root, art) = (self.search_num, n, self.art);
        self.set_parent(root, NONE);
        self.set_pred(root, NONE);
        self.thread.set(root, 0);
        self.rev_thread.set(0, root);
        self.set_succ_num(root, n + 1);
        self.last_succ.set(root, n - 1);
        self.pi[root] = C::default();
        for u in 0..n {
            let e = k + u;
            self.set_parent(u, root);
            self.set_pred(u, e);
            self.thread.set(u, u + 1);
            self.rev_thread.set(u + 1, u);
            self.set_succ_num(u, 1);
            self.last_succ.set(u, u);
            let s = supply[u] as i64;
            let dir = if s >= 0 { DIR_UP } else { DIR_DOWN };
            self.set_pred_dir(u, dir);
            self.set_artificial(u, dir, s.abs(), true);
            self.pi[u] = if s >= 0 { C::default() } else { art };
        }
        self.thread.set(n - 1, root);
        self.rev_thread.set(root, n - 1);
    }

    /// Set node `u`'s artificial arc: from `u` to the root at cost 0 (`DIR_UP`) or from
    /// the root to `u` at the big-M, carrying `flow`, in the tree or at its lower bound.
    fn set_artificial(&mut self, u: usize, dir: i8, flow: i64, in_tree: bool) {
        let (e, root) = (self.search_num + u, self.tree.len() - 1);
        self.cap[e] = INFINITE;
        self.flow[e] = flow;
        self.state[e] = if in_tree { STATE_TREE } else { STATE_LOWER };
        let (from, to, cost) = if dir == DIR_UP {
            (u, root, C::default())
        } else {
            (root, u, self.art)
        };
        self.source.set(e, from);
        self.target.set(e, to);
        self.cost[e] = cost;
    }

    /// The first basis from an earlier solve's ([`WarmStart`]): each node keeps its tree arc
    /// where that arc still joins it to its parent and can carry what the node's subtree must
    /// now send through it; every other node hangs from the root by its artificial arc,
    /// carrying its subtree's imbalance. Arcs outside the tree sit at the bound the earlier
    /// flow had them at. That is a primal feasible basis of this network, so the pivots that
    /// follow are the usual ones. False (nothing changed; the caller starts cold) where an
    /// imbalance leaves the range the cold start allows supplies.
    fn warm_tree(
        &mut self,
        p: &FlowProblem,
        real: &[usize],
        supply: &[i128],
        start: &WarmStart,
    ) -> bool {
        let n = self.tree.len() - 1;
        let (k, root) = (self.search_num, n);
        let limit = (i64::MAX / 4) as i128;
        let mut pos = vec![NONE; p.arcs()];
        for (j, &a) in real.iter().enumerate() {
            pos[a] = j;
        }
        // Each node's tree arc (its position among the real arcs) and direction, where the
        // start's still joins the node to its parent.
        let b = start.basis;
        let mut parent = vec![root; n];
        let mut pred = vec![NONE; n];
        let mut up = vec![false; n];
        for u in 0..n.min(b.parent.len()) {
            let (Some(par), Some(Some(a))) = (b.parent[u], b.arc.get(u).copied()) else {
                continue;
            };
            let goes_up = b.up.get(u).copied().unwrap_or(false);
            let (s, t) = if goes_up { (u, par) } else { (par, u) };
            let Some(&j) = pos.get(a).filter(|&&j| j != NONE) else {
                continue;
            };
            if par < n && p.source[a] == s && p.target[a] == t {
                (parent[u], pred[u], up[u]) = (par, j, goes_up);
            }
        }
        let mut in_tree = vec![false; k];
        for &j in pred.iter().filter(|&&j| j != NONE) {
            in_tree[j] = true;
        }
        // The other arcs at the bound the earlier flow had them at; what they carry leaves
        // `net` of their tail and enters their head's.
        let mut net = supply.to_vec();
        let mut at_upper = Vec::new();
        for (j, &a) in real.iter().enumerate() {
            let cap = self.cap[j];
            if in_tree[j] || cap == INFINITE {
                continue;
            }
            let before = start.flow.get(a).map(|&f| f as i128 - p.lower[a] as i128);
            if before.is_some_and(|f| f >= cap as i128) {
                at_upper.push(j);
                net[p.source[a]] -= cap as i128;
                net[p.target[a]] += cap as i128;
            }
        }
        // Children before parents: a tree arc keeps its place where the subtree's imbalance
        // fits its bounds; otherwise the arc leaves the tree (at its lower bound) and the
        // subtree hangs from the root.
        let mut order = preorder(&parent, root);
        if order.len() < n {
            // Parents in a cycle (a start of another network): those nodes hang from the root.
            let mut reached = vec![false; n];
            order.iter().for_each(|&u| reached[u] = true);
            for u in (0..n).filter(|&u| !reached[u]) {
                (parent[u], pred[u]) = (root, NONE);
            }
            order = preorder(&parent, root);
        }
        let mut sub = net;
        let mut carried = vec![0i64; n];
        for &u in order.iter().rev() {
            let s = sub[u];
            if pred[u] != NONE {
                let f = if up[u] { s } else { -s };
                let cap = self.cap[pred[u]];
                let fits = cap == INFINITE || f <= cap as i128;
                if f >= 0 && f <= limit && fits {
                    carried[u] = f as i64;
                    sub[parent[u]] += s;
                    continue;
                }
                (parent[u], pred[u]) = (root, NONE);
            }
            if s.abs() > limit {
                return false;
            }
        }
        // The basis, now that it is decided.
        for j in at_upper {
            self.state[j] = STATE_UPPER;
            self.flow[j] = self.cap[j];
        }
        let order = preorder(&parent, root);
        self.set_parent(root, NONE);
        self.set_pred(root, NONE);
        for u in 0..n {
            self.set_parent(u, parent[u]);
            let hung = pred[u] == NONE;
            let s = if hung { sub[u] } else { supply[u] };
            let art_dir = if s >= 0 { DIR_UP } else { DIR_DOWN };
            self.set_artificial(u, art_dir, if hung { s.abs() as i64 } else { 0 }, hung);
            if hung {
                self.set_pred(u, k + u);
                self.set_pred_dir(u, art_dir);
            } else {
                let j = pred[u];
                self.set_pred(u, j);
                self.set_pred_dir(u, if up[u] { DIR_UP } else { DIR_DOWN });
                self.state[j] = STATE_TREE;
                self.flow[j] = carried[u];
            }
        }
        // Thread (preorder, a cycle through the root), subtree sizes, last successors and
        // potentials (every tree arc's reduced cost zero, the root's potential 0).
        let mut prev = root;
        for &u in &order {
            self.thread.set(prev, u);
            self.rev_thread.set(u, prev);
            prev = u;
        }
        self.thread.set(prev, root);
        self.rev_thread.set(root, prev);
        for u in 0..=n {
            self.set_succ_num(u, 1);
            self.last_succ.set(u, u);
        }
        for &u in order.iter().rev() {
            let par = self.parent(u);
            self.set_succ_num(par, self.succ_num(par) + self.succ_num(u));
            if self.last_succ.get(par) == par {
                self.last_succ.set(par, self.last_succ.get(u));
            }
        }
        self.pi[root] = C::default();
        for &u in &order {
            let (par, c) = (self.parent(u), self.cost[self.pred(u)]);
            self.pi[u] = if self.pred_dir(u) == DIR_UP {
                self.pi[par] - c
            } else {
                self.pi[par] + c
            };
        }
        true
    }

    /// One pivot on the entering arc `in_arc`.
    fn pivot(&mut self) -> Result<(), FlowError> {
        self.find_join_node();
        let change = self.find_leaving_arc();
        if self.delta == INFINITE {
            return Err(FlowError::Unbounded);
        }
        self.change_flow(change);
        if change {
            self.update_tree();
            self.update_potential();
        }
        Ok(())
    }

    /// `state * reduced cost` of arc `e`: negative when entering it improves the objective.
    #[inline]
    fn reduced_violation(&self, e: usize) -> C {
        let rc = self.cost[e] + self.pi[self.source.get(e)] - self.pi[self.target.get(e)];
        C::from_i64(self.state[e] as i64) * rc
    }

    /// The arcs of the heuristic start: for every demand node its cheapest incoming real arc,
    /// in node order (one pass over the arcs, no adjacency lists needed).
    fn initial_arcs(&self, supply: &[i128]) -> Vec<usize> {
        let n = supply.len();
        let mut best = vec![NONE; n];
        for e in 0..self.search_num {
            let v = self.target.get(e);
            if supply[v] < 0 && (best[v] == NONE || self.cost[e] < self.cost[best[v]]) {
                best[v] = e;
            }
        }
        best.into_iter().filter(|&e| e != NONE).collect()
    }

    /// Block search: scan `block` arcs at a time from where the last search stopped; enter the
    /// best violating arc of the first block that has one.
    fn find_entering_arc(&mut self) -> bool {
        let m = self.search_num;
        if m == 0 {
            return false;
        }
        let zero = C::default();
        let mut best = zero;
        let mut best_arc = NONE;
        let mut cnt = self.block;
        let start = self.next_arc.min(m);
        let mut stop = start;
        // Slices of length m let the compiler drop the bounds checks of the sequential reads;
        // only the two potentials are random accesses.
        let (src, tgt) = (&self.source.0[..m], &self.target.0[..m]);
        let (cost, state, pi) = (&self.cost[..m], &self.state[..m], &self.pi);
        'scan: for (lo, hi) in [(start, m), (0, start)] {
            for e in lo..hi {
                let (u, v) = (src[e] as usize, tgt[e] as usize);
                debug_assert!(u < pi.len() && v < pi.len());
                // SAFETY: `run` fills `source` and `target` with real arcs' endpoints, which
                // `check` bounds by `p.nodes`, and artificial arcs' (a node and the root `n`);
                // `pi` has `n + 1` entries from construction until `run` truncates it after
                // the last search. So both ids index inside `pi`, and this, the hottest loop
                // of a solve, skips the two checks.
                let rc = cost[e] + unsafe { *pi.get_unchecked(u) - *pi.get_unchecked(v) };
                // state * rc < 0: an arc at its lower bound with rc < 0, or at its upper bound
                // with rc > 0 (tree arcs have state 0).
                let c = C::from_i64(state[e] as i64) * rc;
                if c < best {
                    best = c;
                    best_arc = e;
                }
                cnt -= 1;
                if cnt == 0 {
                    if best < zero {
                        stop = e + 1;
                        break 'scan;
                    }
                    cnt = self.block;
                }
            }
        }
        if best_arc == NONE {
            return false;
        }
        self.in_arc = best_arc;
        // The next search starts after the block that found this arc (not at the arc): the
        // arcs just scanned are unlikely to be the best candidates again.
        self.next_arc = if stop >= m { 0 } else { stop };
        true
    }

    fn find_join_node(&mut self) {
        let mut u = self.source.get(self.in_arc);
        let mut v = self.target.get(self.in_arc);
        while u != v {
            if self.succ_num(u) < self.succ_num(v) {
                u = self.parent(u);
            } else {
                v = self.parent(v);
            }
        }
        self.join = u;
    }

    /// Residual capacity of the tree arc above `u` when flow on the cycle moves along `up`
    /// (`DIR_UP`: from u towards its parent).
    // Called on every arc of every cycle; left to the compiler it stayed an out-of-line call.
    #[inline(always)]
    fn residual(&self, u: usize, along: i8) -> i64 {
        let e = self.pred(u);
        if self.pred_dir(u) == along {
            if self.cap[e] == INFINITE {
                INFINITE
            } else {
                self.cap[e] - self.flow[e]
            }
        } else {
            self.flow[e]
        }
    }

    /// The bottleneck of the cycle closed by the entering arc. Returns whether a tree arc
    /// leaves (false: the entering arc itself is the bottleneck and only changes bound).
    fn find_leaving_arc(&mut self) -> bool {
        let e = self.in_arc;
        let (first, second) = if self.state[e] == STATE_LOWER {
            (self.source.get(e), self.target.get(e))
        } else {
            (self.target.get(e), self.source.get(e))
        };
        self.delta = self.cap[e];
        let mut result = 0;
        // From `first` up to the join the cycle runs against the tree towards the root:
        // flow goes parent -> u, i.e. along DIR_DOWN arcs.
        let mut u = first;
        while u != self.join {
            let d = self.residual(u, DIR_DOWN);
            if d < self.delta {
                self.delta = d;
                self.u_out = u;
                result = 1;
            }
            u = self.parent(u);
        }
        let mut u = second;
        while u != self.join {
            let d = self.residual(u, DIR_UP);
            if d <= self.delta {
                self.delta = d;
                self.u_out = u;
                result = 2;
            }
            u = self.parent(u);
        }
        if result == 1 {
            self.u_in = first;
            self.v_in = second;
        } else {
            self.u_in = second;
            self.v_in = first;
        }
        result != 0
    }

    fn change_flow(&mut self, change: bool) {
        let e = self.in_arc;
        if self.delta > 0 {
            let val = self.state[e] as i64 * self.delta;
            self.flow[e] += val;
            let mut u = self.source.get(e);
            while u != self.join {
                let a = self.pred(u);
                self.flow[a] -= self.pred_dir(u) as i64 * val;
                u = self.parent(u);
            }
            let mut u = self.target.get(e);
            while u != self.join {
                let a = self.pred(u);
                self.flow[a] += self.pred_dir(u) as i64 * val;
                u = self.parent(u);
            }
        }
        if change {
            self.state[e] = STATE_TREE;
            let out = self.pred(self.u_out);
            self.state[out] = if self.flow[out] == 0 {
                STATE_LOWER
            } else {
                STATE_UPPER
            };
        } else {
            self.state[e] = -self.state[e];
        }
    }

    /// Re-hang the subtree cut off by the leaving arc below `v_in`, reversing the stem path from
    /// `u_in` to `u_out`, and repair thread, reverse thread, subtree sizes and last successors.
    fn update_tree(&mut self) {
        let u_out = self.u_out;
        let u_in = self.u_in;
        let v_in = self.v_in;
        let join = self.join;
        let old_rev_thread = self.rev_thread.get(u_out);
        let old_succ_num = self.succ_num(u_out);
        let old_last_succ = self.last_succ.get(u_out);
        let v_out = self.parent(u_out);
        let in_dir = if u_in == self.source.get(self.in_arc) {
            DIR_UP
        } else {
            DIR_DOWN
        };

        if u_in == u_out {
            self.set_parent(u_in, v_in);
            self.set_pred(u_in, self.in_arc);
            self.set_pred_dir(u_in, in_dir);
            if self.thread.get(v_in) != u_out {
                // Move u_out's subtree in the thread to just after v_in.
                let after = self.thread.get(old_last_succ);
                self.thread.set(old_rev_thread, after);
                self.rev_thread.set(after, old_rev_thread);
                let after = self.thread.get(v_in);
                self.thread.set(v_in, u_out);
                self.rev_thread.set(u_out, v_in);
                self.thread.set(old_last_succ, after);
                self.rev_thread.set(after, old_last_succ);
            }
        } else {
            // When u_out's subtree directly follows v_in in the thread, join == v_out.
            let thread_continue = if old_rev_thread == v_in {
                self.thread.get(old_last_succ)
            } else {
                self.thread.get(v_in)
            };
            let mut stem = u_in;
            let mut par_stem = v_in;
            let mut last = self.last_succ.get(u_in);
            let mut after = self.thread.get(last);
            self.thread.set(v_in, u_in);
            self.dirty.clear();
            self.dirty.push(v_in);
            while stem != u_out {
                let next_stem = self.parent(stem);
                self.thread.set(last, next_stem);
                self.dirty.push(last);
                // Cut stem's subtree out of the thread.
                let before = self.rev_thread.get(stem);
                self.thread.set(before, after);
                self.rev_thread.set(after, before);
                self.set_parent(stem, par_stem);
                par_stem = stem;
                stem = next_stem;
                last = if self.last_succ.get(stem) == self.last_succ.get(par_stem) {
                    self.rev_thread.get(par_stem)
                } else {
                    self.last_succ.get(stem)
                };
                after = self.thread.get(last);
            }
            self.set_parent(u_out, par_stem);
            self.thread.set(last, thread_continue);
            self.rev_thread.set(thread_continue, last);
            self.last_succ.set(u_out, last);
            if old_rev_thread != v_in {
                self.thread.set(old_rev_thread, after);
                self.rev_thread.set(after, old_rev_thread);
            }
            for i in 0..self.dirty.len() {
                let u = self.dirty[i];
                let t = self.thread.get(u);
                self.rev_thread.set(t, u);
            }
            // Reverse pred / pred_dir along the stem and fix sizes and last successors.
            let mut tmp_sc = 0usize;
            let tmp_ls = self.last_succ.get(u_out);
            let mut u = u_out;
            while u != u_in {
                let p = self.parent(u);
                self.set_pred(u, self.pred(p));
                self.set_pred_dir(u, -self.pred_dir(p));
                tmp_sc += self.succ_num(u) - self.succ_num(p);
                self.set_succ_num(u, tmp_sc);
                self.last_succ.set(p, tmp_ls);
                u = p;
            }
            self.set_pred(u_in, self.in_arc);
            self.set_pred_dir(u_in, in_dir);
            self.set_succ_num(u_in, old_succ_num);
        }

        // Last successors from v_in towards the root.
        let up_limit_out = if self.last_succ.get(join) == v_in {
            join
        } else {
            NONE
        };
        let last_succ_out = self.last_succ.get(u_out);
        let mut u = v_in;
        while u != NONE && self.last_succ.get(u) == v_in {
            self.last_succ.set(u, last_succ_out);
            u = self.parent(u);
        }
        // ... and from v_out towards the root.
        if join != old_rev_thread && v_in != old_rev_thread {
            let mut u = v_out;
            while u != up_limit_out && u != NONE && self.last_succ.get(u) == old_last_succ {
                self.last_succ.set(u, old_rev_thread);
                u = self.parent(u);
            }
        } else if last_succ_out != old_last_succ {
            let mut u = v_out;
            while u != up_limit_out && u != NONE && self.last_succ.get(u) == old_last_succ {
                self.last_succ.set(u, last_succ_out);
                u = self.parent(u);
            }
        }
        let mut u = v_in;
        while u != join {
            self.set_succ_num(u, self.succ_num(u) + old_succ_num);
            u = self.parent(u);
        }
        let mut u = v_out;
        while u != join {
            self.set_succ_num(u, self.succ_num(u) - old_succ_num);
            u = self.parent(u);
        }
    }

    /// Shift the potentials of the moved subtree so the entering arc has reduced cost 0.
    fn update_potential(&mut self) {
        let u_in = self.u_in;
        let c = self.cost[self.in_arc];
        let (pv, pu) = (self.pi[self.v_in], self.pi[u_in]);
        let sigma = if self.pred_dir(u_in) == DIR_UP {
            pv - pu - c
        } else {
            pv - pu + c
        };
        let end = self.thread.get(self.last_succ.get(u_in));
        let nodes = self.pi.len();
        if 2 * self.succ_num(u_in) <= nodes {
            let mut u = u_in;
            while u != end {
                self.pi[u] += sigma;
                u = self.thread.get(u);
            }
        } else {
            // Reduced costs depend on potential differences only, so shifting every node
            // outside the moved subtree by -sigma is the same update, and cheaper when the
            // subtree holds most of the tree (the thread is one cycle through all nodes).
            let mut u = end;
            while u != u_in {
                self.pi[u] = self.pi[u] - sigma;
                u = self.thread.get(u);
            }
            // The root's potential is the offset the shifts add up to; bring it back to 0
            // before it strays beyond the big-M, which keeps every sum inside `C` (the
            // normalised potentials lie within twice the big-M, see `fits_i64`).
            let offset = self.pi[nodes - 1];
            let zero = C::default();
            if offset > self.art || zero - offset > self.art {
                self.normalise_potentials();
            }
        }
    }

    /// Potentials relative to the root's (which then is 0 again).
    fn normalise_potentials(&mut self) {
        let base = self.pi[self.pi.len() - 1];
        for p in &mut self.pi {
            *p = *p - base;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, Truth};
    use crate::{CostScaling, MinCostFlow};
    use proptest::prelude::*;

    /// LEMON's placement: newest arc first, each `skip` places on, wrapping to the next start.
    #[test]
    fn arc_mixing_places_arcs_as_lemon_does() {
        // 8 arcs, 2 nodes: skip = max(8 / 2, 3) = 4. Arcs 7, 6, 5, ... go to 0, 4, 1, 5, 2, 6, 3, 7.
        assert_eq!(mix_arcs((0..8).collect(), 2), vec![7, 5, 3, 1, 6, 4, 2, 0]);
        // Few arcs: newest first, as LEMON stores them.
        assert_eq!(mix_arcs(vec![4, 2], 10), vec![2, 4]);
        assert_eq!(mix_arcs(Vec::new(), 3), Vec::<usize>::new());
    }

    proptest! {
        #[test]
        fn arc_mixing_is_a_permutation(k in 0usize..400, nodes in 1usize..50) {
            let mut mixed = mix_arcs((0..k).collect(), nodes);
            mixed.sort_unstable();
            prop_assert_eq!(mixed, (0..k).collect::<Vec<_>>());
        }
    }

    /// Two sources (3, 2) and two sinks (4, 1): 3 units 0 -> 2, 1 unit 1 -> 2, 1 unit 1 -> 3.
    fn transport() -> FlowProblem {
        let mut p = FlowProblem::new(4);
        p.supply = vec![3, 2, -4, -1];
        for (s, t, c) in [(0, 2, 1), (0, 3, 4), (1, 2, 3), (1, 3, 2)] {
            p.add_arc(s, t, 0, INFINITE, c);
        }
        p
    }

    #[test]
    fn preorder_keeps_subtrees_together_and_skips_cycles() {
        // Root 5; 0 and 3 under the root, 1 and 2 under 0; 4 in a cycle with itself.
        let order = preorder(&[5, 0, 0, 5, 4], 5);
        assert_eq!(order, vec![0, 1, 2, 3]);
    }

    /// A start of the same network is optimal as it stands: no pivot.
    #[test]
    fn a_warm_start_from_the_optimum_takes_no_pivot() {
        let p = transport();
        let cold = NetworkSimplex::solve(&p).unwrap();
        assert!(cold.pivots > 0);
        let basis = cold.basis.as_ref().unwrap();
        let start = WarmStart {
            basis,
            flow: &cold.flow,
        };
        let warm = NetworkSimplex::solve_from(&p, &start).unwrap();
        assert_eq!((warm.cost, warm.pivots), (cold.cost, 0));
    }

    #[test]
    fn a_small_transportation_problem_by_hand() {
        let p = transport();
        let s = NetworkSimplex::solve(&p).unwrap();
        assert_eq!((s.cost, s.flow.as_slice()), (8, &[3, 0, 1, 1][..]));
        assert_eq!(s.method, FlowMethod::NetworkSimplex);
        oracle::check_certificate(&p, &p.cost, &s);
    }

    #[test]
    fn lower_bounds_negative_cycles_and_self_loops() {
        // A forced unit on the dear arc, a negative cycle of capacity 3 and a negative loop.
        let mut p = FlowProblem::new(3);
        p.supply = vec![2, -2, 0];
        p.add_arc(0, 1, 0, INFINITE, 1);
        p.add_arc(0, 1, 1, 4, 10);
        p.add_arc(1, 2, 0, 3, -5);
        p.add_arc(2, 1, 0, INFINITE, 1);
        p.add_arc(2, 2, -1, 2, -1);
        let s = NetworkSimplex::solve(&p).unwrap();
        assert_eq!(s.flow, [1, 1, 3, 3, 2]);
        assert_eq!(s.cost, 1 + 10 - 15 + 3 - 2);
        oracle::check_certificate(&p, &p.cost, &s);
    }

    #[test]
    fn infeasible_networks_say_why() {
        let mut p = transport();
        p.supply[0] += 1;
        assert_eq!(
            NetworkSimplex::solve(&p),
            Err(FlowError::Infeasible(Infeasibility::Unbalanced { sum: 1 }))
        );
        // Node 3 has no arc in.
        let mut p = FlowProblem::new(4);
        p.supply = vec![1, 0, 0, -1];
        p.add_arc(0, 1, 0, 5, 1);
        assert!(matches!(
            NetworkSimplex::solve(&p),
            Err(FlowError::Infeasible(Infeasibility::Stranded { .. }))
        ));
        let mut p = FlowProblem::new(2);
        p.add_arc(0, 1, 3, 2, 1);
        assert_eq!(
            NetworkSimplex::solve(&p),
            Err(FlowError::Infeasible(Infeasibility::Bounds {
                arc: 0,
                lower: 3,
                upper: 2
            }))
        );
    }

    #[test]
    fn an_uncapacitated_negative_cycle_is_unbounded() {
        let mut p = FlowProblem::new(2);
        p.add_arc(0, 1, 0, INFINITE, -1);
        p.add_arc(1, 0, 0, INFINITE, 0);
        assert_eq!(NetworkSimplex::solve(&p), Err(FlowError::Unbounded));
        let mut p = FlowProblem::new(1);
        p.add_arc(0, 0, 0, INFINITE, -1);
        assert_eq!(NetworkSimplex::solve(&p), Err(FlowError::Unbounded));
    }

    /// Without a feasible flow there is no objective to be unbounded: supplies that do not
    /// balance, or a supply with no path, beside an uncapacitated negative loop (a review's
    /// DIMACS files, both called unbounded).
    #[test]
    fn a_network_without_a_flow_is_infeasible_whatever_cycles_it_holds() {
        let mut unbalanced = FlowProblem::new(2);
        unbalanced.supply = vec![5, 0];
        unbalanced.add_arc(1, 1, 0, INFINITE, -1);
        let mut stranded = FlowProblem::new(2);
        stranded.supply = vec![1, -1];
        stranded.add_arc(0, 0, 0, INFINITE, -1);
        let mut cycle = FlowProblem::new(3);
        cycle.supply = vec![1, 0, 0];
        cycle.add_arc(1, 2, 0, INFINITE, -1);
        cycle.add_arc(2, 1, 0, INFINITE, 0);
        for p in [unbalanced, stranded, cycle] {
            assert!(
                matches!(NetworkSimplex::solve(&p), Err(FlowError::Infeasible(_))),
                "{p:?}"
            );
            let zero = vec![0; p.arcs()];
            assert!(
                matches!(
                    NetworkSimplex::solve_lexicographic(&p, &p.cost, &zero),
                    Err(FlowError::Infeasible(_))
                ),
                "{p:?}"
            );
            assert!(matches!(
                crate::MinCostFlow::solve(&p),
                Err(FlowError::Infeasible(_))
            ));
        }
    }

    #[test]
    fn data_beyond_exact_integers_are_refused() {
        let mut p = FlowProblem::new(2);
        p.supply = vec![i64::MAX, -i64::MAX];
        p.add_arc(0, 1, 0, INFINITE, 1);
        assert_eq!(
            NetworkSimplex::solve(&p),
            Err(FlowError::Invalid(InvalidNetwork::SuppliesTooLarge))
        );
        // One less is carried.
        p.supply = vec![i64::MAX - 1, -(i64::MAX - 1)];
        let s = NetworkSimplex::solve(&p).unwrap();
        assert_eq!((s.flow[0], s.cost), (i64::MAX - 1, (i64::MAX - 1) as i128));
        let p = transport();
        let big = vec![i64::MAX / 2; p.arcs()];
        assert_eq!(
            NetworkSimplex::solve_lexicographic(&p, &big, &big),
            Err(FlowError::Invalid(InvalidNetwork::CostsTooLarge))
        );
        // Large, but within i128 once combined: solved.
        let mid = vec![1i64 << 40; p.arcs()];
        assert!(NetworkSimplex::solve_lexicographic(&p, &mid, &mid).is_ok());
        assert_eq!(
            NetworkSimplex::solve_lexicographic(&p, &[1], &[1]),
            Err(FlowError::Invalid(InvalidNetwork::CostVectorLength))
        );
    }

    /// `k` sources of `s` units each, all through one arc a -> b of cost 1, to `k` sinks of
    /// `s` (the reviewer's `overflow.min` is `funnel(5, i64::MAX / 4)`).
    fn funnel(k: usize, s: i64) -> FlowProblem {
        let (a, b) = (2 * k, 2 * k + 1);
        let mut p = FlowProblem::new(2 * k + 2);
        for i in 0..k {
            p.supply[i] = s;
            p.supply[k + i] = -s;
            p.add_arc(i, a, 0, INFINITE, 0);
            p.add_arc(b, k + i, 0, INFINITE, 0);
        }
        p.add_arc(a, b, 0, INFINITE, 1);
        p
    }

    fn too_large(total: i128) -> Result<i128, FlowError> {
        Err(FlowError::Invalid(InvalidNetwork::FlowTooLarge { total }))
    }

    /// Refused before any pivot, in debug and release alike: the per-node bound holds, the
    /// flow the supplies add up to on one arc does not. At the bound itself: solved.
    #[test]
    fn more_flow_than_the_limit_through_one_arc_is_refused() {
        let p = funnel(5, i64::MAX / 4);
        let refused = too_large(5 * (i64::MAX / 4) as i128);
        assert_eq!(NetworkSimplex::solve(&p).map(|s| s.cost), refused);
        for method in [FlowMethod::NetworkSimplex, FlowMethod::CostScaling] {
            assert_eq!(MinCostFlow::solve_with(&p, method).map(|s| s.cost), refused);
        }
        assert_eq!(CostScaling::solve(&p), None);
        let s = FLOW_LIMIT / 5;
        let p = funnel(5, s);
        let sol = NetworkSimplex::solve(&p).unwrap();
        assert_eq!(sol.flow[p.arcs() - 1], 5 * s);
        assert_eq!(sol.cost, 5 * s as i128);
        oracle::check_certificate(&p, &p.cost, &sol);
        let p = funnel(5, s + 1);
        assert_eq!(
            NetworkSimplex::solve(&p).map(|s| s.cost),
            too_large(5 * (s + 1) as i128)
        );
    }

    /// Negative cycles held by finite arcs add up on the uncapacitated arc they share: two of
    /// 2^62 make 2^63 on arc 1 -> 0 (with no supply at all).
    #[test]
    fn negative_cycles_that_add_up_beyond_the_limit_are_refused() {
        let mut p = FlowProblem::new(2);
        p.add_arc(0, 1, 0, 1 << 62, -1);
        p.add_arc(0, 1, 0, 1 << 62, -1);
        p.add_arc(1, 0, 0, INFINITE, 0);
        assert_eq!(
            NetworkSimplex::solve(&p).map(|s| s.cost),
            too_large(1 << 63)
        );
        // One of them, of 2^60, fits: 2^60 units around at cost -1 each.
        (p.upper[0], p.upper[1]) = (1 << 60, 0);
        let s = NetworkSimplex::solve(&p).unwrap();
        assert_eq!(
            (s.flow.as_slice(), s.cost),
            (&[1 << 60, 0, 1 << 60][..], -(1 << 60))
        );
        oracle::check_certificate(&p, &p.cost, &s);
    }

    /// Capacities far above what any optimum needs are lowered, not counted in full: every
    /// arc at `i64::MAX / 4` (OR-Tools' CapacityRange), and an arc whose `upper - lower`
    /// leaves i64.
    #[test]
    fn capacities_beyond_the_limit_that_no_optimum_needs_are_solved() {
        let mut p = transport();
        p.upper.iter_mut().for_each(|u| *u = FLOW_LIMIT);
        let s = NetworkSimplex::solve(&p).unwrap();
        assert_eq!((s.cost, s.flow.as_slice()), (8, &[3, 0, 1, 1][..]));
        oracle::check_certificate(&p, &p.cost, &s);
        let mut p = FlowProblem::new(2);
        p.add_arc(0, 1, -(FLOW_LIMIT / 4), i64::MAX - 1, 1);
        p.add_arc(1, 0, 0, INFINITE, 1);
        let s = NetworkSimplex::solve(&p).unwrap();
        assert_eq!((s.cost, s.flow.as_slice()), (0, &[0, 0][..]));
        oracle::check_certificate(&p, &p.cost, &s);
        // Not where an uncapacitated arc has a negative cost: every capacity counts.
        let mut p = transport();
        p.upper.iter_mut().for_each(|u| *u = FLOW_LIMIT);
        p.add_arc(2, 3, 0, INFINITE, -1);
        p.add_arc(3, 2, 0, INFINITE, 2);
        assert_eq!(
            NetworkSimplex::solve(&p).map(|s| s.cost),
            too_large(5 + 4 * FLOW_LIMIT as i128)
        );
    }

    /// The reviewer's objectives beyond i128 are refused by every flow method; partial sums
    /// that leave i128 while the total does not are summed exactly.
    #[test]
    fn objectives_beyond_i128_are_refused() {
        let refused = Err(FlowError::Invalid(InvalidNetwork::ObjectiveTooLarge));
        // Three self-loops forced to i64::MAX - 1 at cost i64::MIN: about -1.5 * 2^127.
        let mut loops = FlowProblem::new(1);
        for _ in 0..3 {
            loops.add_arc(0, 0, 0, i64::MAX - 1, i64::MIN);
        }
        // Four pairs of opposite arcs forced to 2^62 at cost i64::MAX: about 2^128.
        let mut pairs = FlowProblem::new(2);
        for _ in 0..4 {
            pairs.add_arc(0, 1, 1 << 62, 1 << 62, i64::MAX);
            pairs.add_arc(1, 0, 1 << 62, 1 << 62, i64::MAX);
        }
        for p in [&loops, &pairs] {
            assert_eq!(NetworkSimplex::solve(p).map(|s| s.cost), refused);
            for method in [FlowMethod::NetworkSimplex, FlowMethod::CostScaling] {
                assert_eq!(MinCostFlow::solve_with(p, method).map(|s| s.cost), refused);
            }
            assert_eq!(CostScaling::solve(p), None);
            let cost: Vec<i128> = p.cost.iter().map(|&c| c as i128).collect();
            assert_eq!(
                NetworkSimplex::solve_with_costs(p, &cost).map(|s| s.cost),
                refused
            );
        }
        // Two loops more at cost i64::MAX, forced to i64::MAX - 1: the total is back inside.
        for _ in 0..2 {
            loops.add_arc(0, 0, i64::MAX - 1, i64::MAX - 1, i64::MAX);
        }
        let f = (i64::MAX - 1) as i128;
        // Summed in this order it stays inside i128 (the solvers sum the loops in theirs).
        let (up, down) = (f * i64::MAX as i128, f * i64::MIN as i128);
        let want = up + up + down + down + down;
        assert_eq!(NetworkSimplex::solve(&loops).map(|s| s.cost), Ok(want));
        assert_eq!(CostScaling::solve(&loops).map(|s| s.cost), Some(want));
    }

    #[test]
    fn costs_beyond_i64_potentials_are_solved_in_i128() {
        let mut p = transport();
        p.cost = vec![i64::MAX / 4, 1, 1, i64::MAX / 4];
        let s = NetworkSimplex::solve(&p).unwrap();
        // Sink 2 takes at most 2 units over its cheap arc, so 2 go over the dear one.
        assert_eq!(s.flow, [2, 1, 2, 0]);
        assert_eq!(s.cost, 2 * (i64::MAX / 4) as i128 + 3);
        oracle::check_certificate(&p, &p.cost, &s);
    }

    #[test]
    fn the_lexicographic_flow_is_cheapest_among_the_most_valuable() {
        // Two ways to move 1 unit from 0 to 1: same value, the second one cheaper.
        let mut p = FlowProblem::new(2);
        p.supply = vec![1, -1];
        p.add_arc(0, 1, 0, 1, 0);
        p.add_arc(0, 1, 0, 1, 0);
        let s = NetworkSimplex::solve_lexicographic(&p, &[-5, -5], &[7, 3]).unwrap();
        assert_eq!((s.flow.as_slice(), s.cost), (&[0, 1][..], 3));
    }

    /// One change of a network for the warm-start tests, its numbers taken modulo the
    /// network's size: `(kind, node or arc, another node, amount)`.
    type Change = (u8, usize, usize, i64);

    fn change() -> impl Strategy<Value = Change> {
        (0u8..6, 0usize..64, 0usize..64, -4i64..=4)
    }

    /// Apply `c` to `p`: a supply moved between two nodes, an arc's cost or upper bound
    /// changed, an arc taken away (bounded to 0), an arc added, or a node added with an arc
    /// to it and a demand.
    fn apply(p: &mut FlowProblem, (kind, x, y, d): Change) {
        let (n, m) = (p.nodes, p.arcs());
        match kind {
            0 => {
                p.supply[x % n] += d;
                p.supply[y % n] -= d;
            }
            1 if m > 0 => p.cost[x % m] += d,
            2 if m > 0 => {
                let a = x % m;
                if p.upper[a] != INFINITE {
                    p.upper[a] = (p.upper[a] + d).max(p.lower[a]);
                }
            }
            3 if m > 0 => {
                let a = x % m;
                (p.lower[a], p.upper[a]) = (0, 0);
            }
            4 => {
                p.add_arc(x % n, y % n, 0, d.abs() + 1, d * 3);
            }
            5 => {
                p.nodes += 1;
                p.supply.push(-d.abs());
                p.supply[x % n] += d.abs();
                p.add_arc(y % n, n, 0, INFINITE, d + 2);
            }
            _ => {}
        }
    }

    /// Solve `p` from `start` and check it against a cold solve: the same verdict, the same
    /// optimum, potentials that certify it. Returns the warm solution.
    fn warm_equals_cold(p: &FlowProblem, start: &FlowSolution) -> Option<FlowSolution> {
        let basis = start.basis.as_ref().expect("a basis");
        let warm = NetworkSimplex::solve_from(
            p,
            &WarmStart {
                basis,
                flow: &start.flow,
            },
        );
        let cold = NetworkSimplex::solve(p);
        match (&warm, &cold) {
            (Ok(w), Ok(c)) => {
                assert_eq!(w.cost, c.cost, "warm {} cold {}", w.cost, c.cost);
                oracle::check_certificate(p, &p.cost, w);
            }
            (Err(FlowError::Infeasible(_)), Err(FlowError::Infeasible(_))) => {}
            _ => assert_eq!(warm.clone().err(), cold.clone().err(), "{warm:?} {cold:?}"),
        }
        warm.ok()
    }

    /// Transportation-shaped networks of up to 12 suppliers and 30 customers with a few
    /// candidate links each, enough supply for every demand.
    fn larger_network() -> impl Strategy<Value = FlowProblem> {
        (2usize..12, 2usize..30).prop_flat_map(|(s, t)| {
            let links = prop::collection::vec((0..s, 0..t, 0i64..50, 1i64..6), t..4 * t);
            let demand = prop::collection::vec(1i64..4, t);
            (links, demand).prop_map(move |(links, demand)| {
                let mut p = FlowProblem::new(s + t + 1);
                let total: i64 = demand.iter().sum();
                for (i, d) in demand.iter().enumerate() {
                    p.supply[s + i] = -d;
                }
                for i in 0..s {
                    p.supply[i] = total / s as i64;
                }
                // The rest, and whatever the links cannot carry, through a dear dummy node.
                let dummy = s + t;
                p.supply[dummy] = total - (total / s as i64) * s as i64;
                for i in 0..s {
                    p.add_arc(i, dummy, 0, INFINITE, 0);
                }
                for i in 0..t {
                    p.add_arc(dummy, s + i, 0, INFINITE, 1000);
                }
                for (a, b, c, cap) in links {
                    p.add_arc(a, s + b, 0, cap, c);
                }
                p
            })
        })
    }

    /// `p` with its supplies, bounds and finite capacities times `s` and its costs times `k`
    /// (`None` where a number leaves i64): the same verdict, and optima `s * k` times `p`'s
    /// (a min-cost flow on integers has an integral optimum, and its LP scales).
    fn scaled(p: &FlowProblem, s: i64, k: i64) -> Option<FlowProblem> {
        let mut q = p.clone();
        let times = |x: &mut i64, by: i64| x.checked_mul(by).map(|y| *x = y);
        for x in q.supply.iter_mut().chain(&mut q.lower) {
            times(x, s)?;
        }
        for u in q.upper.iter_mut().filter(|u| **u != INFINITE) {
            times(u, s)?;
            // A finite bound that lands on INFINITE would read as none.
            (*u != INFINITE).then_some(())?;
        }
        for c in &mut q.cost {
            times(c, k)?;
        }
        Some(q)
    }

    /// The bound `run` checks for `p` ([`flow_bound`], lower bounds shifted as `run` does).
    fn bound_of(p: &FlowProblem) -> i128 {
        let mut supply: Vec<i128> = p.supply.iter().map(|&x| x as i128).collect();
        let mut real = Vec::new();
        for a in (0..p.arcs()).filter(|&a| p.source[a] != p.target[a]) {
            supply[p.source[a]] -= p.lower[a] as i128;
            supply[p.target[a]] += p.lower[a] as i128;
            real.push(a);
        }
        flow_bound(p, &real, &supply, &p.cost).0
    }

    /// Networks of 2 or 3 nodes and 2 to 4 arcs (at most one without an upper bound), no
    /// self-loops, supplies balanced on the last node or none: arcs of negative cost have
    /// capacities up to 2 and the others up to 6, so that the latter often exceed what an
    /// optimum needs while negative cycles need all of theirs, the case where lowering
    /// capacities must keep the negative arcs' room.
    fn wide_network() -> impl Strategy<Value = FlowProblem> {
        (2usize..=3).prop_flat_map(|n| {
            let arc = (0..n, 1..n, -1i64..=1, 0.0..1.0f64, -3i64..=5);
            // Circulations half the time: with no supply, negative cycles are all the flow.
            let supply = prop_oneof![Just(vec![0; n]), prop::collection::vec(-3i64..=3, n)];
            (supply, prop::collection::vec(arc, 2..=4)).prop_map(move |(mut supply, arcs)| {
                let sum: i64 = supply.iter().sum();
                supply[n - 1] -= sum;
                let mut p = FlowProblem::new(n);
                p.supply = supply;
                let mut unbounded = false;
                for (s, shift, lo, x, c) in arcs {
                    // Another node: s + shift (mod n) with 1 <= shift < n.
                    let t = (s + shift) % n;
                    let up = if x < 0.15 && !unbounded {
                        unbounded = true;
                        INFINITE
                    } else if c < 0 {
                        lo + (x * 3.0) as i64
                    } else {
                        lo + (x * 7.0) as i64
                    };
                    p.add_arc(s, t, lo, up, c);
                }
                p
            })
        })
    }

    /// `p`'s bound with its capacities lowered to `P + N + 1` (see [`flow_bound`]) whether or
    /// not they need to be; `None` where they may not be.
    fn lowered_bound_of(p: &FlowProblem) -> Option<i128> {
        let real: Vec<usize> = (0..p.arcs())
            .filter(|&a| p.source[a] != p.target[a])
            .collect();
        let mut supply: Vec<i128> = p.supply.iter().map(|&x| x as i128).collect();
        let mut negative = 0i128;
        for &a in &real {
            supply[p.source[a]] -= p.lower[a] as i128;
            supply[p.target[a]] += p.lower[a] as i128;
            if p.cost[a] < 0 {
                negative += shifted_capacity(p, a)?;
            }
        }
        let positive: i128 = supply.iter().filter(|&&x| x > 0).sum();
        let (mut out, mut into) = (vec![0i128; p.nodes], vec![0i128; p.nodes]);
        for &a in &real {
            if let Some(c) = shifted_capacity(p, a) {
                let c = c.min(positive + negative + 1);
                out[p.source[a]] += c;
                into[p.target[a]] += c;
            }
        }
        let sides: i128 = out.iter().zip(&into).map(|(o, i)| *o.max(i)).sum();
        Some(positive + sides / 2)
    }

    proptest! {
        // Cheap cases, and a bound too weak (the supplies alone) or capacities lowered too
        // far (to the supplies) show only in one case in a few hundred.
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Small networks scaled until their flow bound sits just under `FLOW_LIMIT` (flows
        /// near 2^63, costs up to 2^59): the optimum is the enumerated one times the scales,
        /// with potentials that certify it, and cost scaling agrees where it answers; in debug
        /// builds any overflow on the way panics. With `lowered`, scaled until the bound with
        /// lowered capacities sits there (where capacities exceed what optima need, the solve
        /// then lowers them). One scale step more is refused wherever the bound then passes
        /// the limit.
        #[test]
        fn networks_just_under_the_flow_bound_are_solved_exactly(
            p in prop_oneof![oracle::network(), wide_network()],
            k in prop_oneof![Just(1i64), 1i64..=1 << 56],
            lowered in any::<bool>(),
        ) {
            let finite = p.upper.iter().filter(|&&u| u != INFINITE);
            let widest = p.supply.iter().chain(&p.lower).chain(finite)
                .map(|x| x.unsigned_abs()).max().unwrap_or(1).max(1) as i128;
            let fits = (i64::MAX - 1) as i128 / widest;
            let bound = match lowered_bound_of(&p) {
                Some(b) if lowered => b,
                _ => bound_of(&p),
            };
            // One more: the bound halves a sum, which rounds down at scale 1 and not at scale s.
            let mut s = (FLOW_LIMIT as i128 / (bound + 1)).min(fits) as i64;
            // Lowered capacities add 1 each beyond the linear growth: a step back at most.
            for _ in 0..8 {
                if s > 1 && bound_of(&scaled(&p, s, k).unwrap()) > FLOW_LIMIT as i128 {
                    s -= 1;
                }
            }
            prop_assert!(bound_of(&scaled(&p, s, k).unwrap()) <= FLOW_LIMIT as i128);
            let q = scaled(&p, s, k).unwrap();
            let got = NetworkSimplex::solve(&q);
            let via_cost_scaling = MinCostFlow::solve_with(&q, FlowMethod::CostScaling);
            // Where cost scaling declines, network simplex answers for it: the same verdict.
            prop_assert_eq!(
                got.as_ref().map(|s| s.cost),
                via_cost_scaling.as_ref().map(|s| s.cost)
            );
            match oracle::brute_force(&p, &p.cost) {
                Truth::Optimal(c) => {
                    let sol = got.unwrap();
                    prop_assert_eq!(sol.cost, c * s as i128 * k as i128);
                    oracle::check_certificate(&q, &q.cost, &sol);
                    if let Some(cs) = CostScaling::solve(&q) {
                        prop_assert_eq!(cs.cost, sol.cost);
                        oracle::check_certificate(&q, &q.cost, &cs);
                    }
                }
                Truth::Unbounded => prop_assert_eq!(got, Err(FlowError::Unbounded)),
                Truth::Infeasible => {
                    prop_assert!(matches!(got, Err(FlowError::Infeasible(_))), "{:?}", got);
                }
            }
            if let Some(over) = scaled(&p, s + 1, k) {
                let b = bound_of(&over);
                if b > FLOW_LIMIT as i128 {
                    let got = NetworkSimplex::solve(&over).map(|s| s.cost);
                    prop_assert!(
                        matches!(
                            got,
                            Err(FlowError::Unbounded)
                                | Err(FlowError::Invalid(InvalidNetwork::SuppliesTooLarge))
                        ) || got == too_large(b),
                        "{:?}", got
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A warm start from the optimum of a network before a change gives the optimum
        /// after it, whatever the change (or says infeasible or unbounded where a cold solve
        /// does).
        #[test]
        fn warm_starts_reach_the_cold_optimum(
            p in oracle::network(),
            changes in prop::collection::vec(change(), 1..4),
        ) {
            let Ok(first) = NetworkSimplex::solve(&p) else {
                return Ok(());
            };
            let mut q = p.clone();
            for c in changes {
                apply(&mut q, c);
            }
            warm_equals_cold(&q, &first);
        }

        /// Chains of warm starts on larger networks: each solve starts from the last one's
        /// optimum, and every one equals a cold solve.
        #[test]
        fn chained_warm_starts_stay_optimal(
            p in larger_network(),
            batches in prop::collection::vec(prop::collection::vec(change(), 1..4), 1..6),
        ) {
            let mut last = NetworkSimplex::solve(&p).expect("the dummy node makes it feasible");
            let mut q = p;
            for batch in batches {
                for c in batch {
                    apply(&mut q, c);
                }
                match warm_equals_cold(&q, &last) {
                    Some(s) => last = s,
                    None => break,
                }
            }
        }

        /// Against enumeration of every integer flow: the same verdict, the same optimum, and
        /// potentials that certify it; the basis's potentials zero every tree arc.
        #[test]
        fn agrees_with_brute_force(p in oracle::network()) {
            let got = NetworkSimplex::solve(&p);
            match oracle::brute_force(&p, &p.cost) {
                Truth::Optimal(c) => {
                    let s = got.unwrap();
                    prop_assert_eq!(s.cost, c);
                    oracle::check_certificate(&p, &p.cost, &s);
                    let basis = s.basis.unwrap();
                    let pi = basis.potentials(&p.cost);
                    for &u in &basis.order {
                        if let (Some(parent), Some(a)) = (basis.parent[u], basis.arc[u]) {
                            prop_assert!([u, parent].contains(&p.source[a]));
                            prop_assert!([u, parent].contains(&p.target[a]));
                            prop_assert_eq!(p.cost[a] as i128 + pi[p.source[a]] - pi[p.target[a]], 0);
                        }
                    }
                }
                Truth::Unbounded => prop_assert_eq!(got, Err(FlowError::Unbounded)),
                Truth::Infeasible => {
                    prop_assert!(matches!(got, Err(FlowError::Infeasible(_))), "{:?}", got);
                }
            }
        }

        /// The lexicographic solve is the least (primary, secondary) pair, on bounded networks.
        #[test]
        fn lexicographic_agrees_with_brute_force(
            mut p in oracle::network(),
            weights in prop::collection::vec((-3i64..=3, -3i64..=3), 6),
        ) {
            for a in 0..p.arcs() {
                if p.upper[a] == INFINITE {
                    p.upper[a] = p.lower[a] + 3;
                }
            }
            let primary: Vec<i64> = weights[..p.arcs()].iter().map(|w| w.0).collect();
            let secondary: Vec<i64> = weights[..p.arcs()].iter().map(|w| w.1).collect();
            let got = NetworkSimplex::solve_lexicographic(&p, &primary, &secondary);
            match oracle::brute_force_lexicographic(&p, &primary, &secondary) {
                Some((first, second)) => {
                    let s = got.unwrap();
                    let value: i128 = (0..p.arcs()).map(|a| s.flow[a] as i128 * primary[a] as i128).sum();
                    prop_assert_eq!((value, s.cost), (first, second));
                }
                None => prop_assert!(matches!(got, Err(FlowError::Infeasible(_))), "{:?}", got),
            }
        }
    }
}
