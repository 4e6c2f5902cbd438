//! The `logout` Lambda function. All logic lives in `shared::routes::logout`.

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(shared::routes::logout::handle)
}
