//! How a run ends badly: the message (the extension's words for the same error, with its DETAIL
//! and HINT), and an exit code a scheduler can tell apart.

use std::fmt;

use irt_core::error::ErrorClass;
use irt_core::CoreError;
use tokio_postgres::error::SqlState;

/// The documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Anything not named below (a database error during the write, a bug).
    Failed = 1,
    /// An argument breaks a rule of the extension's 22004/22023: unknown name, out of range,
    /// item parameters, a link that cannot be computed (clap's own usage errors also exit 2).
    BadArguments = 2,
    /// The source or bank: missing relation or column, wrong type, NULL ids, a `correct` that is
    /// not 0/1, an empty window, too few anchors, more answers than `--max-answers`.
    BadInput = 3,
    /// EM did not converge (without `--accept-nonconverged`), or produced non-finite values.
    NotConverged = 4,
    /// Another calibration (the extension's or a command's) holds the run lock.
    LockBusy = 5,
    /// Connecting failed: host, TLS, authentication, the database.
    Connection = 6,
    /// Ctrl-C, SIGTERM or `statement_timeout`: rolled back, nothing written.
    Cancelled = 7,
    /// The machine could not give a run the memory it needs, or the run would hold more than
    /// `--max-memory`.
    OutOfMemory = 8,
}

/// An error with its words and its exit code.
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The server's SQLSTATE, when the server refused a statement.
    pub sqlstate: Option<String>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            detail: None,
            hint: None,
            sqlstate: None,
        }
    }

    pub fn hint(mut self, hint: &str) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    /// As psql prints a server's error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR:  {}", self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "\nDETAIL:  {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nHINT:  {h}")?;
        }
        Ok(())
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        let exit = match e.class() {
            ErrorClass::Argument => Exit::BadArguments,
            ErrorClass::Input => Exit::BadInput,
            ErrorClass::NotConverged => Exit::NotConverged,
            ErrorClass::Busy => Exit::LockBusy,
            ErrorClass::Cancelled => Exit::Cancelled,
            ErrorClass::Memory => Exit::OutOfMemory,
        };
        Self {
            exit,
            message: e.to_string(),
            detail: e.detail(),
            hint: e.hint().map(str::to_string),
            sqlstate: None,
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            // No answer from the server: the connection is gone, or never was.
            let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
            // The causes too: "error performing TLS handshake" says little without them.
            let mut message = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !message.contains(&text) {
                    message = format!("{message}: {text}");
                }
                cause = c.source();
            }
            if e.is_closed() || io {
                return Self::new(
                    Exit::Connection,
                    format!("connection to the database failed: {message}"),
                );
            }
            return Self::new(Exit::Failed, message);
        };
        let code = db.code();
        let exit = if *code == SqlState::QUERY_CANCELED {
            Exit::Cancelled
        } else if code.code().starts_with("08")
            || code.code().starts_with("28")
            || code.code().starts_with("3D")
            || code.code().starts_with("57P")
        {
            Exit::Connection
        } else {
            Exit::Failed
        };
        Self {
            exit,
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            hint: db.hint().map(str::to_string),
            sqlstate: Some(code.code().to_string()),
        }
    }
}
