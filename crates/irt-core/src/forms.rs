//! Test forms: persons of one group who answered exactly the same items (a complete design,
//! or fixed forms), so that they also share a prior. Without guessing, log P − log Q = aθ + d is linear in θ, so the E-step can
//! give such a person the form's Σ log Q over the nodes, computed once per cycle, plus A·θ + D
//! with A and D summed over the right answers only; and the posterior mass of all answers to an
//! item of a form is the form's total mass, so only right answers are added up item by item.
//! On a complete test that is a few times less work per answer.

use crate::alloc;
use crate::error::Result;
use crate::responses::Responses;

/// A form is used when at least this many persons share it: below that, its per-cycle set-up
/// costs about what it saves.
const MIN_PERSONS: usize = 16;
/// At most this many forms, the most shared first, so that per-leaf accumulators stay small.
const MAX_FORMS: usize = 256;
const NO_FORM: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub struct Forms {
    of_person: Vec<u32>,
    /// A person who took each form, whose items are the form's.
    representative: Vec<usize>,
}

impl Forms {
    pub fn detect(data: &Responses) -> Result<Self> {
        let sets = data.item_sets()?;
        let mut kept: Vec<(usize, usize)> = (0..sets.first.len())
            .map(|f| (sets.first[f], sets.count[f]))
            .filter(|&(_, count)| count >= MIN_PERSONS)
            .collect();
        // Most shared first, ties by first person: the choice depends on the data alone.
        kept.sort_unstable_by_key(|&(first, count)| (std::cmp::Reverse(count), first));
        kept.truncate(MAX_FORMS);
        // Forms numbered in order of their first person, so that it finds them by search.
        let mut representative: Vec<usize> = kept.iter().map(|&(first, _)| first).collect();
        representative.sort_unstable();
        let of_person = if representative.is_empty() {
            Vec::new()
        } else {
            alloc::collect(
                sets.of_person.iter().map(|&set| {
                    representative
                        .binary_search(&sets.first[set as usize])
                        .map_or(NO_FORM, |f| f as u32)
                }),
                "the test forms",
            )?
        };
        Ok(Self {
            of_person,
            representative,
        })
    }

    pub fn len(&self) -> usize {
        self.representative.len()
    }

    pub fn is_empty(&self) -> bool {
        self.representative.is_empty()
    }

    /// The form person i took, if it is one of the kept forms.
    pub fn of(&self, i: usize) -> Option<usize> {
        self.of_person
            .get(i)
            .filter(|&&f| f != NO_FORM)
            .map(|&f| f as usize)
    }

    /// The items of form f.
    /// A person who took form f: every one of them answered the same items and is in the
    /// same group.
    pub fn representative(&self, f: usize) -> usize {
        self.representative[f]
    }

    pub fn items<'d>(&self, data: &'d Responses, f: usize) -> &'d [u32] {
        data.person(self.representative[f]).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_with_the_same_items_share_a_form() {
        let mut data = Responses::with_items(4);
        for i in 0..40u32 {
            let items: Vec<u32> = match i % 4 {
                0 | 2 => vec![0, 1, 2],
                1 => vec![3],
                _ => vec![1, 3],
            };
            data.push_person(items.into_iter().map(|j| (j, i % 3 == 0)))
                .unwrap();
        }
        let forms = Forms::detect(&data).unwrap();
        // 20 persons took items 0-2; the others split into two groups of 10, too few to count.
        assert_eq!(forms.len(), 1);
        assert_eq!(forms.items(&data, 0), &[0, 1, 2]);
        assert_eq!(forms.of(0), Some(0));
        assert_eq!(forms.of(1), None);
    }
}
