//! Consent: what a user grants a client (SPEC §6). The consent page (and, until it exists,
//! `dataportd admin token`) records grants through here.

use dataport_types::Timestamp;

use crate::catalogue::{Catalogue, GrantableAccess};
use crate::model::GrantAccess;
use crate::store::{Store, StoreError};

/// The duration a user picks at consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duration {
    OneTime,
    Days30,
    Days180,
}

impl Duration {
    /// Every duration, in the order the consent page offers them.
    pub const ALL: [Self; 3] = [Self::OneTime, Self::Days30, Self::Days180];

    /// Parses `one-time`, `30d` or `180d` (the label [`Duration::label`] gives).
    pub fn from_label(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.label() == s)
    }

    /// `one-time`, `30d` or `180d`.
    pub fn label(self) -> &'static str {
        match self {
            Self::OneTime => "one-time",
            Self::Days30 => "30d",
            Self::Days180 => "180d",
        }
    }

    /// Seconds a time-based grant lives; `None` for one-time.
    pub fn seconds(self) -> Option<i64> {
        match self {
            Self::OneTime => None,
            Self::Days30 => Some(30 * 86_400),
            Self::Days180 => Some(180 * 86_400),
        }
    }

    fn access(self) -> GrantAccess {
        match self {
            Self::OneTime => GrantAccess::OneTime,
            _ => GrantAccess::TimeBased,
        }
    }
}

/// Why a consent cannot be recorded.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("unknown resource group {0:?}")]
    UnknownResource(String),
    #[error("resource group {group} cannot be granted as {access}")]
    AccessNotOffered { group: String, access: &'static str },
    #[error("no resource groups given")]
    Empty,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records the user's consent: creates or extends the pair's grants for `resources`. Returns the
/// groups in catalogue order.
pub async fn grant(
    store: &dyn Store,
    catalogue: &Catalogue,
    user_id: &str,
    client_id: &str,
    resources: &[String],
    duration: Duration,
    now: Timestamp,
) -> Result<Vec<String>, ConsentError> {
    if resources.is_empty() {
        return Err(ConsentError::Empty);
    }
    let wanted = match duration.access() {
        GrantAccess::OneTime => GrantableAccess::OneTime,
        GrantAccess::TimeBased => GrantableAccess::TimeBased,
    };
    let mut groups = Vec::new();
    for name in resources {
        let group = catalogue.get(name).ok_or_else(|| ConsentError::UnknownResource(name.clone()))?;
        if !group.access_types.contains(&wanted) {
            return Err(ConsentError::AccessNotOffered { group: name.clone(), access: duration.access().as_str() });
        }
        if !groups.contains(name) {
            groups.push(name.clone());
        }
    }
    catalogue.sort(&mut groups);
    let expires_at = duration.seconds().map(|s| now.plus_seconds(s));
    store.upsert_grants(user_id, client_id, &groups, duration.access(), expires_at, now).await?;
    Ok(groups)
}
