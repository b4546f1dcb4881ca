//! Where each estimated quantity sits in the flat parameter vector that EM moves, and how the
//! vector packs and unpacks items and the latent distribution.

use crate::model::{ItemModel, ItemParams};
use crate::mstep::FreeCoords;
use crate::params::FitConfig;
use crate::quadrature::Latent;

/// Where each estimated quantity sits in the flat parameter vector that EM moves.
pub(crate) struct Layout {
    pub model: ItemModel,
    /// Free items with the coordinates each estimates, in item order.
    pub free: Vec<(usize, FreeCoords)>,
    pub free_mean: bool,
    pub free_variance: bool,
}

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

    pub(crate) fn new(config: &FitConfig) -> Self {
        Self {
            model: config.model,
            free: (0..config.fixed.len())
                .filter(|&j| config.fixed[j].is_none())
                .map(|j| (j, Self::item_coords(config, j)))
                .collect(),
            free_mean: config.free_mean(),
            free_variance: config.free_variance(),
        }
    }

    pub fn common_slope(&self) -> bool {
        self.model == ItemModel::OnePL
    }

    /// Offsets of each free item's coordinates, then of the common slope, mean and variance.
    pub fn offsets(&self) -> (Vec<usize>, Option<usize>, Option<usize>, Option<usize>) {
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
        let mean = take(self.free_mean);
        let variance = take(self.free_variance);
        (items, slope, mean, variance)
    }

    pub fn len(&self) -> usize {
        let (_, _, mean, variance) = self.offsets();
        self.n_item_coords() + [mean, variance].iter().flatten().count()
    }

    /// How many leading coordinates belong to items (the common slope included); the latent
    /// mean and variance follow.
    pub fn n_item_coords(&self) -> usize {
        let own: usize = self.free.iter().map(|(_, c)| c.indices().len()).sum();
        own + usize::from(self.common_slope())
    }

    pub(crate) fn pack(&self, items: &[ItemParams], latent: Latent) -> Vec<f64> {
        let mut x = Vec::with_capacity(self.len());
        for &(j, free) in &self.free {
            let c = items[j].coords();
            x.extend(free.indices().iter().map(|&i| c[i]));
        }
        if self.common_slope() {
            x.push(items[self.free[0].0].slope());
        }
        if self.free_mean {
            x.push(latent.mean);
        }
        if self.free_variance {
            x.push(latent.variance);
        }
        x
    }

    pub(crate) fn unpack(
        &self,
        x: &[f64],
        template: &[ItemParams],
        latent: Latent,
    ) -> (Vec<ItemParams>, Latent) {
        let (offsets, slope, mean, variance) = self.offsets();
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
        let latent = Latent {
            mean: mean.map_or(latent.mean, |m| x[m]),
            variance: variance.map_or(latent.variance, |v| x[v]),
        };
        (items, latent)
    }
}
