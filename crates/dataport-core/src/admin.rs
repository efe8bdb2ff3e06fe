//! The operator's use cases (`dataportd admin …`): users, OAuth clients, access tokens that skip
//! the consent pages, the jobs, and the audit log. They work on the same store as a running server.

use dataport_types::{State, Timestamp};

use crate::Dataport;
use crate::auth::{hash_token, issue_access_token, mint_secret};
use crate::consent::{self, ConsentError, Duration};
use crate::model::{AuditEntry, AuditFilter, Client, JobFilter, JobRecord, RefreshRotation, User};
use crate::oauth::parse_redirect_uri;
use crate::store::StoreError;
use crate::users::hash_password;

/// Why an operator's command was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request itself is wrong: the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Consent(#[from] ConsentError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::Invalid(message.into())
}

/// What registering a client returns: the client and, for a confidential one, its secret
/// (shown once; only its hash is stored).
pub struct NewClient {
    pub client: Client,
    pub secret: Option<String>,
}

/// A password must be at least this long.
pub const MIN_PASSWORD_CHARS: usize = 8;

async fn hash(password: &str) -> Result<String, AdminError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(format!("a password needs at least {MIN_PASSWORD_CHARS} characters")));
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| invalid(e.to_string()))?
        .map_err(invalid)
}

impl Dataport {
    /// Creates a user who signs in with `password`; `subject` (default: the username) is their
    /// id in the operator's systems, which selects their data and which trusted-header sign-in
    /// finds them by. Both must be unused.
    pub async fn add_user(&self, username: &str, subject: Option<&str>, password: &str) -> Result<User, AdminError> {
        if username.trim().is_empty() || username.len() > 256 {
            return Err(invalid("a username must be 1 to 256 characters"));
        }
        let subject = subject.unwrap_or(username);
        if subject.trim().is_empty() || subject.len() > 256 {
            return Err(invalid("a subject must be 1 to 256 characters"));
        }
        let hash = hash(password).await?;
        self.store.create_user(username, subject, Some(&hash), Timestamp::now()).await?.ok_or_else(|| {
            invalid(format!(
                "a user named {username:?} or with the subject {subject:?} already exists (use `admin user passwd`)"
            ))
        })
    }

    /// Every user, oldest first.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.store.users().await
    }

    /// Sets a user's password.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), AdminError> {
        let hash = hash(password).await?;
        match self.store.set_password(username, &hash).await? {
            true => Ok(()),
            false => Err(invalid(format!("no user {username}"))),
        }
    }

    /// Disables a user, revoking their tokens and refusing their download URLs, or enables them.
    pub async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<(), AdminError> {
        match self.revoking(self.store.set_user_disabled(username, disabled, Timestamp::now())).await? {
            true => Ok(()),
            false => Err(invalid(format!("no user {username}"))),
        }
    }

    /// Registers an app. Redirect URIs must be https, loopback http (RFC 8252 §7.3) or a
    /// private-use scheme such as `com.example.app:/cb` (RFC 8252 §7.1), without a fragment, and
    /// are stored as they parse ([`parse_redirect_uri`]). A confidential client gets a secret; a
    /// public one must use PKCE. `refresh_rotation` overrides the default for its type
    /// ([`crate::oauth::refresh_rotation`]).
    pub async fn add_client(
        &self,
        name: &str,
        redirect_uris: Vec<String>,
        public: bool,
        id: Option<String>,
        refresh_rotation: Option<RefreshRotation>,
    ) -> Result<NewClient, AdminError> {
        if redirect_uris.is_empty() {
            return Err(invalid("a client needs at least one redirect URI"));
        }
        for uri in &redirect_uris {
            parse_redirect_uri(uri).map_err(invalid)?;
        }
        let id = id.unwrap_or_else(|| format!("dp-{}", uuid::Uuid::new_v4().simple()));
        let secret = (!public).then(|| mint_secret("dps_").value);
        let client = Client {
            id: id.clone(),
            name: name.to_owned(),
            redirect_uris,
            public,
            disabled: false,
            secret_hash: secret.as_deref().map(hash_token),
            refresh_rotation,
        };
        if !self.store.create_client(&client, Timestamp::now()).await? {
            return Err(invalid(format!("client {id} already exists")));
        }
        Ok(NewClient { client, secret })
    }

    /// Every registered app.
    pub async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        self.store.clients().await
    }

    /// Sets what a refresh does to an app's refresh tokens, or (`None`) goes back to the default
    /// for its type. Tokens already issued keep working either way.
    pub async fn set_client_refresh_rotation(
        &self,
        id: &str,
        rotation: Option<RefreshRotation>,
    ) -> Result<(), AdminError> {
        match self.store.set_refresh_rotation(id, rotation).await? {
            true => Ok(()),
            false => Err(invalid(format!("no client {id}"))),
        }
    }

    /// Disables an app, revoking its tokens and refusing its download URLs, or enables it.
    pub async fn set_client_disabled(&self, id: &str, disabled: bool) -> Result<(), AdminError> {
        match self.revoking(self.store.set_client_disabled(id, disabled, Timestamp::now())).await? {
            true => Ok(()),
            false => Err(invalid(format!("no client {id}"))),
        }
    }

    /// Grants `resources` to the client for the user, creating both if needed (the user with
    /// subject = username, the client public with no redirect URI), and returns a fresh access
    /// token valid `seconds` (a negative number gives an expired one, for tests): an operator's
    /// and tester's way past the consent pages.
    pub async fn admin_token(
        &self,
        username: &str,
        client_id: &str,
        resources: &[String],
        access: Duration,
        seconds: i64,
    ) -> Result<String, AdminError> {
        let now = Timestamp::now();
        let user = self.store.ensure_user(username, now).await?;
        let client = Client {
            id: client_id.to_owned(),
            name: client_id.to_owned(),
            redirect_uris: Vec::new(),
            public: true,
            disabled: false,
            secret_hash: None,
            refresh_rotation: None,
        };
        let client = self.store.ensure_client(&client, now).await?;
        let scopes =
            consent::grant(self.store.as_ref(), &self.catalogue, &user.id, &client.id, resources, access, now).await?;
        let token = issue_access_token(self.store.as_ref(), &user.id, &client.id, scopes, now, seconds)
            .await
            .map_err(|e| invalid(format!("could not issue a token: {e}")))?;
        self.metrics.token_issued("admin");
        Ok(token)
    }

    /// The newest `limit` audit entries at or after `since`, of the user named `username` and of
    /// the event `event`, where each is given; oldest first. An unknown username is an error,
    /// not an empty log, so that a typo is not mistaken for a quiet user.
    pub async fn audit_log(
        &self,
        since: Option<Timestamp>,
        username: Option<&str>,
        event: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, AdminError> {
        let user_id = self.user_id_of(username).await?;
        let filter = AuditFilter { since, user_id, event: event.map(str::to_owned), limit };
        Ok(self.store.audit_log(&filter).await?)
    }

    /// The newest `limit` jobs in `state` and of the user named `username`, where each is given,
    /// with their leases (not their parts).
    pub async fn jobs_of(
        &self,
        state: Option<State>,
        username: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, AdminError> {
        let user_id = self.user_id_of(username).await?;
        Ok(self.store.jobs(&JobFilter { state, user_id, limit }).await?)
    }

    /// One job with its attempts, lease, failure reason, progress and parts.
    pub async fn job_record(&self, id: &str) -> Result<JobRecord, AdminError> {
        self.store.job_record(id).await?.ok_or_else(|| invalid(format!("no job {id}")))
    }

    async fn user_id_of(&self, username: Option<&str>) -> Result<Option<String>, AdminError> {
        let Some(username) = username else { return Ok(None) };
        match self.store.credentials(username).await? {
            Some(credentials) => Ok(Some(credentials.user.id)),
            None => Err(invalid(format!("no user {username}"))),
        }
    }
}
