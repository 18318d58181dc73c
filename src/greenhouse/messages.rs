//! The customer-facing words for refusals and for checks that could not finish.

use super::report::{Refusal, Transient};

const STORED: &str = "we stored your credential encrypted and will check it again shortly; \
                      you do not need to do anything now.";

pub(crate) fn pending_message(t: Transient) -> String {
    let why = match t {
        Transient::RateLimited => "Greenhouse asked us to slow down (rate limit)",
        Transient::TimedOut => "Greenhouse did not answer in time",
        Transient::Unavailable => "Greenhouse is not answering right now",
        Transient::Redirected => "Greenhouse answered with a redirect we do not follow",
        Transient::Unexpected => "Greenhouse gave an answer we did not expect",
        Transient::TokenRejected => {
            "Greenhouse stopped accepting the access token it had just issued"
        }
    };
    format!("{why}; {STORED}")
}

pub(crate) fn refusal_message(r: Refusal) -> &'static str {
    match r {
        Refusal::BadClient => {
            "Greenhouse refused this Client ID and Client Secret. Check that you copied both \
             exactly, from the same credential, and that the credential has not been deleted. \
             If you no longer have the secret, create a new Harvest V3 (OAuth) credential in \
             Configure → Dev Center → API Credentials."
        }
        Refusal::MalformedClientId => {
            "Greenhouse says this Client ID looks malformed: a Greenhouse Client ID ends with a \
             dash and digits. Copy the Client ID again from Configure → Dev Center → API \
             Credentials."
        }
        Refusal::UserIdRefused => {
            "Greenhouse refused the User ID. Check the number (it is at the end of the user's \
             page address, app.greenhouse.io/account/users/<number>), make sure the user is \
             active and a Site Admin, or leave the User ID empty."
        }
        Refusal::UnauthorizedClient => {
            "Greenhouse does not allow this credential to be used this way. Create a \
             \"Harvest V3 (OAuth)\" credential in Configure → Dev Center → API Credentials \
             and paste its Client ID and Client Secret."
        }
        Refusal::InvalidScope => {
            "Greenhouse refused the permissions (scopes) of this credential. Open the credential \
             under Configure → Dev Center → API Credentials, check Manage Scopes, and try again."
        }
        Refusal::Other => {
            "Greenhouse refused this credential. Check that you copied it exactly and that it \
             has not been deleted or disabled."
        }
        Refusal::BadV1Key => {
            "Greenhouse refused this API key. Check that you copied all of it; if it was \
             deleted or you cannot see it any more, create a new key."
        }
        Refusal::V1Retired => {
            "Greenhouse no longer accepts Harvest v1/v2 API keys. Create a \"Harvest V3 (OAuth)\" \
             credential in Configure → Dev Center → API Credentials instead."
        }
    }
}
