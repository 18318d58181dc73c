//! The customer-facing words for checks that could not finish (refusals are each kind's).

use super::report::Transient;

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
