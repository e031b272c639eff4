//! The AWS CLI's shared files, which object_store does not read: the keys of
//! a named profile (`AWS_PROFILE`, else `default`) from `~/.aws/credentials`
//! and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`),
//! with the profile's `region` and `endpoint_url`. As in the AWS CLI, keys in
//! the environment win over a profile, and the environment's region and
//! endpoint over the profile's. A profile that gets its keys another way (SSO,
//! an assumed role, a credential process) is named in an error with the way
//! to export its keys: revleak resolves static keys only. No value read here
//! is ever put in a message.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a profile gives, each value only when the environment lacks it.
#[derive(Default, PartialEq, Eq)]
pub struct Profile {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

// Never the keys.
impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("has_keys", &self.access_key_id.is_some())
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

/// Settings of a profile's way to credentials revleak does not follow.
const OTHER_SOURCES: [&str; 6] = [
    "sso_session",
    "sso_start_url",
    "role_arn",
    "credential_process",
    "web_identity_token_file",
    "credential_source",
];

/// The profile the environment selects, read from the shared files; None when
/// no profile applies (no `AWS_PROFILE` and no `default` in the files).
pub fn from_env() -> Result<Option<Profile>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let home = var("HOME").map(PathBuf::from);
    let credentials = var("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
    let config = var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
    resolve(
        var("AWS_PROFILE").or_else(|| var("AWS_DEFAULT_PROFILE")),
        credentials.as_deref(),
        config.as_deref(),
        &|name| var(name).is_some(),
    )
}

/// [`from_env`] with its inputs given: the profile asked for (None: `default`,
/// and its absence is no error), the two files, and which variables are set.
fn resolve(
    asked: Option<String>,
    credentials: Option<&Path>,
    config: Option<&Path>,
    env_has: &dyn Fn(&str) -> bool,
) -> Result<Option<Profile>> {
    let name = asked.clone().unwrap_or_else(|| "default".to_string());
    let from_credentials = match credentials {
        Some(path) => section(path, &name, false)?,
        None => None,
    };
    let from_config = match config {
        Some(path) => section(path, &name, true)?,
        None => None,
    };
    if from_credentials.is_none() && from_config.is_none() {
        return match asked {
            Some(_) => Err(Error::Config(format!(
                "AWS_PROFILE={name}: no profile [{name}] in {} or [profile {name}] in {}",
                shown(credentials),
                shown(config)
            ))),
            None => Ok(None),
        };
    }
    let get = |key: &str| {
        from_credentials
            .as_ref()
            .and_then(|s| s.get(key))
            .or_else(|| from_config.as_ref().and_then(|s| s.get(key)))
            .cloned()
            .filter(|v| !v.is_empty())
    };
    let keys_in_env = env_has("AWS_ACCESS_KEY_ID");
    let mut profile = Profile::default();
    if !keys_in_env {
        profile.access_key_id = get("aws_access_key_id");
        profile.secret_access_key = get("aws_secret_access_key");
        profile.session_token = get("aws_session_token");
        if profile.access_key_id.is_some() != profile.secret_access_key.is_some() {
            return Err(Error::Config(format!(
                "AWS profile {name}: aws_access_key_id and aws_secret_access_key go together ({})",
                shown(credentials)
            )));
        }
        if profile.access_key_id.is_none()
            && let Some(other) = OTHER_SOURCES.iter().find(|k| get(k).is_some())
        {
            return Err(Error::Config(format!(
                "AWS profile {name} gets its keys through {other}, which revleak does not follow: export them first, `eval \"$(aws configure export-credentials --profile {name} --format env)\"`"
            )));
        }
    }
    if !env_has("AWS_REGION") && !env_has("AWS_DEFAULT_REGION") {
        profile.region = get("region");
    }
    if !env_has("AWS_ENDPOINT_URL") && !env_has("AWS_ENDPOINT_URL_S3") {
        profile.endpoint_url = get("endpoint_url");
    }
    Ok(Some(profile))
}

fn shown(path: Option<&Path>) -> String {
    path.map_or("(no file)".into(), |p| p.display().to_string())
}

/// The keys of section `[name]` (in the config file `[profile name]`, or
/// `[default]`) of an INI file; None when the file or the section is absent.
fn section(path: &Path, name: &str, config: bool) -> Result<Option<BTreeMap<String, String>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let wanted = if config && name != "default" {
        format!("profile {name}")
    } else {
        name.to_string()
    };
    let mut found: Option<BTreeMap<String, String>> = None;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.trim() == wanted;
            if inside {
                found.get_or_insert_with(BTreeMap::new);
            }
            continue;
        }
        if inside && let Some((key, value)) = line.split_once('=') {
            found
                .get_or_insert_with(BTreeMap::new)
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = defaultsecret\n\n[etl]\naws_access_key_id=AKIAETL\naws_secret_access_key=etlsecret\naws_session_token = tok\n";
    const CONFIG: &str = "[default]\nregion = us-east-1\n\n[profile etl]\nregion = eu-west-1\nendpoint_url = https://minio.internal:9000\n\n[profile sso]\nsso_session = corp\nregion = eu-central-1\n";

    fn files() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (c, f) = (dir.path().join("credentials"), dir.path().join("config"));
        std::fs::write(&c, CREDENTIALS).unwrap();
        std::fs::write(&f, CONFIG).unwrap();
        (dir, c, f)
    }

    #[test]
    fn a_named_profile_gives_its_keys_region_and_endpoint() {
        let (_dir, c, f) = files();
        let p = resolve(Some("etl".into()), Some(&c), Some(&f), &|_| false)
            .unwrap()
            .unwrap();
        assert_eq!(p.access_key_id.as_deref(), Some("AKIAETL"));
        assert_eq!(p.secret_access_key.as_deref(), Some("etlsecret"));
        assert_eq!(p.session_token.as_deref(), Some("tok"));
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            p.endpoint_url.as_deref(),
            Some("https://minio.internal:9000")
        );
        let d = resolve(None, Some(&c), Some(&f), &|_| false)
            .unwrap()
            .unwrap();
        assert_eq!(d.access_key_id.as_deref(), Some("AKIADEFAULT"));
        assert_eq!(d.region.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn the_environment_wins_over_the_profile() {
        let (_dir, c, f) = files();
        let p = resolve(Some("etl".into()), Some(&c), Some(&f), &|name| {
            matches!(name, "AWS_ACCESS_KEY_ID" | "AWS_REGION")
        })
        .unwrap()
        .unwrap();
        assert_eq!(p.access_key_id, None);
        assert_eq!(p.region, None);
        assert!(p.endpoint_url.is_some());
    }

    #[test]
    fn a_missing_or_unfollowed_profile_is_an_error_naming_it_and_never_a_key() {
        let (_dir, c, f) = files();
        let missing = resolve(Some("nope".into()), Some(&c), Some(&f), &|_| false)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("AWS_PROFILE=nope") && missing.contains("credentials"),
            "{missing}"
        );
        let sso = resolve(Some("sso".into()), Some(&c), Some(&f), &|_| false)
            .unwrap_err()
            .to_string();
        assert!(
            sso.contains("sso_session") && sso.contains("export-credentials"),
            "{sso}"
        );
        for text in [&missing, &sso] {
            assert!(
                !text.contains("secret") || !text.contains("etlsecret"),
                "{text}"
            );
        }
        // No AWS_PROFILE and no default: nothing applies, no error.
        let none = resolve(None, None, None, &|_| false).unwrap();
        assert!(none.is_none());
        assert!(
            format!(
                "{:?}",
                resolve(Some("etl".into()), Some(&c), Some(&f), &|_| false)
            )
            .contains("has_keys: true")
        );
        assert!(
            !format!(
                "{:?}",
                resolve(Some("etl".into()), Some(&c), Some(&f), &|_| false)
            )
            .contains("etlsecret")
        );
    }
}
