//! What the operating system says about this process: who runs it, and how many
//! files it may open. The only module that sees nix.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::unistd::{Uid, User};

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
