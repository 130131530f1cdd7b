//! The shapes of `bench/seed/seed.sql`, so scenarios address seeded rows by formula.

/// Admins are users `1..=ADMINS_MAX`.
pub const ADMINS_MAX: i32 = 8;
/// The big DM (1,000,000 messages) between users 11 and 12.
pub const BIG_DM: i64 = 101_001;
/// Its first participant.
pub const BIG_DM_USER: i32 = 11;
/// Messages in the big DM; their ids are the odd numbers `1..2*BIG_DM_MESSAGES`.
pub const BIG_DM_MESSAGES: i64 = 1_000_000;
/// The user with 1,000 DMs.
pub const HUB_USER: i32 = 200_000;

/// A seeded conversation the send scenarios write into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    /// Its id.
    pub id: i64,
    /// Side one (the support user, or the lower user id of a DM).
    pub user1: i32,
    /// Side two of a DM; `None` for support.
    pub user2: Option<i32>,
}

/// Support conversation `c` (1..=100,000) of user `1000 + c`.
pub fn support(c: i64) -> Conv {
    Conv { id: c, user1: 1000 + c as i32, user2: None }
}

/// "Other" DM number `j` (0..49,000), taken from the upper half of the seeded DMs so
/// its users do not overlap the first 49,000 support users.
pub fn dm(j: i64) -> Conv {
    let n = 50_000 + j;
    Conv { id: 101_002 + n, user1: 1001 + n as i32, user2: Some(1002 + (n + (n % 7) * 13) as i32) }
}

/// `support` conversations and `dms` DMs, interleaved (support, DM, support, ...).
pub fn mixed(support_count: i64, dms: i64) -> Vec<Conv> {
    let mut out = Vec::new();
    for k in 0..support_count.max(dms) {
        if k < support_count {
            out.push(support(k + 1));
        }
        if k < dms {
            out.push(dm(k));
        }
    }
    out
}

/// `count` "other" DMs (see [`dm`]) no two of which share a user: pairs whose sockets
/// hear only each other.
pub fn disjoint_dms(count: usize) -> Vec<Conv> {
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(count);
    for j in 0..49_000 - 1 {
        if out.len() == count {
            break;
        }
        let c = dm(j);
        let users = [c.user1, c.user2.unwrap_or(c.user1)];
        if users.iter().all(|u| !used.contains(u)) {
            used.extend(users);
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_match_the_seed() {
        // seed.sql: support g -> user 1000+g; other DMs n -> (1001+n, 1002+n+(n%7)*13).
        assert_eq!(support(1), Conv { id: 1, user1: 1001, user2: None });
        let d = dm(3); // n = 50003, n % 7 = 2
        assert_eq!(d, Conv { id: 151_005, user1: 51_004, user2: Some(51_031) });
        assert_eq!(mixed(2, 1).iter().map(|c| c.id).collect::<Vec<_>>(), vec![1, dm(0).id, 2]);
    }

    #[test]
    fn disjoint_dms_share_no_user() {
        let dms = disjoint_dms(7_000);
        assert_eq!(dms.len(), 7_000);
        let mut users: Vec<i32> = dms.iter().flat_map(|c| [c.user1, c.user2.unwrap()]).collect();
        let n = users.len();
        users.sort_unstable();
        users.dedup();
        assert_eq!(users.len(), n);
    }
}
