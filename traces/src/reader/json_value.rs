//! Lenient JSON value captures for the Mooncake reader: accept any JSON type while parsing so
//! that a wrong value becomes a [`TraceError`](crate::TraceError) naming the field and the value,
//! rather than a bare serde message.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One JSON value where a number is expected.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) enum Scalar {
    /// The field is absent.
    #[default]
    Missing,
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Negative(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// Anything else, rendered as JSON-like text (`"12"`, `true`, `null`, `[...]`, `{...}`).
    Other(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Missing => f.write_str("(missing)"),
            Scalar::Unsigned(v) => write!(f, "{v}"),
            Scalar::Negative(v) => write!(f, "{v}"),
            Scalar::Float(v) => write!(f, "{v:?}"),
            Scalar::Other(text) => f.write_str(text),
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Unsigned(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(u64::try_from(v).map_or(Scalar::Negative(v), Scalar::Unsigned))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Other(format!("{v:?}")))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other("null".to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other("[...]".to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other("{...}".to_owned()))
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// The `hash_ids` field.
#[derive(Debug, Default, PartialEq)]
pub(super) enum HashIds {
    /// The field is absent.
    #[default]
    Missing,
    /// An array of non-negative integers.
    Ids(Vec<u64>),
    /// An array with a bad element: its index and value.
    BadElement(usize, Scalar),
    /// Not an array: the value.
    NotArray(Scalar),
}

struct HashIdsVisitor;

impl<'de> Visitor<'de> for HashIdsVisitor {
    type Value = HashIds;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HashIds, A::Error> {
        let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(32));
        while let Some(element) = seq.next_element::<Scalar>()? {
            match element {
                Scalar::Unsigned(id) => ids.push(id),
                bad => {
                    let index = ids.len();
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(HashIds::BadElement(index, bad));
                }
            }
        }
        Ok(HashIds::Ids(ids))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<HashIds, E> {
        ScalarVisitor.visit_u64(v).map(HashIds::NotArray)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<HashIds, E> {
        ScalarVisitor.visit_i64(v).map(HashIds::NotArray)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<HashIds, E> {
        ScalarVisitor.visit_f64(v).map(HashIds::NotArray)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<HashIds, E> {
        ScalarVisitor.visit_str(v).map(HashIds::NotArray)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<HashIds, E> {
        ScalarVisitor.visit_bool(v).map(HashIds::NotArray)
    }

    fn visit_unit<E: de::Error>(self) -> Result<HashIds, E> {
        ScalarVisitor.visit_unit().map(HashIds::NotArray)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<HashIds, A::Error> {
        ScalarVisitor.visit_map(map).map(HashIds::NotArray)
    }
}

impl<'de> Deserialize<'de> for HashIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HashIdsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_capture_every_json_type() {
        let cases = [
            ("12", Scalar::Unsigned(12)),
            ("-3", Scalar::Negative(-3)),
            ("1.5", Scalar::Float(1.5)),
            ("\"7\"", Scalar::Other("\"7\"".into())),
            ("true", Scalar::Other("true".into())),
            ("null", Scalar::Other("null".into())),
            ("[1,2]", Scalar::Other("[...]".into())),
            ("{\"a\":1}", Scalar::Other("{...}".into())),
        ];
        for (text, want) in cases {
            assert_eq!(
                serde_json::from_str::<Scalar>(text).unwrap(),
                want,
                "{text}"
            );
        }
        assert_eq!(Scalar::Float(2.0).to_string(), "2.0");
    }

    #[test]
    fn hash_ids_capture_bad_elements() {
        let ok: HashIds = serde_json::from_str("[0, 1, 5]").unwrap();
        assert_eq!(ok, HashIds::Ids(vec![0, 1, 5]));
        let bad: HashIds = serde_json::from_str("[0, -1, 5]").unwrap();
        assert_eq!(bad, HashIds::BadElement(1, Scalar::Negative(-1)));
        let not: HashIds = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(not, HashIds::NotArray(Scalar::Other("\"x\"".into())));
    }
}
