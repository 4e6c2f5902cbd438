//! The `session` Lambda function. All logic lives in `shared::routes::session`.

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(shared::routes::session::handle)
}
