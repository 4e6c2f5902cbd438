//! How long `proxy::batch::check_body` takes on a 1,000-part batch (multipart and JSON): the check and the
//! canonical rebuild the proxy forwards. No criterion: the median of repeated runs, printed.
//! `cargo run --release -p bench --example batch_check`

use shared::proxy::batch::{Scope, check_body};
use std::time::{Duration, Instant};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let allowlist = ["domain/odata/".to_string()];
    let scope = Scope { base: "https://x.my.erp.net/api", root: "domain/odata/", allowlist: &allowlist };
    let part = "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET Crm_Sales_Customers?$top=2&$filter=Name%20eq%20'a' HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n";
    let multipart = format!("{}--batch_1--\r\n", part.repeat(1000));
    let one = r#"{"id":"1","method":"GET","url":"Crm_Sales_Customers?$top=2","headers":{"Accept":"application/json"},"body":{"a":[1,2,3]}}"#;
    let json = format!("{{\"requests\":[{}]}}", vec![one; 1000].join(","));
    for (name, content_type, body) in [
        ("multipart/mixed", "multipart/mixed; boundary=batch_1", multipart.as_bytes()),
        ("application/json", "application/json", json.as_bytes()),
    ] {
        let checked = check_body(content_type, body, &scope).expect("the batch passes");
        assert_eq!(checked.requests.len(), 1000);
        let runs: Vec<Duration> = (0..50)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(check_body(content_type, std::hint::black_box(body), &scope).unwrap());
                t.elapsed()
            })
            .collect();
        println!("{name}: 1,000 parts, {} KiB: median {:.2} ms", body.len() / 1024, median(runs).as_secs_f64() * 1e3);
    }
}
