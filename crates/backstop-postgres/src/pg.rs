//! A blocking PostgreSQL client over tokio-postgres, with the one thing a blocking client
//! can't do: send several requests before reading the first answer (pipelining).
//!
//! The connection runs on a single-threaded runtime that only turns while a call waits, so
//! everything stays on the caller's thread, as with any blocking client. A migration ends
//! with its bookkeeping and its COMMIT; sent together they cost one round trip, not two.

use futures_util::future::join;
use tokio::runtime::Runtime;
use tokio_postgres::types::ToSql;
pub use tokio_postgres::{
    error, types, Config, Error, NoTls, Row, SimpleQueryMessage, Statement, ToStatement,
};

/// One connection and the runtime that drives it. Fields drop in order: the client, then
/// the runtime with the connection task, which closes the socket.
pub struct Client {
    client: tokio_postgres::Client,
    rt: Runtime,
}

/// Why [`Client::connect`] failed.
pub enum ConnectError {
    /// The runtime could not start (the process is out of threads or file descriptors).
    Runtime(std::io::Error),
    Postgres(Error),
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Client {
    /// Connect with `config` (plain TCP or a Unix socket; no TLS).
    pub fn connect(config: &Config) -> Result<Client, ConnectError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(ConnectError::Runtime)?;
        let (client, connection) = rt
            .block_on(config.connect(NoTls))
            .map_err(ConnectError::Postgres)?;
        // The connection turns whenever a call waits on the runtime; it ends when the
        // client is dropped. Server notices (RAISE NOTICE) are logged by it.
        rt.spawn(async move {
            let _ = connection.await;
        });
        Ok(Client { client, rt })
    }

    pub fn query<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        self.rt.block_on(self.client.query(query, params))
    }

    pub fn query_one<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Row, Error> {
        self.rt.block_on(self.client.query_one(query, params))
    }

    pub fn execute<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<u64, Error> {
        self.rt.block_on(self.client.execute(query, params))
    }

    pub fn prepare(&mut self, query: &str) -> Result<Statement, Error> {
        self.rt.block_on(self.client.prepare(query))
    }

    pub fn batch_execute(&mut self, query: &str) -> Result<(), Error> {
        self.rt.block_on(self.client.batch_execute(query))
    }

    pub fn simple_query(&mut self, query: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        self.rt.block_on(self.client.simple_query(query))
    }

    /// `statement` with `params`, then the simple query `then`, sent together: one round
    /// trip. After an error in `statement` the server skips to the end of it and still runs
    /// `then` (inside a transaction, a COMMIT after a failed statement rolls back).
    pub fn execute_then(
        &mut self,
        statement: &Statement,
        params: Params<'_>,
        then: &str,
    ) -> (Result<u64, Error>, Result<(), Error>) {
        let client = &self.client;
        self.rt.block_on(join(
            client.execute(statement, params),
            client.batch_execute(then),
        ))
    }
}
