//! Short codes: random ones, and the aliases people choose.
//!
//! **Roadmap:** a URL shortener: "high read traffic, caching (Redis), redirect status codes". The
//! code is the whole of the short URL that is not the host, so it is the first decision.
//!
//! **Python:** `secrets.choice(string.ascii_letters + string.digits)` in a loop, or a hashids /
//! base62 encoding of the row id; the `IntegrityError` of a taken code caught and retried.
//!
//! **Rust:** [`random_code`] draws base62 characters from the operating system's generator
//! (`OsRng`), each byte kept only if it is below 248 (= 4 × 62), so that every character is
//! equally likely; `byte % 62` on all 256 values would favour the first eight. Codes are random
//! rather than the row id in base62: consecutive ids let anyone walk every link in the database.
//! How long a code is comes from arithmetic, in [`code_length`]: with `n` links already made and
//! `62^len` possible codes, a new code is taken with probability `n / 62^len`; the length is the
//! shortest that keeps that below [`RETRY_ODDS`] for [`EXPECTED_LINKS`] links (6 characters:
//! 10 million links against 56.8 billion codes is one retry in 5,700). A taken code is not an
//! error: the insert fails on the `UNIQUE` constraint, and another code is drawn, up to
//! [`ATTEMPTS`] times. Aliases ([`check_alias`]) share the namespace: 3 to 64 letters, digits,
//! `-` and `_`, never one of the [`RESERVED`] words that name this API's own paths, and a taken
//! one is a 409.
//!
//! **Why:** the code space is the service's capacity. Too short and inserts retry (and the codes
//! are guessable by trying them all); too long and every printed link is longer than it needs be.

use rand_core::{OsRng, RngCore};
use validator::ValidationError;

/// The 62 characters of a code.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// How many links the code length is planned for.
pub const EXPECTED_LINKS: f64 = 10_000_000.0;
/// The most likely a new code may be to be taken already, at [`EXPECTED_LINKS`].
pub const RETRY_ODDS: f64 = 0.001;
/// How many codes an insert tries before it gives up (at the planned odds, the fifth try fails
/// one time in 10^15).
pub const ATTEMPTS: usize = 5;

/// Words that are paths of this API (and a few a shortener will want one day): never aliases.
/// Compared without case, so that `Links` cannot shadow `links` on a case-insensitive proxy.
pub const RESERVED: &[&str] = &[
    "links",
    "api-keys",
    "auth",
    "docs",
    "openapi",
    "metrics",
    "health",
    "static",
    "stats",
    "api",
    "admin",
    "login",
    "logout",
    "register",
    "account",
    "favicon",
    "robots",
    "well-known",
];

/// An alias: 3 to 64 of these. The schema states the same pattern.
pub const ALIAS_PATTERN: &str = "^[A-Za-z0-9_-]{3,64}$";

/// The shortest length at which a new code is taken with odds below `odds` when `links` exist.
pub fn code_length(links: f64, odds: f64) -> usize {
    let mut length = 1;
    let mut space = 62.0_f64;
    while links / space > odds {
        length += 1;
        space *= 62.0;
    }
    length
}

/// A random code of `length` base62 characters, every character equally likely.
pub fn random_code(length: usize) -> String {
    let mut code = String::with_capacity(length);
    let mut bytes = [0_u8; 16];
    while code.len() < length {
        OsRng.fill_bytes(&mut bytes);
        for byte in bytes {
            // 248 = 4 × 62: the bytes above would make the first 8 characters more likely.
            if byte < 248 && code.len() < length {
                code.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    code
}

/// Whether `code` could be a code or an alias at all: what the redirect checks before it looks.
pub fn plausible(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// The validator's rule for an alias: the pattern, and not a reserved word.
pub fn check_alias(alias: &str) -> Result<(), ValidationError> {
    let allowed = (3..=64).contains(&alias.len()) && plausible(alias);
    if !allowed {
        return Err(ValidationError::new("alias")
            .with_message("3 to 64 letters, digits, `-` or `_`".into()));
    }
    let lower = alias.to_ascii_lowercase();
    if RESERVED.contains(&lower.as_str()) {
        return Err(ValidationError::new("reserved")
            .with_message(format!("`{alias}` is reserved: it names a path of this API").into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_is_the_shortest_that_keeps_the_odds() {
        assert_eq!(code_length(EXPECTED_LINKS, RETRY_ODDS), 6);
        // 62^5 = 916 million: 10 million links would collide one time in 92.
        assert!(EXPECTED_LINKS / 62_f64.powi(5) > RETRY_ODDS);
        assert!(EXPECTED_LINKS / 62_f64.powi(6) <= RETRY_ODDS);
        assert_eq!(code_length(1.0, 0.5), 1);
        assert_eq!(code_length(1e9, 1e-6), 9);
    }

    #[test]
    fn codes_use_every_character_alike() {
        let mut counts = [0_u32; 62];
        for _ in 0..2_000 {
            for byte in random_code(31).bytes() {
                let index = ALPHABET.iter().position(|c| *c == byte).unwrap();
                counts[index] += 1;
            }
        }
        // 62,000 characters: 1,000 each expected; a biased draw (byte % 62) would give the first
        // eight about 1,240.
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 850 && *max < 1_150, "{counts:?}");
        assert!(random_code(6).len() == 6 && plausible(&random_code(6)));
    }

    #[test]
    fn aliases_follow_the_pattern_and_miss_the_reserved_words() {
        let pattern = regex::Regex::new(ALIAS_PATTERN).unwrap();
        let pattern = |text: &str| pattern.is_match(text);
        for good in ["my-talk", "Q4_report", "abc", &"x".repeat(64)] {
            assert!(check_alias(good).is_ok(), "{good}");
            assert!(pattern(good), "{good}");
        }
        for bad in ["ab", "has space", "dot.ted", "ünï", &"x".repeat(65), "a/b"] {
            assert!(check_alias(bad).is_err(), "{bad}");
            assert!(!pattern(bad), "{bad}");
        }
        for reserved in ["links", "Links", "DOCS", "metrics", "auth"] {
            let err = check_alias(reserved).unwrap_err();
            assert_eq!(err.code, "reserved", "{reserved}");
        }
    }
}
