//! The `callback` Lambda function. All logic lives in `shared::routes::callback`.

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(|app| shared::serve(app, shared::routes::callback::handle))
}
