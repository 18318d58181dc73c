//! Whole numbers in JSON bodies. JSON Schema (and so the OpenAPI document)
//! calls `300.0` an `integer` as much as `300`; serde's `i64` takes only
//! the latter. Fields documented as integers read through [`whole`].

use serde::{de::Error as _, Deserialize, Deserializer};

/// `null` or absent: `None`; a number without a fractional part that fits
/// an `i64`: that number; anything else is refused.
pub fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    // ±2^63 bound the i64 range; a float that is whole and inside it converts exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match n.as_f64() {
        #[allow(clippy::cast_possible_truncation)]
        Some(f) if f.fract() == 0.0 && f > -LIMIT && f < LIMIT => Ok(Some(f as i64)),
        _ => Err(D::Error::custom(
            "invalid value: a number, expected a whole number in range",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "whole")]
        n: Option<i64>,
    }

    fn n(json: &str) -> Result<Option<i64>, serde_json::Error> {
        serde_json::from_str::<T>(json).map(|t| t.n)
    }

    #[test]
    fn whole_numbers_in_either_notation() {
        assert_eq!(n(r#"{"n": 300}"#).unwrap(), Some(300));
        assert_eq!(n(r#"{"n": 300.0}"#).unwrap(), Some(300));
        assert_eq!(n(r#"{"n": 3e2}"#).unwrap(), Some(300));
        assert_eq!(n(r#"{"n": -1}"#).unwrap(), Some(-1));
        assert_eq!(n(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(n("{}").unwrap(), None);
        for bad in [
            r#"{"n": 1.5}"#,
            r#"{"n": "300"}"#,
            r#"{"n": true}"#,
            r#"{"n": 1e300}"#,
            r#"{"n": 18446744073709551615}"#,
        ] {
            assert!(n(bad).is_err(), "{bad}");
        }
    }
}
