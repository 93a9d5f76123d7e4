//! Validation rules that more than one phase uses, as `validator` custom functions:
//! `#[validate(custom(function = "common::rules::slugs"))]`.

use std::borrow::Cow;

use validator::ValidationError;

/// Each entry is a slug: 1-30 of `a-z`, `0-9` and `-` (tags, for example).
pub fn slugs(values: &[String]) -> Result<(), ValidationError> {
    let is_slug = |value: &String| {
        (1..=30).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    match values.iter().find(|value| !is_slug(value)) {
        None => Ok(()),
        Some(bad) => Err(
            ValidationError::new("slug").with_message(Cow::Owned(format!(
                "`{bad}` is not a slug (1-30 of a-z, 0-9, -)"
            ))),
        ),
    }
}

/// Text without control characters (a NUL byte, an escape sequence), which no name or title needs
/// and PostgreSQL refuses outright; line breaks and tabs are allowed.
pub fn printable(text: &str) -> Result<(), ValidationError> {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ValidationError::new("printable")
            .with_message(Cow::Borrowed("must not contain control characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_has_no_control_characters() {
        assert!(printable("Ursula K. Le Guin\nwrote").is_ok());
        assert!(printable("nul\0byte").is_err());
        assert!(printable("\u{1b}[31mred").is_err());
    }

    #[test]
    fn slugs_are_short_lowercase_words() {
        assert!(slugs(&["sf".into(), "new-wave-2".into()]).is_ok());
        for bad in ["", "Sci Fi", "é", &"x".repeat(31)] {
            assert!(slugs(&[bad.to_owned()]).is_err(), "{bad:?}");
        }
    }
}
