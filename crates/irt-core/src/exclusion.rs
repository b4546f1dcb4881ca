//! Which items and users a run keeps: items with too few answers in the window, or answered all
//! right or all wrong, are excluded (and listed with the reason); users left with no answers drop
//! out.

use crate::alloc;
use crate::error::Result;
use crate::responses::Responses;
use crate::window::{Answers, GroupsRead};

#[derive(Clone, Debug, PartialEq)]
pub struct Excluded {
    pub item_id: String,
    pub reason: String,
}

/// The answers the model sees, with the ids of the kept items and users.
pub struct Kept {
    pub responses: Responses,
    /// The answers are categories read from `score`, not right or wrong.
    pub scores: bool,
    pub item_ids: Vec<String>,
    pub user_ids: Vec<String>,
    pub excluded: Vec<Excluded>,
    /// Each kept user's group, where the source was read with a groups column.
    pub groups: Option<GroupsRead>,
}

pub fn exclude_items(answers: Answers, min_responses: usize) -> Result<Kept> {
    let stats = answers.responses.item_tallies()?;
    let mut excluded = Vec::new();
    let mut new_index = alloc::filled(stats.len(), None, "the kept items")?;
    let mut item_ids = Vec::new();
    for (j, s) in stats.iter().enumerate() {
        let all = |outcome: &str| {
            if s.n == 1 {
                format!("its only answer {outcome}")
            } else {
                format!("all {} answers {outcome}", s.n)
            }
        };
        let reason = if (s.n as usize) < min_responses {
            Some(format!(
                "{} answer{}, fewer than min_responses = {min_responses}",
                s.n,
                if s.n == 1 { "" } else { "s" }
            ))
        } else {
            s.constant().map(|x| match (answers.scores, x) {
                (true, _) => all(&format!("score {x}")),
                (false, 0) => all("wrong"),
                (false, _) => all("correct"),
            })
        };
        match reason {
            Some(reason) => excluded.push(Excluded {
                item_id: answers.item_ids[j].clone(),
                reason,
            }),
            None => {
                new_index[j] = Some(item_ids.len() as u32);
                item_ids.push(answers.item_ids[j].clone());
            }
        }
    }
    if excluded.is_empty() {
        // Every user read has an answer: nothing to rebuild.
        return Ok(Kept {
            responses: answers.responses,
            scores: answers.scores,
            item_ids,
            user_ids: answers.user_ids,
            excluded,
            groups: answers.groups,
        });
    }
    let (responses, persons) = answers.responses.keep_items(&new_index, item_ids.len())?;
    let user_ids = persons
        .iter()
        .map(|&i| answers.user_ids[i].clone())
        .collect();
    let groups = match answers.groups {
        Some(read) => Some(GroupsRead {
            of_user: alloc::collect(persons.iter().map(|&i| read.of_user[i]), "the groups")?,
            names: read.names,
        }),
        None => None,
    };
    Ok(Kept {
        responses,
        scores: answers.scores,
        item_ids,
        user_ids,
        excluded,
        groups,
    })
}
