//! The transportation fast path: one dimension, divisible needs, default uses, no fairness.
//! Such a component is a min-cost flow and goes to [`NetworkSimplex`], not to the LP.
//!
//! Network: source -> resource (capacity), resource -> need (one uncapacitated arc per link),
//! need -> sink (between `min_fill * demand` and `demand`), and sink -> source closing the
//! circulation. Quantities are scaled by 10^k to exact integers; per-unit values and costs
//! `p_n / d_n` and `c_e / d_n` become integers after multiplying by the least common multiple
//! of the scaled demands. The lexicographic objective (most value, then cheapest) is one exact
//! flow ([`NetworkSimplex::solve_lexicographic`]). One-to-one components go to the assignment
//! solver instead. When a quantity does not scale exactly, or a bound would overflow, the
//! component falls back to the LP (`None`).

use crate::assignment::{solve_assignment, AssignmentProblem};
use crate::flow::{FlowProblem, NetworkSimplex, INFINITE};
use crate::lp::{positive, SolvedBy, SubModel, SubResult, SubStatus};
use crate::model::{Fairness, Objective, SolverChoice};

/// Scale of costs that are not short decimals (see [`SubModel::solve_by_flow`]).
const COST_ROUNDING: i64 = 10_000;

/// Smallest power of ten (up to 10^6) that makes every value an integer, exactly.
fn decimal_scale(values: impl Iterator<Item = f64> + Clone) -> Option<i64> {
    'k: for k in 0..=6 {
        let f = 10f64.powi(k);
        for x in values.clone() {
            let y = x * f;
            if !y.is_finite() || y.abs() > 1e15 || (y - y.round()).abs() > 1e-9 * y.abs().max(1.0) {
                continue 'k;
            }
        }
        return Some(10i64.pow(k as u32));
    }
    None
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

impl SubModel<'_> {
    /// Whether this sub-model is SPEC's transportation case the flow solver takes: one
    /// dimension, default uses, no fairness, no indivisible need, `solver: auto`, and an
    /// objective other than `weighted` (its real weight does not scale exactly).
    pub fn is_transportation(&self) -> bool {
        let s = self.scenario;
        s.policy.solver == SolverChoice::Auto
            && s.policy.fairness == Fairness::None
            && s.policy.objective != Objective::Weighted
            && self.net.num_dims() == 1
            && !self.net.has_use_override
            && self.needs.iter().all(|&n| !s.needs[n].indivisible)
    }

    /// Solve through the flow or assignment solver; `None` when the sub-model is not the
    /// transportation case or its data do not scale exactly.
    pub fn solve_by_flow(&self) -> Option<SubResult> {
        if !self.is_transportation() {
            return None;
        }
        let s = self.scenario;
        let net = self.net;
        let objective = s.policy.objective;
        // Quantities: capacities, demands, and the min_fill part of each demand.
        let q = decimal_scale(
            self.resources
                .iter()
                .map(|&r| net.cap(r)[0])
                .chain(self.needs.iter().map(|&n| net.dem(n)[0]))
                .chain(
                    self.needs
                        .iter()
                        .map(|&n| net.dem(n)[0] * s.needs[n].min_fill),
                ),
        )?;
        let qf = q as f64;
        let scaled = |x: f64| (x * qf).round() as i64;
        // Common multiple of the scaled demands, so per-unit values and costs are integers.
        let mut lcm: i64 = 1;
        for &n in self.needs {
            let d = scaled(net.dem(n)[0]);
            if d <= 0 {
                return None;
            }
            lcm = lcm.checked_mul(d / gcd(lcm, d))?;
            if lcm > 1_000_000 {
                return None;
            }
        }
        // Costs built from distances (`cost_per_km * km`) are not decimals: they are rounded
        // to 1e-4 of a cost unit, which moves C by at most 1e-4 per full service routed and
        // leaves V exact. Costs given as decimals scale exactly.
        let kc =
            decimal_scale(self.edges.iter().map(|&e| net.edges[e].cost)).unwrap_or(COST_ROUNDING);
        let kp = decimal_scale(self.needs.iter().map(|&n| s.needs[n].priority))?;

        if let Some(r) = self.solve_one_to_one(kc, kp) {
            return Some(r);
        }
        // Nodes: 0 source, 1 sink, resources, then needs.
        let nr = self.resources.len();
        let mut local_res = std::collections::HashMap::with_capacity(nr);
        for (i, &r) in self.resources.iter().enumerate() {
            local_res.insert(r, 2 + i);
        }
        let mut local_need = std::collections::HashMap::with_capacity(self.needs.len());
        for (i, &n) in self.needs.iter().enumerate() {
            local_need.insert(n, 2 + nr + i);
        }
        let nodes = 2 + nr + self.needs.len();
        let mut p = FlowProblem::new(nodes);
        let mut value_cost: Vec<i64> = Vec::new(); // -value per unit, per arc
        let mut money_cost: Vec<i64> = Vec::new(); // cost per unit, per arc
        let unit = |n: usize, x: f64, k: i64| -> Option<i64> {
            // x per full need -> per scaled unit, times lcm and 10^k: exact by construction.
            let d = scaled(net.dem(n)[0]);
            let v = (x * k as f64).round() as i128 * (lcm / d) as i128;
            i64::try_from(v).ok()
        };
        let mut link_arcs = Vec::with_capacity(self.edges.len());
        for &e in self.edges {
            let edge = &net.edges[e];
            let n = edge.need();
            let from = local_res[&edge.resource()];
            let to = local_need[&n];
            // Uncapacitated: the need arc already bounds it, and a redundant bound here would
            // take the need's dual when the basis is degenerate.
            let a = p.add_arc(from, to, 0, INFINITE, 0);
            link_arcs.push(a);
            let c = unit(n, edge.cost, kc)?;
            let v = unit(n, s.needs[n].priority, kp)?;
            value_cost.push(-v);
            money_cost.push(c);
        }
        let mut cap_arcs = Vec::with_capacity(nr);
        for &r in self.resources {
            cap_arcs.push(p.add_arc(0, local_res[&r], 0, scaled(net.cap(r)[0]), 0));
            value_cost.push(0);
            money_cost.push(0);
        }
        let mut need_arcs = Vec::with_capacity(self.needs.len());
        for &n in self.needs {
            let d = scaled(net.dem(n)[0]);
            let lo = scaled(net.dem(n)[0] * s.needs[n].min_fill);
            need_arcs.push(p.add_arc(local_need[&n], 1, lo, d, 0));
            value_cost.push(0);
            money_cost.push(0);
        }
        p.add_arc(1, 0, 0, INFINITE, 0);
        value_cost.push(0);
        money_cost.push(0);

        let solved = match objective {
            Objective::Coverage => {
                NetworkSimplex::solve_lexicographic(&p, &value_cost, &money_cost)
            }
            _ => {
                p.cost = money_cost.clone();
                NetworkSimplex::solve(&p)
            }
        };
        // An infeasible flow (a min_fill that cannot hold) goes to the LP, whose elastic
        // diagnosis names the needs; so does anything too large for exact integers.
        let sol = solved.ok()?;

        let x: Vec<f64> = self
            .edges
            .iter()
            .zip(&link_arcs)
            .map(|(&e, &a)| {
                let d = scaled(net.dem(net.edges[e].need())[0]);
                sol.flow[a] as f64 / d as f64
            })
            .collect();

        // Duals of the stage that sets the main objective, from the final basis.
        let (stage_cost, stage_scale) = match objective {
            Objective::Coverage => (&value_cost, kp as f64 * lcm as f64),
            _ => (&money_cost, kc as f64 * lcm as f64),
        };
        let pi = sol.basis.as_ref()?.potentials(stage_cost);
        let gain = |a: usize| -> f64 {
            if sol.flow[a] < p.upper[a] {
                return 0.0;
            }
            let rc = stage_cost[a] as i128 + pi[p.source[a]] - pi[p.target[a]];
            positive(-(rc as f64) * qf / stage_scale)
        };
        let shadow = self
            .resources
            .iter()
            .zip(&cap_arcs)
            .map(|(&r, &a)| (r, 0usize, gain(a)))
            .collect();
        let marginal = self
            .needs
            .iter()
            .zip(&need_arcs)
            .map(|(&n, &a)| gain(a) * net.dem(n)[0])
            .collect();
        Some(SubResult {
            status: SubStatus::Optimal,
            x,
            shadow,
            marginal,
            gap: None,
            mip: false,
            solved_by: SolvedBy::NetworkSimplex,
            infeasible_needs: Vec::new(),
            infeasible_groups: Vec::new(),
            error: None,
        })
    }
}

/// Largest dense matrix (rows x columns) the one-to-one route builds.
const MAX_ASSIGNMENT_CELLS: usize = 25_000_000;

impl SubModel<'_> {
    /// One-to-one matching (every need of demand 1, every resource of capacity 1, min_fill 0
    /// or 1) goes to the assignment solver: measured 3.7x faster than the network simplex on a
    /// dense 2000 x 2000 instance (`cargo bench --bench solvers -- dense_2000`). Rows are
    /// needs; columns are resources plus one "unserved" column per need (cost 0; forbidden
    /// for needs with min_fill 1). Coverage is lexicographic through `M * value + cost` with
    /// `M = 2 N max|cost| + 1` (a plan's total cost spans less than `M`); its duals come from
    /// a second, value-only solve. `None` when the component is not one-to-one, too large, or
    /// does not fit exact 64-bit costs.
    fn solve_one_to_one(&self, kc: i64, kp: i64) -> Option<SubResult> {
        let s = self.scenario;
        let net = self.net;
        let unit = |x: f64| x == 1.0;
        let one_to_one = self.needs.iter().all(|&n| {
            unit(net.dem(n)[0]) && (s.needs[n].min_fill == 0.0 || s.needs[n].min_fill == 1.0)
        }) && self.resources.iter().all(|&r| unit(net.cap(r)[0]));
        let (rows, real) = (self.needs.len(), self.resources.len());
        let cols = real + rows;
        if !one_to_one || rows.checked_mul(cols)? > MAX_ASSIGNMENT_CELLS {
            return None;
        }
        let col_of: std::collections::HashMap<usize, usize> = self
            .resources
            .iter()
            .enumerate()
            .map(|(i, &r)| (r, i))
            .collect();
        let row_of: std::collections::HashMap<usize, usize> = self
            .needs
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, i))
            .collect();
        let money: Vec<i64> = self
            .edges
            .iter()
            .map(|&e| (net.edges[e].cost * kc as f64).round() as i64)
            .collect();
        let value: Vec<i64> = self
            .needs
            .iter()
            .map(|&n| (s.needs[n].priority * kp as f64).round() as i64)
            .collect();
        let max_money = money.iter().map(|c| c.unsigned_abs()).max().unwrap_or(0) as i128;
        let max_value = value.iter().map(|c| c.unsigned_abs()).max().unwrap_or(0) as i128;
        let coverage = s.policy.objective == Objective::Coverage;
        let m = if coverage {
            2 * rows as i128 * max_money + 1
        } else {
            0
        };
        if (m * max_value + max_money) * 2 * (rows as i128 + 2) > (i64::MAX / 8) as i128 {
            return None;
        }
        let build = |w: &dyn Fn(usize) -> i64| {
            let mut p = AssignmentProblem::sparse(rows, cols);
            for (j, &e) in self.edges.iter().enumerate() {
                let edge = &net.edges[e];
                p.add(row_of[&edge.need()], col_of[&edge.resource()], w(j));
            }
            for (i, &n) in self.needs.iter().enumerate() {
                if s.needs[n].min_fill == 0.0 {
                    for d in real..cols {
                        p.cost[i * cols + d] = 0;
                    }
                }
            }
            p
        };
        let edge_row = |j: usize| row_of[&net.edges[self.edges[j]].need()];
        let plan = build(&|j| {
            let v = if coverage {
                m as i64 * value[edge_row(j)]
            } else {
                0
            };
            money[j] - v
        });
        let a = solve_assignment(&plan).ok()?;
        let x: Vec<f64> = self
            .edges
            .iter()
            .map(|&e| {
                let edge = &net.edges[e];
                let chosen = a.col_of_row[row_of[&edge.need()]] == Some(col_of[&edge.resource()]);
                if chosen {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        // Duals of the stage that sets the main objective.
        let (duals, scale) = if coverage {
            let v_only = build(&|j| -value[edge_row(j)]);
            (solve_assignment(&v_only).ok()?, kp as f64)
        } else {
            (a, kc as f64)
        };
        let gain = |p: i64| positive(-(p as f64) / scale);
        Some(SubResult {
            status: SubStatus::Optimal,
            x,
            shadow: (0..real)
                .map(|c| (self.resources[c], 0, gain(duals.col_potential[c])))
                .collect(),
            marginal: duals.row_potential.iter().map(|&u| gain(u)).collect(),
            gap: None,
            mip: false,
            solved_by: SolvedBy::Assignment,
            infeasible_needs: Vec::new(),
            infeasible_groups: Vec::new(),
            error: None,
        })
    }
}
