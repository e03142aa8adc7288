//! What the operating system says about this process: who runs it, how many files it
//! may open, and whether it was asked to stop. The only module that sees nix.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::unistd::{Uid, User};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The user a process runs as, from its real uid, not from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealUser {
    /// The account name from the user database, or the uid as text if it has none.
    pub name: String,
    /// The real uid.
    pub uid: u32,
}

/// The real user of this process.
pub fn real_user() -> RealUser {
    let uid = Uid::current();
    let name = User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.as_raw().to_string(), |u| u.name);
    RealUser {
        name,
        uid: uid.as_raw(),
    }
}

/// Raises the soft limit on open files to the hard limit, as servers holding many
/// sockets do, and returns the limit now in force (`None` if it cannot be read).
pub fn raise_open_files_limit() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return Some(hard);
    }
    Some(soft)
}

static STOP: AtomicBool = AtomicBool::new(false);
static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(signal: nix::libc::c_int) {
    // Only atomics here: that is all a signal handler may safely touch.
    STOPPED_BY.store(signal, Ordering::Relaxed);
    STOP.store(true, Ordering::Relaxed);
}

/// While alive, SIGINT (Ctrl-C) and SIGTERM (`kill`) ask the process to stop
/// ([`StopRequest::flag`]) instead of ending it, so long work can finish its step
/// and leave things tidy. Dropped, the signals act as they did before.
pub struct StopRequest {
    previous: Vec<(Signal, SigAction)>,
}

impl StopRequest {
    /// Catches SIGINT and SIGTERM.
    pub fn catch() -> StopRequest {
        let action = SigAction::new(
            SigHandler::Handler(on_stop_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let previous = [Signal::SIGINT, Signal::SIGTERM]
            .into_iter()
            // SAFETY: the handler only stores to atomics, which is async-signal-safe.
            .filter_map(|signal| {
                unsafe { sigaction(signal, &action) }
                    .ok()
                    .map(|old| (signal, old))
            })
            .collect();
        StopRequest { previous }
    }

    /// Set once a stop was asked for.
    pub fn flag(&self) -> &'static AtomicBool {
        &STOP
    }

    /// The exit code a shell expects of a process the signal stopped (128 + its number),
    /// if one did.
    pub fn exit_code(&self) -> Option<i32> {
        STOP.load(Ordering::Relaxed)
            .then(|| 128 + STOPPED_BY.load(Ordering::Relaxed))
    }
}

impl Drop for StopRequest {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: puts back the action that was there before `catch`.
            let _ = unsafe { sigaction(*signal, old) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_user_is_the_uid_s_account() {
        let user = real_user();
        assert_eq!(user.uid, Uid::current().as_raw());
        assert!(!user.name.is_empty());
    }

    #[test]
    fn the_open_files_limit_is_at_least_what_it_was() {
        let (before, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let now = raise_open_files_limit().unwrap();
        assert!(now >= before);
    }
}
