//! The split of the linked graph into connected components, solved independently.

use super::Edge;
use petgraph::unionfind::UnionFind;
use std::collections::HashMap;

/// A connected part of the need-resource graph with at least one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub needs: Vec<usize>,
    pub resources: Vec<usize>,
    pub edges: Vec<usize>,
}

/// Split the linked part of the graph into connected components, ordered by their first need.
pub fn components(num_resources: usize, num_needs: usize, edges: &[Edge]) -> Vec<Component> {
    let mut uf = UnionFind::<usize>::new(num_resources + num_needs);
    for e in edges {
        uf.union(e.resource(), num_resources + e.need());
    }
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut comps: Vec<Component> = Vec::new();
    let mut need_has_edge = vec![false; num_needs];
    let mut res_has_edge = vec![false; num_resources];
    for e in edges {
        need_has_edge[e.need()] = true;
        res_has_edge[e.resource()] = true;
    }
    for (n, _) in need_has_edge.iter().enumerate().filter(|(_, &h)| h) {
        let root = uf.find(num_resources + n);
        let next = comps.len();
        let c = *by_root.entry(root).or_insert(next);
        if c == next {
            comps.push(Component {
                needs: Vec::new(),
                resources: Vec::new(),
                edges: Vec::new(),
            });
        }
        comps[c].needs.push(n);
    }
    for (r, _) in res_has_edge.iter().enumerate().filter(|(_, &h)| h) {
        let c = by_root[&uf.find(r)];
        comps[c].resources.push(r);
    }
    for (i, e) in edges.iter().enumerate() {
        let c = by_root[&uf.find(e.resource())];
        comps[c].edges.push(i);
    }
    comps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_the_connected_parts_in_order_of_their_first_need() {
        // r0-n1, r1-n0, r1-n2, r2 alone, n3 alone: two components, the one of n0 first.
        let edges = [
            Edge::new(0, 1, 1.0, None),
            Edge::new(1, 0, 1.0, None),
            Edge::new(1, 2, 1.0, None),
        ];
        let c = components(3, 4, &edges);
        assert_eq!(
            c,
            vec![
                Component {
                    needs: vec![0, 2],
                    resources: vec![1],
                    edges: vec![1, 2],
                },
                Component {
                    needs: vec![1],
                    resources: vec![0],
                    edges: vec![0],
                },
            ]
        );
    }
}
