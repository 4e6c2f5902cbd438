//! Logging: JSON lines through `tracing`, one per event, with the Lambda request id from the runtime's span.
//! Nothing that reaches a log line may carry a token, code, verifier, secret or cookie value: the types that hold
//! those (`TokenSet`, `SessionSecret`, `ClientSecret`, …) print as `(..)`, and queries are never logged.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn,rustls=warn"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_ansi(false)
        .try_init();
}
