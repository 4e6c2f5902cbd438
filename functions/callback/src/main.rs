//! The `callback` Lambda function. All logic lives in `shared::routes::callback`.

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(shared::routes::callback::handle)
}
