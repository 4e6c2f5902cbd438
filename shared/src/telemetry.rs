//! Logging: JSON lines through `tracing`, one per event, with the Lambda request id from the runtime's span.
//! Nothing that reaches a log line may carry a token, code, verifier, secret or cookie value: the types that hold
//! those (`TokenSet`, `SessionSecret`, `ClientSecret`, …) print as `(..)`, and queries are never logged.
//!
//! `RUST_LOG` chooses the levels, but the crates below us are capped at `debug` whatever it says: at `trace` they
//! log what passes through them raw (`lambda_runtime` every event received, with its cookies, query and body;
//! the HTTP and AWS clients their requests and responses), which would put the session cookie, codes and tokens
//! in the logs. At `debug` they log connections and frames, never a header value or a body (h2 prints its frames
//! without their fields, hyper its header count, the AWS SDK its bodies only at `trace`): so neither the identity
//! server's token and userinfo answers nor the sessions' stored claims reach a log line at any level.
//!
//! No personal data either: our own lines never carry a login name (`sub`), a name, an e-mail address or other
//! claims; a line that must tell users apart carries `UserKey::log_handle()` (a stable, non-reversible hash).

use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

/// The targets capped at [`CAP`]: the Lambda runtime and every client library that handles requests or responses.
const CAPPED: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tower",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_config",
    "aws_sdk_dynamodb",
    "aws_runtime",
    "aws_sigv4",
    "aws_sdk_sts",
    "aws_credential_types",
    "aws_types",
    "aws_smithy_json",
    "aws_smithy_query",
    "aws_smithy_xml",
    "aws_smithy_observability",
    "hyper_rustls",
    "tokio_rustls",
];

const CAP: LevelFilter = LevelFilter::DEBUG;

fn capped() -> Targets {
    CAPPED.iter().fold(Targets::new().with_default(LevelFilter::TRACE), |t, target| t.with_target(*target, CAP))
}

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn,rustls=warn"));
    let layer = fmt::layer()
        .json()
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_ansi(false)
        .with_filter(filter.and(capped()));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_and_the_clients_never_log_at_trace() {
        let cap = capped();
        for target in [
            "lambda_runtime::layers::api_response",
            "hyper::proto::h1",
            "aws_smithy_runtime::client",
            "h2",
            "aws_sdk_sts::operation",
            "hyper_rustls::config",
        ] {
            assert!(!cap.would_enable(target, &tracing::Level::TRACE), "{target}");
            assert!(cap.would_enable(target, &tracing::Level::DEBUG), "{target}");
        }
        assert!(cap.would_enable("shared::app", &tracing::Level::TRACE), "our own code follows RUST_LOG");
    }
}
