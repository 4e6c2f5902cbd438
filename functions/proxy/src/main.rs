//! The `proxy` Lambda function. All logic lives in `shared::routes::proxy`.

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(shared::routes::proxy::handle)
}
