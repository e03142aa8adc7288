//! baresip 1.0 as a scripted phone: a config folder of its own, a WAV file as its
//! microphone, and its `ctrl_tcp` module (JSON in netstrings over TCP) to dial,
//! send keys and hear about registration and calls.

use super::support::{Pbx, client_media_ports, free_port, free_port_pair, tail};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running baresip with one account.
pub struct Baresip {
    child: Child,
    ctrl: TcpStream,
    buf: Vec<u8>,
    /// Every event and response read so far, for failure messages.
    pub seen: Vec<Value>,
    /// How many of `seen` a wait has returned: each message is returned once.
    taken: Vec<bool>,
    log: PathBuf,
    token: u64,
}

/// How a phone is set up.
pub struct Phone<'a> {
    /// The extension and its SIP secret.
    pub ext: &'a str,
    pub password: &'a str,
    /// Answers calls by itself.
    pub auto_answer: bool,
    /// Subscribes to its mailbox's message-waiting state (baresip's `mwi` module).
    pub mwi: bool,
    /// What its microphone hears, at 8 kHz; it should last longer than any call here:
    /// at the end of the file baresip hangs up (AUDIO_ERROR "end of file").
    pub microphone: Vec<i16>,
}

impl Baresip {
    /// Starts baresip in `<test folder>/baresip` with the account `ext`/`password`
    /// on the server, a silent microphone, and connects to its ctrl_tcp port.
    pub fn start(pbx: &Pbx, ext: &str, password: &str) -> Baresip {
        Baresip::phone(
            pbx,
            Phone {
                ext,
                password,
                auto_answer: false,
                mwi: false,
                microphone: vec![0i16; 8000 * 30],
            },
        )
    }

    /// Starts baresip in `<test folder>/baresip-<ext>` as `phone` says, and connects
    /// to its ctrl_tcp port.
    pub fn phone(pbx: &Pbx, phone: Phone<'_>) -> Baresip {
        let Phone {
            ext,
            password,
            auto_answer,
            mwi,
            microphone,
        } = phone;
        let dir = pbx.dir().join(format!("baresip-{ext}"));
        std::fs::create_dir_all(&dir).unwrap();
        // The microphone: a WAV file at 8 kHz (baresip's own sine source is 48 kHz only).
        let wav = dir.join("microphone.wav");
        std::fs::write(&wav, pbxctl::media::wav::encode_pcm(&microphone)).unwrap();
        // baresip listens for SIP over TLS on the port after its SIP port.
        let sip_port = free_port_pair();
        let ctrl_port = free_port();
        let rtp = client_media_ports();
        let config = format!(
            "# Written by tests/sip.rs.\n\
             poll_method\t\tepoll\n\
             sip_listen\t\t127.0.0.1:{sip_port}\n\
             net_interface\t\t127.0.0.1\n\
             dns_server\t\t127.0.0.1:53\n\
             call_local_timeout\t20\n\
             call_max_calls\t\t1\n\
             audio_source\t\taufile,{wav}\n\
             audio_player\t\taubridge,nil\n\
             audio_alert\t\taubridge,nil\n\
             audio_level\t\tno\n\
             rtp_ports\t\t{rtp}-{rtp_high}\n\
             rtp_timeout\t\t0\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\taufile.so\n\
             module\t\t\taubridge.so\n\
             module_tmp\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             module_app\t\tctrl_tcp.so\n\
             ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n\
             {mwi}",
            wav = wav.display(),
            rtp_high = rtp + 9,
            mwi = if mwi { "module_app\t\tmwi.so\n" } else { "" },
        );
        std::fs::write(dir.join("config"), config).unwrap();
        let account = format!(
            "<sip:{ext}@127.0.0.1:{port}>;auth_pass={password};regint=60;\
             audio_codecs=pcmu,pcma;answermode={answer}",
            port = pbx.port,
            answer = if auto_answer { "auto" } else { "manual" },
        );
        // baresip 1.0's mwi module subscribes, 1 ms after it loads, for every entry of
        // its subscription list while appending to that list: if the registration has
        // already succeeded by then (a fast server), it loops for ever. So a phone with
        // mwi gets its account through ctrl_tcp, once that timer has run.
        let accounts = if mwi {
            String::new()
        } else {
            format!("{account}\n")
        };
        std::fs::write(dir.join("accounts"), accounts).unwrap();
        std::fs::write(dir.join("contacts"), "").unwrap();
        // Not *.log: Pbx::report prints those, and Baresip::report prints this.
        let log = pbx.dir().join(format!("baresip-{ext}.output.txt"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(&dir)
            .arg("-v")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("baresip starts");
        let mut child = child;
        let deadline = Instant::now() + Duration::from_secs(10);
        let ctrl = loop {
            match TcpStream::connect(("127.0.0.1", ctrl_port)) {
                Ok(s) => break s,
                Err(e) => {
                    if let Some(status) = child.try_wait().unwrap() {
                        panic!(
                            "baresip exited ({status}):\n{}",
                            tail(&std::fs::read_to_string(&log).unwrap_or_default(), 4000)
                        );
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        panic!(
                            "baresip's ctrl_tcp did not listen on {ctrl_port}: {e}\n{}",
                            tail(&std::fs::read_to_string(&log).unwrap_or_default(), 4000)
                        );
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        let mut phone = Baresip {
            child,
            ctrl,
            buf: Vec::new(),
            seen: Vec::new(),
            taken: Vec::new(),
            log,
            token: 0,
        };
        if mwi {
            let created = phone.command("uanew", &account);
            assert_eq!(created["ok"], true, "uanew: {created}\n{}", phone.report());
        }
        phone
    }

    /// Runs a command (a menu command: dial, sndcode, hangup, reginfo, ...) and
    /// returns its response.
    pub fn command(&mut self, command: &str, params: &str) -> Value {
        self.token += 1;
        let token = self.token.to_string();
        let body = json!({ "command": command, "params": params, "token": token }).to_string();
        let frame = format!("{}:{},", body.len(), body);
        self.ctrl
            .write_all(frame.as_bytes())
            .unwrap_or_else(|e| panic!("ctrl_tcp write: {e}\n{}", self.report()));
        self.wait_for(
            &format!("the response to {command}"),
            Duration::from_secs(5),
            |m| m["response"] == true && m["token"] == token.as_str(),
        )
    }

    /// Waits for an event of `kind` (`REGISTER_OK`, `CALL_ESTABLISHED`, ...).
    pub fn event(&mut self, kind: &str, limit: Duration) -> Value {
        self.wait_for(kind, limit, |m| m["event"] == true && m["type"] == kind)
    }

    /// Waits until the account is registered. baresip registers as it starts,
    /// maybe before ctrl_tcp has a client to tell, so this asks `reginfo` too.
    pub fn wait_registered(&mut self, limit: Duration, pbx: &Pbx) {
        let deadline = Instant::now() + limit;
        loop {
            let failed = self
                .seen
                .iter()
                .find(|m| m["event"] == true && m["type"] == "REGISTER_FAIL")
                .cloned();
            let info = self.command("reginfo", "");
            // "> sip:101@127.0.0.1:5060   OK   Expires 60s", with colour escapes.
            let status = info["data"]
                .as_str()
                .unwrap_or_default()
                .replace("\u{1b}[;m", "")
                .replace("\u{1b}[31m", "")
                .replace("\u{1b}[32m", "")
                .replace("\u{1b}[33m", "");
            if self
                .seen
                .iter()
                .any(|m| m["event"] == true && m["type"] == "REGISTER_OK")
                || status.contains("OK ")
            {
                return;
            }
            if failed.is_some() || status.contains("ERR") {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let enosys = failed
                    .as_ref()
                    .is_some_and(|f| f["param"] == "Function not implemented")
                    || log.contains("Register: Function not implemented");
                panic!(
                    "baresip could not register: {}\n{}{}\n{}",
                    failed.map_or(status, |f| f.to_string()),
                    if enosys {
                        "(baresip 1.0's libre answers ENOSYS, \"Function not implemented\", \
                         to a 401 with any WWW-Authenticate whose algorithm is not MD5, \
                         whatever the order: it needs an MD5-only challenge)\n"
                    } else {
                        ""
                    },
                    self.report(),
                    pbx.report()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "baresip did not register within {limit:?}\n{}\n{}",
                    self.report(),
                    pbx.report()
                );
            }
            self.read_some(Duration::from_millis(300));
        }
    }

    /// Reads messages until one not returned before matches; panics with everything
    /// seen after `limit`.
    pub fn wait_for(
        &mut self,
        what: &str,
        limit: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            self.taken.resize(self.seen.len(), false);
            let found = (0..self.seen.len()).find(|&i| !self.taken[i] && matches(&self.seen[i]));
            if let Some(i) = found {
                self.taken[i] = true;
                return self.seen[i].clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("baresip: no {what} within {limit:?}\n{}", self.report());
            }
            self.read_some(left.min(Duration::from_millis(200)));
        }
    }

    /// Dials `uri` and waits for the call to be answered; the event that says so.
    pub fn dial(&mut self, uri: &str) -> Value {
        let dial = self.command("dial", uri);
        assert_eq!(dial["ok"], true, "dial {uri}: {dial}\n{}", self.report());
        self.wait_for(
            "the call answered or closed",
            Duration::from_secs(10),
            |m| {
                m["event"] == true
                    && (m["type"] == "CALL_ESTABLISHED" || m["type"] == "CALL_CLOSED")
            },
        )
    }

    fn read_some(&mut self, wait: Duration) {
        self.ctrl.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 8192];
        match self.ctrl.read(&mut chunk) {
            Ok(0) => panic!("baresip closed ctrl_tcp\n{}", self.report()),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("ctrl_tcp read: {e}\n{}", self.report()),
        }
        // Netstrings: "<length>:<JSON>,".
        while let Some(colon) = self.buf.iter().position(|&b| b == b':') {
            let len: usize = std::str::from_utf8(&self.buf[..colon])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("ctrl_tcp sent a bad netstring: {:?}", self.buf));
            if self.buf.len() < colon + 1 + len + 1 {
                break;
            }
            let body = self.buf[colon + 1..colon + 1 + len].to_vec();
            self.buf.drain(..colon + 1 + len + 1);
            let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
                panic!(
                    "ctrl_tcp sent bad JSON ({e}): {}",
                    String::from_utf8_lossy(&body)
                )
            });
            self.seen.push(v);
        }
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// What baresip said and did, for failure messages.
    pub fn report(&self) -> String {
        let seen: Vec<String> = self.seen.iter().map(Value::to_string).collect();
        format!(
            "--- baresip ctrl_tcp messages ---\n{}\n--- baresip output (end) ---\n{}",
            seen.join("\n"),
            tail(
                &std::fs::read_to_string(&self.log).unwrap_or_default(),
                6000
            )
        )
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
