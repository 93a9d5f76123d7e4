//! Starting the chat for a test, and talking to it as clients would.

use std::time::Duration;

use chat::{Config, SCHEMA};
use common::db::testing::TestDatabase;
use common::testing::TestServer;
use common::testing::websocket::Socket;
use serde_json::{Value, json};

/// How long a test waits for a frame that should come.
pub(crate) const SOON: Duration = Duration::from_secs(5);

/// How long a test waits to be sure a frame does not come.
pub(crate) const QUIET: Duration = Duration::from_millis(300);

/// A chat on its own database.
pub(crate) struct App {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    /// Shuts the server down as SIGTERM would.
    pub(crate) stopper: common::server::Stopper,
    _server: TestServer,
    _database: Option<TestDatabase>,
}

impl App {
    /// On SQLite, everything in process.
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// On SQLite, with `configure` applied to the defaults.
    pub(crate) async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::sqlite_with(&SCHEMA);
        let mut config = Config::local(database.database.url());
        configure(&mut config);
        Self::serve(config, Some(database)).await
    }

    /// With `config`, keeping `database` (if given) for as long as the server runs.
    pub(crate) async fn serve(config: Config, database: Option<TestDatabase>) -> Self {
        let listener = common::testing::listener().unwrap();
        let app = chat::build(config, listener).await.unwrap();
        let stopper = app.stopper();
        let server = TestServer::spawn(app);
        Self {
            base: server.base_url(),
            http: reqwest::Client::new(),
            stopper,
            _server: server,
            _database: database,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn ws(&self) -> String {
        self.url("/ws").replacen("http", "ws", 1)
    }

    /// An access token for a demo user (`ada` or `admin`).
    pub(crate) async fn token(&self, user: &str) -> String {
        let password = match user {
            "ada" => "correct-horse-ada",
            "admin" => "correct-horse-admin",
            _ => "correct-horse-battery",
        };
        let response: Value = self
            .http
            .post(self.url("/auth/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        response["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token for {user}: {response}"))
            .to_owned()
    }

    /// Registers `user` (with the password `correct-horse-battery`), for a third person.
    pub(crate) async fn register(&self, user: &str) {
        let response = self
            .http
            .post(self.url("/auth/register"))
            .json(&json!({ "username": user, "password": "correct-horse-battery" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    /// A connection authenticated as `user` by its first frame, welcomed.
    pub(crate) async fn connect(&self, user: &str) -> Socket {
        let token = self.token(user).await;
        let mut socket = Socket::open(&self.ws(), None).await.unwrap().unwrap();
        socket
            .send(&json!({ "v": 1, "type": "auth", "token": token }))
            .await
            .unwrap();
        let welcome = socket.expect("welcome", SOON).await.unwrap();
        assert_eq!(welcome["user"], user);
        socket
    }

    /// `user`'s connection, in `room`.
    pub(crate) async fn member(&self, user: &str, room: &str) -> Socket {
        let mut socket = self.connect(user).await;
        join(&mut socket, room, None).await;
        socket
    }

    /// `GET path` with `token`, as JSON.
    pub(crate) async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Joins `room` (resuming after `after`); the `joined` frame.
pub(crate) async fn join(socket: &mut Socket, room: &str, after: Option<i64>) -> Value {
    let mut frame = json!({ "v": 1, "type": "join", "room": room });
    if let Some(after) = after {
        frame["after"] = json!(after);
    }
    socket.send(&frame).await.unwrap();
    socket.expect("joined", SOON).await.unwrap()
}

/// Sends `body` to `room` as `client_id`; the `ack`.
pub(crate) async fn say(socket: &mut Socket, room: &str, client_id: &str, body: &str) -> Value {
    send(socket, room, client_id, body).await;
    socket.expect("ack", SOON).await.unwrap()
}

/// Sends `body` to `room` as `client_id`, without waiting.
pub(crate) async fn send(socket: &mut Socket, room: &str, client_id: &str, body: &str) {
    socket
        .send(
            &json!({ "v": 1, "type": "send", "room": room, "client_id": client_id, "body": body }),
        )
        .await
        .unwrap();
}

/// Whether a frame of `kind` comes within [`QUIET`].
pub(crate) async fn hears(socket: &mut Socket, kind: &str) -> bool {
    socket.expect(kind, QUIET).await.is_ok()
}

/// Two instances sharing a database (PostgreSQL when there is one, else one SQLite file), Redis
/// and a signing key: one service. `None`, after saying why, without Redis.
pub(crate) async fn pair(configure: impl Fn(&mut Config)) -> Option<(App, App)> {
    let Some(redis) = common::testing::service_url("REDIS_URL") else {
        eprintln!("REDIS_URL is not set: skipped (two instances fan out through Redis)");
        return None;
    };
    let database =
        TestDatabase::postgres_with(&SCHEMA).unwrap_or_else(|| TestDatabase::sqlite_with(&SCHEMA));
    let prefix = common::testing::unique_name("chat");
    let key = phase4_security::tokens::KeyRing::new_pem().unwrap();
    let config = || {
        let mut config = Config::local(database.database.url());
        config.redis_url = Some(redis.clone().into());
        config.redis_prefix.clone_from(&prefix);
        config.signing_key = Some(key.clone());
        config.public_url = Some("http://chat.test".to_owned());
        configure(&mut config);
        config
    };
    let a = App::serve(config(), None).await;
    let config_b = config();
    // The second holds the database: it is dropped last, after both servers.
    let b = App::serve(config_b, Some(database)).await;
    Some((a, b))
}
