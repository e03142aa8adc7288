//! Which extensions are in an answered call now: an extension is busy while it is
//! (FW-1; the default plan has no call waiting).

use std::collections::HashMap;

/// Answered legs per extension.
#[derive(Debug, Default)]
pub struct Presence {
    answered: HashMap<String, u32>,
}

impl Presence {
    /// Whether `extension` is in an answered call.
    pub fn is_busy(&self, extension: &str) -> bool {
        self.answered.get(extension).is_some_and(|n| *n > 0)
    }

    /// `extension` joined an answered call.
    pub fn enter(&mut self, extension: &str) {
        *self.answered.entry(extension.to_owned()).or_insert(0) += 1;
    }

    /// `extension` left an answered call.
    pub fn leave(&mut self, extension: &str) {
        if let Some(n) = self.answered.get_mut(extension) {
            *n -= 1;
            if *n == 0 {
                self.answered.remove(extension);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_while_in_any_answered_call() {
        let mut p = Presence::default();
        assert!(!p.is_busy("101"));
        p.enter("101");
        p.enter("101");
        p.leave("101");
        assert!(p.is_busy("101"));
        p.leave("101");
        assert!(!p.is_busy("101"));
        p.leave("101");
        assert!(!p.is_busy("101"));
    }
}
