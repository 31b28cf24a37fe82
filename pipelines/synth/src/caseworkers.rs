//! Caseworkers (handläggare) with turnover.
//!
//! Each unit has a number of posts in proportion to the municipality's size;
//! each post is held by one caseworker after another, each staying an
//! exponentially distributed time (mean 14 months in child and youth units,
//! where turnover is highest, 30 elsewhere). A case is given a post when it
//! opens; about half the cases are handed over to another post once (from
//! investigation to follow-up, say) within their first year. Whoever holds
//! the case's post on a day is its caseworker that day, so a post changing
//! hands moves its cases too: the continuity the indicator
//! `caseworkers_first_6m` measures.
//!
//! Everything here is drawn from its own stream or from a hash of the case
//! id, so the rest of the municipality is the same with or without it.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::source;

/// One post's holders: (first day, caseworker id in the source system).
type Post = Vec<(NaiveDate, String)>;

pub struct Caseworkers {
    posts: HashMap<&'static str, Vec<Post>>,
    /// Cases of the household being written: unit, opening day, post, handover.
    cases: HashMap<String, Assignment>,
    seed: u64,
}

struct Assignment {
    unit: &'static str,
    post: usize,
    /// The day the case moves to another post, and which.
    handover: Option<(NaiveDate, usize)>,
}

impl Caseworkers {
    pub fn new(seed: u64, clients: usize) -> Caseworkers {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0ca5_e0f0_1cc3);
        let from = NaiveDate::from_ymd_opt(2019, 1, 1).expect("a date");
        let to = NaiveDate::from_ymd_opt(2027, 1, 1).expect("a date");
        let per_unit = (clients / 3000).max(3);
        let mut posts = HashMap::new();
        let mut serial = 0u32;
        for (code, _, area) in source::UNITS {
            let mean_days = if *area == "child_youth" { 14.0 * 30.4 } else { 30.0 * 30.4 };
            let mut unit_posts = Vec::new();
            for _ in 0..per_unit {
                let mut post = Vec::new();
                // Start part-way through a tenure so that posts do not all change hands at once.
                let mut day = from - Duration::days(rng.random_range(0..(mean_days as i64)));
                while day < to {
                    serial += 1;
                    post.push((day, format!("hl{serial:05}")));
                    let u: f64 = rng.random_range(f64::EPSILON..1.0);
                    day += Duration::days((-u.ln() * mean_days).ceil().max(30.0) as i64);
                }
                unit_posts.push(post);
            }
            posts.insert(*code, unit_posts);
        }
        Caseworkers { posts, cases: HashMap::new(), seed }
    }

    /// Forget the cases of the previous household.
    pub fn next_household(&mut self) {
        self.cases.clear();
    }

    /// A case opened in `unit` on `opened`: its post, and maybe a handover.
    pub fn open(&mut self, case_id: &str, unit: &'static str, opened: NaiveDate) {
        let n = self.posts.get(unit).map_or(1, Vec::len);
        let h = self.hash(case_id);
        let post = (h % n as u64) as usize;
        let handover = (n > 1 && (h >> 20).is_multiple_of(2)).then(|| {
            let after = 30 + ((h >> 24) % 300) as i64;
            let other = (post + 1 + ((h >> 40) % (n as u64 - 1)) as usize) % n;
            (opened + Duration::days(after), other)
        });
        self.cases.insert(case_id.to_string(), Assignment { unit, post, handover });
    }

    /// The caseworker of a case on a day (empty for a case not opened here).
    pub fn on(&self, case_id: &str, day: NaiveDate) -> String {
        let Some(a) = self.cases.get(case_id) else { return String::new() };
        let post = match a.handover {
            Some((when, other)) if day >= when => other,
            _ => a.post,
        };
        let holders = &self.posts[a.unit][post];
        let i = holders.partition_point(|(first, _)| *first <= day);
        holders[i.saturating_sub(1)].1.clone()
    }

    fn hash(&self, text: &str) -> u64 {
        // FNV-1a, then a SplitMix64 finaliser: stable across runs and platforms.
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ self.seed;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= h >> 30;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}
