//! Local shape checks and the secret JSON of `candidate_ingestion`.

use super::*;
use crate::greenhouse::kinds::registry;

const KEY: &str = "9f3c1a7e55b04d2c8e6a1b2c3d4e5f60";

fn parse(key: &str, email: &str, board: &str) -> Result<Secret, ValidationError> {
    CandidateIngestion.parse(&Fields::from([
        ("api_key", key),
        ("user_email", email),
        ("job_board_token", board),
    ]))
}

#[test]
fn secret_json_shape_and_hint() {
    let s = parse(KEY, " ada@initech.example ", "").unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        serde_json::json!({"kind":"candidate_ingestion","api_key":KEY,
            "user_email":"ada@initech.example","job_board_token":null})
    );
    assert_eq!(s.hint(), "5f60");
    let with_board = parse(KEY, "ada@initech.example", "initech").unwrap();
    let json = serde_json::to_vec(&with_board).unwrap();
    assert_eq!(registry().secret_from_json(&json).unwrap(), with_board);
    assert_eq!(with_board.get("job_board_token"), Some("initech"));
    let d = format!("{with_board:?}");
    assert!(
        !d.contains(KEY) && !d.contains("ada@") && !d.contains("initech"),
        "{d}"
    );
}

#[test]
fn shape_errors_name_the_field_and_hide_the_value() {
    for (key, email, board, field) in [
        ("", "ada@initech.example", "", "api_key"),
        ("abc def", "ada@initech.example", "", "api_key"),
        ("abc:def", "ada@initech.example", "", "api_key"),
        (KEY, "", "", "user_email"),
        (KEY, "ada", "", "user_email"),
        (KEY, "ada@initech", "", "user_email"),
        (KEY, "ada@@initech.example", "", "user_email"),
        (KEY, "a da@initech.example", "", "user_email"),
        (KEY, "adé@initech.example", "", "user_email"),
        (KEY, "ada@initech.example", "no/slash", "job_board_token"),
        (KEY, "ada@initech.example", "in itech", "job_board_token"),
    ] {
        let e = parse(key, email, board).unwrap_err();
        assert_eq!(e.field, field, "{key:?} {email:?} {board:?}");
        for v in [key, email, board] {
            if v.len() > 3 {
                assert!(!e.message.contains(v), "{}", e.message);
            }
        }
    }
}

#[test]
fn profiles_and_fields() {
    let ing = Profile::named(&CandidateIngestion, "ingestion").unwrap();
    assert_eq!(ing, CandidateIngestion.default_profile());
    assert_eq!(ing.required, ["jobs"]);
    assert_eq!(ing.optional, ["candidates", "prospect_pools"]);
    let min = Profile::named(&CandidateIngestion, "minimal").unwrap();
    assert_eq!(min.required, ["current_user"]);
    assert!(Profile::named(&CandidateIngestion, "full-analytics").is_err());
    assert!(Profile::explicit(&CandidateIngestion, ["users"], [""; 0]).is_err());
    let names: Vec<_> = FIELDS.iter().map(|f| f.name).collect();
    assert_eq!(names, ["api_key", "user_email", "job_board_token"]);
    assert!(FIELDS[0].secret && !FIELDS[1].secret);
    assert!(FIELDS[1].kept("ada@initech.example", false));
    assert!(!FIELDS[1].kept(KEY, false));
    assert!(!FIELDS[2].kept("initech", false) && FIELDS[2].kept("initech", true));
}
