//! A growable bitset over dense ids, used for tombstones.

/// One bit per id; a set bit means the id is disabled.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bitset {
    words: Vec<u64>,
    /// How many bits are set, so that a search can skip filtering when none are.
    count: usize,
}

impl Bitset {
    /// Whether `id` is set; ids beyond the end are not.
    #[inline]
    pub(crate) fn contains(&self, id: u32) -> bool {
        let id = id as usize;
        self.words
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Sets `id`, growing as needed; returns whether it was newly set.
    pub(crate) fn insert(&mut self, id: u32) -> bool {
        let id = id as usize;
        if self.words.len() <= id / 64 {
            self.words.resize(id / 64 + 1, 0);
        }
        let word = &mut self.words[id / 64];
        let bit = 1 << (id % 64);
        let new = *word & bit == 0;
        *word |= bit;
        self.count += usize::from(new);
        new
    }

    /// Clears `id`; returns whether it was set.
    pub(crate) fn remove(&mut self, id: u32) -> bool {
        let id = id as usize;
        let Some(word) = self.words.get_mut(id / 64) else {
            return false;
        };
        let bit = 1 << (id % 64);
        let was = *word & bit != 0;
        *word &= !bit;
        self.count -= usize::from(was);
        was
    }

    /// How many ids are set.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Heap bytes used.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}
