//! Groups of persons in a run (`groups => column`): the reference group chosen, the groups
//! numbered from it, groups too small to estimate refused, and each group's latent distribution
//! as the run reports it.

use serde_json::{json, Value};

use crate::alloc;
use crate::em::FitResult;
use crate::error::{CoreError, Result};
use crate::linking::{transform_latent, LinkingConstants};
use crate::quadrature::Latent;
use crate::responses::Responses;
use crate::settings::GroupSetting;

use super::reported::finite;

/// The fewest persons a group may have: its latent variance's standard error is then about
/// √(2/n) = 14 % of the variance, and a group's mean and variance from fewer are more noise
/// than estimate.
pub const MIN_GROUP_PERSONS: usize = 100;

/// The groups of a run, the reference group first, the others by name.
#[derive(Clone, Debug, PartialEq)]
pub struct Groups {
    pub column: String,
    pub names: Vec<String>,
    /// Persons in each group, after exclusions.
    pub persons: Vec<usize>,
    /// Each group's latent distribution on the reported scale, once fitted.
    pub latents: Vec<Latent>,
    /// The standard errors of each group's mean and variance on the reported scale, where the
    /// fit has them: those of the fit carried by the linking slope (the uncertainty of the
    /// linking constants is not in them).
    pub latent_ses: Vec<[Option<f64>; 2]>,
}

/// Renumbers the groups of `data` (numbered as `names` were read) so that the reference group
/// is 0 and the others follow by name; refuses an unknown reference group and groups smaller
/// than [`MIN_GROUP_PERSONS`].
pub(super) fn arrange(
    data: &mut Responses,
    names: Vec<String>,
    setting: &GroupSetting,
) -> Result<Groups> {
    let mut persons = alloc::filled(names.len(), 0usize, "the groups")?;
    for i in 0..data.n_persons() {
        persons[data.group(i)] += 1;
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&g, &h| names[g].cmp(&names[h]));
    let listed = || {
        order
            .iter()
            .map(|&g| format!("\"{}\"", names[g]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reference = match &setting.reference {
        Some(name) => order
            .iter()
            .position(|&g| &names[g] == name)
            .ok_or_else(|| CoreError::UnknownReferenceGroup {
                column: setting.column.clone(),
                name: name.clone(),
                groups: listed(),
            })?,
        // The largest; of equal ones the first by name.
        None => (0..order.len())
            .max_by_key(|&k| (persons[order[k]], std::cmp::Reverse(k)))
            .ok_or(CoreError::NoAnswers)?,
    };
    let reference = order.remove(reference);
    order.insert(0, reference);
    let small: Vec<String> = order
        .iter()
        .filter(|&&g| persons[g] < MIN_GROUP_PERSONS)
        .map(|&g| format!("\"{}\" ({} persons)", names[g], persons[g]))
        .collect();
    if !small.is_empty() {
        return Err(CoreError::SmallGroups {
            column: setting.column.clone(),
            groups: small.join(", "),
            minimum: MIN_GROUP_PERSONS,
        });
    }
    let mut code = alloc::filled(names.len(), 0u16, "the groups")?;
    for (new, &old) in order.iter().enumerate() {
        code[old] = new as u16;
    }
    let of_person = alloc::collect(
        (0..data.n_persons()).map(|i| code[data.group(i)]),
        "the groups",
    )?;
    data.set_groups(of_person)?;
    Ok(Groups {
        column: setting.column.clone(),
        names: order.iter().map(|&g| names[g].clone()).collect(),
        persons: order.iter().map(|&g| persons[g]).collect(),
        latents: Vec::new(),
        latent_ses: Vec::new(),
    })
}

impl Groups {
    /// Puts the fit's group distributions on the reported scale.
    pub(super) fn report(&mut self, fit: &FitResult, applied: &LinkingConstants) {
        self.latents = fit
            .group_latents
            .iter()
            .map(|&l| transform_latent(l, applied))
            .collect();
        let scale = [applied.slope.abs(), applied.slope * applied.slope];
        self.latent_ses = (0..self.names.len())
            .map(|g| {
                [0, 1].map(|k| {
                    let v = fit.group_latent_covariances.as_ref()?[g][k][k];
                    (v > 0.0).then(|| scale[k] * v.sqrt())
                })
            })
            .collect();
    }

    /// `model_spec->'groups'`.
    pub fn record(&self) -> Value {
        let groups: Vec<Value> = (0..self.names.len())
            .map(|g| {
                let Latent { mean, variance } = self.latents[g];
                let [mean_se, variance_se] = self.latent_ses[g].map(|se| se.map(finite));
                json!({
                    "group": self.names[g],
                    "persons": self.persons[g],
                    "mean": finite(mean),
                    "variance": finite(variance),
                    "mean_se": mean_se,
                    "variance_se": variance_se,
                })
            })
            .collect();
        json!({"column": self.column, "reference": self.names[0], "groups": groups})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Groups read as "b", "c", "a" with 150, 50 and 120 persons.
    fn data() -> Responses {
        let sizes = [150, 50, 120];
        let n: usize = sizes.iter().sum();
        let triples: Vec<(u32, u32, bool)> = (0..n as u32).map(|i| (i, 0, i % 2 == 0)).collect();
        let mut data = Responses::from_triples(n, 1, &triples).unwrap();
        let of_person = (0..3u16)
            .flat_map(|g| std::iter::repeat_n(g, sizes[usize::from(g)]))
            .collect();
        data.set_groups(of_person).unwrap();
        data
    }

    fn names() -> Vec<String> {
        ["b", "c", "a"].map(String::from).to_vec()
    }

    fn setting(reference: Option<&str>) -> GroupSetting {
        GroupSetting {
            column: "school".into(),
            reference: reference.map(String::from),
        }
    }

    #[test]
    fn the_reference_comes_first_and_small_groups_are_refused() {
        let err = arrange(&mut data(), names(), &setting(None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "groups of school with fewer than 100 persons to estimate a latent distribution from: \"c\" (50 persons)"
        );
        // Groups "b" and "a" only: the largest is the reference, the rest follow by name.
        let triples: Vec<(u32, u32, bool)> = (0..270).map(|i| (i, 0, i % 2 == 0)).collect();
        let mut two = Responses::from_triples(270, 1, &triples).unwrap();
        two.set_groups((0..270).map(|i| u16::from(i >= 150)).collect())
            .unwrap();
        let names = vec!["b".to_string(), "a".to_string()];
        let groups = arrange(&mut two.clone(), names.clone(), &setting(None)).unwrap();
        assert_eq!(
            (groups.names, groups.persons),
            (vec!["b".into(), "a".into()], vec![150, 120])
        );
        let groups = arrange(&mut two, names, &setting(Some("a"))).unwrap();
        assert_eq!(groups.names, ["a", "b"]);
        assert_eq!((two.group(0), two.group(149), two.group(150)), (1, 1, 0));
    }
}
