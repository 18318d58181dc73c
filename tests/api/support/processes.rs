//! `keydrop serve` as a real child process on a test database, for tests that run two
//! processes on one PostgreSQL database.

use super::helpers::TestDb;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `keydrop serve`, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start_server(db: &TestDb, master_key: &str, port: u16, dir: &std::path::Path) -> Server {
    start_server_with(db, master_key, port, dir, &[])
}

/// [`start_server`] with extra environment (e.g. the fake Greenhouse's URLs).
pub fn start_server_with(
    db: &TestDb,
    master_key: &str,
    port: u16,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keydrop"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("KEYDROP_DATA_DIR", dir)
        .env("KEYDROP_DATABASE_URL", &db.url)
        .env("KEYDROP_MASTER_KEY", master_key)
        .env("KEYDROP_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("is listening on") {
            break;
        }
    }
    Server(child)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
