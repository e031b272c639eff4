//! The local object-store servers of tests/it/object_store.rs: moto (S3),
//! gcp-storage-emulator with the XML API (GCS) and Azurite (Azure), started
//! once per test process by `tests/servers/servers.sh` on free ports, with a
//! watchdog that stops them when this process ends (however it ends). Not
//! installed is a failure naming `bash .ci/run`, never a skipped test.

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{ObjectStoreExt, PutPayload, RetryConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// The bucket (S3, GCS) or container (Azure) the fixture creates on each server.
pub const BUCKET: &str = "snapshots";

/// Azurite's well-known development account.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";

/// A GCS service-account key the emulator accepts: `disable_oauth`, so no token
/// is ever fetched (without a credential object_store would ask the GCE
/// metadata server).
const GCS_FAKE_KEY: &str =
    r#"{"private_key":"x","private_key_id":"x","client_email":"x@x","disable_oauth":true}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Gcs,
    Azure,
}

pub const CLOUDS: [Cloud; 3] = [Cloud::S3, Cloud::Gcs, Cloud::Azure];

impl Cloud {
    /// `s3://bucket/prefix`, `gs://…`, `az://…`.
    pub fn url(self, bucket: &str, prefix: &str) -> String {
        let scheme = match self {
            Cloud::S3 => "s3",
            Cloud::Gcs => "gs",
            Cloud::Azure => "az",
        };
        format!("{scheme}://{bucket}/{prefix}")
    }
}

pub struct Servers {
    pub dir: PathBuf,
    pub endpoints: BTreeMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/servers.sh")
}

const NOT_INSTALLED: &str = "the object-store test servers (moto, gcp-storage-emulator, Azurite) are not installed or did not start: `bash .ci/run` installs them (or `bash tests/servers/servers.sh install`)";

fn read_env(file: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The servers, started on first use; a test that needs them fails when they
/// cannot start.
pub fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Result<Servers, String>> = OnceLock::new();
    let started = SERVERS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("revleak-servers-{}", std::process::id()));
        let output = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .output()
            .map_err(|e| format!("{NOT_INSTALLED}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "{NOT_INSTALLED}\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        mkbucket(&dir, BUCKET)?;
        let endpoints = read_env(&dir.join("endpoints.env"));
        Ok(Servers { dir, endpoints })
    });
    match started {
        Ok(servers) => servers,
        Err(e) => panic!("{e}"),
    }
}

/// Makes bucket `name` on the three servers started in `dir`.
fn mkbucket(dir: &Path, name: &str) -> Result<(), String> {
    let made = Command::new("bash")
        .arg(script())
        .arg("mkbucket")
        .arg(dir)
        .arg(name)
        .output()
        .map_err(|e| e.to_string())?;
    if !made.status.success() {
        return Err(format!(
            "creating the bucket `{name}` failed: {}",
            String::from_utf8_lossy(&made.stderr)
        ));
    }
    Ok(())
}

impl Servers {
    /// Makes one more bucket (S3, GCS) and container (Azure) `name`.
    pub fn mkbucket(&self, name: &str) -> Result<(), String> {
        mkbucket(&self.dir, name)
    }

    fn endpoint(&self, name: &str) -> &str {
        self.endpoints
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from endpoints.env"))
    }

    /// The environment a `revleak` reading from `cloud` runs with: each cloud's
    /// standard variables (Azure: the az CLI's names, which revleak maps), the
    /// GCS emulator's endpoint through revleak's own `storage_endpoint`.
    pub fn env(&self, cloud: Cloud) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = match cloud {
            Cloud::S3 => vec![
                ("AWS_ENDPOINT_URL", self.endpoint("S3_ENDPOINT").to_string()),
                ("AWS_ALLOW_HTTP", "true".into()),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ("AWS_REGION", "us-east-1".into()),
            ],
            Cloud::Gcs => vec![
                ("GOOGLE_SERVICE_ACCOUNT_KEY", GCS_FAKE_KEY.into()),
                (
                    "REVLEAK_STORAGE_ENDPOINT",
                    self.endpoint("GCS_ENDPOINT").to_string(),
                ),
                ("REVLEAK_STORAGE_ALLOW_HTTP", "true".into()),
            ],
            Cloud::Azure => vec![
                ("AZURE_STORAGE_ACCOUNT", AZURITE_ACCOUNT.into()),
                (
                    "AZURE_STORAGE_KEY",
                    self.endpoint("AZURE_STORAGE_KEY").to_string(),
                ),
                (
                    "AZURE_STORAGE_ENDPOINT",
                    self.endpoint("AZURE_BLOB_ENDPOINT").to_string(),
                ),
                ("AZURE_ALLOW_HTTP", "true".into()),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// A client of `bucket` on `cloud`'s server, for the tests to upload with.
    pub fn store(&self, cloud: Cloud, bucket: &str) -> Arc<dyn ObjectStore> {
        let retry = RetryConfig {
            max_retries: 2,
            ..Default::default()
        };
        match cloud {
            Cloud::S3 => Arc::new(
                AmazonS3Builder::new()
                    .with_endpoint(self.endpoint("S3_ENDPOINT"))
                    .with_allow_http(true)
                    .with_region("us-east-1")
                    .with_bucket_name(bucket)
                    .with_access_key_id("test")
                    .with_secret_access_key("test")
                    .with_retry(retry)
                    .build()
                    .unwrap(),
            ),
            Cloud::Gcs => Arc::new(
                GoogleCloudStorageBuilder::new()
                    .with_base_url(self.endpoint("GCS_ENDPOINT"))
                    .with_service_account_key(GCS_FAKE_KEY)
                    .with_bucket_name(bucket)
                    .with_retry(retry)
                    .build()
                    .unwrap(),
            ),
            Cloud::Azure => Arc::new(
                MicrosoftAzureBuilder::new()
                    .with_endpoint(self.endpoint("AZURE_BLOB_ENDPOINT").to_string())
                    .with_allow_http(true)
                    .with_account(AZURITE_ACCOUNT)
                    .with_access_key(self.endpoint("AZURE_STORAGE_KEY"))
                    .with_container_name(bucket)
                    .with_retry(retry)
                    .build()
                    .unwrap(),
            ),
        }
    }

    /// Starts one more moto that checks signatures (a wrong secret gets 403),
    /// with a bucket `authb`: its endpoint, access key id and secret.
    pub fn moto_with_auth(&self) -> (String, String, String) {
        static AUTH: OnceLock<Result<BTreeMap<String, String>, String>> = OnceLock::new();
        let env = AUTH.get_or_init(|| {
            let output = Command::new("bash")
                .arg(script())
                .arg("start-moto-auth")
                .arg(&self.dir)
                .arg(std::process::id().to_string())
                .output()
                .map_err(|e| e.to_string())?;
            if !output.status.success() {
                return Err(format!(
                    "{NOT_INSTALLED}\n{}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            Ok(read_env(&self.dir.join("auth.env")))
        });
        let env = env.as_ref().unwrap_or_else(|e| panic!("{e}"));
        (
            env["S3_AUTH_ENDPOINT"].clone(),
            env["S3_AUTH_KEY_ID"].clone(),
            env["S3_AUTH_SECRET"].clone(),
        )
    }
}

/// Uploads every file under `dir` to `store` under `prefix/`, keeping the
/// relative paths.
pub fn upload(store: &Arc<dyn ObjectStore>, dir: &Path, prefix: &str) {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for file in files {
            let relative = file
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let key = object_store::path::Path::from(format!("{prefix}/{relative}"));
            let bytes = std::fs::read(&file).unwrap();
            store
                .put(&key, PutPayload::from(bytes))
                .await
                .unwrap_or_else(|e| panic!("uploading {}: {e}", file.display()));
        }
    });
}

/// Downloads every object of `store` under `prefix/` into `dir`, keeping the
/// relative paths: what a run published in a bucket, laid out as a folder.
pub fn download(store: &Arc<dyn ObjectStore>, prefix: &str, dir: &Path) -> Vec<String> {
    use futures::TryStreamExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let key = object_store::path::Path::from(prefix);
        let listed: Vec<_> = store.list(Some(&key)).try_collect().await.unwrap();
        let mut names = Vec::new();
        for meta in listed {
            let relative = meta
                .location
                .as_ref()
                .strip_prefix(&format!("{prefix}/"))
                .unwrap()
                .to_string();
            let bytes = store
                .get(&meta.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let path = dir.join(&relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            names.push(relative);
        }
        names.sort();
        names
    })
}
