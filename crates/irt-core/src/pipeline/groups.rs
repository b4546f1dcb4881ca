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
use crate::window::GroupsRead;

use super::reported::finite;

/// The fewest persons a group may have: its latent variance's standard error is then about
/// √(2/n) = 14 % of the variance, and a group's mean and variance from fewer are more noise
/// than estimate.
const MIN_GROUP_PERSONS: usize = 100;

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

/// Puts each person of `data` in their group as read, renumbered so that the reference group
/// is 0 and the others follow by name; refuses an unknown reference group and groups smaller
/// than [`MIN_GROUP_PERSONS`]. Returns the groups and the names of those whose persons all left
/// with the excluded items.
pub(super) fn arrange(
    data: &mut Responses,
    read: GroupsRead,
    setting: &GroupSetting,
) -> Result<(Groups, Vec<String>)> {
    let GroupsRead { names, of_user } = read;
    let mut persons = alloc::filled(names.len(), 0usize, "the groups")?;
    for &g in &of_user {
        persons[g as usize] += 1;
    }
    let emptied = (0..names.len())
        .filter(|&g| persons[g] == 0)
        .map(|g| names[g].clone())
        .collect();
    let mut order: Vec<usize> = (0..names.len()).filter(|&g| persons[g] > 0).collect();
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
    data.set_groups(alloc::collect(
        of_user.iter().map(|&g| code[g as usize]),
        "the groups",
    )?)?;
    let groups = Groups {
        column: setting.column.clone(),
        names: order.iter().map(|&g| names[g].clone()).collect(),
        persons: order.iter().map(|&g| persons[g]).collect(),
        latents: Vec::new(),
        latent_ses: Vec::new(),
    };
    Ok((groups, emptied))
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

    /// `n` persons with one answer each.
    fn persons(n: usize) -> Responses {
        let triples: Vec<(u32, u32, bool)> = (0..n as u32).map(|i| (i, 0, i % 2 == 0)).collect();
        Responses::from_triples(n, 1, &triples).unwrap()
    }

    /// Groups read as "b", "c", "a", each person's by `sizes` in that order.
    fn read(sizes: [usize; 3]) -> GroupsRead {
        GroupsRead {
            names: ["b", "c", "a"].map(String::from).to_vec(),
            of_user: (0..3u32)
                .flat_map(|g| std::iter::repeat_n(g, sizes[g as usize]))
                .collect(),
        }
    }

    fn setting(reference: Option<&str>) -> GroupSetting {
        GroupSetting {
            column: "school".into(),
            reference: reference.map(String::from),
        }
    }

    #[test]
    fn the_reference_comes_first_and_small_groups_are_refused() {
        let err = arrange(&mut persons(320), read([150, 50, 120]), &setting(None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "groups of school with fewer than 100 persons to estimate a latent distribution from: \"c\" (50 persons)"
        );
        // "c" lost its persons with the excluded items: the largest is the reference, the rest
        // follow by name, and "c" is named as emptied.
        let (groups, emptied) =
            arrange(&mut persons(270), read([150, 0, 120]), &setting(None)).unwrap();
        assert_eq!(
            (groups.names, groups.persons, emptied),
            (
                vec!["b".into(), "a".into()],
                vec![150, 120],
                vec!["c".to_string()]
            )
        );
        let mut data = persons(270);
        let (groups, _) = arrange(&mut data, read([150, 0, 120]), &setting(Some("a"))).unwrap();
        assert_eq!(groups.names, ["a", "b"]);
        assert_eq!((data.group(0), data.group(149), data.group(150)), (1, 1, 0));
        assert_eq!(data.n_groups(), 2);
    }
}
