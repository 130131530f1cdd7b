//! A PostgreSQL cluster of the test's own, for tests that stop, freeze or restart the
//! database (the shared test server must never be touched that way).
//!
//! PostgreSQL refuses to run as root, so as root every command runs as user `postgres`
//! (`runuser`), in a data directory under `/tmp` that user can reach, on a free port.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::TestDb;

/// A throwaway cluster (initdb + pg_ctl start), stopped and deleted on drop.
#[derive(Debug)]
pub struct PgCluster {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

/// The directory holding `initdb` and `pg_ctl`: the one on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn bindir() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists());
    if let Some(dir) = on_path {
        return dir;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect())
        .unwrap_or_default();
    versions.sort_by_key(|dir| {
        dir.parent().and_then(Path::file_name).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop().expect("PostgreSQL server binaries (initdb, pg_ctl) are installed")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// A command run as the cluster's owner.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program).current_dir("/");
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill").arg(format!("-{sig}")).args(pids.iter().map(u32::to_string)).status();
}

impl PgCluster {
    /// Initializes and starts a cluster on a free port (trust auth, fsync off).
    pub fn start() -> Self {
        let bin = bindir();
        let dir = std::env::temp_dir().join(format!("chat-test-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("the data directory is created");
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:").arg(&dir);
                    c
                },
                "chown",
            );
        }
        let mut initdb = as_owner(&bin.join("initdb"));
        initdb.arg("-D").arg(&dir).args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
        run(initdb, "initdb");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let cluster = Self { port, dir, bin };
        cluster.start_again();
        cluster
    }

    /// Starts the (stopped) cluster again on its port.
    pub fn start_again(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='' -c fsync=off -c max_connections=50",
            self.port
        );
        let mut pg_ctl = as_owner(&self.bin.join("pg_ctl"));
        pg_ctl.arg("-D").arg(&self.dir).arg("-l").arg(self.dir.join("server.log"));
        pg_ctl.args(["-o", &options, "-w", "-t", "30", "start"]).stdout(Stdio::null());
        run(pg_ctl, "pg_ctl start");
    }

    /// Stops it (`-m fast`: sessions are ended, then connections are refused).
    pub fn stop(&self) {
        let mut pg_ctl = as_owner(&self.bin.join("pg_ctl"));
        pg_ctl.arg("-D").arg(&self.dir).args(["-m", "fast", "-w", "-t", "30", "stop"]).stdout(Stdio::null());
        run(pg_ctl, "pg_ctl stop");
    }

    /// The postmaster and its children (backends and background workers).
    fn pids(&self) -> Vec<u32> {
        let Some(postmaster) = std::fs::read_to_string(self.dir.join("postmaster.pid"))
            .ok()
            .and_then(|pidfile| pidfile.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // pid (comm) state ppid ...: the command may hold spaces, so split after ')'.
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid.and_then(|p| p.parse::<u32>().ok()) == Some(postmaster)
                && let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok())
            {
                pids.push(pid);
            }
        }
        pids
    }

    /// Freezes every process of the cluster (SIGSTOP): connections stay open and their
    /// packets are acknowledged by the kernel, but nothing answers, as with a hung host.
    pub fn freeze(&self) {
        signal(&self.pids(), "STOP");
    }

    /// Resumes a frozen cluster (SIGCONT).
    pub fn thaw(&self) {
        signal(&self.pids(), "CONT");
    }

    /// The admin URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A new migrated database on this cluster. It is not dropped on its own: the whole
    /// cluster goes on drop (a drop while the cluster is frozen must not hang).
    pub fn database(&self) -> TestDb {
        use diesel::connection::SimpleConnection as _;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = chat_postgres::establish(&self.admin_url()).expect("the cluster accepts connections");
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("the database is created");
        let url = format!("postgres://postgres@127.0.0.1:{}/{name}", self.port);
        chat_postgres::run_migrations(&url).expect("the database is migrated");
        TestDb::unowned(name, url)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.thaw();
        let mut pg_ctl = as_owner(&self.bin.join("pg_ctl"));
        pg_ctl.arg("-D").arg(&self.dir).args(["-m", "immediate", "-w", "stop"]);
        let _ = pg_ctl.stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
