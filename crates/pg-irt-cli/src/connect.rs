//! The connection, configured as libpq users expect: `DATABASE_URL` (a `postgresql://` URL or a
//! `key=value` string), with the `PG*` variables filling in what it leaves out (or standing alone
//! without it), and TLS by `sslmode` with libpq's meanings. The parsing is rust-postgres's; what
//! it does not know — `verify-ca`, `verify-full` and `sslrootcert` — is taken out first and done
//! here with OpenSSL.

use std::env;
use std::str::FromStr;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::SslMode;
use tokio_postgres::Config;

/// libpq's `sslmode` values (`allow` is taken as `prefer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for Tls {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "invalid sslmode \"{other}\"; valid modes are disable, allow, prefer, require, verify-ca, verify-full"
                ))
            }
        })
    }
}

/// Where and how to connect.
pub struct Target {
    pub config: Config,
    pub tls: MakeTlsConnector,
}

/// The settings of `DATABASE_URL` and the environment.
pub fn from_env() -> Result<Target, String> {
    let mut sslmode: Option<String> = None;
    let mut rootcert: Option<String> = None;
    let mut config = match env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let rest = take_tls_options(&url, &mut sslmode, &mut rootcert);
            Config::from_str(&rest).map_err(|e| format!("invalid DATABASE_URL: {e}"))?
        }
        _ => Config::new(),
    };
    fill_from_pg_variables(&mut config)?;
    let sslmode = sslmode.or_else(|| env::var("PGSSLMODE").ok());
    let rootcert = rootcert.or_else(|| env::var("PGSSLROOTCERT").ok());
    let tls = sslmode.as_deref().unwrap_or("prefer").parse::<Tls>()?;
    config.ssl_mode(match tls {
        Tls::Disable => SslMode::Disable,
        Tls::Prefer => SslMode::Prefer,
        _ => SslMode::Require,
    });
    Ok(Target {
        tls: connector(tls, rootcert.as_deref())?,
        config,
    })
}

/// The connection string without `sslmode` and `sslrootcert`, whose values go to the arguments.
fn take_tls_options(
    s: &str,
    sslmode: &mut Option<String>,
    rootcert: &mut Option<String>,
) -> String {
    let mut take = |key: &str, value: &str| match key {
        "sslmode" => *sslmode = Some(value.to_string()),
        "sslrootcert" => *rootcert = Some(value.to_string()),
        _ => {}
    };
    let tls_key = |key: &str| key == "sslmode" || key == "sslrootcert";
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        let Some((base, query)) = s.split_once('?') else {
            return s.to_string();
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                take(key, value);
                !tls_key(key)
            })
            .collect();
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        // key=value pairs; values with blanks are quoted and are never these two options.
        s.split_whitespace()
            .filter(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                take(key.trim(), value.trim_matches('\''));
                !tls_key(key.trim())
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// libpq's environment variables, for what the connection string left out.
fn fill_from_pg_variables(config: &mut Config) -> Result<(), String> {
    let var = |name: &str| env::var(name).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() {
        let hosts = var("PGHOST").unwrap_or_else(|| "/var/run/postgresql".into());
        for host in hosts.split(',') {
            if host.starts_with('/') {
                config.host_path(host);
            } else {
                config.host(host);
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = var("PGPORT") {
            config.port(
                port.parse()
                    .map_err(|_| format!("invalid PGPORT \"{port}\""))?,
            );
        }
    }
    if config.get_user().is_none() {
        if let Some(user) = var("PGUSER").or_else(|| var("USER")) {
            config.user(&user);
        }
    }
    if config.get_password().is_none() {
        if let Some(password) = var("PGPASSWORD") {
            config.password(&password);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(db) = var("PGDATABASE").or_else(|| config.get_user().map(str::to_string)) {
            config.dbname(&db);
        }
    }
    if config.get_options().is_none() {
        if let Some(options) = var("PGOPTIONS") {
            config.options(&options);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name(var("PGAPPNAME").unwrap_or_else(|| "pg-irt".into()));
    }
    if config.get_connect_timeout().is_none() {
        if let Some(seconds) = var("PGCONNECT_TIMEOUT").and_then(|s| s.parse().ok()) {
            config.connect_timeout(std::time::Duration::from_secs(seconds));
        }
    }
    Ok(())
}

/// OpenSSL set up for the mode: `require` encrypts without checking the certificate (as libpq
/// does without a root certificate), `verify-ca` checks it against `sslrootcert` (else
/// `~/.postgresql/root.crt`, else the system's roots), `verify-full` also checks the host name.
fn connector(tls: Tls, rootcert: Option<&str>) -> Result<MakeTlsConnector, String> {
    let fail = |e: openssl::error::ErrorStack| format!("TLS setup failed: {e}");
    let mut builder = SslConnector::builder(SslMethod::tls()).map_err(fail)?;
    if matches!(tls, Tls::VerifyCa | Tls::VerifyFull) {
        builder.set_verify(SslVerifyMode::PEER);
        let home_root = env::var("HOME")
            .map(|h| format!("{h}/.postgresql/root.crt"))
            .ok()
            .filter(|p| std::path::Path::new(p).is_file());
        match rootcert.map(str::to_string).or(home_root) {
            Some(path) => builder
                .set_ca_file(&path)
                .map_err(|e| format!("cannot read the root certificate {path}: {e}"))?,
            None => builder.set_default_verify_paths().map_err(fail)?,
        }
    } else {
        builder.set_verify(SslVerifyMode::NONE);
    }
    let mut connector = MakeTlsConnector::new(builder.build());
    if tls != Tls::VerifyFull {
        connector.set_callback(|config, _| {
            config.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_of_urls_and_key_value_strings() {
        let (mut mode, mut root) = (None, None);
        let rest = take_tls_options(
            "postgresql://u@db:5432/app?sslmode=verify-full&application_name=x&sslrootcert=/ca.pem",
            &mut mode,
            &mut root,
        );
        assert_eq!(rest, "postgresql://u@db:5432/app?application_name=x");
        assert_eq!(
            (mode.as_deref(), root.as_deref()),
            (Some("verify-full"), Some("/ca.pem"))
        );
        let (mut mode, mut root) = (None, None);
        let rest = take_tls_options("host=db dbname=app sslmode=require", &mut mode, &mut root);
        assert_eq!(rest, "host=db dbname=app");
        assert_eq!((mode.as_deref(), root), (Some("require"), None));
        assert!(Config::from_str(&rest).is_ok());
        assert!("verify-all".parse::<Tls>().is_err());
    }
}
