//! The service over real HTTP on 127.0.0.1: start `commonsnet serve` on a free port with its
//! own data directory, call it, stop it (SIGKILL on drop).

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    pub child: Child,
    pub base: String,
    /// Its data folder.
    pub data: PathBuf,
    /// The data folder when the server has one of its own ([`Server::in_temp_dir`]): removed
    /// after the server is stopped.
    own_data: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Server::start_with(data, extra, None)
    }

    /// A server on a fresh data folder of its own, for a test that does not restart it on the
    /// same folder.
    pub fn in_temp_dir(extra: &[&str]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut s = Server::start(data.path(), extra);
        s.own_data = Some(data);
        s
    }

    /// With `COMMONSNET_FAULTS` set for the server (the job runner's fault injection).
    pub fn start_with(data: &Path, extra: &[&str], faults: Option<&str>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_commonsnet"));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .args(store_args(data, extra))
            .env_remove("COMMONSNET_FAULTS")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(f) = faults {
            cmd.env("COMMONSNET_FAULTS", f);
        }
        let mut child = cmd.spawn().expect("start server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the listening line");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("listening line {line:?} is not JSON: {e}"));
        let base = format!("http://{}", v["listening"].as_str().unwrap());
        Server {
            child,
            base,
            data: data.to_path_buf(),
            own_data: None,
        }
    }

    /// Still running (not exited, not aborted).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Send SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The variable that runs these servers on PostgreSQL: `postgres://USER@HOST:PORT` of a
/// running server (`scripts/test.sh` starts one and runs the HTTP tests a second time so).
pub const TEST_PG: &str = "COMMONSNET_TEST_PG";

/// `--store` for a server on `data` when [`TEST_PG`] is set: a database per data folder, so a
/// server restarted on the same folder finds its jobs and sessions, as on SQLite.
fn store_args(data: &Path, extra: &[&str]) -> Vec<String> {
    let Ok(base) = std::env::var(TEST_PG) else {
        return Vec::new();
    };
    if extra.contains(&"--store") {
        return Vec::new();
    }
    let db = pg_database_name(data);
    // Made on first use; "already exists" on a restart.
    let _ = Command::new("psql")
        .args(["-d", &format!("{base}/postgres"), "-q", "-c"])
        .arg(format!("CREATE DATABASE {db}"))
        .stderr(Stdio::null())
        .status();
    vec![
        "--store".into(),
        format!("{base}/{db}"),
        "--lease-s".into(),
        "3".into(),
    ]
}

/// The database of the servers on `data` under [`TEST_PG`].
fn pg_database_name(data: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    format!("d{:016x}", h.finish())
}

impl Server {
    /// The first column (as text) of each row `sql` selects from the server's store: its
    /// SQLite file, or its PostgreSQL database under [`TEST_PG`]. For tests that look at what
    /// the server stored behind its back.
    pub fn store_query(&self, sql: &str) -> Vec<String> {
        match self.pg_url() {
            Some(url) => {
                let out = Command::new("psql")
                    .args([
                        "-d",
                        &url,
                        "-X",
                        "-q",
                        "-A",
                        "-t",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-c",
                    ])
                    .arg(sql)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{sql}: {out:?}");
                String::from_utf8(out.stdout)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect()
            }
            None => {
                let conn = commonsnet_api::store::open_db(&self.data).unwrap();
                let mut st = conn.prepare(sql).unwrap();
                let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
                rows.map(Result::unwrap).collect()
            }
        }
    }

    /// Run `sql` (a change) on the server's store, as [`Server::store_query`] reads it: for
    /// tests that damage what the server stored.
    pub fn store_execute(&self, sql: &str) {
        match self.pg_url() {
            Some(url) => {
                let out = Command::new("psql")
                    .args(["-d", &url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
                    .arg(sql)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{sql}: {out:?}");
            }
            None => {
                let conn = commonsnet_api::store::open_db(&self.data).unwrap();
                conn.execute(sql, []).unwrap();
            }
        }
    }

    /// The server's PostgreSQL database under [`TEST_PG`]; `None` on SQLite.
    fn pg_url(&self) -> Option<String> {
        let base = std::env::var(TEST_PG).ok()?;
        Some(format!("{base}/{}", pg_database_name(&self.data)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Whether the `Vary` lines name `token` (case aside, one line or several).
    pub fn varies_by(&self, token: &str) -> bool {
        self.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("vary")
                && v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
    /// Checks the answer's status is `status`, showing the body when it is not.
    #[track_caller]
    pub fn assert_status(&self, status: u16) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
    }
    /// Checks a refusal of `status` and `code` whose message says `says`.
    pub fn assert_refused(&self, status: u16, code: &str, says: &str) {
        assert_eq!((self.status, self.code().as_str()), (status, code));
        let message = self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(says), "{message}");
    }
    /// Checks a 422 `invalid_input` whose first detail names `table` and `field` and whose
    /// message says `says`.
    pub fn assert_invalid_field(&self, table: &str, field: &str, says: &str) {
        assert_eq!((self.status, self.code().as_str()), (422, "invalid_input"));
        let d = &self.json()["error"]["details"][0];
        assert_eq!(
            (d["table"].as_str(), d["field"].as_str()),
            (Some(table), Some(field)),
            "{d}"
        );
        let message = d["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{d}");
    }
}

pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(120));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    // Every line of a header sent more than once (`Vary`), in order.
    let mut names = resp.headers_names();
    let mut seen = std::collections::HashSet::new();
    names.retain(|k| seen.insert(k.to_ascii_lowercase()));
    let headers = names
        .iter()
        .flat_map(|k| resp.all(k).into_iter().map(|v| (k.clone(), v.to_string())))
        .collect();
    let mut body = Vec::new();
    resp.into_reader()
        .read_to_end(&mut body)
        .expect("read body");
    Resp {
        status,
        headers,
        body,
    }
}

/// `method path` on `s` with the one header `header` and no body.
pub fn call_with_header(s: &Server, method: &str, path: &str, header: (&str, &str)) -> Resp {
    call(method, &s.url(path), &[header], None)
}

/// `GET path` asking for `accept`; the answer must be 200.
#[track_caller]
pub fn get_as(s: &Server, path: &str, accept: &str) -> Resp {
    let r = call("GET", &s.url(path), &[("Accept", accept)], None);
    r.assert_status(200);
    r
}

/// `DELETE path`, with the bearer token `auth` if any.
pub fn delete(s: &Server, path: &str, auth: Option<&str>) -> Resp {
    call_without_body(s, "DELETE", path, auth)
}

pub fn post_json(s: &Server, path: &str, body: &Value, auth: Option<&str>) -> Resp {
    post_json_with(s, path, body, auth, &[])
}

/// [`post_json`] with the further headers `extra`.
pub fn post_json_with(
    s: &Server,
    path: &str,
    body: &Value,
    auth: Option<&str>,
    extra: &[(&str, &str)],
) -> Resp {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(b) = &bearer {
        h.push(("Authorization", b));
    }
    h.extend_from_slice(extra);
    call("POST", &s.url(path), &h, Some(body.to_string().as_bytes()))
}

pub fn get(s: &Server, path: &str, auth: Option<&str>) -> Resp {
    call_without_body(s, "GET", path, auth)
}

/// `method path` without a body, with the bearer token `auth` if any.
fn call_without_body(s: &Server, method: &str, path: &str, auth: Option<&str>) -> Resp {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let h: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    call(method, &s.url(path), &h, None)
}

/// `POST /v1/solve` with a `multipart/form-data` body of the given parts.
pub fn solve_multipart(s: &Server, parts: &[(&str, &str, &[u8])]) -> Resp {
    let (ctype, body) = multipart(parts);
    call(
        "POST",
        &s.url("/v1/solve"),
        &[("Content-Type", &ctype)],
        Some(&body),
    )
}

/// A `multipart/form-data` body of named file parts `(name, content type, bytes)`, and the
/// Content-Type header that announces it.
pub fn multipart(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "commonsnet-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, ctype, data) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The tokens of the two tenants of [`Server::with_tenants`].
pub const ALICE: &str = "alice-secret-token-0001";
pub const BOB: &str = "bob-secret-token-000002";

impl Server {
    /// A server with two tenants, `alice` ([`ALICE`]) and `bob` ([`BOB`]), its tokens file and
    /// data in `dir`.
    pub fn with_tenants(dir: &Path) -> Server {
        Server::with_tenants_and(dir, &[])
    }

    /// [`Server::with_tenants`] with more arguments.
    pub fn with_tenants_and(dir: &Path, extra: &[&str]) -> Server {
        let tokens = dir.join("tokens.txt");
        std::fs::write(
            &tokens,
            format!("# tenant token\nalice {ALICE}\nbob {BOB}\n"),
        )
        .unwrap();
        let args = [&["--tokens", tokens.to_str().unwrap()][..], extra].concat();
        Server::start(&dir.join("data"), &args)
    }
}

/// `serve --addr addr --data data`, which must refuse to start at once: exit code 2. Its
/// stderr.
pub fn refused_serve(addr: &str, data: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_commonsnet"))
        .args(["serve", "--addr", addr, "--data"])
        .arg(data)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

/// `serve` with `args` (on a data folder of its own) that must refuse to start: its exit
/// code 2 within 30 s, and its stderr.
pub fn refused_start(args: &[&str]) -> String {
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_commonsnet"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve {args:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{args:?}: {err}");
    err
}
