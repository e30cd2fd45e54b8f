//! Test support: a PostgreSQL server for store tests, shared by this crate's tests and
//! any other test that needs one.
//!
//! [`PgTestServer::start`] picks, in order:
//! 1. `IMEITRACK_PG_URL` (a server the caller runs; each test gets a fresh database on it,
//!    so the role needs `CREATEDB`);
//! 2. a throwaway cluster: `initdb` from `/usr/lib/postgresql/*/bin` (Debian package
//!    `postgresql`) or `PATH`, in a temporary directory, listening on a free loopback
//!    port; as root the server runs as the `postgres` user (`runuser -u postgres --`)
//!    because `initdb` refuses root. Dropping the handle stops it and removes the files.
//! 3. nothing: with `CI=true` that is an error (tests must fail), otherwise the caller
//!    skips, and the message names the Debian package to install.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A PostgreSQL server for tests.
pub struct PgTestServer {
    base_url: String,
    cluster: Option<Cluster>,
}

struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
}

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl PgTestServer {
    /// Finds or starts a server. `Ok(None)`: none available and not in CI (a message was
    /// printed; skip the test). `Err`: none available in CI, or it failed to start.
    pub fn start() -> Result<Option<PgTestServer>, String> {
        if let Some(url) = std::env::var("IMEITRACK_PG_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            return Ok(Some(PgTestServer {
                base_url: url,
                cluster: None,
            }));
        }
        match find_bin_dir() {
            Some(bin) => Cluster::start(bin).map(Some),
            None if std::env::var("CI").is_ok_and(|v| v == "true") => Err(
                "PostgreSQL is required in CI: install the Debian package `postgresql` \
                 or set IMEITRACK_PG_URL"
                    .to_owned(),
            ),
            None => {
                eprintln!(
                    "skipping PostgreSQL tests: no initdb found (install the Debian package \
                     `postgresql`) and IMEITRACK_PG_URL is not set"
                );
                Ok(None)
            }
        }
    }

    /// Creates a new empty database and returns its `postgres://` URL.
    #[cfg(feature = "postgres")]
    pub async fn fresh_database(&self) -> Result<String, String> {
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let name = format!("imeitrack_test_{}_{n}", std::process::id());
        let (client, conn) = tokio_postgres::connect(&self.base_url, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connect {}: {e}", self.base_url))?;
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("CREATE DATABASE: {}", super::postgres::describe(&e)))?;
        drop(client);
        let _ = task.await;
        Ok(with_dbname(&self.base_url, &name))
    }

    /// The URL of the server's default database.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// Replaces the database name in a `postgres://` URL.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn with_dbname(url: &str, db: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let scheme_end = main.find("://").map_or(0, |i| i + 3);
    let base = match main[scheme_end..].find('/') {
        Some(i) => &main[..scheme_end + i],
        None => main,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl Cluster {
    fn start(bin: PathBuf) -> Result<PgTestServer, String> {
        let as_postgres = is_root();
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("imeitrack-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let cluster = Cluster {
            bin,
            dir,
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cluster.dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(format!(
                    "chown postgres {} failed (is there a `postgres` user?)",
                    cluster.dir.display()
                ));
            }
        }
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            cluster.dir.display()
        );
        let log = cluster.dir.join("server.log");
        cluster
            .run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-o".as_ref(),
                    opts.as_ref(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "start".as_ref(),
                ],
            )
            .map_err(|e| {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                format!("{e}\n{log}")
            })?;
        Ok(PgTestServer {
            base_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            cluster: Some(cluster),
        })
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        // Run from a directory the postgres user can read.
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed: {}{}",
                exe.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for PgTestServer {
    fn drop(&mut self) {
        if let Some(c) = &self.cluster {
            let data = c.data();
            let _ = c.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ],
            );
            remove(&c.dir);
        }
    }
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn dbname_replacement() {
        assert_eq!(
            with_dbname("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(with_dbname("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            with_dbname("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}
