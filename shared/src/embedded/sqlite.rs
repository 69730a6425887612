//! SQLite adapters: metadata for the embedded backend, in `<data dir>/askdocs.db`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::model::{ConversationId, DocumentId, User, UserId};
use crate::ports::{TokenStore, UserStore};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    user_id       TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    -- NULL: a password account; else the identity provider that signs it in.
    provider      TEXT
);
CREATE TABLE IF NOT EXISTS revoked_tokens (
    token_id   TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_tokens_expiry ON revoked_tokens (expires_at);

CREATE TABLE IF NOT EXISTS documents (
    user_id       TEXT NOT NULL,
    document_id   TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    object_key    TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_reason TEXT,
    pages         INTEGER,
    chunks        INTEGER,
    upload_date   TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, document_id)
);
CREATE INDEX IF NOT EXISTS documents_newest_first
    ON documents (user_id, upload_date DESC, document_id DESC);
CREATE INDEX IF NOT EXISTS documents_by_status ON documents (status, updated_at);

CREATE TABLE IF NOT EXISTS history (
    user_id         TEXT NOT NULL,
    query_id        TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    question        TEXT NOT NULL,
    answer          TEXT NOT NULL,
    citations       TEXT NOT NULL,
    model           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (user_id, query_id)
);
CREATE INDEX IF NOT EXISTS history_newest_first ON history (user_id, created_at DESC, query_id DESC);
CREATE INDEX IF NOT EXISTS history_by_conversation
    ON history (user_id, conversation_id, created_at DESC, query_id DESC);

CREATE TABLE IF NOT EXISTS chunks (
    id          INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL,
    document_id TEXT NOT NULL,
    ordinal     INTEGER NOT NULL,
    page        INTEGER NOT NULL,
    text        TEXT NOT NULL,
    embedding   BLOB NOT NULL,
    -- One vector per sentence (model::text::sentence_spans), int8; see index.rs.
    sentence_vectors BLOB,
    UNIQUE (user_id, document_id, ordinal)
);
";

/// Changes since the first release, for databases made before them.
fn migrate(connection: &Connection) -> rusqlite::Result<()> {
    // Keyword search moved in memory (embedded/library.rs); the FTS5 index
    // only slowed every write down.
    connection.execute_batch(
        "DROP TRIGGER IF EXISTS chunks_fts_insert;
         DROP TRIGGER IF EXISTS chunks_fts_delete;
         DROP TRIGGER IF EXISTS chunks_fts_update;
         DROP TABLE IF EXISTS chunks_fts;",
    )?;
    let has_attempts = connection
        .prepare("SELECT 1 FROM pragma_table_info('documents') WHERE name = 'attempts'")?
        .exists([])?;
    if !has_attempts {
        connection.execute_batch(
            "ALTER TABLE documents ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    // Federated accounts: an email is unique among password accounts only
    // (a federated account with the same address is a different person's
    // sign-in, never merged), so the inline UNIQUE gives way to a partial
    // index. SQLite can't drop a constraint: the table is rebuilt.
    let has_provider = connection
        .prepare("SELECT 1 FROM pragma_table_info('users') WHERE name = 'provider'")?
        .exists([])?;
    if !has_provider {
        connection.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE users_with_provider (
                 user_id       TEXT PRIMARY KEY,
                 email         TEXT NOT NULL,
                 name          TEXT,
                 password_hash TEXT NOT NULL,
                 created_at    TEXT NOT NULL,
                 provider      TEXT
             );
             INSERT INTO users_with_provider (user_id, email, name, password_hash, created_at)
                 SELECT user_id, email, name, password_hash, created_at FROM users;
             DROP TABLE users;
             ALTER TABLE users_with_provider RENAME TO users;
             COMMIT;",
        )?;
    }
    connection.execute_batch(
        "CREATE UNIQUE INDEX IF NOT EXISTS users_password_email
             ON users (email) WHERE provider IS NULL;",
    )?;
    // Sentence vectors, so answering quotes without running the model per
    // sentence; older passages have none and are embedded when quoted.
    let has_sentence_vectors = connection
        .prepare("SELECT 1 FROM pragma_table_info('chunks') WHERE name = 'sentence_vectors'")?
        .exists([])?;
    if !has_sentence_vectors {
        connection.execute_batch("ALTER TABLE chunks ADD COLUMN sentence_vectors BLOB")?;
    }
    Ok(())
}

/// Readers opened at most: enough that concurrent questions and listings
/// never queue behind each other on a small machine.
const MAX_READERS: usize = 8;

/// The database: one connection for writes, behind a lock, and a pool of
/// read-only connections so reads (listings, searches, token checks) run
/// side by side and never wait behind a write — WAL lets readers see every
/// committed write. Calls run on the blocking pool.
#[derive(Clone)]
pub struct SqliteDb {
    writer: Arc<Mutex<Connection>>,
    /// `None` for an in-memory database, which only its own connection sees.
    path: Option<Arc<std::path::PathBuf>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent() {
            super::private_dir(parent)?;
        }
        let connection = Connection::open(path)
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        Self::prepare(connection, Some(path.to_path_buf()))
    }

    /// A private database that vanishes with the process (tests, one-off runs).
    pub fn in_memory() -> anyhow::Result<Self> {
        Self::prepare(Connection::open_in_memory()?, None)
    }

    fn prepare(connection: Connection, path: Option<std::path::PathBuf>) -> anyhow::Result<Self> {
        // WAL lets readers and `askdocs ingest` work while `askdocs serve`
        // writes; the busy timeout makes writers wait for each other instead of failing.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection
            .execute_batch(SCHEMA)
            .context("creating the SQLite schema")?;
        migrate(&connection).context("updating the SQLite schema")?;
        Ok(SqliteDb {
            writer: Arc::new(Mutex::new(connection)),
            path: path.map(Arc::new),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs `work` with the writing connection on a blocking thread.
    pub async fn call<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let connection = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| anyhow::anyhow!("SQLite connection lock poisoned"))?;
            work(&mut guard)
        })
        .await
        .context("SQLite task")?
    }

    /// Runs a read-only `work` with a reading connection on a blocking thread.
    pub async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let Some(path) = self.path.clone() else {
            return self.call(move |connection| work(connection)).await;
        };
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let idle = readers
                .lock()
                .map_err(|_| anyhow::anyhow!("SQLite reader pool lock poisoned"))?
                .pop();
            let connection = match idle {
                Some(connection) => connection,
                None => open_reader(&path)?,
            };
            let result = work(&connection);
            let mut pool = readers
                .lock()
                .map_err(|_| anyhow::anyhow!("SQLite reader pool lock poisoned"))?;
            if pool.len() < MAX_READERS {
                pool.push(connection);
            }
            result
        })
        .await
        .context("SQLite task")?
    }
}

fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    use rusqlite::OpenFlags;
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .with_context(|| format!("opening SQLite database {} to read", path.display()))?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(connection)
}

pub(crate) fn internal(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |error| Error::Internal(anyhow::Error::new(error).context(context))
}

pub struct SqliteUserStore {
    db: SqliteDb,
}

impl SqliteUserStore {
    pub fn new(db: SqliteDb) -> Self {
        SqliteUserStore { db }
    }
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        user_id: row.get("user_id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        password_hash: row.get("password_hash")?,
        created_at: row.get("created_at")?,
        provider: row.get("provider")?,
    })
}

#[async_trait]
impl UserStore for SqliteUserStore {
    async fn create(&self, user: &User) -> Result<()> {
        let user = user.clone();
        self.db
            .call(move |connection| {
                let inserted = connection.execute(
                    "INSERT INTO users (user_id, email, name, password_hash, created_at, provider)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                    params![
                        user.user_id,
                        user.email,
                        user.name,
                        user.password_hash,
                        user.created_at,
                        user.provider
                    ],
                );
                match inserted.map_err(internal("inserting a user"))? {
                    // A federated account's id is its identity's: taken means
                    // that identity already has its account.
                    0 if user.provider.is_some() => Err(Error::account_exists()),
                    0 => Err(Error::email_taken()),
                    _ => Ok(()),
                }
            })
            .await
    }

    async fn get(&self, user_id: &UserId) -> Result<Option<User>> {
        let user_id = user_id.to_string();
        self.db
            .read(move |connection| {
                connection
                    .query_row(
                        "SELECT * FROM users WHERE user_id = ?1",
                        [user_id],
                        user_from_row,
                    )
                    .optional()
                    .map_err(internal("reading a user"))
            })
            .await
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = email.to_string();
        self.db
            .read(move |connection| {
                connection
                    .query_row(
                        "SELECT * FROM users WHERE email = ?1 AND provider IS NULL",
                        [email],
                        user_from_row,
                    )
                    .optional()
                    .map_err(internal("finding a user by email"))
            })
            .await
    }
}

pub struct SqliteTokenStore {
    db: SqliteDb,
}

impl SqliteTokenStore {
    pub fn new(db: SqliteDb) -> Self {
        SqliteTokenStore { db }
    }
}

#[async_trait]
impl TokenStore for SqliteTokenStore {
    async fn revoke(&self, token_id: &str, expires_at: i64) -> Result<()> {
        let token_id = token_id.to_string();
        self.db
            .call(move |connection| {
                let transaction = connection
                    .transaction()
                    .map_err(internal("revoking a token"))?;
                transaction
                    .execute(
                        "INSERT INTO revoked_tokens (token_id, expires_at) VALUES (?1, ?2)
                         ON CONFLICT (token_id) DO NOTHING",
                        params![token_id, expires_at],
                    )
                    .map_err(internal("revoking a token"))?;
                // Expired tokens are rejected anyway; forgetting them keeps the table small,
                // as DynamoDB's TTL does in AWS.
                transaction
                    .execute(
                        "DELETE FROM revoked_tokens WHERE expires_at < ?1",
                        [chrono::Utc::now().timestamp()],
                    )
                    .map_err(internal("pruning revoked tokens"))?;
                transaction.commit().map_err(internal("revoking a token"))
            })
            .await
    }

    async fn is_revoked(&self, token_id: &str) -> Result<bool> {
        let token_id = token_id.to_string();
        self.db
            .read(move |connection| {
                connection
                    .query_row(
                        "SELECT 1 FROM revoked_tokens WHERE token_id = ?1",
                        [token_id],
                        |_| Ok(()),
                    )
                    .optional()
                    .map(|found| found.is_some())
                    .map_err(internal("checking a revoked token"))
            })
            .await
    }
}

/// The ids are TEXT columns: stored and read as their strings.
macro_rules! text_column {
    ($($id:ty),*) => {$(
        impl rusqlite::types::ToSql for $id {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }

        impl rusqlite::types::FromSql for $id {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                value.as_str().map(<$id>::new)
            }
        }
    )*};
}

text_column!(UserId, DocumentId, ConversationId);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[tokio::test]
    async fn sqlite_user_store_passes_the_shared_suite() {
        let db = SqliteDb::in_memory().unwrap();
        testing::user_store_contract(&SqliteUserStore::new(db)).await;
    }

    #[tokio::test]
    async fn sqlite_token_store_passes_the_shared_suite() {
        let db = SqliteDb::in_memory().unwrap();
        testing::token_store_contract(&SqliteTokenStore::new(db)).await;
    }

    #[tokio::test]
    async fn a_database_from_before_federated_accounts_keeps_its_users_and_their_unique_emails() {
        // GIVEN a database file made with the first users table (email UNIQUE inline)
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("askdocs.db");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE users (
                     user_id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT,
                     password_hash TEXT NOT NULL, created_at TEXT NOT NULL);
                 INSERT INTO users VALUES ('u-1', 'old@example.com', 'Old', '$argon2id$x', '2026-01-01T00:00:00.000Z');",
            )
            .unwrap();
        }
        // WHEN askdocs opens it
        let store = SqliteUserStore::new(SqliteDb::open(&path).unwrap());
        // THEN the account is still there, a password account
        let old = store
            .find_by_email("old@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((old.user_id.as_str(), old.provider), ("u-1", None));
        // AND its email stays taken for password accounts, but not for a federated sign-in
        let error = store
            .create(&testing::sample_user("old@example.com"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Conflict {
                    code: "email_taken",
                    ..
                }
            ),
            "{error:?}"
        );
        store
            .create(&testing::sample_federated_user("old@example.com", "Google"))
            .await
            .unwrap();
        // AND opening it again changes nothing more
        let reopened = SqliteUserStore::new(SqliteDb::open(&path).unwrap());
        assert!(reopened
            .find_by_email("old@example.com")
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn data_survives_reopening_the_file() {
        // GIVEN a user stored in a database file
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("askdocs.db");
        let user = testing::sample_user("keep@example.com");
        SqliteUserStore::new(SqliteDb::open(&path).unwrap())
            .create(&user)
            .await
            .unwrap();
        // WHEN the file is opened again THEN the user is still there
        let reopened = SqliteUserStore::new(SqliteDb::open(&path).unwrap());
        assert_eq!(reopened.get(&user.user_id).await.unwrap(), Some(user));
    }
}
