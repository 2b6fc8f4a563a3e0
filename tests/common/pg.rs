//! A PostgreSQL server of the tests' own: Debian's `postgresql` binaries, a cluster made by
//! `initdb` in a temporary folder, listening on 127.0.0.1 on a free port, stopped on drop.
//! As root (CI) the server runs as the `postgres` user, since PostgreSQL refuses root.
//!
//! Without PostgreSQL installed the tests that need it fail, saying how to install it
//! (`scripts/setup.sh --test` does), unless `COMMONSNET_SKIP_PG=1` says to skip them.

use super::process::output_ok;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

/// The folder of `initdb`, `pg_ctl` and `postgres`: the newest version under
/// /usr/lib/postgresql, or `PG_BIN`.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PG_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    /// A fresh server, or `None` when PostgreSQL is not installed and skipping was asked for.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = bin_dir() else {
            assert!(
                std::env::var("COMMONSNET_SKIP_PG").is_ok_and(|v| v == "1"),
                "PostgreSQL is not installed: apt-get install postgresql (or set \
                 COMMONSNET_SKIP_PG=1 to skip the tests that need it)"
            );
            eprintln!("COMMONSNET_SKIP_PG=1: skipping a test that needs PostgreSQL");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = is_root();
        if as_postgres {
            assert!(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success());
        }
        let pg = PgServer {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        output_ok(
            "initdb",
            pg.command("initdb")
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "commonsnet",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "-D",
                ])
                .arg(pg.data())
                .stdout(Stdio::null()),
        );
        pg.up();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// Start the server (again) and wait until it accepts connections.
    pub fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let status = self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(self.data())
            .args(["-o", &opts, "-l"])
            .arg(self.dir.path().join("log"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start: {}", self.log_tail());
    }

    /// Stop the server now (fast shutdown: connections are cut).
    pub fn down(&self) {
        let _ = self
            .command("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(self.data())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new(self.bin.join("psql"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "commonsnet",
                ])
                .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c"])
                .arg(format!("CREATE DATABASE {name}"))
                .output()
                .unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "create database: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        format!("postgres://commonsnet@127.0.0.1:{}/{name}", self.port)
    }

    /// Run SQL in a database (by URL); its output, unaligned.
    pub fn sql(&self, url: &str, sql: &str) -> String {
        let out = output_ok(
            "psql",
            Command::new(self.bin.join("psql")).args([
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ]),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Start running SQL in a database (by URL) in the background, as one transaction (a
    /// lock it takes is held until it ends); wait on the child for its end.
    pub fn sql_in_background(&self, url: &str, sql: &str) -> std::process::Child {
        Command::new(self.bin.join("psql"))
            .args(["-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.down();
    }
}
