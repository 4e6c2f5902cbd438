//! The operator command (`bff-operator`, the `operator/` crate) against DynamoDB Local and a real stack: list a
//! user's sessions, end one, end all of a user's, count live sessions; never a token, cookie value or store key in
//! what it prints. And the instance registry (`instance list|put|disable|enable`), read back through the store
//! API the functions use.

use bff_operator::instance::InstanceCommand;
use bff_operator::{Cli, Command, run};
use clap::Parser;
use reqwest::Method;
use shared::http::cookies::SESSION;
use shared::instance::InstanceKey;
use shared::instance::registry::Registry;
use shared::store::Table;
use tests::{Browser, TestApp, dynamodb_endpoint, free_port, spawn_app};

const API: &str = "/api/domain/odata/Crm_Sales_Customers?$top=1";

async fn operator(app: &TestApp, args: &[&str]) -> Result<String, String> {
    let cli = Cli::try_parse_from(["bff-operator", "--table", &app.table].iter().chain(args)).unwrap();
    let table = Table::new(app.dynamo.clone(), app.table.clone());
    let mut out = Vec::new();
    run(&table, &cli.command, &mut out).await.map(|()| String::from_utf8(out).unwrap())
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

async fn operator_on(table: &Table, args: &[&str]) -> Result<String, String> {
    let cli =
        Cli::try_parse_from(["bff-operator", "--table", table.name()].iter().chain(args)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    run(table, &cli.command, &mut out).await.map(|()| String::from_utf8(out).unwrap())
}

const ACME_ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bff/instances/acme-AbCdEf";

/// DynamoDB Local only (no stack): a table of this test's own, created from template.yaml's definition.
#[tokio::test]
async fn the_operator_puts_lists_disables_and_enables_an_instance() {
    let client = xtask::local_dynamodb(&dynamodb_endpoint()).await;
    let table = format!("operator-instances-{}-{}", std::process::id(), free_port());
    xtask::create_table(&client, &table).await.unwrap_or_else(|e| {
        panic!("{e}\n(the tests need DynamoDB Local: run them under `cargo xtask with-dynamodb -- …`)")
    });
    let table = Table::new(client, table);
    let registry = Registry::new(table.clone());
    let acme = InstanceKey::parse("acme").unwrap();

    let put = ["instance", "put", "acme", "--url", "https://acme.my.erp.net", "--client-id", "partner.app/acme"];
    let out = operator_on(&table, &[&put[..], &["--secret-ref", ACME_ARN, "--scopes", "openid read"]].concat()).await;
    assert_eq!(
        out.unwrap().trim(),
        "put acme (enabled): issuer https://acme.my.erp.net/id, API https://acme.my.erp.net/api, client id partner.app/acme"
    );
    let globex = ["instance", "put", "globex", "--url", "http://127.0.0.1:5006", "--client-id", "g"];
    operator_on(&table, &[&globex[..], &["--secret-ref", "env:BFF_SECRET_GLOBEX"]].concat()).await.unwrap();
    // What the functions will read (one GetItem by key).
    let entry = registry.get(&acme).await.unwrap().expect("acme is registered");
    assert_eq!(entry.url.as_deref(), Some("https://acme.my.erp.net"));
    assert_eq!((entry.client_id.as_str(), entry.secret_ref.as_str()), ("partner.app/acme", ACME_ARN));
    assert_eq!((entry.scopes.as_deref(), entry.issuer.as_deref(), entry.enabled), (Some("openid read"), None, true));

    let list = operator_on(&table, &["instance", "list"]).await.unwrap();
    let rows: Vec<Vec<&str>> = list.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0][..3], ["acme", "true", "https://acme.my.erp.net"], "{list}");
    assert_eq!(rows[1][..3], ["globex", "true", "http://127.0.0.1:5006"], "{list}");
    assert_eq!(list.lines().last(), Some("2 instance(s)"));

    let out = operator_on(&table, &["instance", "disable", "acme"]).await.unwrap();
    assert!(out.starts_with("acme disabled"), "{out}");
    assert!(!registry.get(&acme).await.unwrap().unwrap().enabled);
    let list = operator_on(&table, &["instance", "list"]).await.unwrap();
    assert!(list.lines().any(|l| l.split_whitespace().take(2).eq(["acme", "false"])), "{list}");
    let globex_key = InstanceKey::parse("globex").unwrap();
    assert!(registry.get(&globex_key).await.unwrap().unwrap().enabled, "only acme is disabled");
    operator_on(&table, &["instance", "enable", "acme"]).await.unwrap();
    let again = registry.get(&acme).await.unwrap().unwrap();
    assert_eq!(again, entry, "enable restores the entry as it was put");

    // Refused before anything is written: an unknown key, a bad secret reference (not repeated), a bad URL.
    assert!(
        operator_on(&table, &["instance", "disable", "initech"]).await.unwrap_err().contains("no instance initech")
    );
    let pasted = "sup3r-s3cret-value";
    let e = operator_on(
        &table,
        &["instance", "put", "initech", "--url", "https://i.my.erp.net", "--client-id", "i", "--secret-ref", pasted],
    )
    .await
    .unwrap_err();
    assert!(e.contains("--secret-ref must be") && !e.contains(pasted), "{e}");
    let e = operator_on(
        &table,
        &["instance", "put", "initech", "--url", "http://i.my.erp.net", "--client-id", "i", "--secret-ref", ACME_ARN],
    )
    .await
    .unwrap_err();
    assert!(e.contains("https"), "{e}");
    assert_eq!(registry.all().await.unwrap().len(), 2, "nothing written by the refused commands");
}

#[test]
fn the_operator_command_parses_its_commands() {
    let cli = Cli::try_parse_from(["bff-operator", "--table", "t", "end", "--user", "u", "--id", "i"]).unwrap();
    assert!(matches!(cli.command, Command::End { .. }));
    assert!(Cli::try_parse_from(["bff-operator", "--table", "t", "end", "--user", "u"]).is_err(), "--id needed");
    let cli =
        Cli::try_parse_from(["bff-operator", "--table", "t", "list", "--user", "u", "--instance", "acme"]).unwrap();
    let Command::List { user } = cli.command else { panic!("not list") };
    assert_eq!(user.to_string(), "u at acme");
    assert!(Cli::try_parse_from(["bff-operator", "--table", "t", "list", "--user", "u", "--instance", "A.b"]).is_err());

    let instance = |args: &[&str]| Cli::try_parse_from(["bff-operator", "--table", "t", "instance"].iter().chain(args));
    let cli = instance(&[
        "put",
        "acme",
        "--url",
        "https://acme.my.erp.net",
        "--client-id",
        "c",
        "--secret-ref",
        "env:BFF_SECRET_A",
    ])
    .unwrap();
    let Command::Instance { command: InstanceCommand::Put { key, url, disabled, scopes, .. } } = cli.command else {
        panic!("not instance put")
    };
    assert_eq!((key.as_str(), url.as_str(), disabled, scopes), ("acme", "https://acme.my.erp.net", false, None));
    assert!(matches!(instance(&["list"]).unwrap().command, Command::Instance { command: InstanceCommand::List }));
    let cli = instance(&["disable", "acme"]).unwrap();
    assert!(matches!(cli.command, Command::Instance { command: InstanceCommand::Disable { .. } }));
    assert!(matches!(
        instance(&["enable", "acme"]).unwrap().command,
        Command::Instance { command: InstanceCommand::Enable { .. } }
    ));
    // Each refused for its one wrong value (the rest as in the valid `put` above).
    let base = ["--client-id", "c", "--secret-ref", "env:BFF_SECRET_A"];
    for (extra, what) in [
        (&["--url", "https://acme.my.erp.net/path"][..], "a URL with a path"),
        (&["--url", "http://acme.my.erp.net"][..], "a plain-http URL"),
        (&["--url", "https://acme.my.erp.net", "--scopes", "openid profile"][..], "scopes without read or update"),
        (&["--url", "https://acme.my.erp.net", "--issuer", "http://acme.example.com/id"][..], "a plain-http issuer"),
        (&["--url", "https://acme.my.erp.net", "--client-id", "a b"][..], "a client id with a space"),
        (&["--url", "http://localhost:1@evil.example"][..], "user info before a host that is not loopback"),
        (&["--url", "https://partner@acme.my.erp.net"][..], "a URL with user info"),
        (&["--url", "https://acme.my.erp.net", "--api-base", "https://acme.my.erp.net/api#x"][..], "a fragment"),
        (&["--url", "https://acme.my.erp.net", "--issuer", "http://10.0.0.1/id"][..], "http to a private address"),
    ] {
        let extra_client = extra.contains(&"--client-id");
        let rest: &[&str] = if extra_client { &base[2..] } else { &base[..] };
        assert!(instance(&[&["put", "acme"][..], extra, rest].concat()).is_err(), "{what} accepted");
    }
    assert!(instance(&[&["put", "acme", "--url", "https://acme.my.erp.net"][..], &base[..]].concat()).is_ok());
    for local in ["http://127.0.0.1:5005", "http://localhost:5005", "http://[::1]:5005"] {
        assert!(instance(&[&["put", "acme", "--url", local][..], &base[..]].concat()).is_ok(), "{local} refused");
    }
    for args in
        [&["put", "Acme"][..], &["disable", "default"], &["enable", "a.b"], &["put", "acme", "--url", "https://a"]]
    {
        assert!(instance(args).is_err(), "{args:?} accepted");
    }
}
