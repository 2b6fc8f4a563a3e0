//! A set of entity indices for the session's link adjacency, iterated in ascending order.
//!
//! One big component links every resource to thousands of needs and every need to most
//! resources, and each event inserts or removes thousands of entries (a withdrawal takes the
//! need out of its resources' sets and renumbers the need moved into its place). A set that
//! holds more than 1 in 32 of the indices below its largest is a bitset there: an insert or
//! a removal is one word, where a `BTreeSet<u32>` walked four levels of nodes. A sparse set
//! stays a sorted vector, so a session of many small components does not pay a bitset as
//! wide as its largest index for each entity.

/// Below this many entries a set stays sorted whatever its density.
const SMALL: usize = 64;

/// Indices in ascending order, either sorted in a vector or as bits.
#[derive(Debug, Clone)]
pub(crate) enum IndexSet {
    Sorted(Vec<u32>),
    /// Bit `i % 64` of word `i / 64` is set when `i` is in the set; `len` counts them.
    Bits {
        words: Vec<u64>,
        len: usize,
    },
}

impl Default for IndexSet {
    fn default() -> Self {
        IndexSet::Sorted(Vec::new())
    }
}

impl PartialEq for IndexSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for IndexSet {}

impl IndexSet {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            IndexSet::Sorted(v) => v.len(),
            IndexSet::Bits { len, .. } => *len,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn contains(&self, i: u32) -> bool {
        match self {
            IndexSet::Sorted(v) => v.binary_search(&i).is_ok(),
            IndexSet::Bits { words, .. } => words
                .get(i as usize / 64)
                .is_some_and(|w| w & (1 << (i % 64)) != 0),
        }
    }

    /// Adds `i`; returns whether it was new.
    pub(crate) fn insert(&mut self, i: u32) -> bool {
        match self {
            IndexSet::Sorted(v) => match v.binary_search(&i) {
                Ok(_) => false,
                Err(at) => {
                    v.insert(at, i);
                    self.densify();
                    true
                }
            },
            IndexSet::Bits { words, len } => {
                let w = i as usize / 64;
                if w >= words.len() {
                    if too_sparse(*len + 1, w + 1) {
                        // So far past the bits that they would be too sparse: a sorted
                        // vector, with `i` last.
                        let mut v: Vec<u32> = Iter::over(words).collect();
                        v.push(i);
                        *self = IndexSet::Sorted(v);
                        return true;
                    }
                    words.resize(w + 1, 0);
                }
                let bit = 1 << (i % 64);
                let new = words[w] & bit == 0;
                words[w] |= bit;
                *len += usize::from(new);
                new
            }
        }
    }

    /// Takes `i` out; returns whether it was there.
    pub(crate) fn remove(&mut self, i: u32) -> bool {
        let removed = match self {
            IndexSet::Sorted(v) => match v.binary_search(&i) {
                Ok(at) => {
                    v.remove(at);
                    true
                }
                Err(_) => false,
            },
            IndexSet::Bits { words, len } => {
                let bit = 1 << (i % 64);
                match words.get_mut(i as usize / 64) {
                    Some(w) if *w & bit != 0 => {
                        *w &= !bit;
                        *len -= 1;
                        // The width follows the largest index left.
                        while words.last() == Some(&0) {
                            words.pop();
                        }
                        true
                    }
                    _ => false,
                }
            }
        };
        if removed {
            self.sparsify();
        }
        removed
    }

    /// The indices in ascending order.
    pub(crate) fn iter(&self) -> Iter<'_> {
        match self {
            IndexSet::Sorted(v) => Iter::Sorted(v.iter()),
            IndexSet::Bits { words, .. } => Iter::over(words),
        }
    }

    /// A sorted set that grew to more than 1 in 32 of the indices below its largest becomes
    /// bits (which then take less room than the vector).
    fn densify(&mut self) {
        if let IndexSet::Sorted(v) = self {
            let Some(&last) = v.last() else { return };
            if v.len() >= SMALL && v.len() * 32 > last as usize + 1 {
                let mut words = vec![0u64; last as usize / 64 + 1];
                for &i in v.iter() {
                    words[i as usize / 64] |= 1 << (i % 64);
                }
                *self = IndexSet::Bits {
                    words,
                    len: v.len(),
                };
            }
        }
    }

    /// Bits that fell below 1 in 128 of their width (or below `SMALL / 2` entries) go back to
    /// a sorted vector (an insert far past the bits checks the same on its own); the gap to
    /// `densify`'s 1 in 32 keeps a set near the line from switching at every event.
    fn sparsify(&mut self) {
        if let IndexSet::Bits { words, len } = self {
            if too_sparse(*len, words.len()) {
                *self = IndexSet::Sorted(self.iter().collect());
            }
        }
    }
}

/// Bits of `len` entries over `words` words hold fewer than 1 in 128 of their width, or fewer
/// than `SMALL / 2` entries: a sorted vector serves them better.
fn too_sparse(len: usize, words: usize) -> bool {
    len < SMALL / 2 || len * 128 < words * 64
}

impl FromIterator<u32> for IndexSet {
    /// Any order, repeats allowed.
    fn from_iter<T: IntoIterator<Item = u32>>(iter: T) -> Self {
        let mut v: Vec<u32> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        let mut s = IndexSet::Sorted(v);
        s.densify();
        s
    }
}

impl<'a> IntoIterator for &'a IndexSet {
    type Item = u32;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// [`IndexSet::iter`].
pub(crate) enum Iter<'a> {
    Sorted(std::slice::Iter<'a, u32>),
    /// `word` holds the bits of `words[at]` not yet returned.
    Bits {
        words: &'a [u64],
        at: usize,
        word: u64,
    },
}

impl<'a> Iter<'a> {
    fn over(words: &'a [u64]) -> Iter<'a> {
        Iter::Bits {
            words,
            at: 0,
            word: words.first().copied().unwrap_or(0),
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        match self {
            Iter::Sorted(it) => it.next().copied(),
            Iter::Bits { words, at, word } => loop {
                if *word != 0 {
                    let bit = word.trailing_zeros();
                    *word &= *word - 1;
                    return Some((*at * 64) as u32 + bit);
                }
                *at += 1;
                *word = *words.get(*at)?;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IndexSet;
    use crate::seeds::SplitMix64;
    use std::collections::BTreeSet;

    #[test]
    fn a_dense_set_becomes_bits_and_a_thinned_one_goes_back() {
        let mut s: IndexSet = (0..200).collect();
        assert!(matches!(s, IndexSet::Bits { .. }));
        for i in 0..190 {
            assert!(s.remove(i));
        }
        assert!(matches!(s, IndexSet::Sorted(_)));
        assert_eq!(s.iter().collect::<Vec<_>>(), (190..200).collect::<Vec<_>>());
        // Far apart: stays sorted however many.
        let s: IndexSet = (0..100).map(|i| i * 1000).collect();
        assert!(matches!(s, IndexSet::Sorted(_)));
        // Bits never grow wider than 128 times the entries: an index far past them turns
        // the set into a vector, and removing the largest narrows the bits.
        let mut s: IndexSet = (0..100).collect();
        assert!(s.insert(1_000_000));
        assert!(matches!(s, IndexSet::Sorted(_)));
        let want: Vec<u32> = (0..100).chain([1_000_000]).collect();
        assert_eq!(s.iter().collect::<Vec<_>>(), want);
        let mut s: IndexSet = (0..1000).collect();
        for i in (200..1000).rev() {
            assert!(s.remove(i));
        }
        assert!(matches!(&s, IndexSet::Bits { words, .. } if words.len() == 4));
    }

    /// Random sequences of inserts and removals (seeded) give the answers and the ascending
    /// contents of a `BTreeSet`, across the switches between the two forms.
    #[test]
    fn index_set_behaves_as_a_btree_set() {
        let (mut to_bits, mut to_sorted) = (0, 0);
        for seed in 0..200 {
            let mut rng = SplitMix64::new(seed);
            let width = rng.int(1, 600) as u32;
            let start: Vec<u32> = (0..rng.int(0, 300))
                .map(|_| rng.int(0, u64::from(width) - 1) as u32)
                .collect();
            let mut s: IndexSet = start.iter().copied().collect();
            let mut b: BTreeSet<u32> = start.iter().copied().collect();
            // Phases that lean to inserts, then to removals, so sets cross both thresholds.
            let lean = rng.int(0, 1);
            for step in 0..3000 {
                let i = rng.int(0, u64::from(width) - 1) as u32;
                let add = (rng.int(0, 9) < 8) == ((step / 200) % 2 == lean);
                let was_bits = matches!(s, IndexSet::Bits { .. });
                if add {
                    assert_eq!(s.insert(i), b.insert(i), "seed {seed} step {step}");
                } else {
                    assert_eq!(s.remove(i), b.remove(&i), "seed {seed} step {step}");
                }
                assert_eq!(s.len(), b.len());
                assert_eq!(s.contains(i), b.contains(&i));
                match (was_bits, matches!(s, IndexSet::Bits { .. })) {
                    (false, true) => to_bits += 1,
                    (true, false) => to_sorted += 1,
                    _ => {}
                }
            }
            assert_eq!(
                s.iter().collect::<Vec<_>>(),
                b.iter().copied().collect::<Vec<_>>()
            );
            let again: IndexSet = b.iter().copied().collect();
            assert_eq!(s, again);
        }
        // The streams cross between the two forms both ways, many times.
        assert!(to_bits > 50 && to_sorted > 50, "{to_bits} {to_sorted}");
    }
}
