//! The object-store client of a snapshot URL, configured the way each cloud's
//! own tools are: `AmazonS3Builder::from_env()` plus the AWS CLI's profile
//! files ([`super::aws_profile`]: AWS_PROFILE, ~/.aws/credentials) (AWS_ACCESS_KEY_ID,
//! AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL,
//! AWS_ALLOW_HTTP, web identity, the container and instance roles),
//! `GoogleCloudStorageBuilder::from_env()` (GOOGLE_APPLICATION_CREDENTIALS,
//! GOOGLE_SERVICE_ACCOUNT*), `MicrosoftAzureBuilder::from_env()`
//! (AZURE_STORAGE_ACCOUNT_NAME / _KEY, SAS, client secret, managed identity;
//! the az CLI's AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY too), then
//! `revleak.toml`'s `storage_endpoint` and `storage_allow_http`. Retries are
//! bounded by `storage_retry_timeout`. No builder, option value or credential
//! is ever logged or put in a message: errors carry the URL and the store's
//! own cause, which names no secret.

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreScheme, RetryConfig};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Seconds a request is retried for (503, 429, connection errors) when
/// `storage_retry_timeout` is unset.
pub const DEFAULT_RETRY_TIMEOUT_SECS: u64 = 30;

/// What `revleak.toml` says about object storage.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// An S3-compatible store (MinIO, R2, Ceph), a GCS base URL or an Azure endpoint.
    pub endpoint: Option<String>,
    pub allow_http: bool,
    pub retry_timeout: Duration,
}

impl StorageSettings {
    pub fn of(config: &ConfigFile) -> StorageSettings {
        StorageSettings {
            endpoint: config.storage_endpoint.clone(),
            allow_http: config.storage_allow_http,
            retry_timeout: Duration::from_secs(
                config
                    .storage_retry_timeout
                    .unwrap_or(DEFAULT_RETRY_TIMEOUT_SECS),
            ),
        }
    }

    /// Retries with backoff, the whole of them bounded by `retry_timeout`.
    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: 10,
            retry_timeout: self.retry_timeout,
        }
    }
}

/// Per-request timeouts, unless the environment sets them (`AWS_TIMEOUT`, ...):
/// a connection is refused or made in 5 s, a request (one ranged GET, a list
/// page) answered in 60 s.
const CLIENT_DEFAULTS: [(ClientConfigKey, &str, &str); 2] = [
    (ClientConfigKey::ConnectTimeout, "CONNECT_TIMEOUT", "5s"),
    (ClientConfigKey::Timeout, "TIMEOUT", "60s"),
];

fn env_sets(prefix: &str, name: &str) -> bool {
    std::env::var_os(format!("{prefix}{name}")).is_some()
}

/// The store holding `url`'s bucket or container.
pub fn build(url: &Url, settings: &StorageSettings) -> Result<Arc<dyn ObjectStore>> {
    let shown = url.as_str();
    let (scheme, _) = ObjectStoreScheme::parse(url).map_err(|_| unsupported(shown))?;
    let failed = |e: object_store::Error| Error::Storage(describe(shown, &e));
    let store: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::AmazonS3 => {
            let mut builder = AmazonS3Builder::from_env();
            if let Some(profile) = super::aws_profile::from_env()? {
                let pairs = [
                    (AmazonS3ConfigKey::AccessKeyId, profile.access_key_id),
                    (
                        AmazonS3ConfigKey::SecretAccessKey,
                        profile.secret_access_key,
                    ),
                    (AmazonS3ConfigKey::Token, profile.session_token),
                    (AmazonS3ConfigKey::Region, profile.region),
                    (AmazonS3ConfigKey::Endpoint, profile.endpoint_url),
                ];
                for (key, value) in pairs {
                    if let Some(value) = value {
                        builder = builder.with_config(key, value);
                    }
                }
            }
            configure(builder.with_url(shown), settings).map_err(failed)?
        }
        ObjectStoreScheme::GoogleCloudStorage => configure(
            GoogleCloudStorageBuilder::from_env().with_url(shown),
            settings,
        )
        .map_err(failed)?,
        ObjectStoreScheme::MicrosoftAzure => {
            let mut builder = MicrosoftAzureBuilder::from_env();
            // the az CLI's names, which object_store does not read
            for (cli_name, key, own_name) in [
                (
                    "AZURE_STORAGE_ACCOUNT",
                    AzureConfigKey::AccountName,
                    "AZURE_STORAGE_ACCOUNT_NAME",
                ),
                (
                    "AZURE_STORAGE_KEY",
                    AzureConfigKey::AccessKey,
                    "AZURE_STORAGE_ACCOUNT_KEY",
                ),
            ] {
                if std::env::var_os(own_name).is_none()
                    && let Ok(value) = std::env::var(cli_name)
                {
                    builder = builder.with_config(key, value);
                }
            }
            configure(builder.with_url(shown), settings).map_err(failed)?
        }
        _ => return Err(unsupported(shown)),
    };
    Ok(store)
}

/// What revleak sets the same way on each cloud's builder.
trait CloudBuilder: Sized {
    /// The prefix of the cloud's environment variables (`AWS_`).
    const ENV_PREFIX: &'static str;
    fn client(self, key: ClientConfigKey, value: &str) -> Self;
    fn endpoint(self, endpoint: &str) -> Self;
    fn finish(self, retry: RetryConfig) -> object_store::Result<Arc<dyn ObjectStore>>;
}

impl CloudBuilder for AmazonS3Builder {
    const ENV_PREFIX: &'static str = "AWS_";
    fn client(self, key: ClientConfigKey, value: &str) -> Self {
        self.with_config(AmazonS3ConfigKey::Client(key), value)
    }
    fn endpoint(self, endpoint: &str) -> Self {
        self.with_config(AmazonS3ConfigKey::Endpoint, endpoint)
    }
    fn finish(self, retry: RetryConfig) -> object_store::Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(self.with_retry(retry).build()?))
    }
}

impl CloudBuilder for GoogleCloudStorageBuilder {
    const ENV_PREFIX: &'static str = "GOOGLE_";
    fn client(self, key: ClientConfigKey, value: &str) -> Self {
        self.with_config(GoogleConfigKey::Client(key), value)
    }
    fn endpoint(self, endpoint: &str) -> Self {
        self.with_config(GoogleConfigKey::BaseUrl, endpoint)
    }
    fn finish(self, retry: RetryConfig) -> object_store::Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(self.with_retry(retry).build()?))
    }
}

impl CloudBuilder for MicrosoftAzureBuilder {
    const ENV_PREFIX: &'static str = "AZURE_";
    fn client(self, key: ClientConfigKey, value: &str) -> Self {
        self.with_config(AzureConfigKey::Client(key), value)
    }
    fn endpoint(self, endpoint: &str) -> Self {
        self.with_config(AzureConfigKey::Endpoint, endpoint)
    }
    fn finish(self, retry: RetryConfig) -> object_store::Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(self.with_retry(retry).build()?))
    }
}

/// The timeouts (unless the environment sets them), `revleak.toml`'s endpoint
/// and plain-HTTP switch, and the bounded retries, on any cloud's builder.
fn configure<B: CloudBuilder>(
    mut builder: B,
    settings: &StorageSettings,
) -> object_store::Result<Arc<dyn ObjectStore>> {
    for (key, name, value) in CLIENT_DEFAULTS {
        if !env_sets(B::ENV_PREFIX, name) {
            builder = builder.client(key, value);
        }
    }
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if settings.allow_http {
        builder = builder.client(ClientConfigKey::AllowHttp, "true");
    }
    builder.finish(settings.retry())
}

fn unsupported(url: &str) -> Error {
    Error::Config(format!(
        "{url}: revleak reads a snapshot from a local folder, file://, s3://, gs://, az:// or abfss:// (azure://, adl://, abfs:// too)"
    ))
}

/// A store error as a message naming `url` and what to do: the bucket is
/// missing, access was denied, the endpoint cannot be reached, a request timed
/// out, or the object is missing. The store's own text follows, on one line
/// (it names the request, its status and the server's answer, never a secret).
pub fn describe(url: &str, e: &object_store::Error) -> String {
    use object_store::Error as E;
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !cause.contains(&text) {
            cause.push_str(": ");
            cause.push_str(&text);
        }
        source = inner.source();
    }
    let mut cause = cause.split_whitespace().collect::<Vec<_>>().join(" ");
    if cause.len() > 600 {
        let mut end = 600;
        while !cause.is_char_boundary(end) {
            end -= 1;
        }
        cause.truncate(end);
        cause.push('…');
    }
    let has = |words: &[&str]| words.iter().any(|w| cause.contains(w));
    let what = match e {
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            "access denied: the store refused the credentials (AWS_*, GOOGLE_* or AZURE_STORAGE_* variables, or the machine's role)"
        }
        _ if has(&[
            "NoSuchBucket",
            "ContainerNotFound",
            "The specified bucket does not exist",
            "The specified container does not exist",
        ]) =>
        {
            "the bucket (or container) does not exist"
        }
        _ if has(&["AccessDenied", "403 Forbidden", "AuthorizationFailure"]) => {
            "access denied: the store refused the credentials (AWS_*, GOOGLE_* or AZURE_STORAGE_* variables, or the machine's role)"
        }
        E::NotFound { .. } => "not found",
        _ if has(&[
            "Connection refused",
            "connection refused",
            "tcp connect error",
            "dns error",
            "error trying to connect",
        ]) =>
        {
            "cannot reach the store's endpoint (check AWS_ENDPOINT_URL or storage_endpoint, and the network)"
        }
        _ if has(&["timed out", "TimedOut", "deadline has elapsed"]) => {
            "the store did not answer in time (retried until storage_retry_timeout)"
        }
        _ if has(&["error sending request"]) => {
            "cannot reach the store's endpoint (check AWS_ENDPOINT_URL or storage_endpoint, and the network)"
        }
        _ => "the store failed",
    };
    format!("{url}: {what} ({cause})")
}
