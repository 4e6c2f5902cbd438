//! `bff-operator`: a user's sessions in the deployed table, from a terminal, with the operator's AWS credentials
//! (docs/operate.md), and the registry of ERP.net instances ([`instance`], docs/instances.md). It works through the
//! same store code as the functions (`shared::session::store`): a user's sessions come from the `by-user` index
//! (found by their stable id, or through the logins their sessions were signed in under), ending one makes it the same tombstone as the user's own "End" does (its
//! next call is refused; its refresh token is revoked when its browser comes back). It prints ids, devices and
//! times only: never a token, a cookie value or a store key.

pub mod instance;

use clap::{Parser, Subcommand};
use shared::instance::InstanceKey;
use shared::session::store::{IdpKey, Sessions, StoreError};
use shared::session::user::{UserId, UserKey, qualified};
use shared::store::Table;
use shared::time::UnixTime;
use std::io::Write;

#[derive(Parser, Debug)]
#[command(
    name = "bff-operator",
    about = "The BFF's sessions and instance registry in its DynamoDB table (see docs/operate.md, docs/instances.md)"
)]
pub struct Cli {
    /// The sessions table (the stack's `SessionsTableName` output).
    #[arg(long, env = "SESSION_TABLE")]
    pub table: String,
    /// A DynamoDB endpoint other than AWS's (e.g. DynamoDB Local, http://127.0.0.1:8000).
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB")]
    pub endpoint: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// A user's live sessions: id, device, created, last seen, expires (newest first).
    List {
        #[command(flatten)]
        user: Who,
    },
    /// Ends one of a user's sessions (its next call is refused).
    End {
        #[command(flatten)]
        user: Who,
        /// The session's id, from `list`.
        #[arg(long)]
        id: String,
    },
    /// Ends every session of a user.
    EndAll {
        #[command(flatten)]
        user: Who,
    },
    /// How many live sessions the table holds.
    Count,
    /// The registry of ERP.net instances (`<key>.<app host>`; docs/instances.md).
    Instance {
        #[command(subcommand)]
        command: instance::InstanceCommand,
    },
}

/// A user of one ERP.net instance: by their stable id, or by a login their sessions were signed in under.
#[derive(clap::Args, Debug)]
pub struct Who {
    /// A login (ERP.net's `sub`, `user.sub` of /auth/session): the users whose live sessions signed in under it.
    #[arg(long, conflicts_with = "user_id", required_unless_present = "user_id")]
    pub user: Option<String>,
    /// The user's stable id (ERP.net's `id` claim, `user.id` of /auth/session).
    #[arg(long)]
    pub user_id: Option<String>,
    /// The registered ERP.net instance they signed in to (its registry key); absent: the default instance.
    #[arg(long, value_parser = |v: &str| InstanceKey::parse(v).ok_or("not an instance key (a DNS label)"))]
    pub instance: Option<InstanceKey>,
}

impl Who {
    fn instance(&self) -> InstanceKey {
        self.instance.clone().unwrap_or_else(InstanceKey::default_instance)
    }

    /// The users as the sessions index knows them: the id's, or those of the live sessions signed in as the login.
    async fn keys(&self, sessions: &Sessions) -> Result<Vec<UserKey>, StoreError> {
        let instance = self.instance();
        if let Some(id) = self.user_id.as_deref().and_then(|id| UserId::from_claims(Some(id), "")) {
            return Ok(vec![UserKey::new(&instance, &id)]);
        }
        let login = qualified(&instance, self.user.as_deref().unwrap_or_default());
        let mut keys: Vec<UserKey> =
            sessions.of_idp(IdpKey::Sub(&login)).await?.into_iter().map(|(_, u, _)| u).collect();
        keys.dedup();
        Ok(keys)
    }

    /// Their live sessions, newest first.
    async fn sessions(
        &self,
        sessions: &Sessions,
        now: UnixTime,
    ) -> Result<Vec<shared::session::store::Listed>, StoreError> {
        let mut all = vec![];
        for key in self.keys(sessions).await? {
            all.extend(sessions.of_user(&key, now).await?);
        }
        all.sort_by_key(|s| std::cmp::Reverse(s.created));
        Ok(all)
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.user_id, &self.user) {
            (Some(id), _) => write!(f, "user id {id}")?,
            (None, login) => f.write_str(login.as_deref().unwrap_or_default())?,
        }
        match &self.instance {
            Some(i) => write!(f, " at {i}"),
            None => Ok(()),
        }
    }
}

/// Runs `command` against `table`, writing its report to `out`.
pub async fn run(table: &Table, command: &Command, out: &mut impl Write) -> Result<(), String> {
    let now = UnixTime::now();
    let store = Sessions::new(table.clone());
    let err = |e: StoreError| format!("DynamoDB: {e}");
    let io = |e: std::io::Error| e.to_string();
    match command {
        Command::List { user } => {
            let sessions = user.sessions(&store, now).await.map_err(err)?;
            writeln!(out, "{:<22}  {:<28}  {:<20}  {:<20}  expires", "id", "device", "created", "last seen")
                .map_err(io)?;
            for s in &sessions {
                let (c, l, e) = (s.created.rfc3339(), s.last_seen.rfc3339(), s.expires.rfc3339());
                writeln!(out, "{:<22}  {:<28}  {c:<20}  {l:<20}  {e}", s.id, s.device).map_err(io)?;
            }
            writeln!(out, "{} session(s) of {user}", sessions.len()).map_err(io)
        }
        Command::End { user, id } => {
            let target = user.sessions(&store, now).await.map_err(err)?.into_iter().find(|s| &s.id == id);
            let ended = match target {
                Some(s) => store.end_elsewhere(&s.key, &s.user, now).await.map_err(err)?,
                None => false,
            };
            if !ended {
                return Err(format!("{user} has no live session {id}"));
            }
            writeln!(out, "ended session {id} of {user}").map_err(io)
        }
        Command::EndAll { user } => {
            let mut ended = 0;
            for s in user.sessions(&store, now).await.map_err(err)? {
                ended += usize::from(store.end_elsewhere(&s.key, &s.user, now).await.map_err(err)?);
            }
            writeln!(out, "ended {ended} session(s) of {user}").map_err(io)
        }
        Command::Count => writeln!(out, "{} live session(s)", store.count_live(now).await.map_err(err)?).map_err(io),
        Command::Instance { command } => instance::run(table, command, out).await,
    }
}

/// The table for `cli`: the operator's AWS configuration (credentials, region), `--endpoint` when given.
pub async fn table(cli: &Cli) -> Table {
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let mut conf = aws_sdk_dynamodb::config::Builder::from(&aws);
    if let Some(endpoint) = &cli.endpoint {
        conf = conf.endpoint_url(endpoint);
    }
    Table::new(aws_sdk_dynamodb::Client::from_conf(conf.build()), cli.table.clone())
}
