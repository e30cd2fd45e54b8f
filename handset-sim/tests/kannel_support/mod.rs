//! Kannel (bearerbox + smsbox) harness shared by the Kannel tests: free loopback ports,
//! the configuration that binds bearerbox to the SMSC simulator over SMPP, a tiny HTTP
//! client for smsbox/admin, bounded waits, process start and log collection.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Ports {
    pub admin: u16,
    pub smsbox: u16,
    pub sendsms: u16,
    pub smsc: u16,
}

pub fn kannel_conf(dir: &Path, p: &Ports) -> String {
    let d = dir.display();
    format!(
        r#"group = core
admin-port = {admin}
admin-password = bar
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox}
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "{d}/bearerbox.log"
log-level = 0
access-log = "{d}/access.log"

group = smsc
smsc = smpp
smsc-id = SIM
host = 127.0.0.1
port = {smsc}
transceiver-mode = yes
smsc-username = kannel
smsc-password = kpass
system-type = ""
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
global-sender = 12345
log-file = "{d}/smsbox.log"
log-level = 0

group = sendsms-user
username = tester
password = foobar
# Defaults are max-messages = 1 (longer pushes are truncated to one SMS) and no
# concatenation IE.
max-messages = 10
concatenation = true

group = sms-service
keyword = default
text = "echo reply"
"#,
        admin = p.admin,
        smsbox = p.smsbox,
        sendsms = p.sendsms,
        smsc = p.smsc,
    )
}

/// One HTTP/1.0 exchange on 127.0.0.1; returns the whole response.
pub async fn http(port: u16, request: &[u8]) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(request).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::other("HTTP timeout"))??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub async fn wait_for<T>(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn spawn_box(bin: &str, conf: &Path, dir: &Path, name: &str) -> Child {
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).unwrap();
    Command::new(bin)
        .arg("-v")
        .arg("1")
        .arg(conf)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

pub fn logs(dir: &Path) -> String {
    let mut s = String::new();
    for f in ["bearerbox.out", "smsbox.out", "bearerbox.log", "smsbox.log"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        s += &format!("---- {f} (last 30 lines)\n");
        for l in tail.into_iter().rev() {
            s += l;
            s.push('\n');
        }
    }
    s
}
