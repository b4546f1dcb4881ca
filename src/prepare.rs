//! Which items and users a run keeps: items with too few answers in the window, or answered
//! all right or all wrong, are excluded (and listed); users left with no answers drop out.

use irt_core::Responses;

use crate::load::Answers;

pub struct Excluded {
    pub item_id: String,
    pub reason: String,
}

/// The answers the model sees, with ids of the kept items and users.
pub struct Prepared {
    pub responses: Responses,
    pub item_ids: Vec<String>,
    pub user_ids: Vec<String>,
    pub excluded: Vec<Excluded>,
}

pub fn exclude_items(answers: Answers, min_responses: i64) -> Prepared {
    let stats = answers.responses.item_stats();
    let mut excluded = Vec::new();
    let mut new_index = vec![None; stats.len()];
    let mut item_ids = Vec::new();
    for (j, s) in stats.iter().enumerate() {
        let all = |outcome: &str| {
            if s.n == 1 {
                format!("its only answer {outcome}")
            } else {
                format!("all {} answers {outcome}", s.n)
            }
        };
        let reason = if (s.n as i64) < min_responses {
            Some(format!(
                "{} answer{}, fewer than min_responses = {min_responses}",
                s.n,
                if s.n == 1 { "" } else { "s" }
            ))
        } else if s.n_correct == s.n {
            Some(all("correct"))
        } else if s.n_correct == 0 {
            Some(all("wrong"))
        } else {
            None
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
        return Prepared {
            responses: answers.responses,
            item_ids,
            user_ids: answers.user_ids,
            excluded,
        };
    }
    let data = &answers.responses;
    let mut kept = Responses::with_items(item_ids.len());
    let mut user_ids = Vec::new();
    for (i, user) in answers.user_ids.iter().enumerate() {
        let (items, correct) = data.person(i);
        let answered: Vec<(u32, bool)> = items
            .iter()
            .zip(correct)
            .filter_map(|(&j, &x)| new_index[j as usize].map(|k| (k, x == 1)))
            .collect();
        if !answered.is_empty() {
            kept.push_person(answered)
                .expect("indices come from the kept items");
            user_ids.push(user.clone());
        }
    }
    Prepared {
        responses: kept,
        item_ids,
        user_ids,
        excluded,
    }
}
