//! One query string, read by several parts of a handler: [`Split`]; and [`present`], for optional
//! parameters that, when given, must have a value.
//!
//! [`crate::extract::Query<T>`] refuses a parameter `T` does not name (a typo such as `?pagesize=`
//! would otherwise be ignored and return the wrong page). A list route reads its query string in
//! parts, though: the page, the ordering and the model's filters (phase 2's `Paginated`, its
//! viewsets' `?ordering=` and filters), each declared once with its own rules and documentation. FastAPI merges the parameters of
//! every `Depends(...)` into one operation; serde's `#[serde(flatten)]` would do it here, but it
//! buffers values as strings first, and then a number such as `?year_min=1970` no longer
//! deserializes.
//!
//! `Query<Split<P, T>>` is the merge: while `T` is deserialized, the keys of the [`QueryPart`] `P`
//! are taken out first, and `T` sees the rest. `Query` still sees one value, so a key neither part
//! names is still a 400, and a value of the wrong type still names its parameter.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};

/// Parameters that one part of a handler takes out of the query string.
pub trait QueryPart: Default {
    /// Reads the value of `key` from `map` when `key` is one of this part's parameters, and says
    /// whether it was.
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// `P`'s parameters, and the rest of the query string as `T`.
#[derive(Debug)]
pub struct Split<P, T>(pub P, pub T);

impl<'de, P: QueryPart, T: Deserialize<'de>> Deserialize<'de> for Split<P, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut part = P::default();
        let rest = T::deserialize(Taking {
            inner: deserializer,
            part: &mut part,
        })?;
        Ok(Split(part, rest))
    }
}

/// The deserializer `T` is given: the query string's, with `P`'s keys taken out of its map.
struct Taking<'p, D, P> {
    inner: D,
    part: &'p mut P,
}

impl<'de, D: Deserializer<'de>, P: QueryPart> Deserializer<'de> for Taking<'_, D, P> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_map(Taker {
            inner: visitor,
            part: self.part,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_struct(
            name,
            fields,
            Taker {
                inner: visitor,
                part: self.part,
            },
        )
    }

    // A query string is a map: everything else is read as one.
    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

struct Taker<'p, V, P> {
    inner: V,
    part: &'p mut P,
}

impl<'de, V: Visitor<'de>, P: QueryPart> Visitor<'de> for Taker<'_, V, P> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(TakingMap {
            map,
            part: self.part,
        })
    }
}

struct TakingMap<'p, A, P> {
    map: A,
    part: &'p mut P,
}

impl<'de, A: MapAccess<'de>, P: QueryPart> MapAccess<'de> for TakingMap<'_, A, P> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.map.next_key::<String>()? {
            if !self.part.take(&key, &mut self.map)? {
                let key: de::value::StringDeserializer<A::Error> = key.into_deserializer();
                return seed.deserialize(key).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// An optional parameter that, when given, has a value: `?year_min=` is not a year, but
/// serde_html_form reads an empty number as `None`, as if the parameter were absent. With
/// `#[serde(default, deserialize_with = "common::query::present")]` an absent parameter is `None`
/// and an empty one is refused as a value of the wrong type (400).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use crate::extract::Query;
    use actix_web::FromRequest;
    use actix_web::test::TestRequest;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default)]
    struct Page {
        page: Option<u32>,
    }

    impl QueryPart for Page {
        fn take<'de, A: MapAccess<'de>>(
            &mut self,
            key: &str,
            map: &mut A,
        ) -> Result<bool, A::Error> {
            match key {
                "page" => self.page = Some(map.next_value()?),
                _ => return Ok(false),
            }
            Ok(true)
        }
    }

    #[derive(Debug, Deserialize)]
    struct Filter {
        #[serde(default, deserialize_with = "present")]
        year: Option<i32>,
        #[serde(default)]
        tag: Vec<String>,
    }

    fn split(uri: &str) -> Result<Split<Page, Filter>, crate::ApiError> {
        let req = TestRequest::with_uri(uri).to_http_request();
        Query::<Split<Page, Filter>>::from_request(&req, &mut actix_web::dev::Payload::None)
            .into_inner()
            .map(Query::into_inner)
    }

    #[test]
    fn each_part_gets_its_own_parameters() {
        let Split(page, filter) = split("/?tag=sf&page=2&year=1970&tag=classic").unwrap();
        assert_eq!(page.page, Some(2));
        assert_eq!(filter.year, Some(1970));
        assert_eq!(filter.tag, ["sf", "classic"]);
        let Split(page, filter) = split("/").unwrap();
        assert_eq!((page.page, filter.year), (None, None));
    }

    #[test]
    fn a_parameter_neither_part_knows_and_a_wrong_type_are_still_refused_by_name() {
        let unknown = split("/?page=1&pagesize=3").unwrap_err().problem();
        assert_eq!(unknown.status, 400);
        assert_eq!(unknown.errors[0].field, "pagesize");
        let wrong = split("/?page=two").unwrap_err().problem();
        assert_eq!(wrong.errors[0].field, "page");
        assert!(
            wrong.errors[0].message.contains("whole number"),
            "{wrong:?}"
        );
        let wrong = split("/?year=soon").unwrap_err().problem();
        assert_eq!(wrong.errors[0].field, "year");
        // Given, a parameter needs a value.
        for empty in ["/?year=", "/?page="] {
            assert_eq!(split(empty).unwrap_err().status(), 400, "{empty}");
        }
    }
}
