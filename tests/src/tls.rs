//! Throwaway servers that speak TLS, for the transport-security tests: a certificate
//! authority and a server certificate made with `openssl`, a PostgreSQL cluster of the
//! test's own (`ssl=on`, TLS-only `hostssl` rules, or no TLS at all) and a
//! `redis-server` listening on a TLS port only. Each lives in a directory of its own
//! under the system's temporary directory and is stopped and removed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (another process may take it before we bind: callers retry).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// Runs a command to completion; panics with its output when it fails.
fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?} cannot start: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A directory of the test's own under the temporary directory, readable by user
/// `postgres` (PostgreSQL refuses to run as root), removed on drop.
#[derive(Debug)]
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(prefix: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("the scratch directory is created");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("the scratch directory opens");
        Self(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate authority, a server certificate it signed for `localhost` and
/// `127.0.0.1`, and a second, unrelated authority (the wrong root).
#[derive(Debug)]
pub struct Certs {
    dir: ScratchDir,
}

impl Certs {
    /// Generates them with the `openssl` command (P-256 keys, valid for two days).
    pub fn generate() -> Self {
        const NEW_KEY: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let certs = Self { dir: ScratchDir::new("chat-certs") };
        let path = |name: &str| certs.dir.0.join(name).to_string_lossy().into_owned();
        let openssl = |args: &[&[&str]]| run(Command::new("openssl").args(args.concat()));
        for (ca, name) in [("ca", "chat test CA"), ("other-ca", "unrelated CA")] {
            let (key, cert, subject) = (path(&format!("{ca}.key")), path(&format!("{ca}.pem")), format!("/CN={name}"));
            openssl(&[&["req", "-x509", "-days", "2", "-subj", &subject], &NEW_KEY, &["-keyout", &key, "-out", &cert]]);
        }
        let (key, csr) = (path("server.key"), path("server.csr"));
        openssl(&[&["req", "-subj", "/CN=localhost"], &NEW_KEY, &["-keyout", &key, "-out", &csr]]);
        std::fs::write(
            path("server.ext"),
            "subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = CA:FALSE\n\
             keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
        )
        .expect("the extensions file is written");
        let (ca, ca_key, ext, cert) = (path("ca.pem"), path("ca.key"), path("server.ext"), path("server.pem"));
        openssl(&[
            &["x509", "-req", "-days", "2", "-set_serial", "2", "-in", &csr, "-CA", &ca, "-CAkey", &ca_key],
            &["-extfile", &ext, "-out", &cert],
        ]);
        certs
    }

    /// The authority that signed the servers' certificate (PEM).
    pub fn ca(&self) -> PathBuf {
        self.dir.0.join("ca.pem")
    }

    /// An authority that signed nothing here (PEM).
    pub fn other_ca(&self) -> PathBuf {
        self.dir.0.join("other-ca.pem")
    }

    fn server_cert(&self) -> PathBuf {
        self.dir.0.join("server.pem")
    }

    fn server_key(&self) -> PathBuf {
        self.dir.0.join("server.key")
    }
}

/// A PostgreSQL cluster of the test's own on a free loopback port (trust auth, user
/// `postgres`), stopped and removed on drop.
#[derive(Debug)]
pub struct PgCluster {
    /// Its port on 127.0.0.1.
    pub port: u16,
    bindir: PathBuf,
    data: PathBuf,
    _dir: ScratchDir,
}

/// The directory holding `initdb` and `pg_ctl`: next to `initdb` on the PATH, else the
/// newest `/usr/lib/postgresql/<version>/bin` (Debian keeps them off the PATH).
fn pg_bindir() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file());
    on_path
        .or_else(|| {
            let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .flatten()
                .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
                .filter(|(_, bin)| bin.join("initdb").is_file())
                .collect();
            versions.sort();
            versions.pop().map(|(_, bin)| bin)
        })
        .expect("PostgreSQL's server binaries (initdb, pg_ctl) are installed (scripts/test installs them)")
}

/// `program` run as user `postgres` when we are root (PostgreSQL refuses root).
fn as_owner(program: &Path) -> Command {
    if nix::unistd::Uid::effective().is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Hands `path` to user `postgres` when we are root (the server's files must be its own).
fn give_to_owner(path: &Path) {
    if nix::unistd::Uid::effective().is_root() {
        run(Command::new("chown").arg("postgres:").arg(path));
    }
}

impl PgCluster {
    /// Initialises and starts a cluster; with `tls`, it has `ssl=on` with the server
    /// certificate of `tls` and accepts TLS connections only (`hostssl`), so that a
    /// client that works against it provably spoke TLS. Without, it has `ssl=off`.
    pub fn start(tls: Option<&Certs>) -> Self {
        let dir = ScratchDir::new("chat-pg");
        let data = dir.0.join("data");
        let bindir = pg_bindir();
        std::fs::create_dir(&data).expect("the data directory is created");
        give_to_owner(&data);
        run(as_owner(&bindir.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
            .current_dir("/"));
        let mut options = "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off".to_owned();
        if let Some(certs) = tls {
            // The key must belong to the server's user and be private to it.
            for (from, to) in [(certs.server_cert(), "server.pem"), (certs.server_key(), "server.key")] {
                std::fs::copy(from, data.join(to)).expect("the certificate is copied");
                give_to_owner(&data.join(to));
            }
            run(Command::new("chmod").arg("600").arg(data.join("server.key")));
            // Overwritten in place: the file keeps its owner.
            std::fs::write(data.join("pg_hba.conf"), "hostssl all all 127.0.0.1/32 trust\n")
                .expect("pg_hba.conf is written");
            options.push_str(" -c ssl=on -c ssl_cert_file=server.pem -c ssl_key_file=server.key");
        } else {
            options.push_str(" -c ssl=off");
        }
        // The free port may be taken before the server binds it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let started = as_owner(&bindir.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(data.join("server.log"))
                .args(["-o", &format!("{options} -c port={port}"), "-w", "-t", "30", "start"])
                .current_dir("/")
                .stdout(Stdio::null())
                .status()
                .expect("pg_ctl runs");
            if started.success() {
                return Self { port, bindir, data, _dir: dir };
            }
        }
        let log = std::fs::read_to_string(data.join("server.log")).unwrap_or_default();
        panic!("the PostgreSQL cluster did not start:\n{log}");
    }

    /// `postgres://postgres@127.0.0.1:PORT/<database>?<params>`.
    pub fn url(&self, database: &str, params: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}?{params}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = as_owner(&self.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A `redis-server` with its plain port off and a TLS port on (the certificate of
/// [`Certs`]; clients need no certificate of their own), killed on drop.
#[derive(Debug)]
pub struct TlsRedis {
    /// Its TLS port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

impl TlsRedis {
    /// Starts one and waits until its TLS port accepts connections.
    pub fn start(certs: &Certs) -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--tls-cert-file")
            .arg(certs.server_cert())
            .arg("--tls-key-file")
            .arg(certs.server_key())
            .arg("--tls-ca-cert-file")
            .arg(certs.ca())
            .args(["--tls-auth-clients", "no", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not open its TLS port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    /// `rediss://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
