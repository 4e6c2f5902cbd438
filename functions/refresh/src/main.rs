//! The `refresh` Lambda function. All logic lives in `shared::routes::refresh`.

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(|app| shared::serve(app, shared::routes::refresh::handle))
}
