//! The black-box tests of the BFF on the real local stack, as ONE test binary (one link instead of six). Each
//! module is one area; filter with nextest, e.g. `cargo nextest run -p tests -E 'test(/^refresh::/)'`.
//! Run them under `cargo xtask with-dynamodb -- …` (as `make test` does): the harness is in tests/src/.

mod abuse;
mod batch;
mod chaos;
mod dbsc;
mod edge;
mod faults;
mod front_door;
mod hostile;
mod instances;
mod managed;
mod observability;
mod operator;
mod refresh;
mod security;
mod sessions;
mod signin;
mod sizes;
