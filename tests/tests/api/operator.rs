//! The operator command (`bff-operator`, the `operator/` crate) against DynamoDB Local and a real stack: list a
//! user's sessions, end one, end all of a user's, count live sessions; never a token, cookie value or store key in
//! what it prints.

use bff_operator::{Cli, Command, run};
use clap::Parser;
use reqwest::Method;
use shared::http::cookies::SESSION;
use shared::session::store::SessionStore;
use tests::{Browser, TestApp, spawn_app};

const API: &str = "/api/domain/odata/Crm_Sales_Customers?$top=1";

async fn operator(app: &TestApp, args: &[&str]) -> Result<String, String> {
    let cli = Cli::try_parse_from(["bff-operator", "--table", &app.table].iter().chain(args)).unwrap();
    let store = SessionStore::new(app.dynamo.clone(), app.table.clone());
    let mut out = Vec::new();
    run(&store, &cli.command, &mut out).await.map(|()| String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn the_operator_lists_ends_one_ends_all_and_counts_without_printing_a_secret() {
    let app = spawn_app().await;
    let (mut one, mut two, mut alice) = (Browser::new(), Browser::new(), Browser::new());
    app.sign_in(&mut one, "demo", "demo").await;
    app.sign_in(&mut two, "demo", "demo").await;
    app.sign_in(&mut alice, "alice", "alice").await;
    let mut printed = String::new();

    let list = operator(&app, &["list", "--user", "demo"]).await.unwrap();
    printed.push_str(&list);
    assert!(list.contains("2 session(s) of demo"), "{list}");
    let two_id = app.api(&mut two, Method::GET, "/auth/sessions", None, &[]).await.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(list.contains(&two_id), "{list}");
    let count = operator(&app, &["count"]).await.unwrap();
    assert_eq!(count.trim(), "3 live session(s)");
    printed.push_str(&count);

    // End one: that browser's next call is refused, the other is not.
    printed.push_str(&operator(&app, &["end", "--user", "demo", "--id", &two_id]).await.unwrap());
    assert_eq!(app.api(&mut two, Method::GET, API, None, &[]).await.status, 401);
    assert_eq!(app.api(&mut one, Method::GET, API, None, &[]).await.status, 200);
    // An id that is not the user's: refused, nothing happens.
    let alice_id = operator(&app, &["list", "--user", "alice"]).await.unwrap();
    let alice_id = alice_id.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(operator(&app, &["end", "--user", "demo", "--id", &alice_id]).await.is_err());
    assert_eq!(app.api(&mut alice, Method::GET, API, None, &[]).await.status, 200);

    // End all of a user's.
    let all = operator(&app, &["end-all", "--user", "demo"]).await.unwrap();
    assert_eq!(all.trim(), "ended 1 session(s) of demo");
    printed.push_str(&all);
    assert_eq!(app.api(&mut one, Method::GET, API, None, &[]).await.status, 401);
    assert_eq!(app.api(&mut alice, Method::GET, API, None, &[]).await.status, 200, "alice untouched");
    assert_eq!(operator(&app, &["count"]).await.unwrap().trim(), "1 live session(s)");

    // Nothing secret in anything it printed: cookies, tokens, store keys.
    let mut secrets: Vec<String> = [&one, &two, &alice].iter().filter_map(|b| b.cookie("localhost", SESSION)).collect();
    for kind in ["accessTokens", "refreshTokens", "idTokens"] {
        for t in app.emulator_secrets().await[kind].as_array().unwrap() {
            secrets.push(t.as_str().unwrap().to_string());
        }
    }
    for item in app.scan().await {
        secrets.push(item["pk"].as_s().unwrap().split('#').nth(1).unwrap().to_string());
    }
    for s in &secrets {
        assert!(!printed.contains(s.as_str()), "a secret was printed");
    }
}

#[test]
fn the_operator_command_parses_its_commands() {
    let cli = Cli::try_parse_from(["bff-operator", "--table", "t", "end", "--user", "u", "--id", "i"]).unwrap();
    assert!(matches!(cli.command, Command::End { .. }));
    assert!(Cli::try_parse_from(["bff-operator", "--table", "t", "end", "--user", "u"]).is_err(), "--id needed");
}
