//! Reading typed values out of environment variables, with errors that name them.

use std::ops::RangeInclusive;

/// A setting that could not be used, with the variable that holds it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            variable,
            problem: problem.into(),
        }
    }
}

/// The environment, seen through a lookup function; blank values count as unset.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    /// The value, trimmed, unless unset or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    }

    /// The value exactly as set (secrets keep their spaces), unless unset.
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.is_empty())
    }

    pub fn required(&self, name: &'static str, why: &str) -> Result<String, ConfigError> {
        self.text(name)
            .ok_or_else(|| ConfigError::new(name, format!("is required {why}")))
    }

    /// One of `options`, or `None` when unset.
    pub fn choice(
        &self,
        name: &'static str,
        options: &[&'static str],
    ) -> Result<Option<&'static str>, ConfigError> {
        let Some(value) = self.text(name) else {
            return Ok(None);
        };
        options
            .iter()
            .find(|option| option.eq_ignore_ascii_case(&value))
            .map(|option| Some(*option))
            .ok_or_else(|| {
                ConfigError::new(
                    name,
                    format!("must be one of {}, not `{value}`", options.join(", ")),
                )
            })
    }

    /// A whole number within `allowed`, or `default` when unset.
    pub fn number(
        &self,
        name: &'static str,
        default: u64,
        allowed: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.text(name) else {
            return Ok(default);
        };
        let value: u64 = raw
            .parse()
            .map_err(|_| ConfigError::new(name, format!("must be a whole number, not `{raw}`")))?;
        if !allowed.contains(&value) {
            return Err(ConfigError::new(
                name,
                format!(
                    "must be between {} and {} (it is {value})",
                    allowed.start(),
                    allowed.end()
                ),
            ));
        }
        Ok(value)
    }

    /// A decimal number within `allowed`, or `default` when unset.
    pub fn decimal(
        &self,
        name: &'static str,
        default: f32,
        allowed: RangeInclusive<f32>,
    ) -> Result<f32, ConfigError> {
        let Some(raw) = self.text(name) else {
            return Ok(default);
        };
        match raw.parse::<f32>() {
            Ok(value) if allowed.contains(&value) => Ok(value),
            _ => Err(ConfigError::new(
                name,
                format!(
                    "must be a number from {} to {}, not `{raw}`",
                    allowed.start(),
                    allowed.end()
                ),
            )),
        }
    }

    /// An http(s) URL without a trailing slash, or `None` when unset.
    pub fn url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.text(name) {
            None => Ok(None),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Some(url.trim_end_matches('/').to_string()))
            }
            Some(url) => Err(ConfigError::new(
                name,
                format!("must start with http:// or https://, not `{url}`"),
            )),
        }
    }
}
