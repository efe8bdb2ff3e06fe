//! Grants, access types and quotas (SPEC §6): the rules that decide whether an initiate may
//! create a job. Pure functions over the pair's grants and jobs, so that the store can evaluate
//! them inside its transaction and tests can exercise them without a database.

use dataport_types::{AccessType, State, Timestamp};

use crate::error::ApiError;
use crate::model::{Grant, GrantAccess, Job};

/// What the cooldown of time-based exports is counted per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CooldownKey {
    /// One initiate per (user, client, group) per cooldown (the default).
    #[default]
    Group,
    /// One initiate per (user, client) per cooldown, whatever the groups.
    Pair,
}

/// Quota policy for time-based grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub cooldown_seconds: i64,
    pub cooldown_key: CooldownKey,
}

impl Default for Quota {
    fn default() -> Self {
        Self { cooldown_seconds: 86_400, cooldown_key: CooldownKey::Group }
    }
}

/// Everything initiate's grant rules need besides the store's rows.
#[derive(Clone, Debug)]
pub struct InitiateRules {
    /// Groups the presented token grants.
    pub token_scopes: Vec<String>,
    pub quota: Quota,
}

/// Decides whether `job` may be created, in the order SPEC §4.1 fixes: E5, E8, E6, E7.
/// `grants` are the pair's grants, `jobs` the pair's jobs (at least the in-progress ones and those
/// created since the oldest grant). Returns the job's access type.
pub fn check_initiate(
    requested: &[String],
    start_time: Option<Timestamp>,
    end_time: Option<Timestamp>,
    grants: &[Grant],
    jobs: &[Job],
    rules: &InitiateRules,
    now: Timestamp,
) -> Result<AccessType, ApiError> {
    let live: Vec<&Grant> = requested
        .iter()
        .filter_map(|r| grants.iter().find(|g| &g.resource == r))
        .filter(|g| rules.token_scopes.contains(&g.resource))
        .filter(|g| g.access == GrantAccess::OneTime || g.expires_at.is_some_and(|e| e > now))
        .collect();
    if live.len() != requested.len() {
        let resources =
            requested.iter().filter(|r| !live.iter().any(|g| &&g.resource == r)).cloned().collect::<Vec<_>>();
        return Err(ApiError::ResourcesNotAuthorized { resources });
    }

    let access_type =
        if live.iter().any(|g| g.access == GrantAccess::OneTime) { AccessType::OneTime } else { AccessType::TimeBased };
    let cooldown = rules.quota.cooldown_seconds;

    if let Some(same) = jobs.iter().find(|j| {
        j.state == State::InProgress && j.resources == requested && j.start_time == start_time && j.end_time == end_time
    }) {
        let retry_at = (same.access_type == AccessType::TimeBased).then(|| same.created_at.plus_seconds(cooldown));
        return Err(ApiError::AlreadyExists { job_id: same.id.clone(), access_type: same.access_type, retry_at });
    }

    let exhausted: Vec<&Grant> =
        live.iter().copied().filter(|g| g.access == GrantAccess::OneTime && g.exhausted_at.is_some()).collect();
    if !exhausted.is_empty() {
        let mut previous: Vec<&Job> =
            exhausted.iter().flat_map(|g| initiated(jobs, &g.resource, g.granted_at)).collect();
        previous.sort_by_key(|j| (j.created_at, j.id.clone()));
        previous.dedup_by_key(|j| j.id.clone());
        return Err(ApiError::ResourceExhaustedOneTime {
            resources: exhausted.iter().map(|g| g.resource.clone()).collect(),
            previous_job_ids: previous.iter().map(|j| j.id.clone()).collect(),
        });
    }

    let time_based: Vec<&Grant> = live.iter().copied().filter(|g| g.access == GrantAccess::TimeBased).collect();
    let blocking: Vec<&Grant> = match rules.quota.cooldown_key {
        CooldownKey::Group => time_based.clone(),
        CooldownKey::Pair if time_based.is_empty() => Vec::new(),
        CooldownKey::Pair => grants.iter().collect(),
    }
    .into_iter()
    .filter(|g| g.last_initiate_at.is_some_and(|at| at.plus_seconds(cooldown) > now))
    .collect();
    if let Some(retry_at) = blocking.iter().filter_map(|g| g.last_initiate_at).max().map(|at| at.plus_seconds(cooldown))
    {
        let window_start = now.plus_seconds(-cooldown);
        let mut previous: Vec<&Job> =
            blocking.iter().flat_map(|g| initiated(jobs, &g.resource, window_start)).collect();
        previous.sort_by_key(|j| (j.created_at, j.id.clone()));
        previous.dedup_by_key(|j| j.id.clone());
        return Err(ApiError::ResourceExhaustedTimeBased {
            previous_job_ids: previous.iter().map(|j| j.id.clone()).collect(),
            retry_at,
            now,
        });
    }
    Ok(access_type)
}

/// Jobs initiated (not retried) for `resource` since `since`.
fn initiated<'a>(jobs: &'a [Job], resource: &'a str, since: Timestamp) -> impl Iterator<Item = &'a Job> + 'a {
    jobs.iter()
        .filter(move |j| j.retry_of.is_none() && j.created_at >= since && j.resources.iter().any(|r| r == resource))
}

/// `accessType:check`: the token's live grants, split by access type, in the given order.
/// Exhausted one-time groups are listed; expired time-based ones are not.
pub fn check_access(token_scopes: &[String], grants: &[Grant], now: Timestamp) -> (Vec<String>, Vec<String>) {
    let mut one_time = Vec::new();
    let mut time_based = Vec::new();
    for scope in token_scopes {
        match grants.iter().find(|g| &g.resource == scope) {
            Some(g) if g.access == GrantAccess::OneTime => one_time.push(scope.clone()),
            Some(g) if g.expires_at.is_some_and(|e| e > now) => time_based.push(scope.clone()),
            _ => {}
        }
    }
    (one_time, time_based)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_micros(1_800_000_000_000_000 + seconds * 1_000_000)
    }

    fn grant(resource: &str, access: GrantAccess) -> Grant {
        Grant {
            resource: resource.to_owned(),
            access,
            granted_at: t(0),
            expires_at: (access == GrantAccess::TimeBased).then(|| t(1_000_000)),
            exhausted_at: None,
            last_initiate_at: None,
        }
    }

    fn job(id: &str, resources: &[&str], state: State, created: i64) -> Job {
        Job {
            id: id.to_owned(),
            user_id: "u".into(),
            client_id: "c".into(),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            access_type: AccessType::OneTime,
            start_time: None,
            end_time: None,
            export_time: t(created),
            state,
            created_at: t(created),
            finished_at: None,
            retry_of: None,
            retry_index: 0,
            attempt: 0,
            failure_reason: None,
            archive_revoked_at: None,
            progress: None,
            parts: Vec::new(),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn rules(scopes: &[&str]) -> InitiateRules {
        InitiateRules { token_scopes: names(scopes), quota: Quota::default() }
    }

    #[test]
    fn initiate_rules_apply_in_the_catalogues_order() {
        let search = grant("search", GrantAccess::OneTime);
        let chrome = grant("chrome", GrantAccess::TimeBased);
        let grants = vec![search.clone(), chrome.clone()];
        let both = rules(&["search", "chrome"]);
        let check = |requested: &[&str], grants: &[Grant], jobs: &[Job], rules: &InitiateRules, now| {
            check_initiate(&names(requested), None, None, grants, jobs, rules, now)
        };
        // Granted and fresh: one-time wins the access type when mixed.
        assert_eq!(check(&["search", "chrome"], &grants, &[], &both, t(10)), Ok(AccessType::OneTime));
        assert_eq!(check(&["chrome"], &grants, &[], &both, t(10)), Ok(AccessType::TimeBased));
        // E5 first: a group the token does not carry, even though a job is running.
        let running = [job("j1", &["search"], State::InProgress, 5)];
        assert_eq!(
            check(&["search"], &grants, &running, &rules(&["chrome"]), t(10)),
            Err(ApiError::ResourcesNotAuthorized { resources: names(&["search"]) })
        );
        let expired = Grant { expires_at: Some(t(5)), ..chrome.clone() };
        assert!(matches!(
            check(&["chrome"], &[expired], &[], &both, t(10)),
            Err(ApiError::ResourcesNotAuthorized { .. })
        ));
        // E8 before E6: the same request in progress names the running job.
        let exhausted = Grant { exhausted_at: Some(t(5)), ..search.clone() };
        assert!(matches!(
            check(&["search"], std::slice::from_ref(&exhausted), &running, &both, t(10)),
            Err(ApiError::AlreadyExists { ref job_id, .. }) if job_id == "j1"
        ));
        // E6: exhausted, with the job that exhausted it.
        let done = [job("j1", &["search"], State::Complete, 5)];
        assert_eq!(
            check(&["search"], &[exhausted], &done, &both, t(10)),
            Err(ApiError::ResourceExhaustedOneTime { resources: names(&["search"]), previous_job_ids: names(&["j1"]) })
        );
        // E7: a time-based group initiated within the cooldown, until it passes.
        let cooling = Grant { last_initiate_at: Some(t(100)), ..chrome };
        let recent = [job("j2", &["chrome"], State::Complete, 100)];
        assert!(matches!(
            check(&["chrome"], std::slice::from_ref(&cooling), &recent, &both, t(200)),
            Err(ApiError::ResourceExhaustedTimeBased { ref previous_job_ids, retry_at, .. })
                if previous_job_ids == &names(&["j2"]) && retry_at == t(86_500)
        ));
        assert_eq!(check(&["chrome"], &[cooling], &recent, &both, t(86_500)), Ok(AccessType::TimeBased));
    }

    #[test]
    fn access_check_lists_live_grants_by_type() {
        let grants = vec![
            Grant { exhausted_at: Some(t(1)), ..grant("search", GrantAccess::OneTime) },
            grant("chrome", GrantAccess::TimeBased),
            Grant { expires_at: Some(t(5)), ..grant("maps", GrantAccess::TimeBased) },
        ];
        let (one_time, time_based) = check_access(&names(&["search", "chrome", "maps", "play"]), &grants, t(10));
        assert_eq!(one_time, names(&["search"]), "exhausted one-time groups are still granted");
        assert_eq!(time_based, names(&["chrome"]), "expired and ungranted groups are not");
    }
}
