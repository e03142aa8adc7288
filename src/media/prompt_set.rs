//! A prompt set: one WAV file per prompt ID in a folder, decoded once at start.

use super::wav;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The prompts of one folder, as 8 kHz linear samples.
#[derive(Debug, Default, Clone)]
pub struct PromptSet {
    folder: PathBuf,
    prompts: HashMap<String, Vec<i16>>,
}

/// The file that holds prompt `id` in `folder`.
pub fn file_for(folder: &Path, id: &str) -> PathBuf {
    folder.join(format!("{id}.wav"))
}

/// The file name a spoken argument character uses (`digit-4`, `digit-star`, ...).
fn spoken(c: char) -> Option<String> {
    match c {
        '0'..='9' => Some(format!("digit-{c}")),
        '*' => Some("digit-star".into()),
        '#' => Some("digit-pound".into()),
        '.' => Some("digit-dot".into()),
        _ => None,
    }
}

impl PromptSet {
    /// Loads every `*.wav` in `folder`; a file that does not decode is an error naming it.
    pub fn load(folder: &Path) -> Result<PromptSet, String> {
        let entries = std::fs::read_dir(folder)
            .map_err(|e| format!("cannot read the prompt set {}: {e}", folder.display()))?;
        let mut prompts = HashMap::new();
        for entry in entries {
            let path = entry
                .map_err(|e| format!("{}: {e}", folder.display()))?
                .path();
            let (Some(stem), Some("wav")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let samples = wav::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            prompts.insert(stem.to_owned(), samples);
        }
        Ok(PromptSet {
            folder: folder.to_path_buf(),
            prompts,
        })
    }

    /// The folder it was loaded from.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Whether prompt `id` has audio.
    pub fn has(&self, id: &str) -> bool {
        self.prompts.contains_key(id)
    }

    /// The audio of prompt `id` followed by its argument spoken character by character;
    /// `None` if the prompt has no file (characters without a file are skipped).
    pub fn render(&self, id: &str, arg: Option<&str>) -> Option<Vec<i16>> {
        let mut out = self.prompts.get(id)?.clone();
        for c in arg.unwrap_or_default().chars() {
            if let Some(s) = spoken(c).and_then(|name| self.prompts.get(&name)) {
                out.extend_from_slice(s);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> PromptSet {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello.wav"), wav::encode_pcm(&[1; 800])).unwrap();
        std::fs::write(dir.path().join("digit-1.wav"), wav::encode_pcm(&[2; 80])).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        PromptSet::load(dir.path()).unwrap()
    }

    #[test]
    fn a_prompt_with_an_argument_speaks_its_digits() {
        let s = set();
        assert!(s.has("hello") && !s.has("notes"));
        assert_eq!(s.render("hello", None).unwrap().len(), 800);
        assert_eq!(s.render("hello", Some("11")).unwrap().len(), 960);
        assert!(s.render("missing", None).is_none());
    }

    #[test]
    fn a_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.wav"), b"nope").unwrap();
        let e = PromptSet::load(dir.path()).unwrap_err();
        assert!(e.contains("bad.wav"), "{e}");
    }

    #[test]
    fn the_shipped_set_decodes() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/en");
        let s = PromptSet::load(&folder).unwrap();
        for id in [
            "enter-password",
            "terminal-blocked",
            "digit-0",
            "digit-pound",
        ] {
            assert!(s.has(id), "{id}");
        }
    }
}
