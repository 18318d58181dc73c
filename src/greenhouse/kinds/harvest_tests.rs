//! The local shape checks and secret JSON of the two Harvest kinds.

use crate::greenhouse::kinds::{registry, Fields, HARVEST_V1, HARVEST_V3};
use crate::greenhouse::secret::{Secret, MAX_FIELD_CHARS};
use crate::greenhouse::validation::ValidationError;
use crate::greenhouse::Kind;

fn parse_v3(id: &str, secret: &str, user: Option<&str>) -> Result<Secret, ValidationError> {
    HARVEST_V3.parse(&Fields::from([
        ("client_id", id),
        ("client_secret", secret),
        ("user_id", user.unwrap_or("")),
    ]))
}

fn parse_v1(key: &str) -> Result<Secret, ValidationError> {
    HARVEST_V1.parse(&Fields::from([("api_key", key)]))
}

fn from_json(s: &str) -> Result<Secret, crate::greenhouse::kinds::SecretFormatError> {
    registry().secret_from_json(s.as_bytes())
}

const ID: &str = "acme-client-12345";
const SECRET: &str = "s3cr3t-VALUE-never-shown";

#[test]
fn v3_ok_and_serde_shape() {
    let s = parse_v3(ID, SECRET, Some("4242")).unwrap();
    let v: serde_json::Value = serde_json::to_value(&s).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"kind":"harvest_v3","client_id":ID,"client_secret":SECRET,"user_id":"4242"})
    );
    let back = from_json(&v.to_string()).unwrap();
    assert_eq!(back, s);
    let none = parse_v3(ID, SECRET, Some("")).unwrap();
    assert_eq!(
        serde_json::to_value(&none).unwrap()["user_id"],
        serde_json::Value::Null
    );
    assert_eq!(none.kind(), Kind::from_static("harvest_v3"));
    assert_eq!(none.hint(), "2345");
}

#[test]
fn v1_ok_and_serde_shape() {
    let key = "a7183e1b7e9ab09b8a5cfa87d1934c3c";
    let s = parse_v1(key).unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        serde_json::json!({"kind":"harvest_v1","api_key":key})
    );
    assert_eq!(s.hint(), "4c3c");
    assert_eq!(s.kind(), Kind::from_static("harvest_v1"));
    let back = from_json(&format!(r#"{{"kind":"harvest_v1","api_key":"{key}"}}"#)).unwrap();
    assert_eq!(back, s);
}

#[test]
fn unknown_kind_or_fields_rejected() {
    assert!(from_json(r#"{"kind":"harvest_v2","api_key":"x"}"#).is_err());
    assert!(from_json(r#"{"kind":"harvest_v1","api_key":"x","extra":1}"#).is_err());
    assert!(from_json(r#"{"kind":"harvest_v1"}"#).is_err());
    assert!(from_json(r#"{"kind":"harvest_v1","api_key":null}"#).is_err());
    assert!(from_json(r#"{"api_key":"x"}"#).is_err());
    let e = from_json(r#"{"kind":"harvest_v1","api_key":"x","extra":"hidden-1"}"#).unwrap_err();
    assert!(!e.to_string().contains("hidden-1"));
    // Stored before the registry: `user_id` may be missing (it defaulted to null).
    let old = from_json(r#"{"kind":"harvest_v3","client_id":"a-1","client_secret":"s"}"#).unwrap();
    assert_eq!(old.get("user_id"), None);
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        r#"{"kind":"harvest_v3","client_id":"a-1","client_secret":"s","user_id":null}"#
    );
}

#[test]
fn debug_shows_no_secret() {
    let s = parse_v3(ID, SECRET, Some("4242")).unwrap();
    let d = format!("{s:?}");
    assert!(
        !d.contains(SECRET) && !d.contains(ID) && !d.contains("4242"),
        "{d}"
    );
    assert!(d.contains("2345"));
    let k = parse_v1("a7183e1b7e9ab09b8a5cfa87d1934c3c").unwrap();
    assert!(!format!("{k:?}").contains("a7183e1b"));
}

#[test]
fn hint_is_short_for_short_values() {
    let s =
        from_json(r#"{"kind":"harvest_v3","client_id":"ab","client_secret":"x","user_id":null}"#)
            .unwrap();
    assert_eq!(s.hint(), "ab");
    let s = from_json(
        r#"{"kind":"harvest_v3","client_id":"ééééé","client_secret":"x","user_id":null}"#,
    )
    .unwrap();
    assert_eq!(s.hint(), "éééé");
}

fn v3_err(id: &str, secret: &str, user: Option<&str>) -> ValidationError {
    parse_v3(id, secret, user).unwrap_err()
}

#[test]
fn v3_shape_errors_name_the_field_and_hide_the_value() {
    let cases: &[(&str, &str, Option<&str>, &str)] = &[
        ("", SECRET, None, "client_id"),
        ("acme 1", SECRET, None, "client_id"),
        ("acme:1", SECRET, None, "client_id"),
        (ID, "", None, "client_secret"),
        (ID, "sec ret", None, "client_secret"),
        (ID, SECRET, Some("12a"), "user_id"),
        (ID, SECRET, Some("123456789012345678901"), "user_id"),
        (ID, SECRET, Some("-1"), "user_id"),
    ];
    for (id, secret, user, field) in cases {
        let e = v3_err(id, secret, *user);
        assert_eq!(e.field, *field, "{id:?} {secret:?} {user:?}");
        for v in [id, secret] {
            if v.trim().len() > 2 {
                assert!(!e.message.contains(v.trim()), "{}", e.message);
            }
        }
    }
    let long = "x".repeat(MAX_FIELD_CHARS + 1);
    assert_eq!(v3_err(&long, SECRET, None).field, "client_id");
    assert_eq!(v3_err(ID, &long, None).field, "client_secret");
    assert!(!v3_err(ID, &long, None).message.contains(&long));
    // A long value without the `-<digits>` suffix is the secret in the wrong box (see
    // `harvest_v3::shape`); a short one is left to Greenhouse.
    assert_eq!(
        v3_err(&"x".repeat(MAX_FIELD_CHARS), SECRET, None).field,
        "client_id"
    );
    assert!(parse_v3("notaclient", SECRET, None).is_ok());
    assert!(parse_v3(ID, SECRET, Some("12345678901234567890")).is_ok());
}

#[test]
fn v1_shape_errors() {
    for bad in [
        "",
        "short-key-123",
        &"a".repeat(129),
        "a7183e1b7e9ab09b8a5 cfa87d1934c3c",
        "a7183e1b7e9ab09b8a5cfa87d1934c3c:",
        "a7183e1b7e9ab09b8a5cfa87_1934c3c",
        "a7183e1b7e9ab09b8a5cfa87d1934c3é",
    ] {
        let e = parse_v1(bad).unwrap_err();
        assert_eq!(e.field, "api_key");
        if !bad.is_empty() {
            assert!(!e.message.contains(bad.trim()));
        }
    }
    assert!(parse_v1(&"a".repeat(20)).is_ok());
    assert!(parse_v1(&"A-9".repeat(42)).is_ok());
}

#[test]
fn validate_rechecks_deserialized_values() {
    let s =
        from_json(r#"{"kind":"harvest_v3","client_id":"a:b","client_secret":"x","user_id":null}"#)
            .unwrap();
    assert_eq!(registry().validate(&s).unwrap_err().field, "client_id");
    let fine = parse_v3("acme-1", "x", Some("12")).unwrap();
    registry().validate(&fine).unwrap();
}

#[test]
fn surrounding_whitespace_is_a_paste_artefact() {
    let s = parse_v3(" acme-1\n", "secret\t", Some(" 12 ")).unwrap();
    assert_eq!(s.get("client_id"), Some("acme-1"));
    assert_eq!(s.get("client_secret"), Some("secret"));
    assert_eq!(s.get("user_id"), Some("12"));
    assert_eq!(
        parse_v1(" a7183e1b7e9ab09b8a5cfa87d1934c3c\n")
            .unwrap()
            .hint(),
        "4c3c"
    );
}
