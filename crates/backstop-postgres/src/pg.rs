//! A blocking PostgreSQL client over tokio-postgres, with the one thing a blocking client
//! can't do: send several requests before reading the first answer (pipelining).
//!
//! The connection runs on a single-threaded runtime that only turns while a call waits, so
//! everything stays on the caller's thread, as with any blocking client. A migration ends
//! with its bookkeeping and its COMMIT; sent together they cost one round trip, not two.

use futures_util::future::join;
use futures_util::StreamExt;
use std::future::Future;
use std::task::Poll;
use tokio::runtime::Runtime;
pub use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::ToSql;
pub use tokio_postgres::{
    error, types, Config, Error, NoTls, Row, SimpleQueryMessage, Statement, ToStatement,
};

/// One connection and the runtime that drives it.
pub struct Client {
    /// Taken out only by `Drop`.
    client: Option<tokio_postgres::Client>,
    connection: Option<tokio::task::JoinHandle<()>>,
    /// Taken out only by `Drop`.
    rt: Option<Runtime>,
}

/// Why [`Client::connect`] failed.
pub enum ConnectError {
    /// The runtime could not start (the process is out of threads or file descriptors).
    Runtime(std::io::Error),
    Postgres(Error),
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A simple query's messages up to its end or its first error, and how it ended.
pub type Partial = (Vec<SimpleQueryMessage>, Result<(), Error>);

/// How [`Client::execute_between`] went: the simple query before, the statement, and the
/// simple query after (`None`: not sent).
pub type Between = (
    Result<(), Error>,
    Result<u64, Error>,
    Option<Result<(), Error>>,
);

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
        let connection = rt.spawn(async move {
            let _ = connection.await;
        });
        Ok(Client {
            client: Some(client),
            connection: Some(connection),
            rt: Some(rt),
        })
    }

    fn c(&self) -> &tokio_postgres::Client {
        self.client
            .as_ref()
            .expect("the client is only taken out when the connection is dropped")
    }

    fn rt(&self) -> &Runtime {
        self.rt
            .as_ref()
            .expect("the runtime is only taken out when the connection is dropped")
    }

    pub fn query<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        self.rt().block_on(self.c().query(query, params))
    }

    pub fn query_one<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Row, Error> {
        self.rt().block_on(self.c().query_one(query, params))
    }

    pub fn execute<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<u64, Error> {
        self.rt().block_on(self.c().execute(query, params))
    }

    pub fn prepare(&mut self, query: &str) -> Result<Statement, Error> {
        self.rt().block_on(self.c().prepare(query))
    }

    pub fn batch_execute(&mut self, query: &str) -> Result<(), Error> {
        self.rt().block_on(self.c().batch_execute(query))
    }

    pub fn simple_query(&mut self, query: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        self.rt().block_on(self.c().simple_query(query))
    }

    /// [`Client::simple_query`], keeping what came before an error: with several
    /// statements in one string, how many completed tells which one failed.
    pub fn simple_query_partial(&mut self, query: &str) -> Partial {
        let client = self.c();
        self.rt().block_on(simple_partial(client, query))
    }

    /// The simple query `query` (as [`Client::simple_query_partial`]), then `statement`
    /// with `params`, sent together: one round trip. Both always run: after an error in
    /// `query` the server still runs `statement` (in a failed transaction it fails too).
    pub fn simple_then_query(
        &mut self,
        query: &str,
        statement: &Statement,
        params: Params<'_>,
    ) -> (Partial, Result<Vec<Row>, Error>) {
        let client = self.c();
        self.rt().block_on(async move {
            // Polled in order: each request is queued on its first poll, before any await
            // on an answer, so the simple query goes out first.
            join(
                simple_partial(client, query),
                client.query(statement, params),
            )
            .await
        })
    }

    /// The simple query `before`, `statement` with `params`, then the simple query `after`,
    /// sent together: one round trip. All three always reach the server; after an error
    /// the ones behind it run in the state it left (inside a transaction: aborted, where a
    /// COMMIT rolls back).
    pub fn wrapped_execute(
        &mut self,
        before: &str,
        statement: &Statement,
        params: Params<'_>,
        after: &str,
    ) -> (Partial, Result<u64, Error>, Result<(), Error>) {
        let client = self.c();
        self.rt().block_on(async move {
            // Polled in order, each request queued on its first poll (see
            // `simple_then_query`).
            futures_util::future::join3(
                simple_partial(client, before),
                client.execute(statement, params),
                client.batch_execute(after),
            )
            .await
        })
    }

    /// `statement` with `params`, then the simple query `then`, sent together: one round
    /// trip. After an error in `statement` the server skips to the end of it and still runs
    /// `then` (inside a transaction, a COMMIT after a failed statement rolls back). When
    /// `statement` fails before anything is sent (a value that can't be encoded), `then`
    /// is not sent either: the second result is `None`.
    pub fn execute_then(
        &mut self,
        statement: &Statement,
        params: Params<'_>,
        then: &str,
    ) -> (Result<u64, Error>, Option<Result<(), Error>>) {
        let client = self.c();
        self.rt().block_on(async move {
            let mut first = std::pin::pin!(client.execute(statement, params));
            // The first poll encodes the parameters and queues the request, or fails;
            // nothing reaches the server before this future yields.
            let early = std::future::poll_fn(|cx| Poll::Ready(first.as_mut().poll(cx))).await;
            if let Poll::Ready(result) = early {
                return (result, None);
            }
            let (result, then) = join(first, client.batch_execute(then)).await;
            (result, Some(then))
        })
    }

    /// The simple query `before`, then [`Client::execute_then`]: all three sent together,
    /// one round trip. As there, when `statement` fails before anything of it is sent (a
    /// value that can't be encoded), `then` is not sent: its result is `None`. `before`
    /// always is; its own result comes first.
    pub fn execute_between(
        &mut self,
        before: &str,
        statement: &Statement,
        params: Params<'_>,
        then: &str,
    ) -> Between {
        let client = self.c();
        self.rt().block_on(async move {
            // Each request is queued on its future's first poll (see `simple_then_query`).
            let mut set_up = std::pin::pin!(futures_util::future::maybe_done(
                client.batch_execute(before)
            ));
            let _ = std::future::poll_fn(|cx| Poll::Ready(set_up.as_mut().poll(cx))).await;
            let mut first = std::pin::pin!(client.execute(statement, params));
            let early = std::future::poll_fn(|cx| Poll::Ready(first.as_mut().poll(cx))).await;
            if let Poll::Ready(result) = early {
                set_up.as_mut().await;
                let set = set_up.as_mut().take_output().unwrap_or(Ok(()));
                return (set, result, None);
            }
            let ((), result, then) =
                futures_util::future::join3(set_up.as_mut(), first, client.batch_execute(then))
                    .await;
            let set = set_up.as_mut().take_output().unwrap_or(Ok(()));
            (set, result, Some(then))
        })
    }
}

/// The messages of a simple query up to its end or its first error.
async fn simple_partial(client: &tokio_postgres::Client, query: &str) -> Partial {
    let mut messages = Vec::new();
    let stream = match client.simple_query_raw(query).await {
        Ok(stream) => stream,
        Err(e) => return (messages, Err(e)),
    };
    let mut stream = std::pin::pin!(stream);
    while let Some(message) = stream.next().await {
        match message {
            Ok(m) => messages.push(m),
            Err(e) => return (messages, Err(e)),
        }
    }
    (messages, Ok(()))
}

impl Drop for Client {
    /// Say goodbye (the Terminate message) instead of just closing the socket, which the
    /// server logs as an unexpected EOF: dropping the client ends the connection task,
    /// which sends it.
    fn drop(&mut self) {
        drop(self.client.take());
        let Some(rt) = self.rt.take() else {
            return;
        };
        // Not while unwinding, nor inside another runtime, where waiting (or dropping a
        // runtime, which waits) would panic, and a panic while unwinding aborts: there the
        // runtime is let go without waiting and the socket just closes.
        if std::thread::panicking() || tokio::runtime::Handle::try_current().is_ok() {
            rt.shutdown_background();
            return;
        }
        if let Some(connection) = self.connection.take() {
            let _ = rt.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(1), connection).await
            });
        }
    }
}
