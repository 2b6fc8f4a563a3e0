//! Test support: random small instances (proptest strategies), brute-force oracles that
//! enumerate every integer flow or assignment, and checks of the optimality certificates the
//! solvers return (potentials, duals).

use crate::assignment::{Assignment, AssignmentProblem, FORBIDDEN};
use crate::problem::{FlowProblem, FlowSolution, INFINITE};
use proptest::prelude::*;

/// What enumeration finds for a flow problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Truth {
    Infeasible,
    Unbounded,
    /// The least cost, and the least `(primary, secondary)` pair when asked for one.
    Optimal(i128),
}

/// At most this many arcs without an upper bound in a generated network (each multiplies the
/// enumeration by its range).
const MAX_UNBOUNDED_ARCS: usize = 2;

/// Networks of 1 to 4 nodes and 1 to 6 arcs: self-loops, parallel arcs, negative costs and
/// lower bounds, some arcs without an upper bound; supplies balanced on the last node.
pub(crate) fn network() -> impl Strategy<Value = FlowProblem> {
    (1usize..=4).prop_flat_map(|n| {
        let lower = prop_oneof![3 => Just(0i64), 1 => -1i64..=1];
        let width = prop_oneof![4 => (0i64..=2).prop_map(Some), 1 => Just(None)];
        let arc = (0..n, 0..n, lower, width, -3i64..=5);
        (
            prop::collection::vec(-2i64..=2, n),
            prop::collection::vec(arc, 1..=6),
        )
            .prop_map(move |(mut supply, arcs)| {
                let sum: i64 = supply.iter().sum();
                supply[n - 1] -= sum;
                let mut p = FlowProblem::new(n);
                p.supply = supply;
                let mut unbounded = 0;
                for (s, t, lo, width, c) in arcs {
                    let up = match width {
                        None if unbounded < MAX_UNBOUNDED_ARCS => {
                            unbounded += 1;
                            INFINITE
                        }
                        w => lo + w.unwrap_or(2),
                    };
                    p.add_arc(s, t, lo, up, c);
                }
                p
            })
    })
}

/// Every integer flow of `p` within its bounds (arcs without an upper bound up to a bound no
/// optimal flow needs to exceed), as `f(flow)` for each one that conserves flow.
fn each_flow(p: &FlowProblem, mut f: impl FnMut(&[i64])) {
    let m = p.arcs();
    // A bounded problem has an optimal flow whose uncapacitated arcs carry at most the total
    // supply (lower bounds shifted in) plus every finite capacity: in a decomposition into
    // paths and cycles, each cycle of negative cost crosses a finite arc.
    let spread: i64 = p.supply.iter().map(|s| s.abs()).sum::<i64>()
        + p.lower.iter().map(|l| l.abs()).sum::<i64>()
        + (0..m)
            .filter(|&a| p.upper[a] != INFINITE)
            .map(|a| p.upper[a] - p.lower[a])
            .sum::<i64>()
        + 1;
    let top: Vec<i64> = (0..m)
        .map(|a| {
            if p.upper[a] == INFINITE {
                p.lower[a] + spread
            } else {
                p.upper[a]
            }
        })
        .collect();
    let mut x = p.lower.clone();
    let mut balance = vec![0i64; p.nodes];
    loop {
        balance.iter_mut().for_each(|b| *b = 0);
        for a in 0..m {
            balance[p.source[a]] += x[a];
            balance[p.target[a]] -= x[a];
        }
        if balance == p.supply {
            f(&x);
        }
        // The next vector in mixed radix.
        let mut a = 0;
        loop {
            if a == m {
                return;
            }
            if x[a] < top[a] {
                x[a] += 1;
                break;
            }
            x[a] = p.lower[a];
            a += 1;
        }
    }
}

/// Whether arcs without an upper bound close a cycle of negative cost (Bellman-Ford from a
/// virtual source; a self-loop is a cycle of one arc).
pub(crate) fn negative_free_cycle(p: &FlowProblem, cost: &[i64]) -> bool {
    let free: Vec<usize> = (0..p.arcs()).filter(|&a| p.upper[a] == INFINITE).collect();
    let mut d = vec![0i64; p.nodes];
    for _ in 0..=p.nodes {
        let mut changed = false;
        for &a in &free {
            let cand = d[p.source[a]] + cost[a];
            if cand < d[p.target[a]] {
                d[p.target[a]] = cand;
                changed = true;
            }
        }
        if !changed {
            return false;
        }
    }
    true
}

/// The truth about `p` by enumeration, for the cost `cost`. A problem both infeasible and
/// with a negative cycle is infeasible: without a flow there is no objective to be unbounded.
pub(crate) fn brute_force(p: &FlowProblem, cost: &[i64]) -> Truth {
    let mut best: Option<i128> = None;
    each_flow(p, |x| {
        let c: i128 = x
            .iter()
            .zip(cost)
            .map(|(&f, &c)| f as i128 * c as i128)
            .sum();
        best = Some(best.map_or(c, |b| b.min(c)));
    });
    match best {
        None => Truth::Infeasible,
        Some(_) if negative_free_cycle(p, cost) => Truth::Unbounded,
        Some(c) => Truth::Optimal(c),
    }
}

/// The least `(primary, secondary)` cost pair over the flows of `p` (`None`: infeasible).
/// Only for networks whose arcs all have upper bounds.
pub(crate) fn brute_force_lexicographic(
    p: &FlowProblem,
    primary: &[i64],
    secondary: &[i64],
) -> Option<(i128, i128)> {
    let mut best: Option<(i128, i128)> = None;
    each_flow(p, |x| {
        let cost =
            |w: &[i64]| -> i128 { x.iter().zip(w).map(|(&f, &c)| f as i128 * c as i128).sum() };
        let pair = (cost(primary), cost(secondary));
        best = Some(best.map_or(pair, |b| b.min(pair)));
    });
    best
}

/// Checks that `s` is a flow of `p` of the cost it claims, and that its potentials certify it
/// optimal for `cost`: an arc of positive reduced cost is at its lower bound, one of negative
/// reduced cost at its upper bound (self-loops: the reduced cost is the cost).
pub(crate) fn check_certificate(p: &FlowProblem, cost: &[i64], s: &FlowSolution) {
    // In i128: flows near the solvers' limit add up beyond i64 at a node.
    let mut balance = vec![0i128; p.nodes];
    for a in 0..p.arcs() {
        assert!(
            p.lower[a] <= s.flow[a] && s.flow[a] <= p.upper[a],
            "arc {a} out of bounds"
        );
        balance[p.source[a]] += s.flow[a] as i128;
        balance[p.target[a]] -= s.flow[a] as i128;
        let rc = cost[a] as i128 + s.potential[p.source[a]] - s.potential[p.target[a]];
        if rc > 0 {
            assert_eq!(
                s.flow[a], p.lower[a],
                "arc {a}: rc {rc} > 0 above its lower bound"
            );
        }
        if rc < 0 {
            assert_eq!(
                s.flow[a], p.upper[a],
                "arc {a}: rc {rc} < 0 below its upper bound"
            );
        }
    }
    let supply: Vec<i128> = p.supply.iter().map(|&x| x as i128).collect();
    assert_eq!(balance, supply, "flow not conserved");
}

/// Assignment instances of up to 4 x 5 or 5 x 4 cells, costs in [-5, 20], some forbidden;
/// a third of them complete and square (the LAPJV path).
pub(crate) fn assignment_problem() -> impl Strategy<Value = AssignmentProblem> {
    let general = (1usize..=5, 1usize..=5).prop_flat_map(|(r, c)| {
        let cell = prop_oneof![5 => -5i64..=20, 1 => Just(FORBIDDEN)];
        prop::collection::vec(cell, r * c)
            .prop_map(move |cost| AssignmentProblem::dense(r, c, cost))
    });
    let square = (2usize..=5).prop_flat_map(|n| {
        prop::collection::vec(-5i64..=20, n * n)
            .prop_map(move |cost| AssignmentProblem::dense(n, n, cost))
    });
    prop_oneof![2 => general, 1 => square]
}

/// The least cost of an assignment of `p` by enumeration (`None`: no complete assignment):
/// every row gets a distinct column when rows <= cols, every column a distinct row otherwise.
pub(crate) fn brute_force_assignment(p: &AssignmentProblem) -> Option<i128> {
    fn go(
        p: &AssignmentProblem,
        row: usize,
        used: &mut Vec<bool>,
        cost: i128,
        transposed: bool,
        best: &mut Option<i128>,
    ) {
        let (rows, cols) = if transposed {
            (p.cols, p.rows)
        } else {
            (p.rows, p.cols)
        };
        if row == rows {
            *best = Some(best.map_or(cost, |b| b.min(cost)));
            return;
        }
        for col in 0..cols {
            let cell = if transposed {
                p.cost[col * p.cols + row]
            } else {
                p.cost[row * p.cols + col]
            };
            if used[col] || cell == FORBIDDEN {
                continue;
            }
            used[col] = true;
            go(p, row + 1, used, cost + cell as i128, transposed, best);
            used[col] = false;
        }
    }
    let transposed = p.rows > p.cols;
    let mut best = None;
    let mut used = vec![false; p.rows.max(p.cols)];
    go(p, 0, &mut used, 0, transposed, &mut best);
    best
}

/// Checks that `a` is an assignment of `p` of the cost it claims, and that its duals certify
/// it: `u_r + v_c <= cost` on every allowed pair with equality on the chosen ones, the larger
/// side's potentials <= 0 and 0 where unmatched, and the dual objective equal to the cost.
pub(crate) fn check_duals(p: &AssignmentProblem, a: &Assignment) {
    let (u, v) = (&a.row_potential, &a.col_potential);
    assert_eq!(
        (u.len(), v.len(), a.col_of_row.len()),
        (p.rows, p.cols, p.rows)
    );
    let mut col_used = vec![false; p.cols];
    let mut cost = 0i128;
    for (r, c) in a.col_of_row.iter().enumerate() {
        if let Some(c) = *c {
            assert!(!col_used[c], "column {c} used twice");
            col_used[c] = true;
            let cell = p.cost[r * p.cols + c];
            assert_ne!(cell, FORBIDDEN, "row {r} on a forbidden cell");
            cost += cell as i128;
            assert_eq!(u[r] + v[c], cell, "pair ({r}, {c}) chosen with slack");
        }
    }
    assert_eq!(cost, a.cost);
    for (r, &ur) in u.iter().enumerate() {
        for (c, &vc) in v.iter().enumerate() {
            let cell = p.cost[r * p.cols + c];
            if cell != FORBIDDEN {
                assert!(ur + vc <= cell, "pair ({r}, {c}) violates its dual row");
            }
        }
    }
    let row_matched: Vec<bool> = a.col_of_row.iter().map(Option::is_some).collect();
    let (wide, matched): (&[i64], &[bool]) = if p.rows <= p.cols {
        (v, &col_used)
    } else {
        (u, &row_matched)
    };
    for (k, (&w, &m)) in wide.iter().zip(matched).enumerate() {
        assert!(w <= 0, "potential {k} of the larger side is positive");
        if !m {
            assert_eq!(w, 0, "unmatched {k} has a potential");
        }
    }
    let dual: i128 = u.iter().chain(v).map(|&x| x as i128).sum();
    assert_eq!(dual, a.cost, "dual objective differs from the cost");
}
