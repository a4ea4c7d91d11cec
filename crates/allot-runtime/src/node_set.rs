//! Sets of node ids as bitmaps.

/// A set of node ids as a bitmap, with each member's rank: its index among the members
/// in node order. Building it and ranking take no sort and no search.
#[derive(Clone, Debug)]
pub(crate) struct NodeSet {
    words: Vec<u64>,
    /// Per word: the members in the words before it.
    before: Vec<u32>,
}

impl NodeSet {
    pub fn new(nodes: impl Iterator<Item = u32> + Clone) -> NodeSet {
        let len = nodes.clone().max().map_or(0, |max| max as usize / 64 + 1);
        let mut words = vec![0u64; len];
        for node in nodes {
            words[node as usize / 64] |= 1 << (node % 64);
        }
        let mut count = 0;
        let before = (words.iter())
            .map(|w| {
                let at = count;
                count += w.count_ones();
                at
            })
            .collect();
        NodeSet { words, before }
    }

    /// The members, in node order.
    pub fn nodes(&self) -> Vec<u32> {
        let mut nodes = Vec::with_capacity(self.before.last().map_or(0, |&b| b as usize + 64));
        NodeSet::each_common(&[self], |node| nodes.push(node));
        nodes
    }

    /// The rank of a member.
    pub fn rank(&self, node: u32) -> usize {
        let (w, bit) = (node as usize / 64, node % 64);
        let below = self.words[w] & ((1u64 << bit) - 1);
        (self.before[w] + below.count_ones()) as usize
    }

    /// Each node that is a member of every set, in node order.
    pub fn each_common(sets: &[&NodeSet], mut each: impl FnMut(u32)) {
        let words = sets.iter().map(|s| s.words.len()).min().unwrap_or(0);
        for w in 0..words {
            let mut bits = sets.iter().fold(u64::MAX, |bits, s| bits & s.words[w]);
            while bits != 0 {
                each(w as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }

    /// The rank of `node` when it is a member.
    pub fn position(&self, node: u32) -> Option<usize> {
        let word = *self.words.get(node as usize / 64)?;
        (word >> (node % 64) & 1 == 1).then(|| self.rank(node))
    }
}

#[cfg(test)]
mod tests {
    use super::NodeSet;

    #[test]
    fn a_members_position_is_its_index_in_node_order() {
        let members: Vec<u32> = (0..700).filter(|n| n % 3 == 0 || n % 7 == 1).collect();
        let set = NodeSet::new(members.iter().copied());
        assert_eq!(set.nodes(), members);
        for node in 0..800 {
            assert_eq!(
                set.position(node),
                members.binary_search(&node).ok(),
                "node {node}"
            );
        }
    }

    #[test]
    fn the_common_members_are_those_of_every_set() {
        let (a, b): (Vec<u32>, Vec<u32>) =
            ((0..900).step_by(2).collect(), (0..200).step_by(3).collect());
        let mut common = Vec::new();
        NodeSet::each_common(
            &[
                &NodeSet::new(a.iter().copied()),
                &NodeSet::new(b.iter().copied()),
            ],
            |node| common.push(node),
        );
        assert_eq!(common, (0..200).step_by(6).collect::<Vec<u32>>());
    }
}
