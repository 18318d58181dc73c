//! The customer pages' one error type: every way a public page can fail,
//! mapped to its status, headers and page here and nowhere else — the HTML
//! twin of [`super::error::ApiError`]. The cause of a fault of ours goes to
//! the log when the error is made; the customer sees plain words.

use super::pages::{self, GoneReason, PageContext};
use crate::domain::drop::DropState;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use maud::Markup;

#[derive(Debug)]
pub enum PageError {
    /// 404: no such link.
    NotFound,
    /// 410: the link no longer accepts input, and why.
    Gone(GoneReason),
    /// 410: a newer link replaced this one (SPEC §15); the drop, whose contact the page names.
    Replaced(Box<crate::domain::drop::DropRecord>),
    /// 410: an old link of a drop that no longer takes input: as the drop's state says.
    Closed(Box<crate::domain::drop::DropRecord>),
    /// 429: too many posts from this address; seconds to wait.
    RateLimited(u64),
    /// 415: not a form post.
    UnsupportedForm,
    /// 413: over the form limit.
    TooLarge,
    /// 400: the body did not arrive in time.
    BodyTimeout,
    /// 400: the body could not be read or parsed.
    Unreadable,
    /// 403: the form token is missing, forged or too old.
    FormExpired,
    /// 422: this failed submission used the last attempt; the reason why.
    NowLocked(String),
    /// 503: the database is unreachable; nothing was stored.
    Unavailable,
    /// 500: a fault of ours (logged when made).
    Internal,
}

impl PageError {
    /// A fault of ours: the cause chain is logged (by the API error type's
    /// one logging rule); an unreachable database is a 503, anything else 500.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let _logged = super::error::ApiError::internal(cause);
        if crate::store::is_unavailable(cause) {
            Self::Unavailable
        } else {
            Self::Internal
        }
    }

    /// 410 for a drop in `state`.
    pub fn gone(state: DropState) -> Self {
        Self::Gone(match state {
            DropState::Submitted => GoneReason::Submitted,
            DropState::Revoked => GoneReason::Revoked,
            DropState::Locked => GoneReason::Locked,
            DropState::Expired | DropState::Open => GoneReason::Expired,
        })
    }

    /// The drop the error concerns, when the caller could not know it (a replaced link).
    pub fn drop(&self) -> Option<&crate::domain::drop::DropRecord> {
        match self {
            Self::Replaced(drop) | Self::Closed(drop) => Some(drop),
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Gone(_) | Self::Replaced(_) | Self::Closed(_) => StatusCode::GONE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedForm => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout | Self::Unreadable => StatusCode::BAD_REQUEST,
            Self::FormExpired => StatusCode::FORBIDDEN,
            Self::NowLocked(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited(wait) => Some(*wait),
            Self::Unavailable => Some(30),
            _ => None,
        }
    }

    fn page(&self, ctx: &PageContext) -> Markup {
        let error = |title: &str, message: &str| pages::error_page(ctx, title, message);
        match self {
            Self::NotFound => pages::not_found_page(ctx),
            Self::Gone(reason) => pages::gone_page(ctx, *reason),
            Self::Replaced(_) => pages::gone_page(ctx, GoneReason::Replaced),
            Self::Closed(drop) => match Self::gone(drop.state) {
                Self::Gone(reason) => pages::gone_page(ctx, reason),
                _ => pages::gone_page(ctx, GoneReason::Expired),
            },
            Self::RateLimited(wait) => pages::rate_limited_page(ctx, *wait),
            Self::UnsupportedForm => error(
                "Unsupported form",
                "Please submit the form on the page itself.",
            ),
            Self::TooLarge => error(
                "That was too much text",
                "The form takes at most 16 KiB. Paste only the credential.",
            ),
            Self::BodyTimeout => error(
                "The form took too long to arrive",
                "Nothing was stored. Please reload the page and submit the form again.",
            ),
            Self::Unreadable => error(
                "The form could not be read",
                "Please reload the page and submit the form again.",
            ),
            Self::FormExpired => error(
                "This form has expired",
                "Reload the page and enter the credential again.",
            ),
            Self::NowLocked(reason) => pages::locked_now_page(ctx, reason),
            Self::Unavailable => error(
                "We are briefly unavailable",
                "Nothing you entered was stored. Please try again in a minute.",
            ),
            Self::Internal => error(
                "Something went wrong on our side",
                "Nothing you entered was stored. Please try again in a few minutes.",
            ),
        }
    }

    /// The page, with its status and headers. `ctx` says who is asking and
    /// whom to contact: the drop's contact once the link is known, else the
    /// support address.
    pub fn response(&self, ctx: &PageContext) -> HttpResponse {
        let mut res = HttpResponse::build(self.status());
        res.content_type("text/html; charset=utf-8");
        if let Some(secs) = self.retry_after() {
            res.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
        }
        res.body(self.page(ctx).into_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_one_status_and_a_page() {
        let all = [
            (PageError::NotFound, 404),
            (PageError::Gone(GoneReason::Expired), 410),
            (PageError::RateLimited(7), 429),
            (PageError::UnsupportedForm, 415),
            (PageError::TooLarge, 413),
            (PageError::BodyTimeout, 400),
            (PageError::Unreadable, 400),
            (PageError::FormExpired, 403),
            (PageError::NowLocked("Wrong secret.".into()), 422),
            (PageError::Unavailable, 503),
            (PageError::Internal, 500),
        ];
        let ctx = PageContext::new("Acme <Analytics>");
        let jane = crate::domain::contact::Contact {
            name: "Jane <Doe>".into(),
            email: "jane@example.com".into(),
        };
        let with_contact = PageContext::new("Acme").with_contact(Some(&jane));
        for (e, status) in all {
            let res = e.response(&ctx);
            assert_eq!(res.status().as_u16(), status, "{e:?}");
            let retry = res.headers().get(header::RETRY_AFTER);
            assert_eq!(retry.is_some(), matches!(status, 429 | 503), "{e:?}");
            let page = e.page(&with_contact).into_string();
            assert!(page.contains("mailto:jane@example.com"), "{e:?}");
            assert!(
                page.contains("Jane &lt;Doe&gt;") && !page.contains("<Doe>"),
                "{e:?}"
            );
        }
        assert!(matches!(
            PageError::gone(DropState::Submitted),
            PageError::Gone(GoneReason::Submitted)
        ));
    }

    /// One rule decides 503 for the pages and the API, however many service layers wrap
    /// the store's "unreachable" (the red team saw 500s where a wrapper hid it).
    #[test]
    fn an_unreachable_database_behind_any_wrapper_is_a_503() {
        use crate::service::vend::VendError;
        use crate::service::ServiceError;
        use crate::store::StoreError;
        use actix_web::ResponseError;
        let wrapped: [Box<dyn std::error::Error>; 3] = [
            Box::new(StoreError::Unavailable),
            Box::new(ServiceError::Store(StoreError::Unavailable)),
            Box::new(VendError::Service(ServiceError::Store(
                StoreError::Unavailable,
            ))),
        ];
        for e in &wrapped {
            assert!(
                matches!(PageError::internal(e.as_ref()), PageError::Unavailable),
                "{e:?}"
            );
            assert_eq!(
                super::super::error::ApiError::internal(e.as_ref())
                    .status_code()
                    .as_u16(),
                503,
                "{e:?}"
            );
        }
        let ours = ServiceError::Internal("a bug".into());
        assert!(matches!(PageError::internal(&ours), PageError::Internal));
    }
}
