//! Where each estimated quantity sits in the flat parameter vector that EM moves, and how the
//! vector packs and unpacks items and the latent distribution of each group of persons.

use crate::model::{ItemModel, ItemParams};
use crate::mstep::FreeCoords;
use crate::params::FitConfig;
use crate::quadrature::Latent;

/// Where each estimated quantity sits in the flat parameter vector that EM moves.
pub(crate) struct Layout {
    pub model: ItemModel,
    /// Free items with the coordinates each estimates, in item order.
    pub free: Vec<(usize, FreeCoords)>,
    /// The reference group's (group 0's) latent mean and variance: free where anchors set the
    /// scale (and the variance under Rasch), else N(0, 1).
    pub free_mean: bool,
    pub free_variance: bool,
    /// Groups of persons: every group but the reference has its mean and variance estimated
    /// on the reference group's scale.
    pub groups: usize,
}

/// Where a group's latent mean and variance sit, where estimated.
pub(crate) type LatentCoords = [Option<usize>; 2];

impl Layout {
    /// What a free item of `model` estimates.
    pub(crate) fn coords(model: ItemModel) -> FreeCoords {
        match model {
            ItemModel::Rasch | ItemModel::OnePL => FreeCoords::INTERCEPT,
            ItemModel::TwoPL => FreeCoords::SLOPE_INTERCEPT,
            ItemModel::ThreePL => FreeCoords::SLOPE_INTERCEPT_GUESSING,
        }
    }

    /// The coordinates item j estimates when free: its model's, in its categories.
    pub(crate) fn item_coords(config: &FitConfig, j: usize) -> FreeCoords {
        let coords = Self::coords(config.item_models[j]);
        match config.categories[j] {
            Some((_, k)) => coords.in_categories(k),
            None => coords,
        }
    }

    pub(crate) fn new(config: &FitConfig, groups: usize) -> Self {
        Self {
            model: config.model,
            free: (0..config.fixed.len())
                .filter(|&j| config.fixed[j].is_none())
                .map(|j| (j, Self::item_coords(config, j)))
                .collect(),
            free_mean: config.free_mean(),
            free_variance: config.free_variance(),
            groups,
        }
    }

    /// Whether group g's (mean, variance) are estimated.
    pub fn group_free(&self, g: usize) -> (bool, bool) {
        if g == 0 {
            (self.free_mean, self.free_variance)
        } else {
            (true, true)
        }
    }

    /// Whether any group's latent distribution is estimated.
    pub fn any_latent_free(&self) -> bool {
        self.free_mean || self.free_variance || self.groups > 1
    }

    pub fn common_slope(&self) -> bool {
        self.model == ItemModel::OnePL
    }

    /// Offsets of each free item's coordinates, then of the common slope, then of each group's
    /// mean and variance.
    pub fn offsets(&self) -> (Vec<usize>, Option<usize>, Vec<LatentCoords>) {
        let mut next = 0;
        let items = self
            .free
            .iter()
            .map(|(_, c)| {
                let at = next;
                next += c.indices().len();
                at
            })
            .collect();
        let mut take = |on: bool| {
            on.then(|| {
                next += 1;
                next - 1
            })
        };
        let slope = take(self.common_slope());
        let latent = (0..self.groups)
            .map(|g| {
                let (mean, variance) = self.group_free(g);
                [take(mean), take(variance)]
            })
            .collect();
        (items, slope, latent)
    }

    pub fn len(&self) -> usize {
        let (_, _, latent) = self.offsets();
        self.n_item_coords() + latent.iter().flatten().flatten().count()
    }

    /// How many leading coordinates belong to items (the common slope included); the groups'
    /// latent means and variances follow.
    pub fn n_item_coords(&self) -> usize {
        let own: usize = self.free.iter().map(|(_, c)| c.indices().len()).sum();
        own + usize::from(self.common_slope())
    }

    pub(crate) fn pack(&self, items: &[ItemParams], latents: &[Latent]) -> Vec<f64> {
        let mut x = Vec::with_capacity(self.len());
        for &(j, free) in &self.free {
            let c = items[j].coords();
            x.extend(free.indices().iter().map(|&i| c[i]));
        }
        if self.common_slope() {
            x.push(items[self.free[0].0].slope());
        }
        for (g, latent) in latents.iter().enumerate() {
            let (mean, variance) = self.group_free(g);
            if mean {
                x.push(latent.mean);
            }
            if variance {
                x.push(latent.variance);
            }
        }
        x
    }

    /// The items and each group's latent distribution at `x`, what it does not hold from
    /// `template` and `latents`.
    pub(crate) fn unpack(
        &self,
        x: &[f64],
        template: &[ItemParams],
        latents: &[Latent],
    ) -> (Vec<ItemParams>, Vec<Latent>) {
        let (offsets, slope, coords) = self.offsets();
        let mut items = template.to_vec();
        for (&(j, free), &at) in self.free.iter().zip(&offsets) {
            let mut c = items[j].coords();
            for (k, &i) in free.indices().iter().enumerate() {
                c[i] = x[at + k];
            }
            if let Some(s) = slope {
                c[0] = x[s];
            }
            items[j] = items[j].at_coords(&c, free.guessing());
        }
        let latents = latents
            .iter()
            .zip(&coords)
            .map(|(latent, &[mean, variance])| Latent {
                mean: mean.map_or(latent.mean, |m| x[m]),
                variance: variance.map_or(latent.variance, |v| x[v]),
            })
            .collect();
        (items, latents)
    }
}
