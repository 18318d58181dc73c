//! Request bodies are bounded in time, and a connection whose body was not
//! read to the end is closed after its answer.
//!
//! The HTTP server bounds idle connections and unfinished headers (5 s),
//! but not a body that stops arriving: without this, a client could hold a
//! connection (and a file descriptor) for ever by sending headers and part
//! of a body. This middleware, outermost on every route, does two things:
//!
//! - it puts a deadline on reading the body ([`ServeSettings::body_timeout`],
//!   counted from the moment the request reaches the application, i.e. just
//!   after its headers): a handler still reading then gets [`is_timeout`]
//!   errors, and answers 400 (`body_timeout`);
//! - it keeps the body's receiving end alive until the answer has been
//!   written. The server then sees an answer to a body that was not read and
//!   closes the connection after it. (If the receiving end were dropped
//!   first, the server would keep a chunked connection open to drain the rest
//!   of the body, which a stalled client never sends.)
//!
//! [`ServeSettings::body_timeout`]: crate::config::ServeSettings::body_timeout

use crate::config::BODY_TIMEOUT;
use crate::web::AppState;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, PayloadError};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use futures_util::{Stream, StreamExt};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Whether a body read failed because the deadline passed.
pub fn is_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

pub async fn bound_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(BODY_TIMEOUT, |s| s.settings.body_timeout);
    let body = Rc::new(RefCell::new(req.parts_mut().1.take()));
    let bounded: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
        body: body.clone(),
        deadline: Box::pin(tokio::time::sleep(timeout)),
        expired: false,
    });
    req.set_payload(Payload::from(bounded));
    match next.call(req).await {
        Ok(res) => Ok(res.map_body(|_, inner| HeldUntilSent {
            inner: BoxBody::new(inner),
            _body: body,
        })),
        // An error becomes its response here, so that one holds the body too.
        Err(e) => {
            let res = e
                .error_response()
                .map_body(|_, inner| BoxBody::new(HeldUntilSent { inner, _body: body }));
            Err(InternalError::from_response(e, res).into())
        }
    }
}

/// The request body, ending in a timeout error once the deadline passes.
struct Deadline {
    body: Rc<RefCell<Payload>>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        // The deadline first, so a client trickling bytes cannot outlast it.
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired = true;
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        this.body.borrow_mut().poll_next_unpin(cx)
    }
}

/// A response body that keeps the request body's receiving end alive until
/// the response has been written (see the module documentation).
struct HeldUntilSent {
    inner: BoxBody,
    _body: Rc<RefCell<Payload>>,
}

impl MessageBody for HeldUntilSent {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_next(cx)
    }
}
