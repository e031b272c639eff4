//! Settings of revleak itself (not of the checks): `revleak.toml`, then the
//! `REVLEAK_<KEY>` environment variables over it, each key read as [`KEYS`]
//! says; the CSV formats of `[csv."system/name"]` and the sheets of
//! `[xlsx."system/name"]`.

use super::keys::{ConfigFile, ENV_PREFIX, KEYS, KeyKind, key, parse_engine, parse_severity};
use super::parameters::{param_spec, parse_param};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a text raw table is written (`[csv."system/name"]` in `revleak.toml`):
/// the delimiter and quote of a CSV, and the encoding of a CSV or JSON lines file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFormat {
    pub delimiter: u8,
    pub quote: u8,
    /// None: UTF-8, where a byte that is not UTF-8 is an error (not replaced).
    pub encoding: Option<TextEncoding>,
}

/// The encodings a text raw table may be in besides UTF-8: what Excel on
/// Windows and older systems write. Decoded by `crate::ingest::source` with
/// encoding_rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Windows1252,
    /// ISO-8859-1: every byte the code point of the same number.
    Latin1,
    /// UTF-16, its byte order from its BOM (little-endian without one).
    Utf16,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Windows1252 => "windows-1252",
            TextEncoding::Latin1 => "iso-8859-1",
            TextEncoding::Utf16 => "utf-16",
        }
    }

    /// The encoding a label names; `Some(None)` for UTF-8, None when unknown.
    fn of_label(label: &str) -> Option<Option<TextEncoding>> {
        match label.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(None),
            "windows-1252" | "cp1252" | "win-1252" => Some(Some(TextEncoding::Windows1252)),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => Some(Some(TextEncoding::Latin1)),
            "utf-16" | "utf16" => Some(Some(TextEncoding::Utf16)),
            _ => None,
        }
    }
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat {
            delimiter: b',',
            quote: b'"',
            encoding: None,
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
            let encoding = match config.encoding.as_deref() {
                None => None,
                Some(label) => TextEncoding::of_label(label).ok_or_else(|| {
                    Error::Config(format!(
                        "{source}: [csv.\"{table}\"] encoding = {label:?}: not an encoding revleak reads (\"utf-8\", \"windows-1252\", \"latin-1\", \"utf-16\")"
                    ))
                })?,
            };
            let format = CsvFormat {
                delimiter: one_byte("delimiter", &config.delimiter, b',')?,
                quote: one_byte("quote", &config.quote, b'"')?,
                encoding,
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
        let mut config: ConfigFile = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{source}: {}", e.to_string().trim_end())))?;
        if let Some(s) = config.alert_min_severity_text.take() {
            config.alert_min_severity = Some(parse_severity("alert_min_severity", &s)?);
        }
        if let Some(s) = config.fail_on_text.take() {
            config.fail_on = Some(parse_severity("fail_on", &s)?);
        }
        if let Some(s) = config.engine_text.take() {
            config.engine = Some(parse_engine("engine", &s)?);
        }
        Ok(config)
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
    fn thresholds_and_engine_are_parsed_once_when_the_file_is_read() {
        use crate::config::{EngineChoice, Severity};
        let config = ConfigFile::parse(
            "alert_min_severity = \" Medium\"\nfail_on = \"HIGH\"\nengine = \"Ballista\"\n",
            "revleak.toml",
        )
        .unwrap();
        assert_eq!(config.alert_min_severity, Some(Severity::Medium));
        assert_eq!(config.fail_on, Some(Severity::High));
        assert_eq!(config.engine, Some(EngineChoice::Ballista));
        let bad = |text: &str| {
            ConfigFile::parse(text, "revleak.toml")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad("fail_on = \"severe\"\n"),
            "fail_on: severity `severe` is not one of critical, high, medium, low, info"
        );
        assert_eq!(
            bad("engine = \"spark\"\n"),
            "engine: engine `spark` is not one of local, ballista"
        );
    }

    #[test]
    fn absent_tables_name_canonical_tables_in_the_file_or_the_environment() {
        let mut config = ConfigFile::parse(
            "absent_tables = [\"provisioning/activations\", \"billing/credit_notes\"]\n",
            "revleak.toml",
        )
        .unwrap();
        config.apply_env(&[]).unwrap();
        assert_eq!(
            config.absent_tables,
            ["provisioning/activations", "billing/credit_notes"]
        );
        let shown = (key("absent_tables").unwrap().get)(&config).unwrap();
        assert_eq!(
            KeyKind::Tables.toml(&shown),
            "[\"provisioning/activations\", \"billing/credit_notes\"]"
        );
        assert_eq!(KeyKind::Tables.toml(""), "[]");

        let env = |value: &str| {
            let mut config = ConfigFile::default();
            config
                .apply_env(&[("REVLEAK_ABSENT_TABLES".into(), value.into())])
                .map(|()| config.absent_tables)
        };
        assert_eq!(
            env(" crm/forecasts, crm/forecasts ,").unwrap(),
            ["crm/forecasts"]
        );
        assert_eq!(env("").unwrap(), Vec::<String>::new());
        let unknown = env("billing/payment").unwrap_err().to_string();
        assert!(
            unknown.contains("REVLEAK_ABSENT_TABLES: `billing/payment` is not a canonical table")
                && unknown.contains("billing/payments"),
            "{unknown}"
        );
        let mut in_file =
            ConfigFile::parse("absent_tables = [\"crm/deal\"]\n", "revleak.toml").unwrap();
        let unknown = in_file.apply_env(&[]).unwrap_err().to_string();
        assert!(
            unknown.contains("absent_tables: `crm/deal` is not a canonical table"),
            "{unknown}"
        );
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
