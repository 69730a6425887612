//! What an account's email, password and name must look like.

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};
use crate::model::characters::{is_bidi_control, is_zero_width};

const MAX_EMAIL_CHARS: usize = 254;
const MIN_PASSWORD_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that hashing stays cheap.
pub const MAX_PASSWORD_CHARS: usize = 256;
const MAX_NAME_CHARS: usize = 100;
/// Addresses at `.localhost` (RFC 6761) name accounts of this machine's own
/// `askdocs` commands; nobody can claim one over HTTP.
pub const RESERVED_DOMAIN_SUFFIX: &str = ".localhost";

/// Trims, lower-cases and NFKC-normalises an email address and checks that
/// it looks deliverable, so that every way of writing one address ("ＡＤＡ",
/// "İda" beside "ida") names one account.
pub fn normalize_email(raw: &str) -> Result<String> {
    if raw.chars().any(|c| is_zero_width(c) || is_bidi_control(c)) {
        return Err(Error::Validation(
            "email must not contain invisible characters".into(),
        ));
    }
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Error::Validation("email is required".into()));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(Error::Validation(format!(
            "email must be at most {MAX_EMAIL_CHARS} characters"
        )));
    }
    let invalid = || Error::Validation("email is not a valid address".into());
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    let characters_ok = !email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'));
    if local.is_empty() || local.chars().count() > 64 || !domain_ok || !characters_ok {
        return Err(invalid());
    }
    Ok(comparable(&email))
}

/// The form two spellings of one address share: NFKC folds full-width and
/// compatibility forms ("ａｄａ" is "ada"); lower-casing "İ" gave "i" and a
/// combining dot no one sees on an "i"; spaces a compatibility form
/// decomposes into ("¨" is " ̈") are not part of an address.
fn comparable(email: &str) -> String {
    let folded: String = email
        .nfkc()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
        .replace("i\u{307}", "i");
    folded.nfc().collect()
}

/// At least 8 characters with an upper-case letter, a lower-case letter and a digit.
pub fn check_password_policy(password: &str) -> Result<()> {
    let length = password.chars().count();
    let mut missing = Vec::new();
    if length < MIN_PASSWORD_CHARS {
        missing.push(format!("at least {MIN_PASSWORD_CHARS} characters"));
    }
    if !password.chars().any(|c| c.is_ascii_uppercase()) {
        missing.push("an upper-case letter (A-Z)".to_string());
    }
    if !password.chars().any(|c| c.is_ascii_lowercase()) {
        missing.push("a lower-case letter (a-z)".to_string());
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit (0-9)".to_string());
    }
    if !missing.is_empty() {
        return Err(Error::Validation(format!(
            "password must have {}",
            missing.join(", ")
        )));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(Error::Validation(format!(
            "password must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Trims a display name; blank means none.
pub fn normalize_name(raw: Option<&str>) -> Result<Option<String>> {
    let Some(name) = raw.map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Validation(format!(
            "name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Error::Validation(
            "name must not contain control or bidirectional override characters".into(),
        ));
    }
    Ok(Some(name.to_string()))
}

/// Whether an (already normalised) email is one only this machine's commands may use.
pub fn is_reserved(email: &str) -> bool {
    email.rsplit_once('@').is_some_and(|(_, domain)| {
        domain == "localhost" || domain.ends_with(RESERVED_DOMAIN_SUFFIX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
    }

    #[test]
    fn every_way_of_writing_one_address_is_one_address() {
        for variant in [
            "ａｄａ@ｅｘａｍｐｌｅ.ｃｏｍ",
            "ADA@EXAMPLE.COM",
            "\u{0130}da@example.com",
            "i\u{307}da@example.com",
        ] {
            let expected = if variant.contains(['\u{130}', '\u{307}']) {
                "ida@example.com"
            } else {
                "ada@example.com"
            };
            assert_eq!(normalize_email(variant).unwrap(), expected, "{variant}");
        }
        for hidden in ["a\u{200B}da@example.com", "ada@exa\u{202E}mple.com"] {
            assert!(normalize_email(hidden).is_err(), "{hidden}");
        }
    }

    #[test]
    fn names_refuse_bidirectional_overrides() {
        assert!(normalize_name(Some("Ada \u{202E}ecalovoL")).is_err());
        assert_eq!(
            normalize_name(Some(" Ada ")).unwrap().as_deref(),
            Some("Ada")
        );
    }

    #[test]
    fn malformed_and_oversized_emails_are_rejected() {
        let long = format!("{}@example.com", "a".repeat(1_000_000));
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@@example.com",
            "ada@.com",
            long.as_str(),
        ] {
            let error = normalize_email(bad).unwrap_err();
            assert!(
                matches!(error, Error::Validation(_)),
                "{bad:.40}: {error:?}"
            );
        }
    }

    #[test]
    fn the_password_policy_names_what_is_missing() {
        assert!(check_password_policy("Correct1horse").is_ok());
        let message = check_password_policy("short").unwrap_err().to_string();
        assert!(message.contains("at least 8 characters"), "{message}");
        assert!(message.contains("an upper-case letter"), "{message}");
        assert!(message.contains("a digit"), "{message}");
        assert!(check_password_policy("alllowercase1")
            .unwrap_err()
            .to_string()
            .contains("upper-case"));
        assert!(check_password_policy("ALLUPPERCASE1")
            .unwrap_err()
            .to_string()
            .contains("lower-case"));
        assert!(check_password_policy("NoDigitsHere")
            .unwrap_err()
            .to_string()
            .contains("digit"));
        assert!(check_password_policy(&format!("Aa1{}", "x".repeat(300))).is_err());
    }

    #[test]
    fn names_are_trimmed_and_blank_means_none() {
        assert_eq!(normalize_name(Some("  Ada  ")).unwrap(), Some("Ada".into()));
        assert_eq!(normalize_name(Some("   ")).unwrap(), None);
        assert_eq!(normalize_name(None).unwrap(), None);
        assert!(normalize_name(Some(&"n".repeat(101))).is_err());
        assert!(normalize_name(Some("bad\u{0}name")).is_err());
    }

    #[test]
    fn local_addresses_are_reserved() {
        assert!(is_reserved("local@askdocs.localhost"));
        assert!(is_reserved("x@localhost"));
        assert!(!is_reserved("ada@example.com"));
        assert!(!is_reserved("ada@notlocalhost.com"));
    }
}
