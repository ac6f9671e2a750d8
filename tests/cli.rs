//! The `numberd` binary as an operator uses it: workspace and key commands, configuration
//! layering and its errors, and `serve` answering the README's walkthrough.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

fn numberd(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_numberd"));
    cmd.current_dir(dir).args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run numberd")
}

fn ok_json(out: &Output) -> Value {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "exactly one line of JSON: {stdout}");
    serde_json::from_str(&stdout).expect("stdout is JSON")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_ready(base: &str) {
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("numberd serve did not become ready");
}

#[tokio::test]
async fn walkthrough_with_zero_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // No configuration at all: SQLite `numberd.db` in the working directory.
    walkthrough(dir.path(), &[]).await;
    assert!(dir.path().join("numberd.db").exists());
}

#[tokio::test]
async fn walkthrough_on_postgres() {
    use sqlx::Connection;
    let base = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable: {e}"));
    let schema = format!("cli_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    walkthrough(dir.path(), &[("NUMBERD_DATABASE_URL", &url)]).await;
    assert!(!dir.path().join("numberd.db").exists(), "nothing went to SQLite");
}

/// The README's walkthrough, driven through the binary: workspace, serve, register, list, keys.
async fn walkthrough(dir: &Path, env: &[(&str, &str)]) {
    let created = ok_json(&numberd(dir, env, &["workspace", "create", "Acme"]));
    let obj = created.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["accessKey", "workspaceId"]);
    let ws = created["workspaceId"].as_str().unwrap();
    let key = created["accessKey"].as_str().unwrap();

    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_numberd"))
        .current_dir(dir)
        .arg("serve")
        .env_clear()
        .envs(env.iter().copied())
        .env("NUMBERD_LISTEN", &listen)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let base = format!("http://{listen}");
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/workspaces/{ws}/numbers"))
        .header("authorization", format!("AccessKey {key}"))
        .json(&json!({ "number": "+1 (415) 555-0100" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let list: Value = http
        .get(format!("{base}/workspaces/{ws}/numbers"))
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["results"][0]["number"], "+14155550100");

    // More keys, and revocation.
    let more = ok_json(&numberd(dir, env, &["key", "create", "--workspace", ws]));
    let second = more["accessKey"].as_str().unwrap();
    let get = |k: String| {
        let http = http.clone();
        let url = format!("{base}/workspaces/{ws}/numbers");
        async move { http.get(url).header("authorization", format!("Bearer {k}")).send().await.unwrap().status() }
    };
    assert_eq!(get(second.to_owned()).await, 200);
    ok_json(&numberd(dir, env, &["key", "revoke", more["keyId"].as_str().unwrap()]));
    // The server trusts a key it checked for `auth.key_cache_ms` (2 s by default): the
    // revocation takes effect within that bound.
    let revoked = std::time::Instant::now();
    while get(second.to_owned()).await != 401 {
        assert!(revoked.elapsed() < Duration::from_millis(2_500), "the revoked key still works after the cache bound");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(key.to_owned()).await, 200);
    let listed = numberd(dir, env, &["key", "list", "--workspace", ws]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(listed.lines().count(), 2);
    assert!(!listed.contains(key) && !listed.contains(second), "secrets are shown once only");
}

#[test]
fn configuration_errors_are_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("NUMBERD_LISTN", "127.0.0.1:1")], "listn"),
        (&[("NUMBERD_PUBLIC_URL", "ftp://numbers.example.com")], "public_url"),
        (&[("NUMBERD_LISTEN", "everywhere")], "listen"),
        (&[("NUMBERD_DATABASE_URL", "mysql://localhost/x")], "database_url"),
        (&[("NUMBERD_WORKER__INTERVAL_MS", "soon")], "interval_ms"),
        (&[("NUMBERD_CONFIG", "/nonexistent/numberd.toml")], "does not exist"),
    ];
    for (env, mention) in cases {
        let out = numberd(dir.path(), env, &["migrate"]);
        assert!(!out.status.success(), "{env:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(stderr.contains("invalid configuration") && stderr.contains(mention), "{env:?}: {stderr}");
    }
    std::fs::write(dir.path().join("numberd.toml"), "listen = \"127.0.0.1:9\"\n[worker]\nbatchsize = 3\n").unwrap();
    let out = numberd(dir.path(), &[], &["--config", "numberd.toml", "migrate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("batchsize"));
}

#[test]
fn layers_apply_in_order_and_secrets_stay_out_of_output() {
    let dir = tempfile::tempdir().unwrap();
    // The file says one database, the environment overrides it.
    std::fs::write(dir.path().join("numberd.toml"), "database_url = \"sqlite://from-file.db\"\n").unwrap();
    let out = numberd(dir.path(), &[("NUMBERD_DATABASE_URL", "sqlite://from-env.db")], &["--config", "numberd.toml", "migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("from-env.db").exists() && !dir.path().join("from-file.db").exists());
    let out = numberd(dir.path(), &[], &["--config", "numberd.toml", "migrate"]);
    assert!(out.status.success());
    assert!(dir.path().join("from-file.db").exists());
    // A password in the database URL never reaches the output, even when connecting fails.
    let url = "postgres://numberd:hunter2-secret@127.0.0.1:1/numberd";
    let out = numberd(dir.path(), &[("NUMBERD_DATABASE_URL", url), ("NUMBERD_LOG", "debug")], &["migrate"]);
    assert!(!out.status.success());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("hunter2-secret"), "{all}");
}

#[test]
fn openapi_command_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = numberd(dir.path(), &[], &["openapi"]);
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap()).unwrap();
    assert!(
        printed == committed,
        "`numberd openapi` differs from openapi.json; regenerate with `UPDATE_OPENAPI=1 cargo test --test api openapi`"
    );
}

#[test]
fn sweep_runs_once_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let created = ok_json(&numberd(dir.path(), &[], &["workspace", "create", "Acme", "--test-mode"]));
    assert!(created["workspaceId"].is_string());
    let report = ok_json(&numberd(dir.path(), &[], &["sweep"]));
    assert_eq!(report, json!({ "settled": 0, "delivered": 0 }));
    let out = numberd(dir.path(), &[], &["workspace", "create", "   "]);
    assert!(!out.status.success());
}

/// systemd and Kubernetes stop services with SIGTERM: a request in flight still completes, new
/// connections are refused, and the process exits cleanly within the grace period.
#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let created = ok_json(&numberd(dir.path(), &[], &["workspace", "create", "Acme"]));
    let (ws, key) = (created["workspaceId"].as_str().unwrap(), created["accessKey"].as_str().unwrap());
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_numberd"))
        .current_dir(dir.path())
        .arg("serve")
        .env_clear()
        .env("NUMBERD_LISTEN", &listen)
        .env("NUMBERD_HTTP__SHUTDOWN_GRACE_MS", "10000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    wait_ready(&format!("http://{listen}")).await;

    // A slow client: headers and half the body, then SIGTERM, then the rest.
    let body = json!({ "number": "+14155550100" }).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = tokio::net::TcpStream::connect(&listen).await.unwrap();
    let head = format!(
        "POST /workspaces/{ws}/numbers HTTP/1.1\r\nHost: {listen}\r\nAuthorization: AccessKey {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let killed = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(tokio::net::TcpStream::connect(&listen).await.is_err(), "no new connections once stopping");
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), conn.read_to_string(&mut answer)).await.expect("answered").unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "the in-flight request completed: {answer}");

    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running after the grace period");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(5), "exited once drained, not at the end of the grace period");
}

#[test]
fn carrier_account_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let twilio =
        [("NUMBERD_DEFAULT_CARRIER", "us"), ("NUMBERD_CARRIERS__US__KIND", "twilio"), ("NUMBERD_CARRIERS__US__ACCOUNT_SID", "AC1")];
    let with = |extra: &[(&'static str, &'static str)]| twilio.iter().chain(extra).copied().collect::<Vec<_>>();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("NUMBERD_DEFAULT_CARRIER", "us")], "default_carrier: no carrier account named \"us\""),
        (
            with(&[("NUMBERD_DEFAULT_CARRIER", "eu"), ("NUMBERD_CARRIERS__US__AUTH_TOKEN", "t")]),
            "default_carrier: no carrier account named \"eu\"",
        ),
        (twilio[1..].to_vec(), "default_carrier must name one of the carrier accounts (us)"),
        (twilio.to_vec(), "carriers.us.auth_token must be set"),
        (vec![("NUMBERD_DEFAULT_CARRIER", "eu"), ("NUMBERD_CARRIERS__EU__KIND", "telnyx")], "carriers.eu.api_key must be set"),
        (
            with(&[("NUMBERD_CARRIERS__US__AUTH_TOKEN", "t"), ("NUMBERD_CARRIERS__US__MAX_CONCURRENT_REQUESTS", "0")]),
            "carriers.us.max_concurrent_requests",
        ),
        (with(&[("NUMBERD_CARRIERS__US__AUTH_TOKEN", "t"), ("NUMBERD_CARRIERS__US__BASE_URL", "api.twilio.com")]), "carriers.us.base_url"),
        (with(&[("NUMBERD_CARRIERS__US__AUTHTOKEN", "t")]), "authtoken"),
        (vec![("NUMBERD_DEFAULT_CARRIER", "us"), ("NUMBERD_CARRIERS__US__KIND", "sinch")], "sinch"),
    ];
    for (env, mention) in cases {
        let out = numberd(dir.path(), &env, &["migrate"]);
        assert!(!out.status.success(), "{env:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("invalid configuration") && stderr.contains(mention), "{env:?}: {stderr}");
        assert!(!stderr.contains("\"t\""), "a secret in an error: {stderr}");
    }
}

/// Accounts from the file and the environment together; the log names them, never their secrets.
#[tokio::test]
async fn carrier_accounts_from_file_and_environment_keep_secrets_out_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "default_carrier = \"us\"\n[carriers.us]\nkind = \"twilio\"\naccount_sid = \"AC42\"\nauth_token = \"from-file-token\"\nmax_concurrent_requests = 2\n";
    std::fs::write(dir.path().join("numberd.toml"), toml).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_numberd"))
        .current_dir(dir.path())
        .args(["--config", "numberd.toml", "serve"])
        .env_clear()
        .env("NUMBERD_LISTEN", &listen)
        .env("NUMBERD_LOG_FORMAT", "json")
        .env("NUMBERD_CARRIERS__US__AUTH_TOKEN", "env-token-wins")
        .env("NUMBERD_CARRIERS__EU__KIND", "telnyx")
        .env("NUMBERD_CARRIERS__EU__API_KEY", "KEYtelnyx-secret")
        .env("NUMBERD_CARRIERS__EU__BASE_URL", "http://127.0.0.1:9/v2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    wait_ready(&format!("http://{listen}")).await;
    let _ = server.0.kill();
    let mut log = String::new();
    std::io::Read::read_to_string(server.0.stderr.as_mut().unwrap(), &mut log).unwrap();
    for secret in ["from-file-token", "env-token-wins", "KEYtelnyx-secret"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    let shown = [
        "\"carrier\":\"us\"",
        "AC42",
        "max_concurrent_requests: 2",
        "\"default\":true",
        "\"carrier\":\"eu\"",
        "http://127.0.0.1:9/v2",
        "\"accounts\":2",
    ];
    for shown in shown {
        assert!(log.contains(shown), "{shown} missing from the log:\n{log}");
    }
}

/// Every variable the README documents is accepted: `NUMBERD_LOG`, `NUMBERD_CONFIG` and
/// `NUMBERD_<KEY>` for each key of its configuration table (set to its documented default), all at
/// once; `serve` starts and answers. An undocumented `NUMBERD_*` still stops the start.
#[tokio::test]
async fn every_documented_environment_variable_is_accepted() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let ticked = |cell: &str| cell.split('`').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>();
    let mut env: Vec<(String, String)> = Vec::new();
    for row in readme.lines().skip_while(|l| !l.starts_with("| key |")).skip(2).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').collect();
        // `carriers.NAME.*` rows describe a template, not a key of their own.
        for (key, default) in ticked(cells[1]).into_iter().zip(ticked(cells[2])).filter(|(k, _)| !k.contains("NAME")) {
            env.push((format!("NUMBERD_{}", key.to_uppercase().replace('.', "__")), default));
        }
    }
    assert!(env.len() >= 10 && env.iter().any(|(k, _)| k == "NUMBERD_DATABASE__ACQUIRE_TIMEOUT_MS"), "{env:?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("numberd.toml"), "[worker]\nbatch = 50\n").unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let serve = |extra: &[(&str, &str)], stderr: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_numberd"))
            .current_dir(dir.path())
            .arg("serve")
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs([("NUMBERD_LOG", "debug"), ("NUMBERD_CONFIG", "numberd.toml"), ("NUMBERD_LISTEN", listen.as_str())])
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    };
    let server = Server(serve(&[], Stdio::null()));
    wait_ready(&format!("http://{listen}")).await;
    drop(server);

    let out = serve(&[("NUMBERD_FOO", "1")], Stdio::piped()).wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid configuration") && stderr.contains("foo"), "{stderr}");
}
