//! The `login` Lambda function. All logic lives in `shared::routes::login`.

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(|app| shared::serve(app, shared::routes::login::handle))
}
