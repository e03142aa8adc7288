//! Support for tests/sip.rs: the SIP peers installed, a `pbxctl run` per test
//! on its own ports, a hand-written UDP SIP client, SIPp runs with their logs.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The crate's folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of tests/sip/.
pub fn sip_file(name: &str) -> PathBuf {
    root().join("tests/sip").join(name)
}

// --- The peers ------------------------------------------------------------------

/// Makes sure `sipp` (Debian's sip-tester) and `baresip` are on PATH, installing
/// them with apt-get once per test run when we are root (as in CI).
pub fn ensure_peers() {
    static PEERS: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = PEERS.get_or_init(install_peers) {
        panic!("{e}");
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Whether this process runs as root (apt-get, and SIPp's raw socket for pcaps).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

fn install_peers() -> Result<(), String> {
    let missing: Vec<&str> = ["sipp", "baresip"]
        .into_iter()
        .filter(|p| !on_path(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "the SIP tests need {} on PATH: install the Debian packages with \
             `sudo apt-get install -y sip-tester baresip` (sip-tester gives `sipp`), \
             or run the tests as root so they install them",
            missing.join(" and ")
        ));
    }
    for args in [
        &["-q", "update"][..],
        &[
            "-q",
            "install",
            "-y",
            "--no-install-recommends",
            "sip-tester",
            "baresip",
        ][..],
    ] {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "apt-get {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                tail(&String::from_utf8_lossy(&out.stdout), 3000),
                tail(&String::from_utf8_lossy(&out.stderr), 3000)
            ));
        }
    }
    match ["sipp", "baresip"].into_iter().find(|p| !on_path(p)) {
        Some(p) => Err(format!(
            "apt-get installed sip-tester and baresip, but {p} is still not on PATH"
        )),
        None => Ok(()),
    }
}

// --- Ports ---------------------------------------------------------------------

/// A port free on 127.0.0.1 for both UDP and TCP, never handed out before in this run:
/// 20000-20999, below the kernel's ephemeral range, so no outgoing connection of this
/// run (a test's TCP client, say) can be given it between the check and its use.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(20_000);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 21_000, "no free port left in 20000-20999");
        let udp = UdpSocket::bind(("127.0.0.1", port));
        let tcp = TcpListener::bind(("127.0.0.1", port));
        if udp.is_ok() && tcp.is_ok() {
            return port;
        }
    }
}

/// Two neighbouring free ports, both handed out; the first is returned (baresip's SIP
/// port: it listens for TLS on the next one).
pub fn free_port_pair() -> u16 {
    loop {
        let first = free_port();
        if free_port() == first + 1 {
            return first;
        }
    }
}

/// A range of 100 RTP ports for one server (a test's few calls take a handful), different
/// for every test: 21000-21099, 21100-...
pub fn rtp_range() -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(21_000);
    let low = NEXT.fetch_add(100, Ordering::SeqCst);
    assert!(low < 26_000, "more servers than RTP ranges");
    (low, low + 99)
}

/// Ten ports for one client's media (SIPp's -mp, baresip's rtp_ports): 26000, 26010, ...
pub fn client_media_ports() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(26_000);
    let low = NEXT.fetch_add(10, Ordering::SeqCst);
    assert!(low < 32_000, "more clients than media port blocks");
    low
}

/// A token no other message of this run has (tags, branches, Call-IDs).
pub fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{:x}{:x}{:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        nanos
    )
}

// --- The server under test ---------------------------------------------------------

/// One `pbxctl run` on its own ports, with its config and database in a tempdir.
pub struct Pbx {
    dir: Option<tempfile::TempDir>,
    /// The SIP port (UDP and TCP) on 127.0.0.1.
    pub port: u16,
    /// Its RTP port range.
    pub rtp: (u16, u16),
    child: Child,
}

impl Pbx {
    /// A server offering MD5 first: SIPp 3.6 answers only the first challenge and knows
    /// only MD5 (SHA-256 came in SIPp 3.7).
    pub fn start() -> Pbx {
        Pbx::with(Setup::default())
    }

    /// Writes the config with `digest` (a YAML list) and starts the server; returns once it
    /// answers OPTIONS.
    pub fn offering(digest: &str) -> Pbx {
        Pbx::with(Setup {
            digest,
            ..Setup::default()
        })
    }

    /// Writes the config `setup` describes and starts the server; returns once it
    /// answers OPTIONS.
    pub fn with(setup: Setup<'_>) -> Pbx {
        ensure_peers();
        let dir = tempfile::Builder::new()
            .prefix("pbxctl-sip-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let rtp = rtp_range();
        let config = dir.path().join("pbx.yaml");
        std::fs::write(&config, config_text(port, rtp, &setup)).unwrap();
        let stderr = std::fs::File::create(dir.path().join("pbx.stderr.log")).unwrap();
        let stdout = std::fs::File::create(dir.path().join("pbx.stdout.log")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pbxctl"));
        command.args(["run", "--config"]).arg(&config);
        if setup.record {
            command.arg("--record").arg(dir.path().join("recorded"));
        }
        let child = command
            .current_dir(dir.path())
            .env_remove("PBXCTL_CONFIG")
            .env_remove("PBXCTL_DB")
            .env(
                "PBXCTL_LOG",
                std::env::var("PBXCTL_LOG").unwrap_or_else(|_| "pbxctl=debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("pbxctl run starts");
        let mut pbx = Pbx {
            dir: Some(dir),
            port,
            rtp,
            child,
        };
        pbx.wait_ready(Duration::from_secs(20));
        pbx
    }

    fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "`pbxctl run` exited ({status}) instead of serving SIP on {}:\n{}",
                    self.addr(),
                    self.stderr_tail(4000)
                );
            }
            if let Ok(reply) = options(self.addr(), Duration::from_millis(100))
                && reply.starts_with("SIP/2.0 200")
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "`pbxctl run` did not answer OPTIONS with 200 on {} within {limit:?}\n{}",
                    self.addr(),
                    self.stderr_tail(4000)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The test's folder: config, database, logs, scenarios, pcaps.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    /// The config file.
    pub fn config(&self) -> PathBuf {
        self.dir().join("pbx.yaml")
    }

    /// The SIP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The end of the server's stderr.
    pub fn stderr_tail(&self, chars: usize) -> String {
        format!(
            "--- pbxctl run stderr (end) ---\n{}",
            tail(&self.log(), chars)
        )
    }

    /// Sends the server SIGHUP: reload config and plan.
    pub fn reload(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends the server SIGTERM: stop taking calls and drain.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the server's log to contain `text`.
    pub fn wait_for_log(&self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.log().contains(text)
    }

    /// The server's whole stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("pbx.stderr.log")).unwrap_or_default()
    }

    /// Runs `pbxctl ARGS --config <this server's config>`, as an administrator would.
    fn pbxctl(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_pbxctl"))
            .args(args)
            .arg("--config")
            .arg(self.config())
            .current_dir(self.dir())
            .env_remove("PBXCTL_CONFIG")
            .env_remove("PBXCTL_DB")
            .output()
            .expect("pbxctl runs")
    }

    /// Runs `pbxctl ext ACTION EXT` on this server's config.
    pub fn ext(&self, action: &str, ext: &str) {
        let out = self.pbxctl(&["ext", action, ext]);
        assert!(
            out.status.success(),
            "pbxctl ext {action} {ext} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pbxctl ext show EXT --json` against this server's config and database.
    pub fn ext_show(&self, ext: &str) -> serde_json::Value {
        let out = self.pbxctl(&["ext", "show", ext, "--json"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "pbxctl ext show {ext} --json failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("ext show {ext} --json is not JSON ({e}): {stdout}"))
    }

    /// `pbxctl cdr --json`: the call records so far, oldest first.
    pub fn cdr(&self) -> serde_json::Value {
        let out = self.pbxctl(&["cdr", "--json"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "pbxctl cdr --json failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("cdr --json is not JSON ({e}): {stdout}"))
    }

    /// Everything useful when a test fails: the server's stderr and every log
    /// (SIPp's, baresip's) in the test folder.
    pub fn report(&self) -> String {
        let mut out = format!(
            "pbxctl run on {}, RTP {}-{}, files in {}\n",
            self.addr(),
            self.rtp.0,
            self.rtp.1,
            self.dir().display()
        );
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.dir())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| e == "log")
                    && !p.ends_with("pbx.stderr.log")
                    && std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
            })
            .collect();
        logs.sort();
        for log in logs {
            let text =
                String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
            let _ = writeln!(
                out,
                "--- {} (end) ---\n{}",
                log.file_name().unwrap().to_string_lossy(),
                tail(&text, 6000)
            );
        }
        out.push_str(&self.stderr_tail(6000));
        out
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("test files kept in {}", dir.keep().display());
        }
    }
}

/// What a test server's config differs in.
pub struct Setup<'a> {
    /// `sip.digest`, a YAML list.
    pub digest: &'a str,
    /// More `sip:` keys, YAML flow style, e.g. `tcp: { per_source: 4 }`.
    pub sip_extra: &'a str,
    /// The dialplan; the shipped default plan when `None`.
    pub dialplan: Option<PathBuf>,
    /// Record every call as a session file in `<test folder>/recorded` (`--record`).
    pub record: bool,
    /// A `trunks:` section (YAML, block style, at the top level), or empty.
    pub trunks: String,
    /// More top-level keys, one YAML line, e.g. `metrics: { listen: "127.0.0.1:9464" }`.
    pub extra: &'a str,
}

impl Default for Setup<'_> {
    /// MD5 first: SIPp 3.6 answers only the first challenge and knows only MD5.
    fn default() -> Self {
        Setup {
            digest: "[MD5, SHA-256]",
            sip_extra: "",
            dialplan: None,
            record: false,
            trunks: String::new(),
            extra: "",
        }
    }
}

/// The test config: examples/pbx.yaml's directory, this test's ports, absolute paths.
fn config_text(port: u16, (low, high): (u16, u16), setup: &Setup<'_>) -> String {
    let root = root();
    let extra = if setup.sip_extra.is_empty() {
        String::new()
    } else {
        format!(",\n       {}", setup.sip_extra)
    };
    format!(
        r#"# Written by tests/sip.rs: the directory of examples/pbx.yaml on this test's ports.
dialplan: "{plan}"
database: pbx.db
prompts: "{prompts}"
sip: {{ listen: "127.0.0.1:{port}", rtp_ports: "{low}-{high}", realm: pbx.local,
       digest: {digest}, auth_guard: {{ failures: 5, window: 60s, block: 300s }}{extra} }}
{top}system:
  mailbox_lockout: true
  disa: ["5550100"]
extensions:
  "101": {{ name: Alice, secret: "sip-pass-101", class: 1, caller_id: "5550101",
           voicemail: {{ enabled: true, pin: "2580" }},
           password_protection: {{ enabled: true, password: "4321" }} }}
  "102": {{ name: Bob, secret: "sip-pass-102", class: 2, manager: true,
           voicemail: {{ enabled: true, pin: "1357" }},
           pin_protect: {{ enabled: true, duration: 3600 }} }}
  "103": {{ name: Lobby, secret: "sip-pass-103", class: 4 }}
codes:
  "1111": {{ name: Tom Smith, pin: "4826", class: 1, billing: "B-17" }}
{trunks}"#,
        plan = setup
            .dialplan
            .clone()
            .unwrap_or_else(|| root.join("dialplans/default.pbx"))
            .display(),
        digest = setup.digest,
        top = if setup.extra.is_empty() {
            String::new()
        } else {
            format!("{}\n", setup.extra)
        },
        prompts = root.join("prompts/en").display(),
        trunks = setup.trunks,
    )
}

// --- A tiny UDP SIP client ------------------------------------------------------------

/// Sends one OPTIONS to `to` over UDP and returns the first response to it
/// received within `wait`.
pub fn options(to: SocketAddr, wait: Duration) -> Result<String, String> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let local = sock.local_addr().unwrap();
    let call_id = format!("{}@127.0.0.1", unique());
    let request = format!(
        "OPTIONS sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag={tag}\r\n\
         To: <sip:{to}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        branch = unique(),
        tag = unique(),
    );
    sock.send_to(request.as_bytes(), to)
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65_536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no answer to OPTIONS from {to} within {wait:?}"));
        }
        sock.set_read_timeout(Some(left)).unwrap();
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if text.starts_with("SIP/2.0 ") && text.contains(&call_id) {
                    return Ok(text);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // ICMP port unreachable comes back as a refused connection: not up yet.
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Sends OPTIONS until one is answered with 200, each waiting `each`, for up to `limit`
/// (a burst may have filled the server's socket buffer, so one OPTIONS can be lost).
pub fn options_answered(to: SocketAddr, limit: Duration) -> Result<String, String> {
    let deadline = Instant::now() + limit;
    loop {
        match options(to, Duration::from_millis(500)) {
            Ok(reply) if reply.starts_with("SIP/2.0 200") => return Ok(reply),
            other if Instant::now() > deadline => {
                return Err(format!("no 200 to OPTIONS within {limit:?}: {other:?}"));
            }
            _ => {}
        }
    }
}

// --- SIPp ----------------------------------------------------------------------------

/// One SIPp run, as the test sets it up.
pub struct Sipp<'a> {
    pbx: &'a Pbx,
    name: String,
    scenario: PathBuf,
    args: Vec<String>,
    limit: Duration,
    /// Our SIP port (a free one when `None`).
    local_port: Option<u16>,
    /// Calls to run or answer before SIPp ends (`-m`).
    calls: u32,
    /// A UAC calls the server; a UAS waits for it.
    uas: bool,
}

/// What a SIPp run did.
pub struct SippRun {
    /// Its exit code (`None`: killed after the time limit).
    pub code: Option<i32>,
    /// Its stdout and stderr, its message and error logs.
    pub output: String,
}

impl<'a> Sipp<'a> {
    /// SIPp with `scenario` (a file) as a UAC of one call to the server, `-s service`.
    /// Its logs go to `<name>.messages.log` and `<name>.errors.log` in the test folder.
    pub fn new(pbx: &'a Pbx, name: &str, scenario: &Path, service: &str) -> Sipp<'a> {
        Sipp {
            pbx,
            name: name.into(),
            scenario: scenario.to_path_buf(),
            args: vec!["-s".into(), service.into()],
            limit: Duration::from_secs(25),
            local_port: None,
            calls: 1,
            uas: false,
        }
    }

    /// SIPp with `scenario` as a UAS on `port` (a trunk's far end), answering `calls`
    /// calls (each REGISTER or INVITE with a new Call-ID is one) and then ending.
    pub fn uas(pbx: &'a Pbx, name: &str, scenario: &Path, port: u16, calls: u32) -> Sipp<'a> {
        Sipp {
            pbx,
            name: name.into(),
            scenario: scenario.to_path_buf(),
            args: Vec::new(),
            limit: Duration::from_secs(40),
            local_port: Some(port),
            calls,
            uas: true,
        }
    }

    /// Sends from this port (a trunk's address, which the server trusts).
    pub fn sending_from(mut self, port: u16) -> Self {
        self.local_port = Some(port);
        self
    }

    /// Digest credentials, and the digest uri: the Request-URI `uri` (SIPp's default is
    /// not the Request-URI). SIPp writes `sip:` before `-auth_uri` itself.
    pub fn auth(mut self, user: &str, password: &str, uri: &str) -> Self {
        let uri = uri.strip_prefix("sip:").unwrap_or(uri);
        for a in ["-au", user, "-ap", password, "-auth_uri", uri] {
            self.args.push(a.into());
        }
        self
    }

    /// Runs it to its end (SIPp's own -timeout, then a hard limit) from the test folder.
    pub fn run(self) -> SippRun {
        self.spawn().wait()
    }

    /// Starts it in the background; [`SippProcess::wait`] collects what it did.
    pub fn spawn(self) -> SippProcess {
        let dir = self.pbx.dir().to_path_buf();
        let log = |what: &str| dir.join(format!("{}.{what}.log", self.name));
        let local_port = self.local_port.unwrap_or_else(free_port).to_string();
        let media_port = client_media_ports().to_string();
        let timeout = format!("{}s", self.limit.as_secs().saturating_sub(3));
        let calls = self.calls.to_string();
        let mut cmd = Command::new("sipp");
        cmd.arg("-sf")
            .arg(&self.scenario)
            .args(&self.args)
            .args(["-m", &calls, "-l", "1", "-nostdin"])
            .args(["-i", "127.0.0.1", "-p", &local_port])
            .args(["-mi", "127.0.0.1", "-mp", &media_port])
            .args(["-timeout", &timeout, "-timeout_error"])
            .args(["-trace_msg", "-message_file"])
            .arg(log("messages"))
            .args(["-trace_err", "-error_file"])
            .arg(log("errors"));
        if !self.uas {
            cmd.arg(self.pbx.addr().to_string());
        }
        cmd.current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log("stdout")).unwrap())
            .stderr(std::fs::File::create(log("stderr")).unwrap());
        let command_line = format!("{cmd:?}");
        let child = cmd.spawn().expect("sipp starts");
        SippProcess {
            child,
            command_line,
            logs: dir.join(format!("{}.", self.name)),
            limit: self.limit,
        }
    }
}

/// A SIPp running in the background.
pub struct SippProcess {
    child: Child,
    command_line: String,
    /// Its log files' common prefix (`<folder>/<name>.`).
    logs: PathBuf,
    limit: Duration,
}

impl SippProcess {
    /// Waits for it to end (killed after its time limit); its exit code and logs.
    pub fn wait(mut self) -> SippRun {
        let code = wait_or_kill(&mut self.child, self.limit);
        let mut output = format!("{}\n", self.command_line);
        let prefix = self.logs.to_string_lossy().into_owned();
        for what in ["stderr", "errors", "messages"] {
            let text = std::fs::read(format!("{prefix}{what}.log")).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            if !text.trim().is_empty() {
                let _ = writeln!(output, "--- sipp {what} (end) ---\n{}", tail(&text, 8000));
            }
        }
        SippRun { code, output }
    }
}

impl Drop for SippProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SippRun {
    /// Panics unless SIPp ended with 0 (its one call succeeded), telling all.
    pub fn assert_ok(&self, pbx: &Pbx) {
        if self.code != Some(0) {
            let hint = if self
                .output
                .contains("authentication must use MD5 or AKAv1-MD5")
            {
                "\n(SIPp 3.6.1 answers the first WWW-Authenticate of a 401 only, and only \
                 MD5 or AKAv1-MD5: the first challenge must be algorithm=MD5)\n"
            } else {
                ""
            };
            panic!(
                "SIPp ended with {} (0: the call succeeded, 1: it failed, None: killed)\n{hint}{}\n{}",
                self.code.map_or("None".into(), |c| c.to_string()),
                self.output,
                pbx.stderr_tail(6000)
            );
        }
    }
}

/// Waits for a child up to `limit`, then kills it; its exit code, `None` if killed.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fills in `{{name}}` placeholders; panics if one is left.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(at) = out.find("{{") {
        panic!(
            "unfilled placeholder: {}",
            &out[at..(at + 40).min(out.len())]
        );
    }
    out
}

/// The last `chars` characters of `text` (at a line start when it can).
pub fn tail(text: &str, chars: usize) -> String {
    if text.len() <= chars {
        return text.to_string();
    }
    let mut start = text.len() - chars;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    match cut.find('\n') {
        Some(nl) if nl < 200 => format!("[...]\n{}", &cut[nl + 1..]),
        _ => format!("[...]{cut}"),
    }
}
