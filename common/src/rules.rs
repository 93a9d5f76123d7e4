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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_lowercase_words() {
        assert!(slugs(&["sf".into(), "new-wave-2".into()]).is_ok());
        for bad in ["", "Sci Fi", "é", &"x".repeat(31)] {
            assert!(slugs(&[bad.to_owned()]).is_err(), "{bad:?}");
        }
    }
}
