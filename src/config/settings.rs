//! Settings of revleak itself (not of the checks): `revleak.toml`, then the
//! `REVLEAK_<KEY>` environment variables over it, each key read as [`KEYS`]
//! says; the CSV formats of `[csv."system/name"]` and the sheets of
//! `[xlsx."system/name"]`.

use super::keys::{ConfigFile, ENV_PREFIX, KEYS, KeyKind, key};
use super::parameters::{param_spec, parse_param};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a CSV raw table is written (`[csv."system/name"]` in `revleak.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFormat {
    pub delimiter: u8,
    pub quote: u8,
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat {
            delimiter: b',',
            quote: b'"',
        }
    }
}

impl ConfigFile {
    /// The CSV formats of `[csv."system/name"]`, each checked.
    pub fn csv_formats(&self) -> Result<BTreeMap<String, CsvFormat>> {
        let source = self
            .path
            .as_ref()
            .map_or_else(|| "revleak.toml".to_string(), |p| p.display().to_string());
        let mut formats = BTreeMap::new();
        for (table, config) in &self.csv {
            if table
                .split_once('/')
                .is_none_or(|(s, n)| s.is_empty() || n.is_empty())
            {
                return Err(Error::Config(format!(
                    "{source}: [csv.\"{table}\"]: name the raw table as \"system/name\", e.g. [csv.\"crm/opportunities\"]"
                )));
            }
            let one_byte = |key: &str, value: &Option<String>, default: u8| -> Result<u8> {
                match value.as_deref() {
                    None => Ok(default),
                    Some(v) if v.len() == 1 && v.is_ascii() => Ok(v.as_bytes()[0]),
                    Some(v) => Err(Error::Config(format!(
                        "{source}: [csv.\"{table}\"] {key} = {v:?}: must be one ASCII character (e.g. \";\" or \"\\t\")"
                    ))),
                }
            };
            let format = CsvFormat {
                delimiter: one_byte("delimiter", &config.delimiter, b',')?,
                quote: one_byte("quote", &config.quote, b'"')?,
            };
            if format.delimiter == format.quote {
                return Err(Error::Config(format!(
                    "{source}: [csv.\"{table}\"]: delimiter and quote must differ"
                )));
            }
            formats.insert(table.clone(), format);
        }
        Ok(formats)
    }
}

impl ConfigFile {
    /// The sheet read of each workbook, `system/name` to sheet, from
    /// `[xlsx."system/name"] sheet`.
    pub fn xlsx_sheets(&self) -> Result<BTreeMap<String, String>> {
        let source = self
            .path
            .as_ref()
            .map_or_else(|| "revleak.toml".to_string(), |p| p.display().to_string());
        let mut sheets = BTreeMap::new();
        for (table, config) in &self.xlsx {
            if table
                .split_once('/')
                .is_none_or(|(s, n)| s.is_empty() || n.is_empty())
            {
                return Err(Error::Config(format!(
                    "{source}: [xlsx.\"{table}\"]: name the workbook as \"system/name\", e.g. [xlsx.\"prm/pos_q3\"] for prm/pos_q3.xlsx"
                )));
            }
            match config.sheet.as_deref() {
                Some(sheet) if !sheet.is_empty() => {
                    sheets.insert(table.clone(), sheet.to_string());
                }
                _ => {
                    return Err(Error::Config(format!(
                        "{source}: [xlsx.\"{table}\"]: sheet = \"<name of a sheet>\" is needed"
                    )));
                }
            }
        }
        Ok(sheets)
    }
}

/// Environment variables revleak reads that are not configuration keys.
const ENV_NOT_CONFIG: &[&str] = &["REVLEAK_LOG"];

impl ConfigFile {
    /// Reads `path`; when `path` is None, reads `revleak.toml` in the current folder if it exists.
    pub fn load(path: Option<&Path>) -> Result<ConfigFile> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("revleak.toml"), false),
        };
        if !required && !path.exists() {
            return Ok(ConfigFile::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        config.path = Some(path);
        Ok(config)
    }

    /// Parses revleak.toml text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<ConfigFile> {
        toml::from_str(text)
            .map_err(|e| Error::Config(format!("{source}: {}", e.to_string().trim_end())))
    }

    /// Reads the file (see [`ConfigFile::load`]), then applies the environment:
    /// `REVLEAK_<KEY>` for a config key, `REVLEAK_<PARAMETER>` for a parameter.
    /// An unknown `REVLEAK_` variable is an error naming it.
    pub fn load_with_env(path: Option<&Path>) -> Result<ConfigFile> {
        let mut config = Self::load(path)?;
        let vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !ENV_NOT_CONFIG.contains(&k.as_str()))
            .collect();
        config.apply_env(&vars)?;
        Ok(config)
    }

    /// Applies `REVLEAK_<KEY>` and `REVLEAK_<PARAMETER>` variables, then checks
    /// the values the file gave.
    pub fn apply_env(&mut self, vars: &[(String, String)]) -> Result<()> {
        for (name, value) in vars {
            let name_in_file = name.trim_start_matches(ENV_PREFIX).to_ascii_lowercase();
            if let Some(key) = key(&name_in_file) {
                let value = key.kind.parse(name, value)?;
                (key.set)(self, value);
            } else if param_spec(&name_in_file).is_some() {
                parse_param(&name_in_file, value, name)?;
                self.parameters.insert(name_in_file, value.clone());
            } else {
                return Err(Error::Config(format!(
                    "environment variable {name}: unknown configuration key or parameter `{name_in_file}`"
                )));
            }
        }
        self.check_values()
    }

    /// Checks and normalizes what serde only typed (a severity's case, a
    /// size's unit), naming the key in errors.
    fn check_values(&mut self) -> Result<()> {
        for key in KEYS {
            let Some(value) = (key.get)(self) else {
                continue;
            };
            let value = match key.kind {
                // any text is a path or a name; serde read the switches
                KeyKind::Path | KeyKind::Text | KeyKind::Bool => continue,
                // serde read a whole number: only zero is out of range
                KeyKind::Threads if value == "0" => {
                    return Err(Error::Config(format!(
                        "{}: expected a whole number of 1 or more",
                        key.name
                    )));
                }
                kind => kind.parse(key.name, &value)?,
            };
            (key.set)(self, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_formats_are_one_ascii_character_each_and_name_a_raw_table() {
        let config = ConfigFile::parse(
            "[csv.\"crm/opportunities\"]\ndelimiter = \";\"\n[csv.\"erp/postings\"]\ndelimiter = \"\\t\"\nquote = \"'\"\n",
            "revleak.toml",
        )
        .unwrap();
        let formats = config.csv_formats().unwrap();
        assert_eq!(formats["crm/opportunities"].delimiter, b';');
        assert_eq!(formats["crm/opportunities"].quote, b'"');
        assert_eq!(formats["erp/postings"].delimiter, b'\t');
        assert_eq!(formats["erp/postings"].quote, b'\'');

        let bad = |text: &str| {
            ConfigFile::parse(text, "revleak.toml")
                .unwrap()
                .csv_formats()
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad("[csv.\"crm/x\"]\ndelimiter = \";;\"\n")
                .contains("delimiter = \";;\": must be one ASCII character")
        );
        assert!(
            bad("[csv.\"x\"]\ndelimiter = \";\"\n")
                .contains("name the raw table as \"system/name\"")
        );
        assert!(bad("[csv.\"crm/x\"]\ndelimiter = \"'\"\nquote = \"'\"\n").contains("must differ"));
        assert!(ConfigFile::parse("[csv.\"crm/x\"]\nseparator = \";\"\n", "revleak.toml").is_err());
    }

    #[test]
    fn a_workbook_sheet_names_a_raw_table_and_a_sheet() {
        let config = ConfigFile::parse(
            "[xlsx.\"prm/pos_q3\"]\nsheet = \"POS Q3\"\n",
            "revleak.toml",
        )
        .unwrap();
        assert_eq!(
            config
                .xlsx_sheets()
                .unwrap()
                .get("prm/pos_q3")
                .map(String::as_str),
            Some("POS Q3")
        );
        let bad = |text: &str| {
            ConfigFile::parse(text, "revleak.toml")
                .unwrap()
                .xlsx_sheets()
                .unwrap_err()
                .to_string()
        };
        assert!(bad("[xlsx.\"pos_q3\"]\nsheet = \"A\"\n").contains("system/name"));
        assert!(bad("[xlsx.\"prm/pos_q3\"]\n").contains("sheet = "));
        assert!(ConfigFile::parse("[xlsx.\"prm/x\"]\ntab = \"A\"\n", "revleak.toml").is_err());
    }
}
