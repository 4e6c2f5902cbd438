//! The API's answer body on its way to the browser, as it arrives: each chunk leaves when it comes in (through the
//! OData link rewriter for JSON, untouched otherwise), memory does not grow with the answer, and the stream is cut
//! when the API stalls longer than the idle timeout or sends more than Lambda may stream.

use super::links::LinkRewriter;
use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The body type of a streamed answer: the proxied stream, or a whole problem+json.
pub type ProxyBody = UnsyncBoxBody<Bytes, lambda_http::Error>;

/// Lambda's limit on a streamed response (200 MB); the envelope's prelude takes a little of it.
pub const STREAM_LIMIT: u64 = 200 * 1024 * 1024 - 64 * 1024;

/// A whole body (a problem+json, an answer of the other functions) as a [`ProxyBody`].
pub fn whole(body: lambda_http::Body) -> ProxyBody {
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    http_body_util::Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

/// The upstream body, passed on chunk by chunk.
pub struct Passing {
    inner: Incoming,
    rewriter: Option<LinkRewriter>,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    sent: u64,
    ended: bool,
}

impl Passing {
    /// `api_base` given: the body is JSON and its link annotations are rewritten on the way.
    pub fn body(inner: Incoming, api_base: Option<&str>, idle: Duration) -> ProxyBody {
        let deadline = Box::pin(tokio::time::sleep(idle));
        let rewriter = api_base.map(LinkRewriter::new);
        Passing { inner, rewriter, idle, deadline, sent: 0, ended: false }.boxed_unsync()
    }

    fn pass(&mut self, data: Bytes) -> Result<Bytes, lambda_http::Error> {
        let data = match self.rewriter.as_mut() {
            None => data,
            Some(r) => {
                let mut out = Vec::with_capacity(data.len());
                r.push(&data, &mut out);
                Bytes::from(out)
            }
        };
        self.sent += data.len() as u64;
        if self.sent > STREAM_LIMIT {
            return Err("upstream answer over Lambda's streaming limit: stream cut".into());
        }
        Ok(data)
    }
}

impl Body for Passing {
    type Data = Bytes;
    type Error = lambda_http::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let Poll::Ready(next) = polled else {
            ready!(this.deadline.as_mut().poll(cx));
            this.ended = true;
            return Poll::Ready(Some(Err("upstream stalled mid-answer: stream cut".into())));
        };
        this.deadline.as_mut().reset(Instant::now() + this.idle);
        match next {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(this.pass(data).map(Frame::data))),
                // Trailers: not passed on (the Lambda stream has none).
                Err(_) => Poll::Ready(Some(Ok(Frame::data(Bytes::new())))),
            },
            Some(Err(e)) => {
                this.ended = true;
                Poll::Ready(Some(Err(format!("upstream body: {e}").into())))
            }
            None => {
                this.ended = true;
                let mut tail = vec![];
                if let Some(r) = this.rewriter.as_mut() {
                    r.finish(&mut tail);
                }
                if tail.is_empty() { Poll::Ready(None) } else { Poll::Ready(Some(Ok(Frame::data(Bytes::from(tail))))) }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        // The rewrite may shorten the body: only an untouched stream keeps the upstream's length.
        if self.rewriter.is_none() { self.inner.size_hint() } else { SizeHint::default() }
    }
}
